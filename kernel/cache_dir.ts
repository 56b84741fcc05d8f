/**
 * The sentry's per-user cache directory, where it keeps what it builds once and loads later:
 * the vDSO (kernel/vdso/build.ts), the unpacked dist/sentry (tools/build.ts's header, the same
 * rule in bash) and the launcher's bundle of a checkout (boot/launch.ts).
 *
 * @module
 */

/**
 * A 64-bit hash, as 16 hex digits: names cache entries after their inputs (not a security
 * boundary: the directory is ours). Two 32-bit multiply-xorshift lanes over 32-bit words: a
 * start hashes the vDSO's ~9 KB of sources with it before V8 has compiled it, where a byte-wise
 * 64-bit FNV-1a took ~1.3 ms.
 */
export function hash64(parts: Uint8Array[]): string {
  let a = 0x811c9dc5 | 0, b = 0x9e3779b9 | 0;
  for (const p of parts) {
    const n = p.length >>> 2;
    const words = p.byteOffset % 4 === 0 ? new Uint32Array(p.buffer, p.byteOffset, n) : null;
    for (let i = 0; i < n; i++) {
      const w = words !== null ? words[i]! : (p[4 * i]! | p[4 * i + 1]! << 8 | p[4 * i + 2]! << 16 | p[4 * i + 3]! << 24);
      a = Math.imul(a ^ w, 0x01000193);
      a ^= a >>> 15;
      b = Math.imul(b ^ w, 0x85ebca6b);
      b ^= b >>> 13;
    }
    for (let i = n * 4; i < p.length; i++) {
      a = Math.imul(a ^ p[i]!, 0x01000193);
      b = Math.imul(b ^ p[i]!, 0x85ebca6b);
    }
    // The length ends each part: ["ab", "c"] and ["a", "bc"] differ.
    a = Math.imul(a ^ p.length, 0x01000193);
    b = Math.imul(b ^ p.length, 0x85ebca6b);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/**
 * The roots found private, by path: a start asks up to four times (launch.ts outside the bundle,
 * then the early stub, the vDSO, the DENO_DIR), and each check is a mkdir and an lstat of cold
 * code (~0.3 ms). On globalThis, so that launch.ts's copy of this module and the bundle's share it.
 */
const CHECKED = Symbol.for("sentry.cacheRootsChecked");

/**
 * The cache root: $XDG_CACHE_HOME/sentry, ~/.cache/sentry, or without either (a cleared
 * environment) $TMPDIR or /tmp/sentry-cache-UID; made 0700 if new. It must be a directory (not a
 * symlink) that belongs to us and that nobody else may write: the sentry loads code from it.
 * Null when there is no such directory. Checked once per process and path.
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
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  const checked = g[CHECKED] ??= new Set();
  if (checked.has(root)) return root;
  try {
    Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
    const st = Deno.lstatSync(root);
    if (!st.isDirectory || st.uid !== uid || ((st.mode ?? 0) & 0o022) !== 0) return null;
    checked.add(root);
    return root;
  } catch {
    return null;
  }
}
