/**
 * TUN/TAP devices inside the sandbox (kernel/net_tun.ts) and SO_BINDTODEVICE: run natively in a
 * fresh network namespace (the program creates interfaces; the host's never change) and in the
 * sentry, with the same output.
 */

import assert from "node:assert/strict";
import { canUnshareNet, compileC, REPO_ROOT, runNative, runSentry } from "./_harness.ts";

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
  const dir = Deno.makeTempDirSync();
  try {
    const image = `${dir}/image.cbor`;
    const out = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["do", "--checkpoint-image", image, "--checkpoint-after", "1", "--", await compileC("net_tun"), "hold"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(dec.decode(out.stdout), "created hold0: ok\nstill there: 1\n");
    assert.equal(dec.decode(out.stderr), "sentry: checkpoint: a TUN/TAP device (/dev/net/tun) exists: not saved yet; the sandbox goes on\n");
    assert.equal(out.code, 0);
    assert.throws(() => Deno.statSync(image));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
