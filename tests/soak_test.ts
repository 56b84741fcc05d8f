/**
 * What real CI jobs ran into, run natively and in the sentry: the output and exit status must
 * be the same. Each test names the program that first failed in the sentry.
 */

import assert from "node:assert/strict";
import { refusedOn } from "./_checkpoint.ts";
import { assertSameAsNative, compileC, runSentry } from "./_harness.ts";

Deno.test("fadvise, readahead, ioprio, set_mempolicy and get_mempolicy, mlock, mincore, msync and MADV_DONTFORK answer as natively (cp, sort, git, ionice, ps)", async () => {
  await assertSameAsNative([await compileC("advice")]);
});

Deno.test("ionice runs a command in the idle class and reads a process's priority as natively", async () => {
  await assertSameAsNative(["/bin/sh", "-c", "ionice -c3 echo idle; ionice -p $$"]);
});

Deno.test("vmstat starts and prints its header as natively (it needs /proc/vmstat)", async () => {
  await assertSameAsNative(["/bin/sh", "-c", "vmstat | head -2; vmstat -s | grep -c 'K total memory'"]);
});

Deno.test("lscpu finds one socket of single-thread cores covering every CPU, and lsblk finds no disks", async () => {
  const script = [
    "t=$(lscpu | sed -n 's/^Thread(s) per core: *//p')",
    "c=$(lscpu | sed -n 's/^Core(s) per socket: *//p')",
    "s=$(lscpu | sed -n 's/^Socket(s): *//p')",
    'echo "$((t * c * s)) $(nproc) $t $s"',
    "lsblk; echo lsblk $?",
  ].join("\n");
  const r = await runSentry(["/bin/sh", "-c", script]);
  const n = navigator.hardwareConcurrency;
  assert.equal(r.stdout, `${n} ${n} 1 1\nlsblk 0\n`);
  assert.equal(r.code, 0);
});

Deno.test("capget answers the version handshake, pids and root's versus nobody's sets as natively (capsh, getpcaps)", async () => {
  await assertSameAsNative([await compileC("capget")]);
});

Deno.test("capset, the checks that honour the effective set, set*uid and setfsuid fix-ups, keepcaps, securebits, bounding and ambient sets, access(2) and exec behave as natively", async () => {
  await assertSameAsNative([await compileC("capset")]);
});

Deno.test("user namespaces: unshare and clone with CLONE_NEWUSER, ids seen as 65534 until uid_map and gid_map are written once under Linux's rules, setgroups, capabilities inside and not outside, unmapped file owners, setns into a user namespace, as natively", async () => {
  await assertSameAsNative([await compileC("userns")]);
});

Deno.test("unshare -Ur maps root into a new user namespace (util-linux: setgroups deny, uid_map, gid_map) and /proc/sys/user lists the namespace limits", async () => {
  const script = "unshare -Ur sh -c 'id; cat /proc/self/uid_map /proc/self/setgroups'; cat /proc/sys/user/max_user_namespaces";
  const r = await runSentry(["/bin/sh", "-c", script]);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\) groups=0\(root\)(,65534\(nogroup\))*\n {9}0 {10}0 {10}1\ndeny\n[1-9][0-9]*\n$/);
  assert.equal(r.code, 0);
});

Deno.test("a checkpoint refuses a task in a user namespace of its own, in one line, and the sandbox goes on (unshare -U)", async () => {
  const out = await refusedOn("ready\n", ["/bin/sh", "-c", 'unshare -U sh -c "echo ready; read -r go; id -u"']);
  assert.deepEqual([out.code, out.stdout, out.stderr], [0, "ready\n65534\n", ""]);
  assert.match(out.refusal, /^checkpoint: task \d+ is in a user namespace of its own: not saved yet$/);
});

Deno.test("execve of set-user-ID and set-group-ID files sets the effective and saved ids, AT_SECURE and the capabilities as natively; no_new_privs and scripts' own bits leave them alone", async () => {
  await assertSameAsNative([await compileC("setuid_exec")]);
});

Deno.test("a set-user-ID exec under ptrace gains the file's uid only when the trace began with CAP_SYS_PTRACE (Linux's ptracer_cred), as natively (tests/c/ptrace_setuid_exec.c)", async () => {
  await assertSameAsNative([await compileC("ptrace_setuid_exec")]);
});

Deno.test("mmap, mprotect, madvise and munmap refuse bad offsets, lengths, protections and advice with the errors Linux gives", async () => {
  await assertSameAsNative([await compileC("mm_errors")]);
});

Deno.test("mlock, mlock2, MAP_LOCKED, mlockall and munlock mark mappings locked: msync(MS_INVALIDATE), MADV_DONTNEED, fork and RLIMIT_MEMLOCK see them as natively", async () => {
  await assertSameAsNative([await compileC("mlock_vma")]);
});

Deno.test("madvise: MADV_WIPEONFORK gives a fork's child zeros until MADV_KEEPONFORK, and each mapping's rules for WIPEONFORK, FREE, REMOVE, COLD and PAGEOUT are Linux's", async () => {
  await assertSameAsNative([await compileC("madvise_vma")]);
});

Deno.test("getpcaps and capsh --print read every capability for root and none for nobody", async () => {
  const script = "getpcaps $$; capsh --print | head -1; su nobody -s /bin/sh -c 'capsh --print | head -1; getpcaps $$'";
  const r = await runSentry(["/bin/sh", "-c", script]);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^1: =ep\nCurrent: =ep\nCurrent: =\n\d+: =\n$/);
  assert.equal(r.code, 0);
});

Deno.test("sethostname, setdomainname and the clock setters check their arguments and privileges as natively", async () => {
  await assertSameAsNative([await compileC("admin")]);
});

// Never natively (SENTRY_TEST_TARGET=native): it would rename the host and try to set its clock.
Deno.test({
  name: "root in the sandbox renames the sandbox, not the host; date -s and dmesg fail or read as in a container",
  ignore: Deno.env.get("SENTRY_TEST_TARGET") === "native",
}, async () => {
  const before = Deno.hostname();
  const script = [
    "hostname sandboxed; hostname; uname -n; cat /proc/sys/kernel/hostname",
    "domainname dom; domainname",
    "date -s 2001-01-01 >/dev/null; echo date $?",
    "dmesg; echo dmesg $?",
    "su nobody -s /bin/sh -c 'dmesg; echo $?' 2>&1",
  ].join("\n");
  const r = await runSentry(["/bin/sh", "-c", script]);
  assert.equal(
    r.stdout,
    "sandboxed\nsandboxed\nsandboxed\ndom\ndate 1\ndmesg 0\n" +
      "dmesg: read kernel buffer failed: Operation not permitted\n1\n",
  );
  assert.equal(r.stderr, "date: cannot set date: Operation not permitted\n");
  assert.equal(Deno.hostname(), before);
});
