/**
 * Benchmarks: each workload runs natively, under the sentry, and under runsc (gVisor) when it
 * is installed, free and pinned to one CPU, side by side in one run (shared/MEASUREMENTS.md:
 * never compare against an old absolute number). Prints a table of medians with min and max.
 *
 *     deno task bench [--runs N] [--iterations N] [--only NAME,...]
 *                     [--workloads getpid,clock,ipc,net,exec,files,parallel,make]
 *                     [--baseline DIR]
 *
 * Workloads: getpid (a C program's own timing), clock (clock_gettime(CLOCK_MONOTONIC) through
 * libc, which takes the vDSO where there is one, ns per call), ipc (issue #5's pipe throughput, 256 MiB in
 * 64 KiB writes, and 1-byte round trips over a Unix stream socketpair, timed by the program),
 * net (issue #6: loopback TCP throughput, 256 MiB in 64 KiB writes, and 1-byte TCP round trips
 * on 127.0.0.1, timed by the program), exec (wall time of whole commands: a /bin/true startup
 * and the `/bin/sh -c` loop of 200 /bin/true runs of issue #3) and files (issue #4: a 64 MiB
 * file read in 64 KiB reads, MB/s, into a static array and into a malloc'ed buffer, by a dynamic
 * and a static binary; stat(2) of 10,000 paths, per second), parallel (issue #16:
 * as many CPU-bound processes as the host has CPUs, wall time from the first fork to the last
 * exit) and make (issue #16: `make -B -j2` of a generated 20-file C project, wall time). --baseline
 * adds a runner "sentry@base" from another checkout of this repository (e.g. a `git worktree`
 * of main), to compare a change with its base in one run; a runner "sentry dist" is added when
 * dist/sentry exists (`deno task build`).
 *
 * checkpoint (issue #13, not run by default; bench/checkpoint.ts): `checkpoint` and `restore -d`
 * of an idle shell and of a process with 100 MiB resident, image sizes, beside a fresh `run -d`
 * and runsc's checkpoint and restore.
 *
 * execinto (issue #12, not run by default; bench/exec_into.ts): `sentry exec ID -- /bin/true`
 * into a running sandbox beside a fresh `sentry do -- /bin/true` and `runsc exec`.
 *
 * Not part of the test suite: it takes time and its numbers depend on the machine's load.
 * Programs are C sources in bench/programs/, compiled with gcc into a temporary directory.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import * as posix from "node:path/posix";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const SENTRY = posix.join(REPO, "sentry");
const DIST = posix.join(REPO, "dist", "sentry");
const PROGRAMS = posix.join(REPO, "bench", "programs");
/** A single run that takes longer than this is killed and counted as failed. */
const RUN_TIMEOUT_MS = 120_000;

/** One way of running a program: a prefix before the program's argv. */
interface Runner {
  name: string;
  /** The words before the program's argv, or null when this runner is not available. */
  prefix: string[] | null;
  /** Why it is unavailable, for the table's footnotes. */
  missing?: string;
}

/** One workload: a C program, its arguments, and how to read its one-number result. */
interface Benchmark {
  name: string;
  unit: string;
  source: string;
  args: (iterations: number) => string[];
  /** The --workloads name that selects it (default: name). */
  workload?: string;
}

const BENCHMARKS: Benchmark[] = [
  {
    name: "getpid",
    unit: "ns/call",
    source: "getpid.c",
    args: (n) => [String(n)],
  },
  {
    // Issue #16: clock_gettime(CLOCK_MONOTONIC) through libc (the vDSO), after warming up.
    name: "clock_gettime",
    unit: "ns/call",
    source: "clock.c",
    args: (n) => [String(n)],
    workload: "clock",
  },
  {
    // Issue #5: 256 MiB through a pipe in 64 KiB writes, between two processes.
    name: "pipe 256 MiB",
    unit: "MB/s",
    source: "ipc.c",
    args: () => ["pipe", "256"],
    workload: "ipc",
  },
  {
    // Issue #5: a 1-byte ping-pong over a SOCK_STREAM socketpair between two processes.
    name: "unix stream 1-byte round trip",
    unit: "µs",
    source: "ipc.c",
    args: (n) => ["unix-pingpong", String(n)],
    workload: "ipc",
  },
  {
    // Issue #6: 256 MiB over a TCP connection on 127.0.0.1, in 64 KiB writes.
    name: "tcp loopback 256 MiB",
    unit: "MB/s",
    source: "net.c",
    args: () => ["tcp", "256"],
    workload: "net",
  },
  {
    // Issue #6: a 1-byte ping-pong over TCP on 127.0.0.1 (TCP_NODELAY).
    name: "tcp loopback 1-byte round trip",
    unit: "µs",
    source: "net.c",
    args: (n) => ["tcp-rr", String(n)],
    workload: "net",
  },
];

function which(cmd: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const p = posix.join(dir, cmd);
    try {
      const st = Deno.statSync(p);
      if (st.isFile && ((st.mode ?? 0) & 0o111) !== 0) return p;
    } catch {
      // Not here.
    }
  }
  return null;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function runners(baseline: string | undefined): Runner[] {
  const runsc = which("runsc");
  const taskset = which("taskset");
  // --network=none: its loopback is gVisor's netstack all the same. Issue #6 names
  // --network=sandbox, which this runsc (Debian 20221219) cannot run for this bench: `runsc do`
  // refuses it in the host's network namespace, needs iptables, and under `unshare -n` starts
  // with its loopback down (connect to 127.0.0.1 fails; `ip link set lo up` inside is ENOTTY).
  const runscArgs = ["--platform=ptrace", "--network=none", "do"];
  const noRunsc = "runsc not installed (apt-get install -y runsc)";
  return [
    { name: "native", prefix: [] },
    { name: "sentry", prefix: [SENTRY, "do", "--"] },
    // The same sentry without its own seccomp filter (docs/confinement.md): what the filter costs.
    { name: "sentry nofilter", prefix: ["/usr/bin/env", "SENTRY_UNSAFE_NO_SECCOMP=1", SENTRY, "do", "--"] },
    ...(baseline ? [{ name: "sentry@base", prefix: [posix.join(baseline, "sentry"), "do", "--"] }] : []),
    // dist/sentry (`deno task build`), when it was built: the same program, bundled.
    ...(exists(DIST) ? [{ name: "sentry dist", prefix: [DIST, "do", "--"] }] : []),
    runsc ? { name: "runsc", prefix: [runsc, ...runscArgs] } : { name: "runsc", prefix: null, missing: noRunsc },
    runsc && taskset
      ? { name: "runsc pinned", prefix: [taskset, "-c", "0", runsc, ...runscArgs] }
      : { name: "runsc pinned", prefix: null, missing: runsc ? "taskset not installed" : noRunsc },
  ];
}

async function compile(b: Benchmark, dir: string, flags: string[] = []): Promise<string> {
  const out = posix.join(dir, posix.basename(b.source, ".c") + flags.join(""));
  const r = await new Deno.Command("gcc", {
    args: ["-O2", ...flags, "-o", out, posix.join(PROGRAMS, b.source)],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) throw new Error(`gcc failed on ${b.source}`);
  return out;
}

/** Runs argv once; returns the number it printed, or an error message. */
async function runOnce(argv: string[]): Promise<number | string> {
  const [cmd, ...args] = argv;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), RUN_TIMEOUT_MS);
  try {
    // stdout piped, never a file: runsc writes a regular-file stdout from offset 0.
    const r = await new Deno.Command(cmd!, { args, stdin: "null", stdout: "piped", stderr: "piped", signal: ac.signal })
      .output();
    const text = new TextDecoder().decode(r.stdout).trim();
    const value = Number(text.split("\n").at(-1));
    if (!r.success || !Number.isFinite(value)) {
      const err = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1) ?? "";
      return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}: ${err || text || "no output"}`;
    }
    return value;
  } catch (err) {
    return ac.signal.aborted ? `timed out after ${RUN_TIMEOUT_MS / 1000} s` : String(err);
  } finally {
    clearTimeout(timer);
  }
}

/** A workload timed from outside: the wall time of a whole command, in `scale` units per ms. */
interface CommandBenchmark {
  name: string;
  unit: string;
  argv: string[];
  /** Multiplies milliseconds into the unit. */
  scale: number;
}

/** The loop of issue #3: the shell forks (vforks) and execs /bin/true 200 times. */
const SH_LOOP = "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done";

const COMMAND_BENCHMARKS: CommandBenchmark[] = [
  { name: "/bin/true startup", unit: "ms", argv: ["/bin/true"], scale: 1 },
  { name: "sh loop of 200 /bin/true", unit: "s", argv: ["/bin/sh", "-c", SH_LOOP], scale: 1e-3 },
];

/** Runs argv once; returns its wall time in ms, or an error message. */
async function timeOnce(argv: string[]): Promise<number | string> {
  const [cmd, ...args] = argv;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), RUN_TIMEOUT_MS);
  try {
    const t0 = performance.now();
    const r = await new Deno.Command(cmd!, { args, stdin: "null", stdout: "piped", stderr: "piped", signal: ac.signal })
      .output();
    const ms = performance.now() - t0;
    if (!r.success) {
      const err = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1) ?? "";
      return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}: ${err || "no output"}`;
    }
    return ms;
  } catch (err) {
    return ac.signal.aborted ? `timed out after ${RUN_TIMEOUT_MS / 1000} s` : String(err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The wall-time workloads (process creation): one table row each, runners interleaved run by
 * run. Adds error notes to `notes`.
 */
async function commandRows(rs: Runner[], runs: number, notes: Set<string>): Promise<string[][]> {
  const rows: string[][] = [];
  for (const b of COMMAND_BENCHMARKS) {
    const cells = new Map<string, Cell>();
    for (let i = 0; i < runs; i++) {
      for (const r of rs) {
        if (r.prefix === null) continue;
        const cell = cells.get(r.name) ?? { values: [], error: null };
        cells.set(r.name, cell);
        const v = await timeOnce([...r.prefix, ...b.argv]);
        if (typeof v === "number") cell.values.push(v * b.scale);
        else cell.error = v;
      }
    }
    rows.push([`${b.name} ${b.unit}`, ...rs.map((r) => cellText(cells.get(r.name)))]);
    for (const r of rs) {
      const c = cells.get(r.name);
      if (c?.error) notes.add(`${b.name} under ${r.name}: ${c.error}`);
    }
  }
  return rows;
}

/** The file workloads of issue #4: a 64 MiB file read in 64 KiB reads, and stat of 10,000 paths. */
const FILE_SIZE = 64 << 20;
const STAT_PATHS = 10_000;

/**
 * The file workloads ("files"): readfile.c and statpaths.c over host files made here (the
 * sandbox's root is the host's /, so the sentry reads them through hostfs under the overlay,
 * as runsc reads them through its gofer). One table row each, runners interleaved.
 */
async function fileRows(rs: Runner[], runs: number, dir: string, notes: Set<string>): Promise<string[][]> {
  const data = posix.join(dir, "data64m");
  const chunk = new Uint8Array(1 << 20);
  crypto.getRandomValues(chunk.subarray(0, 65536));
  const f = Deno.openSync(data, { write: true, create: true, truncate: true });
  for (let o = 0; o < FILE_SIZE; o += chunk.length) f.writeSync(chunk);
  f.close();
  const tree = posix.join(dir, "statdir");
  Deno.mkdirSync(tree);
  for (let i = 0; i < STAT_PATHS; i++) Deno.writeFileSync(posix.join(tree, `f${String(i).padStart(5, "0")}`), new Uint8Array(0));
  const readfile = { name: "readfile", unit: "", source: "readfile.c", args: () => [] };
  const read = await compile(readfile, dir);
  const readStatic = await compile(readfile, dir, ["-static"]);
  const stat = await compile({ name: "statpaths", unit: "", source: "statpaths.c", args: () => [] }, dir);
  const workloads: Array<[string, string[]]> = [
    // Issue #16 part 3: into a static array and into a malloc'ed buffer (the heap), in a
    // dynamic and a static binary.
    ["read 64 MiB in 64 KiB MB/s", [read, data, "2"]],
    ["read 64 MiB in 64 KiB, malloc buffer MB/s", [read, data, "2", "malloc"]],
    ["read 64 MiB in 64 KiB, static binary MB/s", [readStatic, data, "2"]],
    ["read 64 MiB in 64 KiB, static binary, malloc buffer MB/s", [readStatic, data, "2", "malloc"]],
    [`stat() of ${STAT_PATHS.toLocaleString("en-US")} paths per second`, [stat, tree, String(STAT_PATHS), "3"]],
  ];
  const rows: string[][] = [];
  for (const [name, argv] of workloads) {
    const cells = new Map<string, Cell>();
    for (let i = 0; i < runs; i++) {
      for (const r of rs) {
        if (r.prefix === null) continue;
        const cell = cells.get(r.name) ?? { values: [], error: null };
        cells.set(r.name, cell);
        const v = await runOnce([...r.prefix, ...argv]);
        if (typeof v === "number") cell.values.push(v);
        else cell.error = v;
      }
    }
    rows.push([name, ...rs.map((r) => cellText(cells.get(r.name)))]);
    for (const r of rs) {
      const c = cells.get(r.name);
      if (c?.error) notes.add(`${name} under ${r.name}: ${c.error}`);
    }
  }
  return rows;
}

/** Additions per process of the parallel workload: about half a second natively. */
const SPIN_ITERATIONS = 500_000_000;
const MAKE_FILES = 20;

/**
 * A C project of MAKE_FILES files for the make workload, each with enough code that the
 * compiler computes for a while (about 0.1 s at -O2 on an idle machine), and its Makefile.
 */
function writeMakeProject(dir: string): void {
  Deno.mkdirSync(dir);
  const objs: string[] = [];
  for (let i = 0; i < MAKE_FILES; i++) {
    const fns: string[] = [];
    for (let f = 0; f < 12; f++) {
      fns.push(`int f${i}_${f}(int *a, int n) {
  int s = ${f};
  for (int k = 0; k < n; k++) { s += a[k] * ${f + 1} ^ (s >> 3); if (s % ${f + 7} == 0) s -= a[(k * ${i + 3}) % n]; }
  switch (s & 7) { case 0: return s + ${i}; case 1: return s * 3; case 2: return s - n; default: return s ^ ${f}; }
}`);
    }
    Deno.writeTextFileSync(posix.join(dir, `m${i}.c`), `#include <stdio.h>\n#include <string.h>\n${fns.join("\n")}\n`);
    objs.push(`m${i}.o`);
  }
  Deno.writeTextFileSync(posix.join(dir, "main.c"), "int main(void) { return 0; }\n");
  Deno.writeTextFileSync(
    posix.join(dir, "Makefile"),
    `prog: main.o ${objs.join(" ")}\n\tcc -o $@ $^\n%.o: %.c\n\tcc -O2 -c -o $@ $<\n`,
  );
}

/**
 * The CPU workloads of issue #16 part 4: "parallel", spin.c with one process per host CPU
 * (its own timing, start-up excluded), and "make", the wall time of `make -B -j2` of a
 * generated project (every run rebuilds everything). One table row each, runners interleaved.
 */
async function cpuRows(rs: Runner[], runs: number, dir: string, workloads: string[], notes: Set<string>): Promise<string[][]> {
  const nCpus = navigator.hardwareConcurrency;
  const rows: string[][] = [];
  const jobs: Array<{ name: string; argv: string[]; timed: boolean }> = [];
  if (workloads.includes("parallel")) {
    const spin = await compile({ name: "spin", unit: "", source: "spin.c", args: () => [] }, dir);
    jobs.push({ name: `${nCpus} CPU-bound processes on ${nCpus} CPUs ms`, argv: [spin, String(nCpus), String(SPIN_ITERATIONS)], timed: false });
  }
  if (workloads.includes("make")) {
    const project = posix.join(dir, "project");
    writeMakeProject(project);
    const make = which("make") ?? "make";
    jobs.push({ name: `make -j2 of ${MAKE_FILES} C files s`, argv: [make, "-B", "-j2", "-s", "-C", project], timed: true });
  }
  for (const job of jobs) {
    const cells = new Map<string, Cell>();
    for (let i = 0; i < runs; i++) {
      for (const r of rs) {
        if (r.prefix === null) continue;
        const cell = cells.get(r.name) ?? { values: [], error: null };
        cells.set(r.name, cell);
        const argv = [...r.prefix, ...job.argv];
        const v = job.timed ? await timeOnce(argv) : await runOnce(argv);
        if (typeof v === "number") cell.values.push(job.timed ? v / 1000 : v);
        else cell.error = v;
      }
    }
    rows.push([job.name, ...rs.map((r) => cellText(cells.get(r.name)))]);
    for (const r of rs) {
      const c = cells.get(r.name);
      if (c?.error) notes.add(`${job.name} under ${r.name}: ${c.error}`);
    }
  }
  return rows;
}

interface Cell {
  values: number[];
  error: string | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(x: number): string {
  if (x >= 100) return Math.round(x).toLocaleString("en-US");
  return x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function cellText(c: Cell | undefined): string {
  if (c === undefined) return "—";
  if (c.values.length === 0) return "failed";
  const v = c.values;
  return `${fmt(median(v))} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})`;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "5" },
      iterations: { type: "string", default: "20000" },
      only: { type: "string" },
      workloads: { type: "string", default: "getpid,clock,ipc,net,exec,files,parallel,make" },
      baseline: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task bench [--runs N] [--iterations N] [--only native,sentry,runsc,...] " +
        "[--workloads getpid,clock,ipc,net,exec,files,parallel,make,execinto,checkpoint] [--baseline DIR]",
    );
    return;
  }
  const runs = Number(values.runs);
  const iterations = Number(values.iterations);
  if (!(runs >= 1 && iterations >= 1)) throw new Error("--runs and --iterations must be positive");
  const only = values.only?.split(",").map((s) => s.trim());
  const rs = runners(values.baseline).filter((r) => only === undefined || only.includes(r.name));
  const workloads = values.workloads.split(",").map((s) => s.trim());

  const dir = Deno.makeTempDirSync({ prefix: "sentry-bench-" });
  const notes = new Set<string>(rs.flatMap((r) => r.missing ? [`${r.name}: ${r.missing}`] : []));
  try {
    const rows: string[][] = [];
    for (const b of BENCHMARKS.filter((b) => workloads.includes(b.workload ?? b.name))) {
      const exe = await compile(b, dir);
      const cells = new Map<string, Cell>();
      // Interleave runners run by run, so that load changes touch every column alike.
      for (let i = 0; i < runs; i++) {
        for (const r of rs) {
          if (r.prefix === null) continue;
          const cell = cells.get(r.name) ?? { values: [], error: null };
          cells.set(r.name, cell);
          const v = await runOnce([...r.prefix, exe, ...b.args(iterations)]);
          if (typeof v === "number") cell.values.push(v);
          else cell.error = v;
        }
      }
      rows.push([`${b.name} ${b.unit}`, ...rs.map((r) => cellText(cells.get(r.name)))]);
      for (const r of rs) {
        const c = cells.get(r.name);
        if (c?.error) notes.add(`${b.name} under ${r.name}: ${c.error}`);
      }
    }
    if (workloads.includes("exec")) rows.push(...await commandRows(rs, runs, notes));
    if (workloads.includes("files")) rows.push(...await fileRows(rs, runs, dir, notes));
    rows.push(...await cpuRows(rs, runs, dir, workloads, notes));
    // Issue #12's exec into a running sandbox: its own runners (sentry exec, sentry do, runsc exec).
    const execInto = workloads.includes("execinto") ? await (await import("./exec_into.ts")).execIntoRows(runs) : [];
    // Issue #13's checkpoint and restore: its own runners (sentry, runsc) and cases.
    const ckpt = workloads.includes("checkpoint") ? await (await import("./checkpoint.ts")).checkpointRows(runs, values.baseline ?? null) : [];
    console.log(`${runs} runs (getpid, unix round trip: ${iterations} iterations each); median (min–max)\n`);
    printTable(["workload", ...rs.map((r) => r.name)], rows);
    if (execInto.length > 0) {
      console.log("\n/bin/true into a running sandbox (--workloads execinto), wall time, median (min, max)\n");
      printTable(["runner", "wall"], execInto);
    }
    if (ckpt.length > 0) {
      console.log("\ncheckpoint and restore (--workloads checkpoint), wall time or size, median (min, max)\n");
      printTable(["case", "figure"], ckpt);
    }
    if (notes.size > 0) console.log("\n" + [...notes].map((n) => `- ${n}`).join("\n"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

await main();
