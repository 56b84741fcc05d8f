/**
 * Builds the vDSO image (vdso.c, vdso.lds) and the sentry's clock helper (clock_helper.c) with
 * the machine's gcc, once per version of their sources: the results are cached in a directory
 * named by a hash of the sources and flags, under the user's cache directory, so that only the
 * first start after a change pays for gcc (~0.3 s here); later starts read two small files.
 *
 * A missing gcc, an unusable cache directory or a failed build is not an error: the sentry then
 * gives applications no vDSO (libc makes real clock calls, served by the sentry), and says so
 * once in the debug log.
 *
 * @module
 */

import { cacheRoot, hash64 } from "../cache_dir.ts";

/** The files the vDSO and the clock helper are built from (tools/build.ts packs them too). */
export const VDSO_SOURCES = ["vvar.h", "vdso.c", "vdso.lds", "clock_helper.c"] as const;

const VDSO_FLAGS = [
  "-O2", "-Wall", "-fPIC", "-shared", "-nostdlib", "-fno-stack-protector", "-fcf-protection=none",
  "-Wl,-T,vdso.lds", "-Wl,-soname,linux-vdso.so.1", "-Wl,--hash-style=both", "-Wl,--build-id=none",
  "-Wl,-z,max-page-size=4096",
];
const HELPER_FLAGS = ["-O2", "-Wall", "-fPIC", "-shared"];

/** What a build gives: the vDSO's ELF file and the path of the clock helper. */
export interface VdsoBuild {
  image: Uint8Array;
  helperPath: string;
}

const srcDir = new URL(".", import.meta.url).pathname;

function gcc(args: string[], cwd: string): string | null {
  try {
    const r = new Deno.Command("gcc", { args, cwd, stdout: "piped", stderr: "piped" }).outputSync();
    return r.success ? null : new TextDecoder().decode(r.stderr).trim() || "gcc failed";
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

let cached: VdsoBuild | string | undefined;

/** The vDSO and clock helper, built or taken from the cache; a reason string if unavailable. */
export function vdsoBuild(): VdsoBuild | string {
  if (cached !== undefined) return cached;
  cached = build();
  return cached;
}

/** The cache key of the vDSO built from `srcs` (VDSO_SOURCES' contents, in order) with our flags. */
export function vdsoKey(srcs: Uint8Array[]): string {
  const enc = new TextEncoder();
  return hash64([...srcs, enc.encode(VDSO_FLAGS.join(" ")), enc.encode(HELPER_FLAGS.join(" "))]);
}

/**
 * The name of the file, beside the sources in a bundle (boot/launch_cache.ts bundleProgram), that
 * holds their vdsoKey: a start then reads it instead of hashing ~10 KB of sources in cold code
 * (~0.5-0.9 ms). The sources run from a checkout have none.
 */
export const VDSO_KEY_FILE = "vdso.key";

function build(): VdsoBuild | string {
  const root = cacheRoot();
  if (root === null) return "no private cache directory for the vDSO";
  const done = (key: string): VdsoBuild | null => {
    const dir = `${root}/vdso-${key}`;
    try {
      return { image: Deno.readFileSync(`${dir}/vdso.so`), helperPath: `${dir}/clock_helper.so` };
    } catch {
      return null;
    }
  };
  // A bundle's key, when it has one; a bundle is never changed once made, so it is its sources'.
  let bundled: string | null = null;
  if (!srcDir.endsWith("/kernel/vdso/")) {
    try {
      bundled = Deno.readTextFileSync(srcDir + VDSO_KEY_FILE).trim();
    } catch { /* an older bundle: the sources are hashed */ }
  }
  const early = bundled === null ? null : done(bundled);
  if (early !== null) return early;
  let srcs: Uint8Array[];
  try {
    srcs = VDSO_SOURCES.map((n) => Deno.readFileSync(srcDir + n));
  } catch {
    return "vDSO sources not found";
  }
  const key = vdsoKey(srcs);
  const dir = `${root}/vdso-${key}`;
  const hit = done(key);
  if (hit !== null) return hit;
  // Build in a private directory, then rename it into place: a concurrent first start either
  // wins the rename or finds the other's complete result.
  let tmp: string;
  try {
    tmp = Deno.makeTempDirSync({ dir: root, prefix: ".build-" });
    for (let i = 0; i < VDSO_SOURCES.length; i++) Deno.writeFileSync(`${tmp}/${VDSO_SOURCES[i]}`, srcs[i]!);
  } catch (e) {
    return `cannot build the vDSO: ${e instanceof Error ? e.message : e}`;
  }
  const err = gcc([...VDSO_FLAGS, "-o", "vdso.so", "vdso.c"], tmp) ??
    gcc([...HELPER_FLAGS, "-o", "clock_helper.so", "clock_helper.c"], tmp);
  if (err === null) {
    try {
      Deno.renameSync(tmp, dir);
    } catch { /* another start put it there first */ }
  }
  try {
    Deno.removeSync(tmp, { recursive: true });
  } catch { /* renamed */ }
  if (err !== null) return `cannot build the vDSO: ${err.split("\n")[0]}`;
  return done(key) ?? "cannot read the built vDSO";
}
