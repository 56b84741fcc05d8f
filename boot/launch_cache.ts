/**
 * Builds the bundle of a checkout that `./sentry` runs (boot/launch.ts), and the program part of
 * dist/sentry (tools/build.ts): `deno bundle` of main.ts with code splitting, beside the vDSO's C
 * sources.
 *
 * A checkout's launch cache directory, `<cache root>/launch-<hash of the checkout's path>`:
 *
 *     current.json      the manifest of the bundle in use (launch.ts's LaunchManifest)
 *     b-<hash>/         a bundle, named by a hash of its manifest's sources
 *     .tmp-XXXXXXXX/    a bundle being built (renamed to b-<hash> when complete)
 *     .lock             held (flock) by the one start that builds
 *
 * Starts that find the bundle stale build one at a time: the others wait for the lock, then find
 * the new bundle current. A bundle is complete before it is renamed into place, and current.json
 * is replaced by a rename, so a start never sees half of either. A bundle that current.json no
 * longer names is removed a day after it was built (a sentry started from it may still import a
 * chunk of it, the checkpoint's for instance, while its sandbox runs).
 *
 * @module
 */

import { VDSO_KEY_FILE, VDSO_SOURCES, vdsoKey } from "../kernel/vdso/build.ts";
import { hash64 } from "../kernel/cache_dir.ts";
import { trimOwnDenoDir } from "./deno_dir.ts";
import { currentBundle, fileFacts, LAUNCH_FORMAT, type LaunchManifest } from "./launch_manifest.ts";

/**
 * How long the launcher waits for deno bundle (the first one downloads esbuild, ~10 MB) before it
 * gives up and runs the sources.
 */
const BUNDLE_TIMEOUT_MS = 60_000;

/** How long a bundle current.json no longer names, or an abandoned build, is kept. */
const KEEP_MS = 24 * 3600 * 1000;

/**
 * Bundles the program of the checkout `repo` (with a trailing slash) into the directory `out`:
 * main.js, its chunks, and the vDSO's sources (kernel/vdso/build.ts finds them beside the chunk
 * that holds it). Code splitting keeps main.ts's dynamic imports (the loader; zod's schemas,
 * which only `sentry run` needs) in chunks of their own, loaded when imported: one bundle of all
 * of it cost more start-up than the ~300 modules did, since --no-lazy compiles what it loads.
 * Minified (names of functions and classes kept: errors and logs name them), a third of the
 * bytes: V8 reads the code cache and Deno hashes and converts each module's source at every
 * start, ~3-6 ms less CPU of a `do` here; the bundle's stack traces (the debug log's BUG
 * lines) name the bundle's lines, not the sources' (run main.ts to debug). `sourceMaps` (the
 * launcher's bundle) writes a map beside each file, with no comment naming it: Deno reads a
 * linked map of every module it loads at start, and nothing reads these but
 * bench/cpu_profile_top.ts, which names a profile's functions as in the sources.
 * `quiet` (the launcher): deno bundle's messages are kept, and thrown with its
 * failure, and it may take BUNDLE_TIMEOUT_MS at most.
 */
export async function bundleProgram(repo: string, out: string, quiet: boolean, sourceMaps = false): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle", "--quiet", "--config", `${repo}deno.json`, "--platform", "deno", "--code-splitting", "--minify", "--keep-names",
      ...(sourceMaps ? ["--sourcemap", "external"] : []), "--outdir", out,
      `${repo}main.ts`,
    ],
    stdin: "null",
    ...(quiet ? { signal: AbortSignal.timeout(BUNDLE_TIMEOUT_MS) } : {}),
    stdout: quiet ? "piped" : "inherit",
    stderr: quiet ? "piped" : "inherit",
  }).output();
  if (!r.success) {
    const why = quiet ? new TextDecoder().decode(r.stderr).trim().split("\n")[0] ?? "" : "";
    throw new Error(`deno bundle failed (exit ${r.code})${why ? `: ${why}` : ""}`);
  }
  for (const n of VDSO_SOURCES) Deno.copyFileSync(`${repo}kernel/vdso/${n}`, `${out}/${n}`);
  // Their cache key, so that a start need not hash them (kernel/vdso/build.ts).
  Deno.writeTextFileSync(`${out}/${VDSO_KEY_FILE}`, vdsoKey(VDSO_SOURCES.map((n) => Deno.readFileSync(`${out}/${n}`))) + "\n");
}

/**
 * The files a bundle of `repo` is built from: every module of main.ts's graph outside
 * node_modules (`deno info`), what decides how they bundle (deno.json, the package locks, the
 * Deno executable, this module) and the vDSO's sources.
 */
async function sourceFiles(repo: string): Promise<string[]> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", `${repo}deno.json`, `${repo}main.ts`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`deno info failed (exit ${r.code})`);
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as { modules: Array<{ kind?: string; local?: string }> };
  const files = new Set<string>();
  for (const m of info.modules) {
    if (m.kind === "esm" && m.local !== undefined && !m.local.includes("/node_modules/")) files.add(m.local);
  }
  for (const f of ["deno.json", "package.json", "package-lock.json", "node_modules/.package-lock.json", "boot/launch_cache.ts", "boot/launch_manifest.ts"]) {
    files.add(`${repo}${f}`);
  }
  for (const n of VDSO_SOURCES) files.add(`${repo}kernel/vdso/${n}`);
  files.add(Deno.execPath());
  return [...files].sort();
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* gone, or another build's */ }
}

/**
 * Builds the bundle of `repo` in its launch cache directory `dir` (made if needed), makes it
 * current, and returns its main.js; or, when the sources cannot be bundled, records that in
 * current.json (so that the next starts do not try again, see LaunchManifest.build) and returns
 * null. Throws when the directory cannot be written (the caller then runs the sources too).
 */
export async function buildLaunchBundle(repo: string, dir: string): Promise<string | null> {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // One build at a time (the tests start many sentries at once after an edit); the others wait,
  // then find its bundle current.
  using lock = Deno.openSync(`${dir}/.lock`, { create: true, write: true, mode: 0o600 });
  await lock.lock(true);
  const found = currentBundle(dir);
  if (found !== undefined) return found;
  // Stats first, then the bundle: a file changed meanwhile makes the next start build again.
  const sources: LaunchManifest["sources"] = [];
  let manifest: LaunchManifest;
  try {
    for (const f of await sourceFiles(repo)) {
      const facts = fileFacts(f);
      if (facts !== null) sources.push(facts);
    }
    const build = `b-${hash64([new TextEncoder().encode(JSON.stringify(sources))])}`;
    if (fileFacts(`${dir}/${build}/main.js`) === null) {
      const tmp = Deno.makeTempDirSync({ dir, prefix: ".tmp-" });
      try {
        await bundleProgram(repo, tmp, true, true);
        Deno.renameSync(tmp, `${dir}/${build}`);
        trimOwnDenoDir();
      } catch (err) {
        removeQuietly(tmp);
        throw err;
      }
    }
    manifest = { format: LAUNCH_FORMAT, build, sources };
  } catch (err) {
    // deno bundle fetches esbuild into DENO_DIR the first time, which needs the network.
    const why = err instanceof Error ? err.message : String(err);
    manifest = { format: LAUNCH_FORMAT, build: null, failed: { why, at: Date.now() }, sources };
  }
  const tmpManifest = `${dir}/.current.json.${Deno.pid}`;
  Deno.writeTextFileSync(tmpManifest, JSON.stringify(manifest));
  Deno.renameSync(tmpManifest, `${dir}/current.json`);
  const now = Date.now();
  for (const e of Deno.readDirSync(dir)) {
    if (e.name === manifest.build || e.name === "current.json" || e.name === ".lock") continue;
    try {
      const age = now - (Deno.lstatSync(`${dir}/${e.name}`).mtime?.getTime() ?? now);
      if (age > KEEP_MS) removeQuietly(`${dir}/${e.name}`);
    } catch { /* removed meanwhile */ }
  }
  return manifest.build === null ? null : `${dir}/${manifest.build}/main.js`;
}
