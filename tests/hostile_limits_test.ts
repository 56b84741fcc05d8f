/**
 * Runaway and hostile programs against the sandbox's limits and reserved memory (issue #14): a
 * fork bomb, a memory hog, descriptor exhaustion, 100 GiB of mmap, endless output, a loop
 * without system calls, a set-user-ID binary, and code and mappings in the ranges the sentry
 * reserves (the stub's pages, the vsyscall page, the top of the address space).
 *
 * Every case checks the same four things besides its own result: nothing outside the sandbox was
 * written (the fixture first creates a file at a host path, which must stay absent) or signalled
 * (it SIGKILLs a host `sleep`, which must live on); the sentry ended cleanly with the expected
 * status and no internal error; and no process was left behind: the sentry runs under
 * tests/c/subreaper.c, a child subreaper that inherits whatever outlives the sentry and counts
 * what is still alive two seconds after it exited. No timing decides a result.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT } from "./_harness.ts";

// deno-lint-ignore no-explicit-any
type Report = any;

interface Outcome {
  code: number;
  stdout: string;
  /** stderr without the subreaper's last line. */
  stderr: string;
  report: Report;
}

/**
 * Runs `sentry do FLAGS --report R -- hostile_limits MODE HOSTPATH VICTIM [extra]` under the
 * subreaper and checks the containment common to every case.
 */
async function hostile(flags: string[], mode: string, extra: string[] = []): Promise<Outcome> {
  const [prog, reaper] = await Promise.all([compileC("hostile_limits"), compileC("subreaper")]);
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-hostile-limits-" }));
  const victim = new Deno.Command("/bin/sleep", { args: ["600"], stdin: "null", stdout: "null", stderr: "null" }).spawn();
  try {
    const mark = `${dir}/escaped`;
    const report = `${dir}/report.json`;
    const out = await new Deno.Command(reaper, {
      args: [`${REPO_ROOT}/sentry`, "do", ...flags, "--report", report, "--", prog, mode, mark, String(victim.pid), ...extra],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(out.stdout);
    const stderrAll = dec.decode(out.stderr);
    const m = /subreaper: left (\d+)\n$/.exec(stderrAll);
    assert.ok(m !== null, `no subreaper line in:\n${stderrAll.slice(-2000)}`);
    const stderr = stderrAll.slice(0, m.index);
    assert.equal(m[1], "0", "processes outlived the sentry");
    // Nothing written or signalled outside.
    assert.throws(() => Deno.statSync(mark), Deno.errors.NotFound, "the host file was written");
    assert.match(Deno.readTextFileSync(`/proc/${victim.pid}/stat`), /\) S /, "the host victim was signalled");
    // The sentry's own failures are one line of "sentry:"; never a stack trace or a bug report.
    assert.doesNotMatch(stderr, /^\s+at |internal error|bug in the sentry|Uncaught/mi, stderr.slice(-2000));
    return { code: out.code, stdout, stderr, report: JSON.parse(Deno.readTextFileSync(report)) };
  } finally {
    victim.kill("SIGKILL");
    await victim.status;
    Deno.removeSync(dir, { recursive: true });
  }
}

function limitCount(report: Report, name: string): number {
  return report.limitsReached.find((l: { limit: string }) => l.limit === name)?.count ?? 0;
}

Deno.test("a fork bomb under --pids 64: forks fail with EAGAIN, init still runs and ends it, the limit is in the report", async () => {
  // --timeout only as a safety net: the bomb's init ends the run itself once its forks fail.
  const r = await hostile(["--pids", "64", "--timeout", "300"], "bomb");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "bomb: forks failed with EAGAIN\n");
  assert.equal(r.report.reason, "exit");
  assert.equal(r.report.pids.max, 64);
  assert.ok(limitCount(r.report, "pids") >= 100, JSON.stringify(r.report.limitsReached));
});

Deno.test("a memory hog under --memory 256M: ENOMEM or the OOM kill, named in the report", async () => {
  const r = await hostile(["--memory", "256M", "--timeout", "300"], "hog");
  assert.ok(limitCount(r.report, "memory") >= 1, JSON.stringify(r.report.limitsReached));
  if (r.code === 3) {
    assert.match(r.stdout, /^hog: malloc failed; the other hog (exited|SIGKILL|KILL)\n$/);
    assert.equal(r.report.reason, "exit");
  } else {
    // The OOM killer chose init.
    assert.equal(r.code, 137, r.stderr);
    assert.equal(r.report.reason, "oom");
  }
  for (const k of r.report.oomKills) assert.match(k.comm, /^hostile_limits/);
});

Deno.test("descriptor exhaustion: EMFILE at RLIMIT_NOFILE's hard limit, and the process goes on", async () => {
  const r = await hostile(["--timeout", "300"], "fds");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "fds: EMFILE after the limit, pipe EMFILE\nafter closing: open ok\n");
  assert.equal(r.stderr, "");
});

Deno.test("100 GiB of MAP_NORESERVE mmap with a page written in every GiB: as Linux, and little memory held", async () => {
  const r = await hostile(["--timeout", "300"], "huge");
  assert.equal(r.code, 0, r.stderr);
  // Without MAP_NORESERVE the host's overcommit policy decides, as natively.
  assert.match(r.stdout, /^huge: mapped, 100 pages written\nhuge: munmap ok\nhuge: without MAP_NORESERVE (ENOMEM|mapped)\n$/);
  assert.ok(r.report.memory.peakBytes < 2 ** 30, `${r.report.memory.peakBytes}`);
  // Under --memory the same mapping is refused.
  const l = await hostile(["--memory", "256M", "--timeout", "300"], "huge");
  assert.equal(l.stdout, "huge: mmap ENOMEM\n");
  assert.ok(limitCount(l.report, "memory") >= 1);
});

Deno.test("endless output under --output-limit 1M stops at 1 MiB: status 124, reason output-limit", async () => {
  const r = await hostile(["--output-limit", "1M", "--timeout", "300"], "flood");
  assert.equal(r.code, 124, r.stderr);
  const line = "sentry: output limit of 1 MiB reached (--output-limit): output truncated, every process was killed\n";
  assert.ok(r.stderr.endsWith(line), r.stderr.slice(-300));
  const appStderr = r.stderr.length - line.length;
  assert.equal(r.stdout.length + appStderr, 2 ** 20);
  assert.equal(r.report.output.stdoutBytes + r.report.output.stderrBytes, 2 ** 20);
  assert.equal(r.report.reason, "output-limit");
  assert.equal(r.report.output.truncated, true);
});

Deno.test("a loop without system calls under --timeout 2: status 124, reason timeout", async () => {
  const r = await hostile(["--timeout", "2"], "spin");
  assert.equal(r.code, 124);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "sentry: timed out after 2 s (--timeout): every process was killed\n");
  assert.equal(r.report.reason, "timeout");
  assert.equal(r.report.init.signal, "SIGKILL");
});

Deno.test("a set-user-ID-root binary in the root: root inside the sandbox, nothing more outside", async () => {
  const prog = await compileC("hostile_limits");
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-setuid-" }));
  try {
    Deno.chmodSync(dir, 0o755);
    const suid = `${dir}/suid`;
    Deno.copyFileSync(prog, suid);
    Deno.chownSync(suid, 0, 0);
    Deno.chmodSync(suid, 0o4755);
    const r = await hostile(["--timeout", "300"], "setuid", [suid]);
    assert.equal(r.code, 0, r.stderr);
    // Linux's semantics inside (the effective uid becomes the file's owner); outside, the stub
    // runs with no_new_privs and no capabilities whatever the application's ids are
    // (platform/ptrace/stub_confine_test.ts), and the common checks above hold.
    assert.equal(r.stdout, "setuid child: uid 65534 euid 65534\nsetuid child: uid 65534 euid 0\n");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("mappings and code at the stub's pages, the vsyscall page and the top of the address space: contained", async () => {
  const r = await hostile(["--timeout", "300"], "reserved");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const lines = r.stdout.split("\n");
  const line = (prefix: string) => {
    const l = lines.find((x) => x.startsWith(prefix));
    assert.ok(l !== undefined, `no line for ${prefix} in:\n${r.stdout}`);
    return l;
  };
  // The stub's pages are the sentry's: a fixed mapping over them is refused, a hint lands
  // elsewhere, and unmapping or protecting them fails; the process goes on making calls.
  assert.match(line("  mmap MAP_FIXED at the stub:"), /: (ENOMEM|EINVAL|EPERM)$/);
  assert.equal(line("  mmap hint at the stub:"), "  mmap hint at the stub: mapped elsewhere");
  assert.match(line("  mmap MAP_FIXED_NOREPLACE at the stub:"), /: (EEXIST|ENOMEM)$/);
  assert.match(line("  munmap the stub:"), /: (EINVAL|ENOMEM)$/);
  assert.match(line("  mprotect the stub:"), /: (EINVAL|ENOMEM|EACCES)$/);
  assert.equal(lines.filter((l) => l === "  getpid after: ok").length, 2);
  for (const what of ["map at the stub", "hint at the stub", "unmap the stub", "map the vsyscall page", "map the top"]) {
    assert.equal(line(`${what}:`), `${what}: exit 0`);
  }
  // Writing the stub's data page is harmless (docs/confinement.md: the stub's filter decides
  // what it may call, whatever that page holds) or a fault.
  assert.match(line("write the stub's data page:"), /: (exit 0|killed by SEGV)$/);
  // The stub's syscall instruction run by the application is the application's system call.
  assert.match(line("jump into the stub:"), /: (exit 42|killed by SEGV)$/);
  // The vsyscall page cannot be replaced; calling it gives the time (or a fault, as with
  // vsyscall=none).
  assert.match(line("  mmap MAP_FIXED at the vsyscall page:"), /: (ENOMEM|EINVAL)$/);
  assert.match(line("call the vsyscall page:"), /: (exit 0|killed by SEGV)$/);
  // Nothing maps above the last user page; code in the highest free page runs.
  assert.equal(line("  mmap MAP_FIXED at 0x7ffffffff000:"), "  mmap MAP_FIXED at 0x7ffffffff000: ENOMEM");
  assert.equal(line("  mmap MAP_FIXED across the top:"), "  mmap MAP_FIXED across the top: ENOMEM");
  assert.equal(line("  getpid from code near the top:"), "  getpid from code near the top: ok");
  assert.equal(lines.at(-2), "reserved: getpid 1");
});
