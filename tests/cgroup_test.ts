/**
 * The cgroup v2 filesystem (vfs/cgroupfs): tests/c/cgroup2.c natively and in the sentry, and a
 * checkpoint's refusal of a sandbox whose hierarchy is mounted or changed; cgroup device
 * programs (bpf(2), kernel/bpf): tests/c/bpf_cgroup_device.c natively and in the sentry.
 */

import assert from "node:assert/strict";
import { refusedOn } from "./_checkpoint.ts";
import { assertSameAsNative, C_DIR, compileC, runNative, runSentry } from "./_harness.ts";

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
