/**
 * PID namespaces (kernel/pid_namespace.ts): tests/c/pidns.c run in the sentry and natively
 * (as root it makes its own namespaces; the host's numbering never shows in its output), a real
 * `unshare --pid --fork --mount-proc ps`, and a checkpoint's refusal while one exists.
 */

import assert from "node:assert/strict";
import { refusedOn } from "./_checkpoint.ts";
import { compileC, runNative, runSentry } from "./_harness.ts";

/** Whether this host lets the test make PID and mount namespaces natively (root, no seccomp wall). */
async function canUnsharePid(): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  try {
    return (await runNative(["/usr/bin/unshare", "--pid", "--fork", "--mount", "--", "/bin/true"])).code === 0;
  } catch {
    return false;
  }
}

Deno.test("unshare/clone/setns(CLONE_NEWPID): ids per namespace (getpid, getppid 0 across, wait, kill, pidfd, SO_PEERCRED, SCM_CREDENTIALS, F_GETLK, si_pid, NSpid), init's signals, orphans and exit (the rest killed, fork ENOMEM), /proc mounted inside, ns_last_pid, 32 levels, as natively (tests/c/pidns.c)", async () => {
  const bin = await compileC("pidns");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /init: getpid 1 getppid 0 gettid 1\n/);
  assert.match(r.stdout, /child: getpid 2 getppid 1\n/);
  assert.match(r.stdout, /init: kill\(1, SIGKILL\) = 0 \ninit: raise\(SIGINT\) = 0 \ninit: still alive\n/);
  assert.match(r.stdout, /orphan: getppid 1\ninit: reaped orphan 5 with 3\n/);
  assert.match(r.stdout, /init: SCM_CREDENTIALS pid of the outer sender 0\n/);
  assert.match(r.stdout, /init: \/proc lists 1\n/);
  assert.match(r.stdout, /outer: init's NSpid has 2 fields, ours, then 1\n/);
  assert.match(r.stdout, /outer: fork after init's exit = -1 ENOMEM\n/);
  assert.match(r.stdout, /nest: ENOSPC at the end\n/);
  if (!(await canUnsharePid())) return;
  const native = await runNative([bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("`unshare --pid --fork --mount-proc ps` lists pid 1 and itself, as natively", async () => {
  const unshare = "/usr/bin/unshare", ps = "/usr/bin/ps";
  try {
    Deno.statSync(unshare);
    Deno.statSync(ps);
  } catch {
    return; // util-linux or procps is not on this machine
  }
  const argv = [unshare, "--pid", "--fork", "--mount-proc", "sh", "-c", "echo $$; ps -o pid,ppid,comm"];
  const r = await runSentry(argv);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  // ps sizes its columns by the namespace's pid_max.
  assert.match(r.stdout, /^1\n +PID +PPID COMMAND\n +1 +0 sh\n +2 +1 ps\n$/);
  if (!(await canUnsharePid())) return;
  const native = await runNative(argv);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("a checkpoint refuses a sandbox with a second PID namespace, in one line, and the sandbox goes on", async () => {
  const out = await refusedOn("ready\n", ["/usr/bin/unshare", "--pid", "--fork", "sh", "-c", "echo ready; read -r go; echo still here"]);
  assert.deepEqual(
    [out.code, out.stdout, out.stderr, out.refusal],
    [0, "ready\nstill here\n", "", "checkpoint: a second PID namespace exists (CLONE_NEWPID): not saved yet"],
  );
});

Deno.test("getpgid, getsid and setpgid reach a zombie child until it is reaped, as natively (tests/c/pgrp_zombie.c; gVisor's SetPGIDOfZombie)", async () => {
  const bin = await compileC("pgrp_zombie");
  const r = await runSentry([bin]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /setpgid zombie 0 errno 0\n/);
  const native = await runNative([bin]);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("NS_GET_USERNS, NS_GET_PARENT, NS_GET_NSTYPE and NS_GET_OWNER_UID on every /proc/self/ns file, in a user namespace of our own and across a PID namespace (whose pid_for_children names nothing before its first process), as natively (tests/c/ns_ioctl.c)", async () => {
  const bin = await compileC("ns_ioctl");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /new uts: NS_GET_USERNS\s+the new user namespace, close-on-exec\n/);
  assert.match(r.stdout, /pid_for_children before a child\s+No such file or directory\n/);
  assert.match(r.stdout, /inside: NS_GET_PARENT of own\s+EPERM\n/);
  if (!(await canUnsharePid())) return;
  const native = await runNative([bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});
