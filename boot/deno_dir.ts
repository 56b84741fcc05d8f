/**
 * The sentry's own DENO_DIR: ./sentry and dist/sentry start Deno with DENO_DIR set to
 * `<cache root>/deno` (kernel/cache_dir.ts's root), so that Deno's code cache and module
 * analysis of the sentry's bundle live in SQLite databases only sentries open, instead of the
 * ones every Deno program of the user shares (~/.cache/deno).
 *
 * Why: a Deno process that opens a cache database while no other process has it open rebuilds
 * the index of its write-ahead log, reading every frame written since the last checkpoint (up to
 * ~1,000 pages, ~4 MB per database: ~3 ms of CPU of a `do -- /bin/true`, on a thread beside the
 * JavaScript one). The shared logs fill with whatever other Deno programs, and any run with
 * other V8 flags (whose code cache is rejected and rewritten), write. Ours is written only when a
 * bundle is new (its first run caches the bundle's code); the launcher of the first start after
 * that, seeing a log that is not empty, has it checkpointed and truncated by a short Deno
 * process in the background (node:sqlite; started by bash, not by the sentry, whose waits for
 * any child would reap it), so every later start finds it empty. SQLite makes that safe against
 * sentries starting meanwhile, and a checkpoint that could not finish is tried again at the next
 * start.
 *
 * The launchers pass the caller's own DENO_DIR in SENTRY_DENO_DIR_WAS ("=value", or empty when
 * it had none); this module, the first that main.ts and boot/launch.ts import, puts it back at
 * once, so that every Deno the sentry starts (the bundle's build, `run -d`'s holder) sees the
 * caller's, not ours; callerEnvFromInitial does the same for the sandbox's environment, which
 * boot/mod.ts reads from /proc/self/environ.
 *
 * The directory is made 0700 by the first start that finds the cache root private (the
 * launchers use it only once it exists and is ours): Deno runs the code cached there.
 *
 * @module
 */

import { cacheRoot } from "../kernel/cache_dir.ts";

const KEY = Symbol.for("sentry.ownDenoDir");
/** What the launchers changed: the caller's DENO_DIR ("=value" or ""), or null when nothing. */
type Taken = { was: string | null };

function taken(): Taken | undefined {
  return (globalThis as unknown as Record<symbol, Taken | undefined>)[KEY];
}

/**
 * The caller's environment as the launchers received it, from /proc/self/environ's entries
 * (which the process's own changes never reach): without our DENO_DIR and marker, with the
 * caller's DENO_DIR in its place. Edits env in place.
 */
export function callerEnvFromInitial(env: Record<string, string>): Record<string, string> {
  const was = taken()?.was ?? null;
  if (was === null || !("SENTRY_DENO_DIR_WAS" in env)) return env;
  delete env.SENTRY_DENO_DIR_WAS;
  if (was.startsWith("=")) env.DENO_DIR = was.slice(1);
  else delete env.DENO_DIR;
  return env;
}

function takeOwnDenoDir(): void {
  const g = globalThis as unknown as Record<symbol, Taken | undefined>;
  if (g[KEY] !== undefined) return;
  const t: Taken = g[KEY] = { was: null };
  let was: string | undefined;
  try {
    was = Deno.env.get("SENTRY_DENO_DIR_WAS");
    if (was === undefined) {
      makeOwnDenoDir();
      return;
    }
    t.was = was;
    Deno.env.delete("SENTRY_DENO_DIR_WAS");
    if (was.startsWith("=")) Deno.env.set("DENO_DIR", was.slice(1));
    else Deno.env.delete("DENO_DIR");
  } catch {
    return; // no env permission
  }
}

/** Makes `<cache root>/deno` (0700) for the launchers to use from the next start on. */
function makeOwnDenoDir(): void {
  const root = cacheRoot();
  if (root === null) return;
  const dir = `${root}/deno`;
  try {
    // lstat first: a mkdir that fails (the usual case after the first start) throws, and a
    // start's first thrown Deno error costs ~0.5 ms of cold code.
    Deno.lstatSync(dir);
  } catch {
    try {
      Deno.mkdirSync(dir, { mode: 0o700 });
    } catch { /* a concurrent first start made it */ }
  }
}

/**
 * Past this size the sentry's code cache starts afresh (checked at a bundle's build): Deno never
 * drops an entry, and every build of every checkout adds its ~3 MB.
 */
const CODE_CACHE_LIMIT = 128 * 1024 * 1024;

/**
 * Renames the sentry's DENO_DIR away and removes it when its code cache is past the limit:
 * called by boot/launch_cache.ts once a new bundle is built. Sentries that have the old
 * databases open keep writing to them, unlinked; the next start makes new ones.
 */
export function trimOwnDenoDir(): void {
  const root = cacheRoot();
  if (root === null) return;
  const dir = `${root}/deno`;
  try {
    if (Deno.statSync(`${dir}/v8_code_cache_v2`).size <= CODE_CACHE_LIMIT) return;
    const old = Deno.makeTempDirSync({ dir: root, prefix: ".deno-old-" });
    Deno.renameSync(dir, `${old}/deno`);
    Deno.mkdirSync(dir, { mode: 0o700 });
    Deno.removeSync(old, { recursive: true });
  } catch { /* no cache yet, or a concurrent build trimmed it */ }
}

takeOwnDenoDir();
