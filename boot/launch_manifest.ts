/**
 * The manifest of a checkout's cached bundle (boot/launch.ts, boot/launch_cache.ts): which
 * bundle is current, and the facts of every file it was built from.
 *
 * @module
 */

/** The manifest's format; a manifest of another format is rebuilt. */
export const LAUNCH_FORMAT = 1;

/** current.json of a checkout's launch cache directory (see launch_cache.ts). */
export interface LaunchManifest {
  format: number;
  /**
   * The directory of the current bundle, beside current.json; null when these sources could not
   * be bundled (then they run as they are, and a build is tried again once they change, or an
   * hour later).
   */
  build: string | null;
  /** Why they could not be bundled, and when (ms since the epoch). */
  failed?: { why: string; at: number };
  /** [path, size, mtime ms, ctime ms, inode] of every file the bundle was built from. */
  sources: Array<[string, number, number, number, number]>;
}

/** How long a failed build is trusted before a start tries again. */
export const RETRY_FAILED_MS = 3600 * 1000;

/** The file facts the manifest keeps, or null when the file is gone. */
export function fileFacts(path: string): [string, number, number, number, number] | null {
  try {
    const st = Deno.statSync(path);
    return [path, st.size, st.mtime?.getTime() ?? 0, st.ctime?.getTime() ?? 0, st.ino ?? 0];
  } catch {
    return null;
  }
}

/** True when every source is as the bundle was built from. */
function fresh(m: LaunchManifest): boolean {
  for (const s of m.sources) {
    const now = fileFacts(s[0]);
    if (now === null || now[1] !== s[1] || now[2] !== s[2] || now[3] !== s[3] || now[4] !== s[4]) return false;
  }
  return true;
}

/**
 * What the launch cache directory `dir` says for the sources as they are now: the bundle's
 * main.js to run, null to run the sources (they failed to bundle within RETRY_FAILED_MS), or
 * undefined when a bundle must be built (none yet, or stale).
 */
export function currentBundle(dir: string): string | null | undefined {
  try {
    const m = JSON.parse(Deno.readTextFileSync(`${dir}/current.json`)) as LaunchManifest;
    if (m.format !== LAUNCH_FORMAT || !fresh(m)) return undefined;
    if (m.build !== null) return `${dir}/${m.build}/main.js`;
    return Date.now() - (m.failed?.at ?? 0) < RETRY_FAILED_MS ? null : undefined;
  } catch {
    return undefined; // none yet, or unreadable
  }
}
