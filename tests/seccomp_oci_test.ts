/**
 * config.json's linux.seccomp honoured as runc honours it (boot/seccomp_profile.ts): the
 * profile is the sandbox kernel's own seccomp filter on init from its first instruction,
 * inherited by its children, on processes `sentry exec` starts, and kept by a checkpoint.
 * Bundles have the host's / as their root (an in-memory overlay: nothing reaches the host).
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";
import { PODMAN_CAPS, resolvePodmanProfile } from "./_podman_profile.ts";

const SENTRY = `${REPO_ROOT}/sentry`;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the sentry with its stdout and stderr in files (a detached holder keeps them open). */
async function sentry(args: string[]): Promise<Out> {
  const dir = await Deno.makeTempDir();
  try {
    const o = await new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$0" "$@" >"$D/out" 2>"$D/err"', SENTRY, ...args],
      env: { D: dir },
      stdin: "null",
    }).output();
    return { code: o.code, stdout: Deno.readTextFileSync(`${dir}/out`), stderr: Deno.readTextFileSync(`${dir}/err`) };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Runs `sh -c script` in a bundle whose linux.seccomp is `seccomp`. */
async function runWith(seccomp: unknown, script: string, process: Record<string, unknown> = {}): Promise<Out> {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({
      ociVersion: "1.0.2",
      process: { args: ["/bin/sh", "-c", script], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], cwd: "/", ...process },
      root: { path: "/" },
      linux: { seccomp },
    }));
    return await sentry(["run", "--bundle", dir, `seccomp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const denyMkdir = (action: string) => ({
  defaultAction: "SCMP_ACT_ALLOW",
  architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  syscalls: [{ names: ["mkdir", "mkdirat"], action, errnoRet: 1 }],
});

Deno.test("linux.seccomp denying mkdir with ERRNO(EPERM): mkdir fails EPERM in init's children, the rest works, Seccomp: 2", async () => {
  const r = await runWith(denyMkdir("SCMP_ACT_ERRNO"),
    "mkdir /tmp/sc-d; echo mkdir=$?; touch /tmp/sc-f && echo touch=ok; ls / >/dev/null && echo ls=ok; " +
      "grep -E '^Seccomp(_filters)?:' /proc/self/status; grep -E '^(Seccomp|NoNewPrivs):' /proc/1/status");
  assert.equal(r.stderr, "mkdir: cannot create directory '/tmp/sc-d': Operation not permitted\n");
  assert.equal(r.stdout, "mkdir=1\ntouch=ok\nls=ok\nSeccomp:\t2\nSeccomp_filters:\t1\nNoNewPrivs:\t0\nSeccomp:\t2\n");
  assert.equal(r.code, 0);
});

Deno.test("linux.seccomp KILL_PROCESS: the caller dies of SIGSYS, its parent goes on", async () => {
  const r = await runWith(denyMkdir("SCMP_ACT_KILL_PROCESS"), "mkdir /tmp/sc-k; echo status=$?");
  assert.equal(r.stdout, "status=159\n"); // 128 + SIGSYS
  assert.equal(r.code, 0);
  const t = await runWith(denyMkdir("SCMP_ACT_TRAP"), "mkdir /tmp/sc-k; echo status=$?");
  assert.equal(t.stdout, "status=159\n");
});

Deno.test("linux.seccomp argument condition: openat with O_CREAT (MASKED_EQ on flags) refused, other opens allowed", async () => {
  const O_CREAT = 0o100;
  const r = await runWith({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["openat"], action: "SCMP_ACT_ERRNO", errnoRet: 13, args: [{ index: 2, value: O_CREAT, valueTwo: O_CREAT, op: "SCMP_CMP_MASKED_EQ" }] }],
  }, "cat /proc/self/comm; touch /tmp/sc-c; echo touch=$?; (echo x > /tmp/sc-c) || echo redirect=refused");
  assert.equal(r.stdout, "cat\ntouch=1\nredirect=refused\n");
  // (a redirection to /dev/null would be refused too: the shell opens it with O_CREAT)
  assert.match(r.stderr, /^touch: cannot touch '\/tmp\/sc-c': Permission denied\n[^\n]*cannot create \/tmp\/sc-c: Permission denied\n$/);
});

Deno.test("a profile that refuses execve: the container does not start (runc's execve is the filter's first call)", async () => {
  const r = await runWith({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["execve"], action: "SCMP_ACT_ERRNO" }] }, "echo ran");
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^sentry: cannot run "\/bin\/sh": Operation not permitted\n$/);
  assert.notEqual(r.code, 0);
});

Deno.test("a bad linux.seccomp is one line naming the field, exit status 125, nothing runs", async () => {
  const r = await runWith({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_SOMETIMES" }] }, "echo ran");
  assert.deepEqual(r, {
    code: 125, stdout: "",
    stderr: `sentry: config.json: linux.seccomp.syscalls[0].action: "SCMP_ACT_SOMETIMES" is not a valid action for seccomp\n`,
  });
  const n = await runWith({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }, "echo ran");
  assert.equal(n.code, 125);
  assert.match(n.stderr, /^sentry: config\.json: linux\.seccomp\.syscalls\[0\]\.action: SCMP_ACT_NOTIFY is not supported[^\n]*\n$/);
});

Deno.test("podman's default profile with podman's default capabilities: a shell, dpkg and apt-get run; unshare fails as under runc", async () => {
  let text: string;
  try {
    text = Deno.readTextFileSync("/usr/share/containers/seccomp.json");
  } catch {
    console.log("skipped: no /usr/share/containers/seccomp.json (podman's default profile) on this host");
    return;
  }
  const caps = PODMAN_CAPS;
  const r = await runWith(resolvePodmanProfile(JSON.parse(text)),
    "dpkg-query -W -f='${Package}\\n' dpkg; apt-get --version | head -1 | cut -d' ' -f1; " +
      "mkdir /tmp/sc-p && echo mkdir=ok; unshare -m true 2>/dev/null; echo unshare-m=$?; " +
      "unshare -r true; echo unshare-r=$?; grep ^Seccomp: /proc/self/status",
    { capabilities: { bounding: caps, effective: caps, permitted: caps } });
  // unshare(2) is in the profile's allowed list: CLONE_NEWNS fails on the missing CAP_SYS_ADMIN
  // (EPERM from the kernel, as under runc), a user namespace needs no capability.
  assert.equal(r.stdout, "dpkg\napt\nmkdir=ok\nunshare-m=1\nunshare-r=0\nSeccomp:\t2\n", r.stderr);
  assert.equal(r.code, 0);
});

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("exec'd processes get the container's filter, and init's filter survives checkpoint and restore", async () => {
  const dir = Deno.makeTempDirSync();
  const root = `${dir}/state`;
  // Init waits for /tmp/go, then makes a directory in a child: its filter decides the outcome.
  const init = "while :; do if [ -e /tmp/go ]; then rm /tmp/go; mkdir /tmp/sc-r 2>/dev/null; echo $? > /tmp/rc.new; mv /tmp/rc.new /tmp/rc; fi; sleep 0.1; done";
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({
    ociVersion: "1.0.2",
    process: { args: ["/bin/sh", "-c", init], cwd: "/", env: ["PATH=/usr/bin:/bin"] },
    root: { path: "/" },
    linux: { seccomp: denyMkdir("SCMP_ACT_ERRNO") },
  }));
  const st = (args: string[]) => sentry(["--root", root, ...args]);
  const ask = async () => {
    assert.equal((await st(["exec", "c", "--", "/bin/sh", "-c", "rm -f /tmp/rc; touch /tmp/go"])).code, 0);
    const rc = await st(["exec", "c", "--", "/bin/sh", "-c", "while [ ! -e /tmp/rc ]; do sleep 0.1; done; cat /tmp/rc"]);
    return rc.stdout;
  };
  try {
    const started = await st(["run", "-d", "--bundle", dir, "c"]);
    assert.equal(started.code, 0, started.stderr);
    await until(() => exists(`${root}/c/control.sock`), "c's control socket");
    const e = await st(["exec", "c", "--", "/bin/sh", "-c", "mkdir /tmp/sc-e 2>/dev/null; echo $?; grep ^Seccomp: /proc/self/status"]);
    assert.equal(e.stdout, "1\nSeccomp:\t2\n", e.stderr);
    assert.equal(await ask(), "1\n");
    assert.equal((await st(["checkpoint", "--image", `${dir}/c.cbor`, "c"])).code, 0);
    assert.equal((await st(["delete", "c"])).code, 0);
    const r = await st(["restore", "-d", "--bundle", dir, "--id", "c", `${dir}/c.cbor`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await ask(), "1\n", "init's children still cannot mkdir");
    const s = await st(["exec", "c", "--", "/bin/grep", "-E", "^Seccomp(_filters)?:", "/proc/1/status"]);
    assert.equal(s.stdout, "Seccomp:\t2\nSeccomp_filters:\t1\n");
  } finally {
    for (const e of exists(root) ? [...Deno.readDirSync(root)] : []) await st(["delete", "--force", e.name]);
    Deno.removeSync(dir, { recursive: true });
  }
});
