/**
 * The sentry's per-user cache directory, where it keeps what it builds once and loads later:
 * the vDSO (kernel/vdso/build.ts), the unpacked dist/sentry (tools/build.ts's header, the same
 * rule in bash) and the launcher's bundle of a checkout (boot/launch.ts).
 *
 * @module
 */

/**
 * 64-bit FNV-1a, as 16 hex digits: names cache entries (not a security boundary: the directory
 * is ours). Computed in two 32-bit halves, not with BigInt, which cost a few ms of every start.
 */
export function fnv1a64(parts: Uint8Array[]): string {
  let hi = 0xcbf29ce4, lo = 0x84222325;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      lo = (lo ^ p[i]!) >>> 0;
      // (hi·2^32 + lo) · (2^40 + 0x1b3) mod 2^64; lo · 0x1b3 < 2^41 is exact in a double.
      const low = lo * 0x1b3;
      hi = (Math.imul(hi, 0x1b3) + (lo << 8) + Math.floor(low / 0x1_0000_0000)) >>> 0;
      lo = low >>> 0;
    }
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

/**
 * The cache root: $XDG_CACHE_HOME/sentry, ~/.cache/sentry, or without either (a cleared
 * environment) $TMPDIR or /tmp/sentry-cache-UID; made 0700 if new. It must be a directory (not a
 * symlink) that belongs to us and that nobody else may write: the sentry loads code from it.
 * Null when there is no such directory.
 */
export function cacheRoot(): string | null {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  const uid = Deno.uid() ?? 0;
  const root = xdg
    ? `${xdg}/sentry`
    : home
    ? `${home}/.cache/sentry`
    : `${Deno.env.get("TMPDIR") || "/tmp"}/sentry-cache-${uid}`;
  try {
    Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
    const st = Deno.lstatSync(root);
    if (!st.isDirectory || st.uid !== uid || ((st.mode ?? 0) & 0o022) !== 0) return null;
    return root;
  } catch {
    return null;
  }
}
