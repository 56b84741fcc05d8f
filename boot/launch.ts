/**
 * What `./sentry` runs: the program of this checkout, from a bundle of it cached per user and
 * per checkout (boot/launch_cache.ts), or, where there is none, from its sources (main.ts).
 *
 * Run from its ~270 modules, a start reads and looks up each of them in Deno's caches (~30 ms of
 * CPU of a `do -- /bin/true` here); the bundle (`deno bundle`, as dist/sentry's) is ~40 files, the
 * kernel's in one. It is used only while it is the bundle of the sources as they are: its
 * manifest holds the size, mtime, ctime and inode of every file it was built from (each module
 * of main.ts's graph, deno.json, the package locks, the Deno executable), checked at each start
 * (~270 stats, ~1-2 ms). Anything changed, or no bundle yet: it is built again first (~1 s:
 * `deno info` and `deno bundle`), through a private directory renamed into place, so that
 * concurrent first runs are safe. Where no bundle can be made (no private cache directory, a
 * failed bundle: recorded, and not tried again before the sources change or an hour passed) the
 * sources run as they always did: what `./sentry` runs never differs from the checkout.
 *
 * This module and the one it imports are all that a start reads of the checkout; it prints
 * nothing of its own.
 *
 * @module
 */

// First: puts the caller's DENO_DIR back before anything reads the environment.
import "./deno_dir.ts";
import { cacheRoot, hash64 } from "../kernel/cache_dir.ts";
import { currentBundle } from "./launch_manifest.ts";
import { mark } from "./startup_marks.ts";

mark("launch");

/** The checkout, with a trailing slash. */
const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname);

/** The checkout's launch cache directory (not yet made), or null without a private cache root. */
function cacheDir(): string | null {
  const root = cacheRoot();
  if (root === null) return null;
  let repo = REPO;
  try {
    repo = Deno.realPathSync(REPO);
  } catch { /* the path as given */ }
  return `${root}/launch-${hash64([new TextEncoder().encode(repo)])}`;
}

/**
 * The bundle's main.js, built first if it is missing or stale; null to run the sources (no
 * bundle can be made of them).
 */
async function bundleMain(dir: string): Promise<string | null> {
  const found = currentBundle(dir);
  if (found !== undefined) return found;
  try {
    return await (await import("./launch_cache.ts")).buildLaunchBundle(REPO, dir);
  } catch {
    return null;
  }
}

function fileUrl(path: string): string {
  return "file://" + path.split("/").map(encodeURIComponent).join("/");
}

async function launch(): Promise<void> {
  const dir = cacheDir();
  const main = dir === null ? null : await bundleMain(dir);
  mark("checked");
  if (main !== null) {
    try {
      // main.js runs the sentry and exits: this import returns only if it could not be loaded
      // (main.ts's top level catches everything the sentry throws).
      await import(fileUrl(main));
      return;
    } catch {
      // A damaged cache (a file removed): the sources run, and the next start builds it again.
      try {
        Deno.removeSync(`${dir}/current.json`);
      } catch { /* gone already */ }
    }
  }
  await import("../main.ts");
}

await launch();
