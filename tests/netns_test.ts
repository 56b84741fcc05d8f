/**
 * Network namespaces (kernel/net.ts, Kernel.newNetNamespace): run natively inside a namespace
 * of the test's own (`unshare --net`: the host's network never changes) and in the sentry,
 * with the same output; and a checkpoint's refusal while one exists.
 */

import assert from "node:assert/strict";
import { refusedOn } from "./_checkpoint.ts";
import { canUnshareNet, compileC, runNative, runSentry } from "./_harness.ts";

Deno.test("unshare/clone(CLONE_NEWNET): only lo, down (bind yes, connect ENETUNREACH), up by SIOCSIFFLAGS or RTM_NEWLINK, the same port and abstract name bound in two namespaces, per-namespace sysctls and /proc/self/net, sockets keep their namespace, setns by /proc/self/ns/net, EPERM without CAP_SYS_ADMIN, as natively (tests/c/netns.c)", async () => {
  const bin = await compileC("netns");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /ns1 lo down: connect 127\.0\.0\.1 = -1 ENETUNREACH\n/);
  assert.match(r.stdout, /ns2 accepted by ns2's listener: 1, by ns1's: 0\n/);
  assert.match(r.stdout, /ns1 accepted by ns1's listener: 1, by ns2's: 0\n/);
  assert.match(r.stdout, /back in ns0: 1\n$/);
  if (!(await canUnshareNet())) return;
  const native = await runNative(["/usr/bin/unshare", "--net", "--", bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("a checkpoint refuses a sandbox holding a socket of a second network namespace, in one line, and the sandbox goes on", async () => {
  const out = await refusedOn("holding\n", [await compileC("netns"), "hold"]);
  assert.deepEqual([out.code, out.stdout, out.stderr, out.refusal], [
    0,
    "unshare(CLONE_NEWNET) = 0 \nsetns = 0 \nholding\n",
    "",
    "checkpoint: a descriptor holds a network namespace other than the sandbox's first (a socket, TUN device or /proc/PID/ns/net): not saved yet",
  ]);
});

Deno.test("SIOCETHTOOL on lo: software timestamping, no PTP clock, the link state as lo goes up, EOPNOTSUPP, ENODEV and EFAULT as natively (tests/c/ethtool.c, in a network namespace of its own)", async () => {
  const bin = await compileC("ethtool");
  const r = await runSentry([bin]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /lo up: GLINK = 0 : 1\n/);
  if (!(await canUnshareNet())) return;
  const native = await runNative([bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("net.ipv4.ping_group_range: read back, a reversed range is \"1 0\", bad text EINVAL, and a ping socket needs the effective or a supplementary group in it (EACCES), IPv4 and IPv6, as natively in a namespace of its own (tests/c/ping_group_range.c)", async () => {
  const bin = await compileC("ping_group_range");
  const r = await runSentry([bin]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /egid 7, groups 5, range 0-0: ping4 EACCES, ping6 EACCES\n/);
  assert.match(r.stdout, /egid 7, groups 5, range 5-5: ping4 ok, ping6 ok\n/);
  if (!(await canUnshareNet())) return;
  const native = await runNative(["/usr/bin/unshare", "--net", "--", bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});
