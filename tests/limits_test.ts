/**
 * The sandbox's limits (--timeout, --pids, --memory, --cpu-time, --cpus, --output-limit,
 * --overlay-size, config.json's linux.resources) and the run report (--report), as a user
 * meets them: `./sentry do` run as a subprocess. No timing decides a result: a time limit is
 * judged by the status, the reason and the report.
 */
import assert from "node:assert/strict";
import { compileC, REPO_ROOT } from "./_harness.ts";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sentry(args: string[], opts: { cwd?: string; stdout?: "piped" | "null" } = {}): Promise<Result> {
  const out = await new Deno.Command(`${REPO_ROOT}/sentry`, {
    args, cwd: opts.cwd ?? REPO_ROOT, stdin: "null", stdout: opts.stdout ?? "piped", stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: opts.stdout === "null" ? "" : dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-limits-test-" }));
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

// deno-lint-ignore no-explicit-any
type Report = any;

/** Runs `sentry do [flags] --report FILE -- argv` and returns the result with the report read. */
async function withReport(flags: string[], argv: string[]): Promise<Result & { report: Report }> {
  let out: Result & { report: Report } | null = null;
  await withTempDir(async (dir) => {
    const file = `${dir}/report.json`;
    const r = await sentry(["do", ...flags, "--report", file, "--", ...argv]);
    const report = JSON.parse(Deno.readTextFileSync(file));
    // Atomic: nothing but the report is left in its directory.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["report.json"]);
    out = { ...r, report };
  });
  return out!;
}

function limitCount(report: Report, name: string): number {
  return report.limitsReached.find((l: { limit: string }) => l.limit === name)?.count ?? 0;
}

Deno.test("--timeout kills the whole sandbox: status 124, reason timeout, one line", async () => {
  const r = await withReport(["--timeout", "1"], ["sh", "-c", "sleep 100 & sleep 100; echo not reached"]);
  assert.equal(r.code, 124, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "sentry: timed out after 1 s (--timeout): every process was killed\n");
  assert.equal(r.report.reason, "timeout");
  assert.equal(r.report.exitStatus, 124);
  assert.equal(r.report.init.signal, "SIGKILL");
  assert.equal(r.report.limits.timeoutSeconds, 1);
  assert.equal(limitCount(r.report, "timeout"), 1);
});

Deno.test("a run that ends before --timeout keeps its own status and reason exit", async () => {
  const r = await withReport(["--timeout", "100"], ["sh", "-c", "echo hi; exit 3"]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, "hi\n");
  assert.equal(r.report.reason, "exit");
  assert.deepEqual(r.report.init, { pid: 1, exitCode: 3, signal: null, coreDumped: false });
  assert.equal(r.report.output.stdoutBytes, 3);
  assert.deepEqual(r.report.limitsReached, []);
});

Deno.test("--pids: fork beyond the limit fails with EAGAIN, counted in the report", async () => {
  const exe = await compileC("limits");
  const r = await withReport(["--pids", "8"], [exe, "forks"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "forked 7: Resource temporarily unavailable\n");
  assert.equal(r.report.pids.max, 8);
  assert.equal(limitCount(r.report, "pids"), 1);
});

Deno.test("config.json's linux.resources.pids.limit limits tasks as --pids does", async () => {
  const exe = await compileC("limits");
  await withTempDir(async (dir) => {
    const config = {
      process: { args: [exe, "forks"], cwd: "/" },
      root: { path: "/", readonly: true },
      linux: { resources: { pids: { limit: 4 } } },
    };
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config));
    const r = await sentry(["run", "--bundle", dir]);
    assert.equal(r.stdout, "forked 3: Resource temporarily unavailable\n", r.stderr);
    // The flag wins over the file.
    const f = await sentry(["run", "--bundle", dir, "--pids", "2"]);
    assert.equal(f.stdout, "forked 1: Resource temporarily unavailable\n", f.stderr);
  });
});

Deno.test("--memory: a mapping or malloc beyond the limit is ENOMEM", async () => {
  const exe = await compileC("limits");
  const big = await sentry(["do", "--memory", "64M", "--", exe, "big"]);
  assert.equal(big.stdout, "big mmap: Cannot allocate memory\n", big.stderr);
  const unlimited = await sentry(["do", "--", exe, "big"]);
  assert.equal(unlimited.stdout, "big mmap: ok\n");
  // Usage is sampled: pages touched faster than the sampler looks may pass the limit first,
  // and then the OOM killer ends the hog instead of a failed malloc. Either way it is contained.
  const r = await withReport(["--memory", "64M"], [exe, "chunks"]);
  if (r.report.oomKills.length === 0) {
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "malloc failed\n");
  } else {
    assert.equal(r.code, 137);
    assert.equal(r.report.reason, "oom");
  }
  assert.ok(limitCount(r.report, "memory") >= 1);
  assert.ok(r.report.memory.peakBytes > 0);
});

Deno.test("--memory: pages touched beyond the limit get the largest process OOM-killed, reported", async () => {
  const exe = await compileC("limits");
  const r = await withReport(["--memory", "64M"], [exe, "cow"]);
  assert.ok(r.report.oomKills.length >= 1, JSON.stringify(r.report));
  const k = r.report.oomKills[0];
  assert.match(k.comm, /^limits/);
  assert.ok(k.rssBytes > 0);
  assert.match(r.stderr, /^sentry: out of memory \(--memory 64 MiB\): killed process \d+ \(limits/m);
  if (k.pid === 1) {
    // init itself: SIGKILL, reason oom.
    assert.equal(r.code, 137);
    assert.equal(r.report.reason, "oom");
  } else {
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "child: signal 9\n");
  }
});

Deno.test("--cpu-time ends a busy sandbox: status 124, reason cpu-time", async () => {
  const exe = await compileC("limits");
  const r = await withReport(["--cpu-time", "0.3"], [exe, "spin"]);
  assert.equal(r.code, 124, r.stderr);
  assert.equal(r.stderr, "sentry: CPU time limit of 0.3 s reached (--cpu-time): every process was killed\n");
  assert.equal(r.report.reason, "cpu-time");
  assert.ok(r.report.cpuSeconds.total >= 0.3, `${r.report.cpuSeconds.total}`);
});

Deno.test("--cpus throttles a busy sandbox, which still finishes", async () => {
  const exe = await compileC("limits");
  const r = await withReport(["--cpus", "0.05"], [exe, "busy", "1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.report.reason, "exit");
  assert.ok(limitCount(r.report, "cpus") >= 1, JSON.stringify(r.report.limitsReached));
});

Deno.test("--output-limit: output stops at the limit, the sandbox is killed, status 124", async () => {
  const r = await withReport(["--output-limit", "1M"], ["yes"]);
  assert.equal(r.code, 124, r.stderr);
  assert.equal(r.stdout.length, 2 ** 20);
  assert.equal(r.stdout, "y\n".repeat(2 ** 19));
  assert.equal(
    r.stderr,
    "sentry: output limit of 1 MiB reached (--output-limit): output truncated, every process was killed\n",
  );
  assert.equal(r.report.reason, "output-limit");
  assert.equal(r.report.output.stdoutBytes, 2 ** 20);
  assert.equal(r.report.output.truncated, true);
});

Deno.test("--overlay-size: writes beyond it are ENOSPC and statfs reports the size", async () => {
  const exe = await compileC("limits");
  const r = await sentry(["do", "--overlay-size", "1M", "--", exe, "fill", "/sentry-limits-fill"]);
  assert.equal(r.stdout, "wrote 1048576: No space left on device; statfs 1048576 bytes, 0 free\n", r.stderr);
  const up = await sentry(["do", "--overlay-size", "1M", "--overlay-upper", "/tmp", "--", "true"]);
  assert.equal(up.code, 125);
  assert.match(up.stderr, /^sentry: --overlay-size: the upper layer is a host directory/);
});

Deno.test("the report lists unimplemented syscalls by name with counts", async () => {
  const r = await withReport([], ["sh", "-c", "true"]);
  assert.equal(r.code, 0);
  assert.equal(r.report.version, 1);
  for (const e of r.report.enosys) {
    assert.equal(typeof e.syscall, "string");
    assert.ok(e.count >= 1);
  }
  assert.ok(r.report.wallSeconds > 0);
  assert.deepEqual(r.report.command, ["sh", "-c", "true"]);
});

Deno.test("bad limits in flags and config.json are one line and status 125", async () => {
  const r = await sentry(["do", "--memory", "lots", "--", "true"]);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, `sentry: --memory: expected a size in bytes such as 268435456 or 256M, got "lots"\n`);
  const rep = await sentry(["do", "--report", "/nonexistent-dir/r.json", "--", "true"]);
  assert.equal(rep.code, 125);
  assert.match(rep.stderr, /^sentry: --report "\/nonexistent-dir\/r.json": .*\n$/);
  await withTempDir(async (dir) => {
    const config = { process: { args: ["true"], cwd: "/" }, root: { path: "/" }, linux: { resources: { cpu: { period: 5 } } } };
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config));
    const c = await sentry(["run", "--bundle", dir]);
    assert.equal(c.code, 125);
    assert.equal(c.stderr, "sentry: config.json: linux.resources.cpu.period: expected an integer from 1000 to 1000000 (microseconds)\n");
  });
});
