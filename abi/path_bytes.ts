/**
 * File names as bytes. Linux's names are any bytes but NUL (and "/" inside one name); the
 * sentry keeps paths as JavaScript strings. `decodePath` reads valid UTF-8 as usual, and turns
 * each byte that is not part of valid UTF-8 into the lone surrogate U+DC80..U+DCFF (Python's
 * "surrogateescape", PEP 383); `encodePath` turns those back into their bytes. So every byte
 * string survives the round trip (a name such as "a\xff" was stored as "a\uFFFD" and listed
 * as "a\xEF\xBF\xBD" before), and names that are UTF-8, nearly all of them, are the plain
 * strings they always were.
 *
 * Use them wherever a name crosses between bytes and strings: paths read from application
 * memory, names and link targets written to it, host directory entries and link targets, and
 * paths handed to host calls.
 *
 * @module
 */

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** `bytes` as a path string: UTF-8, with the bytes outside valid UTF-8 escaped. */
export function decodePath(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return decodeEscaping(bytes);
  }
}

/** The bytes of a path string made by decodePath (or any string: other lone surrogates give U+FFFD's bytes, as TextEncoder). */
export function encodePath(s: string): Uint8Array {
  if (s.isWellFormed()) return encoder.encode(s);
  const out = new Uint8Array(s.length * 3);
  return out.subarray(0, encodeEscaped(s, out));
}

/** encodePath(s).length, without building it. */
export function encodedPathLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else if (c >= 0xdc80 && c <= 0xdcff) n += 1;
    else n += 3;
  }
  return n;
}

/**
 * Encodes `s` into `dst` as encodePath would; returns the bytes written, or -1 when they do
 * not all fit.
 */
export function encodePathInto(s: string, dst: Uint8Array): number {
  if (s.isWellFormed()) {
    const r = encoder.encodeInto(s, dst);
    return r.read === s.length ? r.written : -1;
  }
  if (encodedPathLength(s) > dst.length) return -1;
  return encodeEscaped(s, dst);
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function encodeEscaped(s: string, out: Uint8Array): number {
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
      continue;
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      out[o++] = c - 0xdc00;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // another lone surrogate: TextEncoder's U+FFFD
    if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  return o;
}

/** The length of the well-formed UTF-8 sequence at bytes[i] (Unicode's table 3-7), or 0. */
function sequenceAt(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no surrogates
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function decodeEscaping(b: Uint8Array): string {
  let s = "";
  let run = 0; // start of the current run of valid UTF-8
  for (let i = 0; i < b.length;) {
    const n = sequenceAt(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (run < i) s += utf8.decode(b.subarray(run, i));
    s += String.fromCharCode(0xdc00 + b[i]!);
    run = ++i;
  }
  if (run < b.length) s += utf8.decode(b.subarray(run));
  return s;
}

/** `s` cut to its first `max` bytes (a comm's TASK_COMM_LEN - 1), a cut sequence's bytes kept escaped. */
export function truncatePath(s: string, max: number): string {
  if (s.length <= max && encodedPathLength(s) === s.length) return s;
  const b = encodePath(s);
  return b.length <= max ? s : decodePath(b.subarray(0, max));
}
