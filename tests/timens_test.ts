/**
 * Time namespaces (kernel/time_namespace.ts): tests/c/timens.c natively (as root: unshare
 * needs CAP_SYS_ADMIN, and the namespace it makes is for its own children only) and in the
 * sentry, with the same output; the vDSO's offsets read without a system call; and a
 * checkpoint of a process in a shifted namespace, restored with its offsets.
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT, runNative, runSentry } from "./_harness.ts";
import { nativeOutput, roundTrip } from "./_checkpoint.ts";

Deno.test("unshare/clone3/setns(CLONE_NEWTIME), /proc/PID/timens_offsets, the offsets in clock_gettime (vDSO and syscall), sysinfo, /proc/uptime, clock_nanosleep and timerfd absolute times, and execve's entry, as natively (tests/c/timens.c)", async () => {
  const bin = await compileC("timens");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /child monotonic \(vDSO, syscall\): 1 1\n/);
  assert.match(r.stdout, /exec: offsets fixed: -1 EACCES\n$/);
  assert.doesNotMatch(r.stdout, /: 0\n|: [01] 0\n|: 0 [01]\n/, "every check holds");
  if (Deno.uid() !== 0) return;
  const native = await runNative([bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

/** Whether the host's TSC is one the sentry computes time from (kernel/vdso/clock.ts). */
function hostTscUsable(): boolean {
  const flags = Deno.readTextFileSync("/proc/cpuinfo").split("\n").find((l) => l.startsWith("flags")) ?? "";
  return /\bconstant_tsc\b/.test(flags) && /\bnonstop_tsc\b/.test(flags);
}

Deno.test("a task in a shifted time namespace reads its offsets through the vDSO without a system call", async () => {
  const bin = await compileC("timens");
  const calls = 100_000;
  const log = await Deno.makeTempFile({ prefix: "timens-strace-" });
  try {
    const out = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["--strace", "--debug-log", log, "do", "--", bin, "loop", String(calls)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    assert.equal(out.code, 0, d.decode(out.stderr));
    assert.equal(d.decode(out.stdout), "reads without the offset: 0\n");
    const made = (await Deno.readTextFile(log)).split("\n").filter((l) => / clock_gettime\(1,/.test(l)).length;
    // The first ~10 ms (calibration) ask the kernel; the rest never do.
    if (hostTscUsable()) assert.ok(made < calls / 10, `${made} clock_gettime system calls for ${calls} reads`);
  } finally {
    await Deno.remove(log);
  }
});

Deno.test("checkpoint and restore keep a time namespace's offsets, its freeze and who is in it (vDSO and syscall)", async () => {
  const bin = await compileC("timens");
  const dir = await Deno.makeTempDir();
  try {
    const expected = Deno.uid() === 0 ? await nativeOutput(bin, ["hold"]) : [
      "ready\n",
      "child monotonic a day on (vDSO, syscall): 1 1\n",
      "child boottime -10 s (vDSO, syscall): 1 1\n",
      "child in its parent's time_for_children: 1\n",
      "parent unshifted: 1\n",
      "parent writes its children's offsets: -1 EACCES\n",
      "children's (64 bytes):\nmonotonic       86400         0\nboottime          -10         0\n",
    ].join("");
    assert.match(expected, /child boottime -10 s \(vDSO, syscall\): 1 1\n/);
    await roundTrip({ argv: [bin, "hold"], ready: "ready\n", image: `${dir}/image.cbor`, before: "ready\n", expected });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
