/**
 * statmount(2), listmount(2) and statx's STATX_MNT_ID_UNIQUE (kernel/syscalls/linux/sys_statmount.ts):
 * tests/c/statmount.c natively (as root: it works in a mount namespace of its own, so the host's
 * tree never changes) and in the sentry, with the same output.
 */

import assert from "node:assert/strict";
import { compileC, runNative, runSentry } from "./_harness.ts";

Deno.test("statmount's fields, strings and errnos, listmount's order, paging and errnos, EPERM outside a chroot, STATX_MNT_ID_UNIQUE, as natively (tests/c/statmount.c)", async () => {
  const bin = await compileC("statmount");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /listmount\(t\) = 3: x, y, z in order: 1\n/);
  assert.match(r.stdout, /chrooted: statmount\(\/\) = -1 EPERM\n/);
  if (Deno.uid() !== 0) return;
  const native = await runNative([bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});
