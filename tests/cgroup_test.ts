/**
 * The cgroup v2 filesystem (vfs/cgroupfs): tests/c/cgroup2.c natively and in the sentry, and a
 * checkpoint's refusal of a sandbox whose hierarchy is mounted or changed; cgroup device
 * programs (bpf(2), kernel/bpf): tests/c/bpf_cgroup_device.c natively and in the sentry.
 */

import assert from "node:assert/strict";
import { checkpointOn, refusedOn, sentry } from "./_checkpoint.ts";
import { assertSameAsNative, C_DIR, compileC, REPO_ROOT, runNative, runSentry } from "./_harness.ts";

Deno.test("cgroup2: mount, mkdir/rmdir with cgroup.max.* and EBUSY, interface files, migration through cgroup.procs and /proc/PID/cgroup, cgroup.events' populated and its poll, cgroup.kill, zombies, removed cgroups' files (ENODEV, ENOENT), as natively (tests/c/cgroup2.c)", async () => {
  await assertSameAsNative([await compileC("cgroup2")]);
});

Deno.test("cgroup2 controllers (cpu, memory, pids): subtree_control's rules (EINVAL, ENOENT, EBUSY), files appearing and going (ENODEV), formats, pids.max refusing a fork with pids.current/peak/events and a poll notification (tests/c/cgroup2_controllers.c)", async () => {
  const prog = await compileC("cgroup2_controllers");
  // Natively the program never changes the host's root cgroup (no CGROUP_TEST_ENABLE_ROOT);
  // in the sandbox its root enables the controllers first.
  const native = await runNative([prog]);
  const sentry = await runSentry([prog], { env: { CGROUP_TEST_ENABLE_ROOT: "1" } });
  if (native.stdout !== "no controllers\n") {
    // The host's hierarchy enables cpu, memory and pids at its root: the sentry must do as it does.
    assert.equal(sentry.stdout, native.stdout);
  } else {
    // This host delegates no controller to cgroup v2 (they are bound to v1 hierarchies):
    // compare with what Linux's kernel/cgroup code gives (tests/c/cgroup2_controllers.expected).
    assert.equal(sentry.stdout, await Deno.readTextFile(`${C_DIR}/cgroup2_controllers.expected`));
  }
  assert.equal(sentry.stderr, "");
  assert.equal(sentry.code, 0);
});

Deno.test("cgroup2: a checkpoint refuses a sandbox with the hierarchy mounted, in one line, and the sandbox goes on", async () => {
  const out = await refusedOn("mounted\n", [
    "/bin/sh", "-c", "mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg && mkdir /tmp/cg/x && echo mounted && { read -r go || :; } && rmdir /tmp/cg/x && echo done",
  ]);
  assert.deepEqual([out.code, out.stdout, out.stderr, out.refusal], [0, "mounted\ndone\n", "", "checkpoint: a cgroup2 filesystem is mounted: not saved yet"]);
});

Deno.test("bpf(2) cgroup device programs: the verifier's refusals and errnos, attach/detach/query with BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE and BPF_F_REPLACE through the hierarchy, program IDs, info and fdinfo, and open, access and mknod of devices refused (EPERM) by the programs in effect, as natively (tests/c/bpf_cgroup_device.c)", async () => {
  await assertSameAsNative([await compileC("bpf_cgroup_device")]);
});

Deno.test("bpf(2): a checkpoint refuses a sandbox holding a program, in one line, and the sandbox goes on", async () => {
  const prog = await compileC("bpf_cgroup_device");
  // It says "holding" once it holds a program, and holds it until stdin ends.
  const out = await refusedOn("holding\n", [prog, "hold"]);
  assert.deepEqual([out.code, out.stdout, out.stderr, out.refusal], [0, "holding\ndone\n", "", "checkpoint: eBPF programs are loaded or attached (bpf): not saved yet"]);
});

Deno.test("bpf(2): 2000 random programs get the verifier's errno, and 150 random verified programs refuse the same device accesses, as natively (tests/c/bpf_random_programs.c)", async () => {
  await assertSameAsNative([await compileC("bpf_random_programs")]);
});

/** A bundle on the host's root (read-only) whose config.json mounts cgroup at /sys/fs/cgroup, as podman's does. */
function cgroupBundle(dir: string, script: string, o: { rw?: boolean; resources?: object } = {}): void {
  const config = {
    ociVersion: "1.0.2",
    // busybox's sh: its echo reports the errno (dash's says "I/O error" for any).
    process: { args: ["/bin/busybox", "sh", "-c", script], cwd: "/", env: ["PATH=/usr/bin:/bin"] },
    root: { path: "/", readonly: true },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      // podman's entry, word for word.
      { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["rprivate", "nosuid", "noexec", "nodev", "relatime", o.rw ? "rw" : "ro"] },
    ],
    linux: { resources: o.resources ?? { memory: { limit: 104857600 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 50 } } },
  };
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config));
}

const SHOW_LIMITS = "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max";

Deno.test("a bundle's cgroup mount: /sys/fs/cgroup is the container's cgroup with linux.resources' limits, read-only, as runc/crun with a cgroup namespace show it; writes to the limits are EPERM on a rw mount", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentry-cgroup-bundle-" });
  try {
    cgroupBundle(dir, `${SHOW_LIMITS}; ls /sys/fs/cgroup | tr '\\n' ' '; echo; cat /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/cgroup.type; ` +
      "grep -c . /sys/fs/cgroup/cgroup.procs; echo 1 > /sys/fs/cgroup/pids.max || echo refused; grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f4-");
    const r = await sentry(["run", "--bundle", dir]);
    assert.equal(r.stderr.replace(/^.*Read-only file system\n/m, ""), "");
    assert.match(r.stderr, /pids\.max: Read-only file system/);
    const lines = r.stdout.split("\n");
    assert.deepEqual(lines.slice(0, 4), ["0::/", "104857600", "50000 100000", "50"]);
    // A non-root cgroup's files: the core ones and those of cpu, memory and pids (crun: the
    // host's controllers, which include these).
    for (const f of ["cgroup.type", "cgroup.events", "cgroup.kill", "cgroup.procs", "cpu.max", "cpu.stat", "memory.current", "memory.max", "memory.stat", "pids.current", "pids.max"]) {
      assert.ok(lines[4]!.split(" ").includes(f), `${f} in ${lines[4]}`);
    }
    assert.deepEqual(lines.slice(5), ["cpu memory pids", "domain", "2", "refused", "/ /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw", ""]);
    assert.equal(r.code, 0);

    // No limit: "max"; on a rw mount, the limits still cannot be raised from inside (EPERM, as
    // at a delegated namespace root), and pids.max is what the sentry enforces.
    cgroupBundle(dir, `${SHOW_LIMITS}; echo max > /sys/fs/cgroup/pids.max || echo refused`, { rw: true, resources: {} });
    const u = await sentry(["run", "--bundle", dir]);
    assert.equal(u.stdout, "0::/\nmax\nmax 100000\nmax\nrefused\n", u.stderr);
    assert.match(u.stderr, /write error: Operation not permitted/);
    // Flags win over config.json, as for the limits themselves.
    cgroupBundle(dir, SHOW_LIMITS);
    const f = await sentry(["run", "--bundle", dir, "--memory", "64m", "--pids", "7"]);
    assert.equal(f.stdout, "0::/\n67108864\n50000 100000\n7\n", f.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bundle's cgroup mount follows `sentry update`, and a checkpoint keeps it (the restoring bundle mounts it again)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentry-cgroup-bundle-" });
  const root = await Deno.makeTempDir({ prefix: "sentry-cgroup-root-" });
  const cli = async (args: string[]) => await sentry(["--root", root, ...args]);
  try {
    cgroupBundle(dir, "sleep 100");
    // In the foreground, held by this test until `delete --force` ends it.
    const held = new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["--root", root, "run", "--bundle", dir, "cg1"], stdin: "null", stdout: "null", stderr: "null",
    }).spawn();
    for (let i = 0; i < 1200 && !(await Deno.stat(`${root}/cg1/control.sock`).then(() => true, () => false)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const show = async () => (await cli(["exec", "cg1", "--", "/bin/sh", "-c", SHOW_LIMITS])).stdout;
    assert.equal(await show(), "0::/\n104857600\n50000 100000\n50\n");
    const up = await cli(["update", "--memory", "209715200", "--pids-limit", "9", "--cpu-quota", "150000", "--cpu-period", "100000", "cg1"]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await show(), "0::/\n209715200\n150000 100000\n9\n");
    assert.equal((await cli(["delete", "--force", "cg1"])).code, 0);
    await held.status;

    const image = `${dir}/image.cbor`;
    cgroupBundle(dir, `${SHOW_LIMITS}; echo ready; read -r go; ${SHOW_LIMITS}`);
    const before = await checkpointOn("ready\n", image, [], { command: (id) => ["run", "--bundle", dir, id] });
    assert.equal(before.stdout, "0::/\n104857600\n50000 100000\n50\nready\n", before.stderr);
    const after = await sentry(["restore", "--bundle", dir, image]);
    assert.equal(after.stdout, "0::/\n104857600\n50000 100000\n50\n", after.stderr);
    assert.equal(after.code, 0);
  } finally {
    await sentry(["--root", root, "delete", "--force", "cg1"]).catch(() => null);
    await Deno.remove(root, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});
