/**
 * Benchmarks: each workload runs natively, under the sentry, and under runsc (gVisor) when it
 * is installed, free and pinned to one CPU, side by side in one run (shared/MEASUREMENTS.md:
 * never compare against an old absolute number). Prints a table of medians with min and max.
 *
 *     deno task bench [--runs N] [--iterations N] [--only NAME,...]
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
}

const BENCHMARKS: Benchmark[] = [
  {
    name: "getpid",
    unit: "ns/call",
    source: "getpid.c",
    args: (n) => [String(n)],
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

function runners(): Runner[] {
  const runsc = which("runsc");
  const taskset = which("taskset");
  const runscArgs = ["--platform=ptrace", "--network=none", "do"];
  const noRunsc = "runsc not installed (apt-get install -y runsc)";
  return [
    { name: "native", prefix: [] },
    { name: "sentry", prefix: [SENTRY, "do", "--"] },
    runsc ? { name: "runsc", prefix: [runsc, ...runscArgs] } : { name: "runsc", prefix: null, missing: noRunsc },
    runsc && taskset
      ? { name: "runsc pinned", prefix: [taskset, "-c", "0", runsc, ...runscArgs] }
      : { name: "runsc pinned", prefix: null, missing: runsc ? "taskset not installed" : noRunsc },
  ];
}

async function compile(b: Benchmark, dir: string): Promise<string> {
  const out = posix.join(dir, posix.basename(b.source, ".c"));
  const r = await new Deno.Command("gcc", {
    args: ["-O2", "-o", out, posix.join(PROGRAMS, b.source)],
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
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1);
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
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log("usage: deno task bench [--runs N] [--iterations N] [--only native,sentry,runsc,...]");
    return;
  }
  const runs = Number(values.runs);
  const iterations = Number(values.iterations);
  if (!(runs >= 1 && iterations >= 1)) throw new Error("--runs and --iterations must be positive");
  const only = values.only?.split(",").map((s) => s.trim());
  const rs = runners().filter((r) => only === undefined || only.includes(r.name));

  const dir = Deno.makeTempDirSync({ prefix: "sentry-bench-" });
  const notes = new Set<string>();
  try {
    const rows: string[][] = [];
    for (const b of BENCHMARKS) {
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
        if (r.missing) notes.add(`${r.name}: ${r.missing}`);
        if (c?.error) notes.add(`${b.name} under ${r.name}: ${c.error}`);
      }
    }
    console.log(`${runs} runs of ${iterations} iterations; median (min–max)\n`);
    printTable(["workload", ...rs.map((r) => r.name)], rows);
    if (notes.size > 0) console.log("\n" + [...notes].map((n) => `- ${n}`).join("\n"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

await main();
