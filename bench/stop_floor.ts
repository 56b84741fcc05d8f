/**
 * What a ptrace platform cannot go below, measured on this machine: the floor that issue #3's
 * target (the sh loop of /bin/true at half of runsc's time) must fit above. Prints medians of
 * --runs:
 *
 * - one syscall handed to a C tracer and answered, per syscall, by PTRACE_SYSEMU (as the sentry
 *   does) and by a seccomp user notification (bench/programs/stop_floor.c), both pinned to one
 *   CPU with their tracee: the cost of the hand-off alone, with no emulation; and by systrap's
 *   hand-off (SECCOMP_RET_TRAP into the child's SIGSYS handler, shared memory and futexes;
 *   issue #17) on that one CPU, and spinning with the child on a second CPU;
 * - the sh loop of --iterations /bin/true, per iteration, pinned to CPU 0: natively; with every
 *   process traced but no syscall stopped (strace --seccomp-bpf -e trace=none: fork and exec
 *   events only); under strace -f (two stops per syscall, nothing emulated); under the sentry
 *   (its start-up included, so use many iterations) and runsc's ptrace platform when installed.
 *
 *     deno run -A bench/stop_floor.ts [--iterations 2000] [--runs 3]
 *
 * Not part of the test suite; docs/kernel.md ("Where it stands") reads its numbers.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import * as posix from "node:path/posix";

const REPO = fileURLToPath(new URL("..", import.meta.url));

const { values: args } = parseArgs({
  args: Deno.args,
  options: { iterations: { type: "string", default: "2000" }, runs: { type: "string", default: "3" } },
});
const iterations = Number(args.iterations);
const runs = Number(args.runs);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function has(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Runs argv; returns its wall time in ms, or null when it failed. */
function timed(argv: string[]): number | null {
  const t0 = performance.now();
  const r = new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "null", stderr: "null" }).outputSync();
  const ms = performance.now() - t0;
  return r.success ? ms : null;
}

const dir = Deno.makeTempDirSync({ prefix: "sentry-stop-floor-" });
try {
  const exe = posix.join(dir, "stop_floor");
  const cc = new Deno.Command("gcc", {
    args: ["-O2", "-o", exe, posix.join(REPO, "bench", "programs", "stop_floor.c")],
  }).outputSync();
  if (!cc.success) throw new Error(`gcc failed: ${new TextDecoder().decode(cc.stderr)}`);

  const rows: [string, string][] = [];
  const modes: Record<string, string> = {
    ptrace: "one PTRACE_SYSEMU stop, C tracer",
    notif: "one seccomp notification, C supervisor",
    trap: "one SIGSYS hand-off (systrap), futex, one CPU",
    trapspin: "one SIGSYS hand-off (systrap), spinning, two CPUs",
  };
  for (const [mode, what] of Object.entries(modes)) {
    const ns: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = new Deno.Command(exe, { args: [mode, "100000"] }).outputSync();
      if (!r.success) break;
      ns.push(Number(new TextDecoder().decode(r.stdout).trim().split(" ")[1]));
    }
    rows.push([what, ns.length === runs ? `${(median(ns) / 1000).toFixed(2)} µs per syscall` : "failed"]);
  }

  const script = `i=0; while [ $i -lt ${iterations} ]; do /bin/true; i=$((i+1)); done`;
  const loop = ["/bin/sh", "-c", script];
  const pinned = ["taskset", "-c", "0"];
  const ways: [string, string[] | null][] = [
    ["sh loop natively", [...pinned, ...loop]],
    [
      "sh loop, processes traced, no syscall stopped",
      has("strace") ? [...pinned, "strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=none", "-o", "/dev/null", ...loop] : null,
    ],
    [
      "sh loop under strace -f (2 stops per syscall)",
      has("strace") ? [...pinned, "strace", "-f", "-qq", "-o", "/dev/null", ...loop] : null,
    ],
    ["sh loop under the sentry (with its start)", [posix.join(REPO, "sentry"), "do", "--", ...loop]],
    [
      "sh loop under runsc ptrace (with its start)",
      has("runsc") ? ["runsc", "--platform=ptrace", "--network=none", "do", ...loop] : null,
    ],
  ];
  for (const [what, argv] of ways) {
    if (argv === null) {
      rows.push([what, "not installed"]);
      continue;
    }
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = timed(argv);
      if (t === null) break;
      ms.push(t);
    }
    rows.push([what, ms.length === runs ? `${(median(ms) / iterations).toFixed(3)} ms per iteration` : "failed"]);
  }
  const w = Math.max(...rows.map(([a]) => a.length));
  console.log(`medians of ${runs} runs; sh loop of ${iterations} /bin/true\n`);
  for (const [a, b] of rows) console.log(`${a.padEnd(w)}  ${b}`);
} finally {
  Deno.removeSync(dir, { recursive: true });
}
