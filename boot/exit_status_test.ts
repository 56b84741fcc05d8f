import assert from "node:assert/strict";
import { deathReport, decodeWaitStatus, exitStatusOf, signalName } from "./exit_status.ts";

Deno.test("exitStatusOf() is the exit code when init exited", () => {
  assert.equal(exitStatusOf(0), 0);
  assert.equal(exitStatusOf(1 << 8), 1);
  assert.equal(exitStatusOf(255 << 8), 255);
  assert.equal(exitStatusOf(42 << 8), 42);
});

Deno.test("exitStatusOf() is 128 + N when signal N killed init", () => {
  assert.equal(exitStatusOf(11 | 0x80), 139); // SIGSEGV with core: a NULL dereference
  assert.equal(exitStatusOf(11), 139);
  assert.equal(exitStatusOf(9), 137);
  assert.equal(exitStatusOf(2), 130);
  assert.equal(exitStatusOf(15), 143);
  assert.equal(exitStatusOf(34), 162); // SIGRTMIN+2
});

Deno.test("decodeWaitStatus() separates exits from deaths by signal and reads the core bit", () => {
  assert.deepEqual(decodeWaitStatus(3 << 8), { kind: "exited", code: 3 });
  assert.deepEqual(decodeWaitStatus(6 | 0x80), { kind: "signaled", signo: 6, core: true });
  assert.deepEqual(decodeWaitStatus(15), { kind: "signaled", signo: 15, core: false });
});

Deno.test("deathReport() names the signal and the fault address", () => {
  assert.equal(deathReport(11 | 0x80, { fault: { addr: 0 } }), "init (pid 1) killed by SIGSEGV (fault at 0x0)");
  assert.equal(deathReport(7, { fault: { addr: 0xdeadn } }), "init (pid 1) killed by SIGBUS (fault at 0xdead)");
  assert.equal(deathReport(9), "init (pid 1) killed by SIGKILL");
  assert.equal(deathReport(15), "init (pid 1) killed by SIGTERM");
  assert.equal(deathReport(40), "init (pid 1) killed by signal 40");
});

Deno.test("deathReport() stays silent on exits and, as bash, on SIGINT and SIGPIPE", () => {
  assert.equal(deathReport(0), null);
  assert.equal(deathReport(1 << 8), null);
  assert.equal(deathReport(2), null);
  assert.equal(deathReport(13), null);
});

Deno.test("signalName() uses Linux's names", () => {
  assert.equal(signalName(11), "SIGSEGV");
  assert.equal(signalName(64), "signal 64");
});
