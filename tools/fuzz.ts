/**
 * The syscall fuzzer: `deno task fuzz [--seconds N] [--seed S] [--workers W] [--calls C]`.
 *
 * Runs tests/c/fuzz_syscalls.c inside the sentry again and again, one short-lived sandbox after
 * another (seeds S, S+1, ...), each with limits (--timeout, --memory, --pids, --output-limit)
 * and a debug log, until N seconds have passed. A sandbox counts as a sentry failure when:
 * - the sentry crashed: status 125, a JavaScript stack trace or an uncaught error on stderr,
 *   or a status no application end gives (not 0, not 128+N with the death line);
 * - a system call handler threw (the kernel answers EINVAL and logs "BUG in NAME");
 * - it hung: the program ends every worker within about a second, so a run that needs the
 *   sandbox's --timeout, or that the fuzzer has to kill from outside, is a hang.
 * Each failure is printed with its seed and the command that reproduces it (add "verbose" to
 * print every call). Exit status 1 if there was any.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { compileC, REPO_ROOT } from "../tests/_harness.ts";

const SANDBOX_TIMEOUT_S = 30;
const KILL_AFTER_MS = 60_000;

export interface FuzzOptions {
  seconds: number;
  seed: number;
  workers: number;
  calls: number;
  /** Progress lines on stderr. */
  quiet: boolean;
}

export interface FuzzFailure {
  seed: number;
  kind: "crash" | "bug" | "hang";
  detail: string;
  reproduce: string;
}

export interface FuzzResult {
  sandboxes: number;
  calls: number;
  /** Sandboxes whose init died of a signal (a worker reached it): an application end. */
  initDeaths: number;
  failures: FuzzFailure[];
}

async function runOne(prog: string, seed: number, o: FuzzOptions): Promise<{ calls: number; initDied: boolean; failure: FuzzFailure | null }> {
  const log = Deno.makeTempFileSync({ prefix: "sentry-fuzz-log-" });
  const flags = [
    "do", "--timeout", String(SANDBOX_TIMEOUT_S), "--memory", "512M", "--pids", "64", "--output-limit", "1M", "--",
  ];
  const progArgs = [prog, String(seed), String(o.workers), String(o.calls)];
  const reproduce = `./sentry --debug-log /dev/stderr ${flags.join(" ")} ${progArgs.join(" ")} verbose`;
  const id = `fuzz-${Deno.pid}-${seed}`;
  const child = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: ["--debug-log", log, flags[0]!, "--id", id, ...flags.slice(1), ...progArgs],
    stdin: "null", stdout: "piped", stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, KILL_AFTER_MS);
  // Well past the time a run takes: look inside before the sandbox's --timeout ends it.
  let inside = "";
  const look = setTimeout(async () => {
    const ps = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["exec", id, "--", "/bin/sh", "-c", "for p in /proc/[0-9]*; do cat $p/stat; echo; done"],
      stdin: "null", stdout: "piped", stderr: "piped",
    }).output().catch(() => null);
    if (ps) inside = new TextDecoder().decode(ps.stdout).split("\n").filter((l) => l !== "").join(" | ");
  }, (SANDBOX_TIMEOUT_S - 8) * 1000);
  const out = await child.output();
  clearTimeout(timer);
  clearTimeout(look);
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout), stderr = dec.decode(out.stderr);
  let debug = "";
  try {
    debug = Deno.readTextFileSync(log);
  } finally {
    Deno.removeSync(log);
  }
  const m = /^fuzz: seed \d+ workers \d+ calls (\d+)$/m.exec(stdout);
  const calls = m ? Number(m[1]) : 0;
  const fail = (kind: FuzzFailure["kind"], detail: string) => ({ calls, initDied: false, failure: { seed, kind, detail, reproduce } });
  const last = stdout.trimEnd().split("\n").slice(-2).join(" | ");
  if (killed) return fail("hang", `no end after ${KILL_AFTER_MS / 1000} s: killed from outside; last: ${last}`);
  if (out.code === 124 && /timed out/.test(stderr)) {
    return fail("hang", `the sandbox's --timeout ${SANDBOX_TIMEOUT_S} ended it; last: ${last}; processes: ${inside}`);
  }
  const trace = /^\s+at .*:\d+:\d+\)?$/m.exec(stderr) ?? /Uncaught|panicked at|RUST_BACKTRACE/.exec(stderr);
  if (out.code === 125 || trace) return fail("crash", `status ${out.code}: ${stderr.trim().split("\n").slice(-8).join(" | ")}`);
  const bugs = debug.split("\n").filter((l) => /BUG in /.test(l));
  if (bugs.length > 0) return fail("bug", bugs.slice(0, 3).join(" | "));
  if (out.code === 0 && m) return { calls, initDied: false, failure: null };
  // init killed by a signal: the sentry says so in one line; an application end.
  if (out.code > 128 && /sentry: init \(pid 1\) killed by/.test(stderr)) return { calls, initDied: true, failure: null };
  // The output limit: a worker wrote to a descriptor of init's it inherited (stdout closed late).
  if (out.code === 124 && /output limit/.test(stderr)) return { calls, initDied: true, failure: null };
  return fail("crash", `status ${out.code} without an application end: ${stderr.trim().split("\n").slice(-4).join(" | ")}`);
}

/** Runs sandboxes until o.seconds have passed. */
export async function fuzz(o: FuzzOptions): Promise<FuzzResult> {
  const prog = await compileC("fuzz_syscalls");
  const end = performance.now() + o.seconds * 1000;
  const r: FuzzResult = { sandboxes: 0, calls: 0, initDeaths: 0, failures: [] };
  for (let seed = o.seed; performance.now() < end; seed++) {
    const one = await runOne(prog, seed, o);
    r.sandboxes++;
    r.calls += one.calls;
    if (one.initDied) r.initDeaths++;
    if (one.failure) {
      r.failures.push(one.failure);
      console.error(`fuzz: ${one.failure.kind} with seed ${seed}: ${one.failure.detail}\n  reproduce: ${one.failure.reproduce}`);
    } else if (!o.quiet) {
      console.error(`fuzz: seed ${seed}: ${one.calls} calls`);
    }
  }
  return r;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "60" },
      seed: { type: "string" },
      workers: { type: "string", default: "20" },
      calls: { type: "string", default: "300" },
      quiet: { type: "boolean", default: false },
    },
  });
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) {
      console.error(`fuzz: --${name}: expected an integer of at least ${min}, got ${JSON.stringify(v)}`);
      Deno.exit(2);
    }
    return n;
  };
  const seed = values.seed === undefined ? Math.floor(Math.random() * 1e9) : num("seed", values.seed, 0);
  const o: FuzzOptions = {
    seconds: num("seconds", values.seconds, 1),
    seed,
    workers: num("workers", values.workers, 1),
    calls: num("calls", values.calls, 1),
    quiet: values.quiet,
  };
  const t0 = performance.now();
  const r = await fuzz(o);
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(
    `fuzz: ${r.sandboxes} sandboxes (seeds ${seed} to ${seed + r.sandboxes - 1}), ${r.calls} system calls in ${secs} s; ` +
      `${r.initDeaths} ended by the application; ${r.failures.length} sentry failures`,
  );
  for (const f of r.failures) console.log(`  ${f.kind} seed ${f.seed}: ${f.detail}\n    ${f.reproduce}`);
  Deno.exit(r.failures.length === 0 ? 0 : 1);
}
