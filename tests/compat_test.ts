/**
 * Edges of the syscall ABI found by gVisor's syscall suite (issue #15), each checked against
 * the same program run natively: see tests/c/compat_edges.c for the list.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, C_DIR, compileC, runNative, runSentry } from "./_harness.ts";

Deno.test("getdents, readv, lseek, O_DIRECT, statx, brk, MAP_32BIT, clone3, futex keys and SO_PASSCRED edges behave as natively (tests/c/compat_edges.c)", async () => {
  await assertSameAsNative([await compileC("compat_edges")]);
});

Deno.test("PI futexes lock, hand over to waiters, time out and pass on an owner's death as natively (tests/c/futex_pi.c)", async () => {
  await assertSameAsNative([await compileC("futex_pi")]);
});

Deno.test("/proc/PID/mem reads and writes another address space, and /proc/PID/comm renames a thread, as natively (tests/c/proc_mem.c)", async () => {
  await assertSameAsNative([await compileC("proc_mem")]);
});

Deno.test("anonymous memory names in /proc/self/maps: /dev/zero (deleted) for shared memory and PR_SET_VMA_ANON_NAME as Linux (tests/c/vma_names.c)", async () => {
  const prog = await compileC("vma_names");
  const native = await runNative([prog]);
  if (!native.stdout.includes("name it = -1 EINVAL")) {
    // The host names anonymous memory (CONFIG_ANON_VMA_NAME): the sentry must do as it does.
    await assertSameAsNative([prog]);
    return;
  }
  // This host's kernel is built without CONFIG_ANON_VMA_NAME (every prctl is EINVAL): compare
  // with what a kernel with it prints (tests/c/vma_names.expected, Linux's madvise_set_anon_name
  // and get_vma_name), and with the host on what does not depend on the option.
  const sentry = await runSentry([prog]);
  const expected = await Deno.readTextFile(`${C_DIR}/vma_names.expected`);
  assert.equal(sentry.stdout, expected);
  assert.equal(sentry.code, native.code);
  const unnamed = (s: string) => s.split("\n").filter((l) => l.includes("/dev/zero") || l.startsWith("unaligned") || l.startsWith("a name with"));
  assert.deepEqual(unnamed(sentry.stdout).slice(0, 4), unnamed(native.stdout).slice(0, 4));
});

Deno.test("netdevice ioctls about lo answer on Unix, UDP and netlink sockets as natively (tests/c/netdevice.c)", async () => {
  await assertSameAsNative([await compileC("netdevice")]);
});
