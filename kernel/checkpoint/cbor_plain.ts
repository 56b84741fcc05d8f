/**
 * A small CBOR reader for the plain data of a checkpoint's header and state (RFC 8949), on the
 * restore's path instead of cbor-x, whose module costs a restore more to load than the reading
 * itself. It reads what image.ts's writer (cbor-x, without records, maps as objects) writes:
 * unsigned and negative integers, byte strings (tag 64, a Uint8Array, as cbor-x writes them, or
 * untagged), UTF-8 text, strings that are not well-formed (escaped_text.ts's tag around their
 * path bytes), arrays, maps with text keys (as objects), false, true, null,
 * undefined and 32- and 64-bit floats. Anything else (other tags, indefinite lengths, half
 * floats, other simple values, integers past 2^53, keys that are not text or are `__proto__`,
 * invalid UTF-8, nesting past MAX_DEPTH, bytes after the item) makes it give up: it returns
 * {@linkcode GIVE_UP} and the caller reads the image with cbor-x, which says what is wrong.
 * It never reads past the buffer and allocates nothing a length in the input could inflate
 * beyond the input's own size.
 *
 * @module
 */

import { ESCAPED_TEXT_TAG, escapedText } from "./escaped_text.ts";

/** What {@linkcode decodePlain} returns for input it does not read. */
export const GIVE_UP: unique symbol = Symbol("give up");

/** Deeper than any saved state nests; a hostile image cannot exhaust the stack. */
const MAX_DEPTH = 64;

class GiveUp extends Error {}
const giveUp = new GiveUp();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Text this short is decoded here when it is ASCII (keys, hex numbers, names: nearly all of a
 * state's ~1,000 strings): TextDecoder's decode crosses into Deno's runtime for each one, which
 * was half of the decode of an idle shell's state (~2 ms of ~4).
 */
const SHORT_TEXT = 64;

/** The 128 ASCII characters as one-character strings (V8 keeps these interned). */
const CHARS: readonly string[] = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

/**
 * buf[pos, pos + n) as a string when every byte is ASCII (which is valid UTF-8 as it is), else
 * null. Built a character at a time from CHARS: `String.fromCharCode.apply` over a subarray
 * (a new view and an array-like spread per string) made the first decode of an idle shell's
 * state ~1.5 ms of CPU, this ~1.2 (the restore decodes it once, mostly before V8 optimizes).
 */
function ascii(buf: Uint8Array, pos: number, n: number): string | null {
  const end = pos + n;
  let out = "";
  for (let i = pos; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return null;
    out += CHARS[c]!;
  }
  return out;
}

/** The one data item that is all of buf, or GIVE_UP. */
export function decodePlain(buf: Uint8Array): unknown {
  const r = decodePlainItem(buf, 0);
  return r !== GIVE_UP && r.end === buf.length ? r.value : GIVE_UP;
}

/**
 * The data item at buf[start] and where it ends, or GIVE_UP (also when buf ends inside it):
 * an item read where it lies, its end found by reading it.
 */
export function decodePlainItem(buf: Uint8Array, start: number): { value: unknown; end: number } | typeof GIVE_UP {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = start;

  /** The argument of the head whose initial byte had additional information ai. */
  const arg = (ai: number): number => {
    if (ai < 24) return ai;
    let n: number;
    if (ai === 24) {
      if (pos + 1 > buf.length) throw giveUp;
      n = buf[pos]!;
      pos += 1;
    } else if (ai === 25) {
      if (pos + 2 > buf.length) throw giveUp;
      n = view.getUint16(pos);
      pos += 2;
    } else if (ai === 26) {
      if (pos + 4 > buf.length) throw giveUp;
      n = view.getUint32(pos);
      pos += 4;
    } else if (ai === 27) {
      if (pos + 8 > buf.length) throw giveUp;
      const hi = view.getUint32(pos), lo = view.getUint32(pos + 4);
      if (hi >= 0x20_0000) throw giveUp; // past 2^53
      n = hi * 0x1_0000_0000 + lo;
      pos += 8;
    } else {
      throw giveUp; // reserved, or indefinite length
    }
    return n;
  };

  const bytes = (n: number): Uint8Array => {
    if (n > buf.length - pos) throw giveUp;
    // A copy, and a plain Uint8Array even when buf is a subclass (a Buffer).
    const b = new Uint8Array(n);
    b.set(buf.subarray(pos, pos + n));
    pos += n;
    return b;
  };

  const item = (depth: number): unknown => {
    if (pos >= buf.length || depth > MAX_DEPTH) throw giveUp;
    const ib = buf[pos++]!, major = ib >> 5, ai = ib & 31;
    switch (major) {
      case 0:
        return arg(ai);
      case 1: {
        const n = arg(ai);
        if (n >= Number.MAX_SAFE_INTEGER) throw giveUp;
        return -1 - n;
      }
      case 2:
        return bytes(arg(ai));
      case 3: {
        const b = arg(ai);
        if (b > buf.length - pos) throw giveUp;
        if (b <= SHORT_TEXT) {
          const s = ascii(buf, pos, b);
          if (s !== null) {
            pos += b;
            return s;
          }
        }
        let s: string;
        try {
          s = utf8.decode(buf.subarray(pos, pos + b));
        } catch {
          throw giveUp;
        }
        pos += b;
        return s;
      }
      case 4: {
        const n = arg(ai);
        if (n > buf.length - pos) throw giveUp; // every element takes a byte at least
        const a = new Array(n);
        for (let i = 0; i < n; i++) a[i] = item(depth + 1);
        return a;
      }
      case 5: {
        const n = arg(ai);
        if (n > (buf.length - pos) / 2) throw giveUp;
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (typeof k !== "string" || k === "__proto__") throw giveUp;
          o[k] = item(depth + 1);
        }
        return o;
      }
      case 6: {
        // Tag 64: a Uint8Array, as cbor-x writes one. ESCAPED_TEXT_TAG: a string that is not
        // well-formed, as its path bytes (escaped_text.ts).
        const tag = arg(ai);
        if (pos >= buf.length || buf[pos]! >> 5 !== 2) throw giveUp;
        if (tag === 64) return item(depth + 1);
        if (tag !== ESCAPED_TEXT_TAG) throw giveUp;
        const n = arg(buf[pos++]! & 31);
        if (n > buf.length - pos) throw giveUp;
        const s = escapedText(buf.subarray(pos, pos + n));
        if (s === null) throw giveUp;
        pos += n;
        return s;
      }
      default: {
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        if (ai === 26) {
          if (pos + 4 > buf.length) throw giveUp;
          const f = view.getFloat32(pos);
          pos += 4;
          return f;
        }
        if (ai === 27) {
          if (pos + 8 > buf.length) throw giveUp;
          const f = view.getFloat64(pos);
          pos += 8;
          return f;
        }
        throw giveUp;
      }
    }
  };

  try {
    const value = item(0);
    return { value, end: pos };
  } catch (err) {
    if (err === giveUp || err instanceof RangeError) return GIVE_UP; // RangeError: a stack too small even so
    throw err;
  }
}
