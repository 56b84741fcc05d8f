/**
 * `deno task test:parallel`: the test suite (or the test files named) as JOBS `deno test`
 * processes side by side (`DENO_JOBS=N`, as `deno test --parallel` reads it; default 2, for a
 * 2-core machine: much of the suite's time is spent waiting on sandboxes, not computing).
 * `DENO_JOBS=1` is one `deno test` of every file, as `deno task test`.
 *
 * Processes, not `deno test --parallel`: that runs test files on worker threads of one process,
 * and a few test files run a kernel in-process (tests/checkpoint_test.ts, tests/control_test.ts,
 * tests/hostile_args_test.ts, platform/ptrace/*_test.ts), whose ptrace platform waits with
 * waitid(P_ALL, __WALL): one thread's wait sees, and may take, the stops of another thread's
 * tracees. In processes of their own each kernel's children are its own. Every test makes its
 * own temporary directories, state roots, container IDs and ports, so two files may run at once.
 *
 * The files are type-checked once (`deno check`), then dealt out longest first to the process
 * with the least work, a file's work being its size, a tenth of it for a unit test file (beside
 * the code it tests: no sandbox to start); arguments after the task's name go to every
 * `deno test` (`deno task test:parallel --filter NAME`), except names of files ending in .ts,
 * which are the files to run instead of the whole suite. Each process's output is printed whole when it
 * ends, with one line of how long it took; the status is that of the first process that failed.
 * `--plan` prints the groups and runs nothing. (Not named tools/test.ts: `deno
 * test` would take that for a test file.)
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const DENO = `${REPO}/node_modules/.bin/deno`;

/** The test files `deno test` finds: *_test.ts and *.test.ts, outside node_modules and dot directories. */
function testFiles(dir: string, out: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) testFiles(path, out);
    else if (e.isFile && /(^|[._])test\.(ts|tsx|js|mjs|mts|jsx)$/.test(e.name)) out.push(path);
  }
  return out;
}

/** Splits the files into `jobs` groups of about the same work, longest first to the lightest. */
function deal(files: string[], jobs: number): string[][] {
  const work = (f: string) => Deno.statSync(f).size / (f.startsWith(`${REPO}/tests/`) ? 1 : 10);
  const groups = Array.from({ length: jobs }, () => ({ files: [] as string[], work: 0 }));
  for (const f of [...files].sort((a, b) => work(b) - work(a) || a.localeCompare(b))) {
    const g = groups.reduce((a, b) => (b.work < a.work ? b : a));
    g.files.push(f);
    g.work += work(f);
  }
  return groups.map((g) => g.files.sort()).filter((g) => g.length > 0);
}

function writeAll(w: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  for (let off = 0; off < data.length;) off += w.writeSync(data.subarray(off));
}

const jobs = Math.max(1, Number.parseInt(Deno.env.get("DENO_JOBS") ?? "2", 10) || 2);
const named = Deno.args.filter((a) => !a.startsWith("-") && a.endsWith(".ts"));
const files = named.length > 0 ? named.map((f) => (f.startsWith("/") ? f : `${Deno.cwd()}/${f}`)) : testFiles(REPO).sort();
const extra = Deno.args.filter((a) => a !== "--plan" && !named.includes(a));
const relative = (fs: string[]) => fs.map((f) => f.slice(REPO.length + 1));

if (Deno.args.includes("--plan")) {
  for (const [i, g] of deal(files, jobs).entries()) console.log(`process ${i + 1}: ${relative(g).join(" ")}`);
  Deno.exit(0);
}

if (jobs === 1) {
  const r = await new Deno.Command(DENO, { args: ["test", "-A", "--trace-leaks", ...extra, ...relative(files)], cwd: REPO }).spawn().status;
  Deno.exit(r.code);
}

const check = await new Deno.Command(DENO, { args: ["check", ...relative(files)], cwd: REPO }).spawn().status;
if (!check.success) Deno.exit(check.code);

const started = performance.now();
const runs = deal(files, jobs).map(async (group, i) => {
  const out = await new Deno.Command(DENO, {
    args: ["test", "-A", "--trace-leaks", "--no-check", ...extra, ...relative(group)],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  // One process's output at a time, whole, so that its report reads as `deno test`'s.
  writeAll(Deno.stdout, out.stdout);
  writeAll(Deno.stderr, out.stderr);
  const secs = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`tests: process ${i + 1} of ${jobs} (${group.length} files) ended after ${secs} s, status ${out.code}`);
  return out.code;
});
const codes = await Promise.all(runs);
Deno.exit(codes.find((c) => c !== 0) ?? 0);
