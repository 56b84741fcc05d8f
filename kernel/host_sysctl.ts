/**
 * The host's value of a numeric sysctl, for the limits the sandbox shows as the machine it runs
 * on has them (net.core's buffer sizes, the inotify watches Linux sizes from memory).
 *
 * @module
 */

/** /proc/sys/PATH's positive integer, or `fallback` when it is unreadable or not one. */
export function hostSysctl(path: string, fallback: number): number {
  try {
    const v = Number(Deno.readTextFileSync(path).trim());
    return Number.isSafeInteger(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}
