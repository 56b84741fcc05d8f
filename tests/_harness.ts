/**
 * The differential test harness: run a program natively and inside the sentry, then compare
 * what the two printed and how they ended. As in gVisor's syscall tests, a test must pass
 * natively first; set `SENTRY_TEST_TARGET=native` to make {@linkcode runSentry} run natively
 * too, which checks the native side of every test without the sentry.
 *
 * C fixtures live in `tests/c/NAME.c`; {@linkcode compileC} builds them with the machine's gcc
 * into `tests/.build/` (gitignored), named by a hash of the source, the headers of tests/c it
 * includes and the flags, so that a changed fixture is rebuilt and an unchanged one is not: each
 * is compiled once, by the first test that needs it, and shared by every run after.
 *
 * Exit status: a process killed by signal N counts as 128+N on both sides, as a shell reports
 * it; a sentry that reports a guest's death by exiting with 128+N compares equal to one that
 * dies of the signal itself.
 *
 * The sentry's own words are not the guest's: when a signal killed init, `sentry do` ends its
 * stderr with one line such as `sentry: init (pid 1) killed by SIGSEGV (fault at 0x0)` (see
 * boot/exit_status.ts), as a shell prints "Segmentation fault". {@linkcode runSentry} removes
 * exactly that last line, and only when the status says a signal killed init.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SIGNAL_NAMES } from "../abi/linux/signal.ts";

/** The repository root (where the `sentry` launcher lives), without a trailing slash. */
export const REPO_ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The C fixtures. */
export const C_DIR = `${REPO_ROOT}/tests/c`;
/** Where compiled fixtures go. */
export const BUILD_DIR = `${REPO_ROOT}/tests/.build`;

/** How to run a program. */
export interface RunOptions {
  /** Written to the program's stdin, which is then closed; stdin is /dev/null without it. */
  stdin?: string;
  /** Environment variables to set (on top of the inherited ones unless clearEnv). */
  env?: Record<string, string>;
  /** Start from an empty environment, so the program sees exactly `env`. */
  clearEnv?: boolean;
  /** Working directory; the repository root by default. */
  cwd?: string;
}

/** What a program left behind. */
export interface RunResult {
  stdout: string;
  stderr: string;
  /** The exit status, or 128+N if signal N killed the process. */
  code: number;
}

const SIGNAL_NUMBERS: ReadonlyMap<string, number> = new Map(
  Object.entries(SIGNAL_NAMES).map(([n, name]) => [name, Number(n)]),
);

/**
 * Compiles tests/c/NAME.c with `gcc -O1 -Wall` (plus `-static` if asked) and returns the
 * path of the executable. Cached by content: rebuilds only when the source, a header of tests/c
 * it includes or the flags change.
 * Throws an Error with gcc's messages if compilation fails, or if gcc warns (fixtures must
 * compile cleanly).
 */
export async function compileC(name: string, opts: { static?: boolean } = {}): Promise<string> {
  const src = `${C_DIR}/${name}.c`;
  const flags = ["-O1", "-Wall", ...(opts.static ? ["-static"] : [])];
  // The key covers the headers of tests/c the source includes (tests/c/_*.h): a changed header
  // rebuilds every fixture that uses it.
  const parts = await withLocalHeaders(await Deno.readFile(src), new Set());
  const hash = await sha256Hex(
    new Uint8Array([...parts.flatMap((p) => [...p, 0]), ...new TextEncoder().encode(flags.join(" "))]),
  );
  const out = `${BUILD_DIR}/${name}${opts.static ? "-static" : ""}-${hash.slice(0, 16)}`;
  try {
    await Deno.stat(out);
    return out;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(BUILD_DIR, { recursive: true });
  // Build under a unique name, then rename: concurrent test runs never see a partial file.
  const tmp = `${out}.tmp-${Deno.pid}-${crypto.randomUUID()}`;
  const r = await new Deno.Command("gcc", {
    args: [...flags, "-o", tmp, src],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const messages = new TextDecoder().decode(r.stderr);
  if (!r.success || messages.trim() !== "") {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Cannot compile ${name}.c:\n${messages}`);
  }
  await Deno.rename(tmp, out);
  return out;
}

/** The source and, after it, each header of tests/c it includes (`#include "NAME"`), once. */
async function withLocalHeaders(source: Uint8Array, seen: Set<string>): Promise<Uint8Array[]> {
  const parts = [source];
  for (const m of new TextDecoder().decode(source).matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
    const name = m[1]!;
    if (seen.has(name)) continue;
    seen.add(name);
    parts.push(...await withLocalHeaders(await Deno.readFile(`${C_DIR}/${name}`), seen));
  }
  return parts;
}

/** Runs argv on the host. argv[0] should be an absolute path. */
export function runNative(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new TypeError("runNative() needs a program to run");
  return run(cmd, args, opts);
}

/** Whether this host lets the tests make a network namespace of their own (root and unshare). */
export async function canUnshareNet(): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  try {
    return (await runNative(["/usr/bin/unshare", "--net", "--", "/bin/true"])).code === 0;
  } catch {
    return false;
  }
}

/**
 * Runs argv inside the sentry: `./sentry do -- argv...` from the repository root. The sentry
 * process gets opts.env/opts.clearEnv, and `sentry do` hands its environment to the guest (as
 * `runsc do` does), so the guest sees the same environment as the native run.
 *
 * With `SENTRY_TEST_TARGET=native` in the test's environment it runs argv natively instead.
 */
export async function runSentry(
  argv: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  if (argv.length === 0) throw new TypeError("runSentry() needs a program to run");
  if (Deno.env.get("SENTRY_TEST_TARGET") === "native") return runNative(argv, opts);
  const r = await run(`${REPO_ROOT}/sentry`, ["do", "--", ...argv], opts);
  return { ...r, stderr: withoutDeathReport(r.stderr, r.code) };
}

/** The line `sentry do` adds to stderr when signal N killed init, matched exactly. */
const DEATH_REPORT =
  /sentry: init \(pid \d+\) killed by (SIG[A-Z0-9]+|signal \d+)( \(fault at 0x[0-9a-f]+\))?\n$/;

/** stderr without the sentry's death report, if the status is a death by signal. */
export function withoutDeathReport(stderr: string, code: number): string {
  if (code <= 128) return stderr;
  const m = DEATH_REPORT.exec(stderr);
  if (m === null) return stderr;
  const name = m[1]!;
  const signo = name.startsWith("signal ") ? Number(name.slice(7)) : SIGNAL_NUMBERS.get(name);
  if (signo !== code - 128) return stderr;
  const start = m.index;
  // The report is a line of its own: at the start of stderr or after a newline.
  if (start !== 0 && stderr[start - 1] !== "\n") return stderr;
  return stderr.slice(0, start);
}

/**
 * Runs argv natively and in the sentry, and asserts that stdout, stderr and the exit status are
 * the same. Returns the native result, for further checks on what the program did.
 */
export async function assertSameAsNative(
  argv: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const native = await runNative(argv, opts);
  const sentry = await runSentry(argv, opts);
  const what = argv.join(" ");
  assert.equal(sentry.stdout, native.stdout, `stdout of ${what} differs (actual: sentry)`);
  assert.equal(sentry.stderr, native.stderr, `stderr of ${what} differs (actual: sentry)`);
  assert.equal(sentry.code, native.code, `exit status of ${what} differs (actual: sentry)`);
  return native;
}

async function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? REPO_ROOT,
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    clearEnv: opts.clearEnv ?? false,
    stdin: opts.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    } catch (e) {
      // The program may exit without reading all of its input: that is its business.
      if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
    }
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    code: out.signal !== null ? 128 + signalNumber(out.signal) : out.code,
  };
}

function signalNumber(name: string): number {
  const n = SIGNAL_NUMBERS.get(name);
  if (n === undefined) throw new Error(`Cannot map signal ${name} to a number`);
  return n;
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Removes a test's directory. A start that found the sentry's DENO_DIR's log full leaves a
 * short Deno checkpointing it in the background (boot/deno_dir.ts), which may still be writing
 * there (its -shm and -wal files) when the test ends.
 */
export async function removeTree(dir: string): Promise<void> {
  for (let i = 0;; i++) {
    try {
      Deno.removeSync(dir, { recursive: true });
      return;
    } catch (e) {
      if (i >= 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
