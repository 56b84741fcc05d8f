/**
 * The vDSO (kernel/vdso): programs find it through AT_SYSINFO_EHDR, read the clocks through it
 * and through the system call without time going back, and see the host's wall clock.
 * Differential: each program runs natively and in the sentry.
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT, runNative, runSentry, type RunOptions } from "./_harness.ts";

const FIXED_ENV: RunOptions = { clearEnv: true, env: { PATH: "/usr/bin:/bin" } };

/** The last line `realtime_ns=N`, checked against the host's clock around the run. */
function splitRealtime(stdout: string): { rest: string; ns: bigint } {
  const m = /^realtime_ns=(\d+)\n$/m.exec(stdout);
  assert.ok(m, stdout);
  return { rest: stdout.slice(0, m.index), ns: BigInt(m[1]!) };
}

function hostNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

for (const linking of ["dynamic", "static"] as const) {
  Deno.test(`A ${linking} program reads the clocks through the vDSO as natively, and the host's wall clock`, async () => {
    const prog = await compileC("vdso_clock", { static: linking === "static" });
    const native = await runNative([prog], FIXED_ENV);
    assert.equal(native.code, 0, native.stderr);
    assert.doesNotMatch(native.stdout, /: NO$/m, "every check holds natively");
    const n = splitRealtime(native.stdout);
    const before = hostNs();
    const sandboxed = await runSentry([prog], FIXED_ENV);
    const after = hostNs();
    assert.equal(sandboxed.stderr, "");
    assert.equal(sandboxed.code, 0);
    const s = splitRealtime(sandboxed.stdout);
    assert.equal(s.rest, n.rest);
    // Date.now() has millisecond precision: allow one either side.
    assert.ok(s.ns >= before - 1_000_000n && s.ns <= after + 1_000_000n, `${s.ns} not in [${before}, ${after}]`);
  });
}

/** Whether the host's TSC is one the sentry computes time from (kernel/vdso/clock.ts). */
function hostTscUsable(): boolean {
  const flags = Deno.readTextFileSync("/proc/cpuinfo").split("\n").find((l) => l.startsWith("flags")) ?? "";
  return /\bconstant_tsc\b/.test(flags) && /\bnonstop_tsc\b/.test(flags);
}

Deno.test("clock_gettime(CLOCK_MONOTONIC) through the vDSO makes no system call once calibrated (with a usable TSC)", async () => {
  const prog = await compileC("vdso_loop");
  const calls = 200_000;
  const log = await Deno.makeTempFile({ prefix: "vdso-strace-" });
  try {
    const r = await runSentryWith(["--strace", "--debug-log", log], [prog, String(calls)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `calls: ${calls}, went back: 0\n`);
    const made = (await Deno.readTextFile(log)).split("\n").filter((l) => / clock_gettime\(1,/.test(l)).length;
    if (hostTscUsable()) {
      // The first ~10 ms (calibration) ask the kernel; the rest never do.
      assert.ok(made < calls / 10, `${made} clock_gettime system calls for ${calls} reads`);
    } else {
      assert.equal(made, calls, "without a usable TSC every read is a system call");
    }
  } finally {
    await Deno.remove(log);
  }
});

async function runSentryWith(flags: string[], argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: [...flags, "do", "--", ...argv],
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/root" },
  }).output();
  const d = new TextDecoder();
  return { code: r.code, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

Deno.test("date prints the host's time in the sentry", async () => {
  const before = Math.floor(Date.now() / 1000);
  const r = await runSentry(["/usr/bin/date", "+%s"], FIXED_ENV);
  const after = Math.ceil(Date.now() / 1000);
  assert.equal(r.code, 0, r.stderr);
  const t = Number(r.stdout.trim());
  assert.ok(t >= before && t <= after, `${t} not in [${before}, ${after}]`);
});

Deno.test("python3's time.monotonic never goes back across the vDSO and the system call", async () => {
  const script = [
    "import ctypes, time",
    "libc = ctypes.CDLL(None, use_errno=True)",
    "ts = (ctypes.c_long * 2)()",
    "def sys_mono():",
    "    assert libc.syscall(228, 1, ts) == 0",
    "    return ts[0] * 10**9 + ts[1]",
    "back = 0",
    "last = 0",
    "for i in range(20000):",
    "    a = time.monotonic_ns()",
    "    b = sys_mono() if i % 10 == 0 else time.monotonic_ns()",
    "    c = time.monotonic_ns()",
    "    if a < last or b < a or c < b: back += 1",
    "    last = c",
    "print('went back:', back)",
    "print('vdso mapped:', '[vdso]' in open('/proc/self/maps').read())",
  ].join("\n");
  const argv = ["python3", "-c", script];
  const env: RunOptions = { clearEnv: true, env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" } };
  const native = await runNative(argv, env);
  assert.equal(native.stdout, "went back: 0\nvdso mapped: True\n", native.stderr);
  const s = await runSentry(argv, env);
  assert.equal(s.stdout, native.stdout, s.stderr);
});

Deno.test("LD_SHOW_AUXV=1 and ldd see the vDSO in the sentry", async () => {
  const r = await runSentry(["/bin/true"], { clearEnv: true, env: { PATH: "/usr/bin:/bin", LD_SHOW_AUXV: "1" } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^AT_SYSINFO_EHDR:\s+0x[0-9a-f]+$/m);
  const l = await runSentry(["/usr/bin/ldd", "/bin/true"], FIXED_ENV);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^\s*linux-vdso\.so\.1 \(0x[0-9a-f]+\)$/m);
});
