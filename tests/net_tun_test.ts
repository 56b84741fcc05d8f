/**
 * TUN/TAP devices inside the sandbox (kernel/net_tun.ts) and SO_BINDTODEVICE: run natively in a
 * fresh network namespace (the program creates interfaces; the host's never change) and in the
 * sentry, with the same output.
 */

import assert from "node:assert/strict";
import { refusedOn } from "./_checkpoint.ts";
import { canUnshareNet, compileC, runNative, runSentry } from "./_harness.ts";

Deno.test("/dev/net/tun: TUNSETIFF/TUNGETIFF/TUNSETPERSIST and their errnos, RTM_NEWLINK/RTM_DELLINK events, a ping through a TUN answered by the stack, SO_BINDTODEVICE/SO_BINDTOIFINDEX, ports shared per device and delivery to the device's socket first, as natively (tests/c/net_tun.c)", async () => {
  const bin = await compileC("net_tun");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /echo reply 10\.9\.0\.1 -> 10\.9\.0\.2 id 7 seq 1 len 36 payload same/);
  assert.match(r.stdout, /udp delivered to lo-bound: 20\n/);
  assert.match(r.stdout, /without CAP_NET_ADMIN: EPERM\n/);
  if (!(await canUnshareNet())) return;
  const native = await runNative(["/usr/bin/unshare", "--net", "--", "/bin/sh", "-c", 'ip link set lo up 2>/dev/null; exec "$0"', bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("a checkpoint refuses a sandbox holding a TUN device, in one line, and the sandbox goes on", async () => {
  const out = await refusedOn("created hold0: ok\n", [await compileC("net_tun"), "hold"]);
  assert.deepEqual(
    [out.code, out.stdout, out.stderr, out.refusal],
    [0, "created hold0: ok\nstill there: 1\n", "", "checkpoint: a TUN/TAP device (/dev/net/tun) exists: not saved yet"],
  );
});
