/**
 * A zygote's stub process started before the platform exists (boot/mod.ts starts it right
 * before the kernel's modules load): the host execs the stub and runs it to its SIGSTOP on
 * another CPU while the sentry compiles the kernel, instead of the sentry waiting for that
 * inside Loader.create (~1 ms on an idle machine, several under load). PtracePlatform takes it
 * as its first zygote's stub (PtraceOptions.stub).
 *
 * Nothing of the sandbox's runs in it before the platform has seized and confined it, as for a
 * stub the platform starts itself. Until then it only waits, stopped; it dies with the sentry
 * (the stub's own PR_SET_PDEATHSIG, stub_elf.ts), and a platform that never used it kills and
 * reaps it at shutdown.
 *
 * @module
 */

import { kill, spawnClean, waitpid, __WALL } from "./_ffi.ts";
import { buildStubElf } from "./stub_elf.ts";

/** A stub process started ahead of its platform, and the private directory of its binary. */
export interface EarlyStub {
  readonly dir: string;
  readonly path: string;
  readonly pid: number;
  /** The directory is this sentry's own (removed with it), not the cache's (kept for the next). */
  readonly temporary: boolean;
}

/**
 * Starts the stub binary `elf` (buildStubElf's) from `cacheDir`, a directory of the sentry's
 * private cache named after the binary, where it is written once and kept for every later start;
 * without one (null), or where that directory holds something else, from a new private temporary
 * directory. Each start wrote the binary into a directory of its own and removed both at exit:
 * the root filesystem of our machines (ext4 without a journal, mounted with `discard`) frees a
 * directory's block with a synchronous discard, ~0.5-4 ms of the sentry's exit spent waiting.
 */
export function startEarlyStub(elf: Uint8Array = buildStubElf(), cacheDir: string | null = null): EarlyStub {
  const cached = cacheDir === null ? null : cachedBinary(elf, cacheDir);
  if (cached !== null) {
    try {
      return { dir: cacheDir!, path: cached, pid: spawnClean(cached, ["sentry-stub"]), temporary: false };
    } catch { /* a cache on a noexec mount: a private copy below */ }
  }
  const dir = Deno.makeTempDirSync({ prefix: "sentry-stub-" });
  const path = `${dir}/stub`;
  try {
    Deno.writeFileSync(path, elf, { mode: 0o500 });
    return { dir, path, pid: spawnClean(path, ["sentry-stub"]), temporary: true };
  } catch (err) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* gone */ }
    throw err;
  }
}

/**
 * `dir`/stub holding exactly `elf` (written first if the directory is missing: into a private
 * temporary directory beside it, renamed into place, so that concurrent first starts never run a
 * half-written binary), or null. The directory stays: it is also where the zygote mounts its
 * empty root (PtracePlatform's #emptyRoot), in a mount namespace of its own.
 */
function cachedBinary(elf: Uint8Array, dir: string): string | null {
  const path = `${dir}/stub`;
  if (holds(path, elf)) return path;
  let tmp: string | null = null;
  try {
    tmp = Deno.makeTempDirSync({ dir: dir.slice(0, dir.lastIndexOf("/")), prefix: ".stub-" });
    Deno.writeFileSync(`${tmp}/stub`, elf, { mode: 0o500 });
    Deno.renameSync(tmp, dir);
    tmp = null;
  } catch { /* another start's, or no cache: checked below */ } finally {
    if (tmp !== null) {
      try {
        Deno.removeSync(tmp, { recursive: true });
      } catch { /* gone */ }
    }
  }
  return holds(path, elf) ? path : null;
}

/** Whether `path` is a regular file of ours with exactly the bytes `elf`. */
function holds(path: string, elf: Uint8Array): boolean {
  try {
    const st = Deno.lstatSync(path);
    if (!st.isFile || st.uid !== Deno.uid() || ((st.mode ?? 0) & 0o022) !== 0 || st.size !== elf.length) return false;
    const got = Deno.readFileSync(path);
    return got.length === elf.length && got.every((b, i) => b === elf[i]);
  } catch {
    return false;
  }
}

/** Ends an early stub no platform took (killed and reaped), and removes its directory if it is its own. */
export function discardEarlyStub(s: EarlyStub): void {
  kill(s.pid, 9);
  for (;;) {
    try {
      const w = waitpid(s.pid, __WALL);
      if (w !== "eintr") break;
    } catch {
      break; // already reaped
    }
  }
  if (!s.temporary) return;
  try {
    Deno.removeSync(s.dir, { recursive: true });
  } catch { /* gone */ }
}
