/**
 * Finding the executable of a process started from outside (init, and `exec` into a running
 * sandbox), as execvp(3) and runsc do: a name with a slash is a path (relative to the working
 * directory); a bare name is looked up in the PATH of the process's environment.
 *
 * Pure: the filesystem is reached only through the `stat` callback, so the lookup can be
 * tested with a table and run against any root.
 *
 * @module
 */

import * as posix from "../../abi/path.ts";

/** execvp's default search path, used when the environment has no PATH. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What the lookup needs to know about one path (after following symlinks). */
export interface ExecStat {
  isFile: boolean;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
}

/** Stats an absolute path inside the sandbox; null when it does not exist or cannot be reached. */
export type StatFn = (path: string) => ExecStat | null;

/** The outcome of a lookup. */
export type ExecLookup =
  | { ok: true; path: string }
  /** `notFound`: nowhere on PATH; `notExecutable`: found only without execute permission. */
  | { ok: false; reason: "notFound" | "notExecutable" };

/** The value of PATH in an environment ("NAME=value" strings); the last one wins, as getenv. */
export function pathOf(envp: readonly string[]): string | undefined {
  let v: string | undefined;
  for (const e of envp) if (e.startsWith("PATH=")) v = e.slice(5);
  return v;
}

/**
 * Resolves `name` to an absolute path in the sandbox.
 *
 * A name containing "/" is resolved against `cwd` and returned without a check: loading it is
 * the kernel's business, and its errno is the user's answer. A bare name is looked up in each
 * PATH entry in order (an empty entry is the working directory, as in POSIX); the first regular
 * file with any execute bit wins. Without PATH, execvp's default applies.
 *
 * Execute permission is judged as for root (any of the three x bits): the sandbox's init runs
 * as the spec's user, and the kernel checks the real permission when it loads the file.
 */
export function resolveExecutable(
  name: string,
  opts: { envp: readonly string[]; cwd: string; stat: StatFn },
): ExecLookup {
  if (name.includes("/")) return { ok: true, path: posix.resolve(opts.cwd, name) };
  if (name === "") return { ok: false, reason: "notFound" };
  let sawNonExecutable = false;
  const searchPath = pathOf(opts.envp) ?? DEFAULT_PATH;
  for (const dir of searchPath.split(":")) {
    const candidate = posix.resolve(opts.cwd, dir === "" ? "." : dir, name);
    const st = opts.stat(candidate);
    if (st === null || !st.isFile) continue;
    if ((st.mode & 0o111) === 0) {
      sawNonExecutable = true;
      continue;
    }
    return { ok: true, path: candidate };
  }
  return { ok: false, reason: sawNonExecutable ? "notExecutable" : "notFound" };
}
