/**
 * Strings of a checkpoint image that are not well-formed UTF-16. A file name that is not valid
 * UTF-8 lives in the sentry as a string with lone surrogates U+DC80..U+DCFF (abi/path_bytes.ts);
 * CBOR's text is UTF-8, in which such a string has no spelling (cbor-x wrote U+FFFD or the
 * surrogates' own three bytes, both read back as U+FFFD: a checkpoint renamed the file). Such a
 * string is written as tag {@linkcode ESCAPED_TEXT_TAG} around a byte string of its path bytes
 * (encodePath), and both readers (cbor_plain.ts, and cbor-x through the extension image.ts
 * registers) make the same string of them again (decodePath), so the schemas see strings and
 * the names' own checks (no '/', no NUL, lengths) apply to them as to any name.
 *
 * A reader refuses the tag around anything but a byte string, and around bytes that are valid
 * UTF-8 (text, which the writer never tags: an image has one spelling for a string). The bytes
 * are read as names from an application are, so no spelling of '/' or NUL hides in them: an
 * overlong "\xC0\xAF" is two escaped bytes, never '/'.
 *
 * Images without such strings are byte for byte what they were, and their readers pay nothing
 * (the tag is looked at only where a tag is). A string with lone surrogates that no bytes
 * decode to (one outside U+DC80..U+DCFF, or escapes of bytes that are UTF-8 together: never a
 * name's) is written as before.
 *
 * @module
 */

import { decodePath, encodePath } from "../../abi/path_bytes.ts";

/**
 * The CBOR tag of a string held as its path bytes: 56448 = 0xDC80, the first escape (not
 * assigned by IANA; an image is read only by this sentry, which checks its format version).
 */
export const ESCAPED_TEXT_TAG = 0xdc80;

/** A byte string cbor-x writes untagged (it tags a plain Uint8Array with 64). */
export class UntaggedBytes extends Uint8Array {}

/** A string the writer tags: what cbor-x's extension for ESCAPED_TEXT_TAG writes. */
export class EscapedText {
  constructor(readonly bytes: UntaggedBytes) {}
}

/** The string the tag's bytes stand for, or null when the image must be refused. */
export function escapedText(bytes: Uint8Array): string | null {
  const s = decodePath(bytes);
  return s.isWellFormed() ? null : s;
}

/** s as the writer writes it: EscapedText when it is not well-formed and bytes stand for it. */
function escape(s: string): string | EscapedText {
  if (s.isWellFormed()) return s;
  const b = encodePath(s);
  if (decodePath(b) !== s) return s;
  const u = new UntaggedBytes(b.length);
  u.set(b);
  return new EscapedText(u);
}

/**
 * v with every string that is not well-formed (values and keys) as an EscapedText: v itself
 * when there is none (nothing is copied), else copies of the arrays and objects on the way to
 * one. An object with such a key becomes a Map (cbor-x writes its keys as items, tags and all).
 */
export function escapeStrings(v: unknown): unknown {
  if (typeof v === "string") return escape(v);
  if (typeof v !== "object" || v === null || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const e = v[i], r = escapeStrings(e);
      if (r === e) continue;
      out ??= v.slice();
      out[i] = r;
    }
    return out ?? v;
  }
  if (v instanceof Map) {
    let changed = false;
    const m = new Map<unknown, unknown>();
    for (const [k, e] of v) {
      const rk = escapeStrings(k), re = escapeStrings(e);
      changed ||= rk !== k || re !== e;
      m.set(rk, re);
    }
    return changed ? m : v;
  }
  const o = v as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  let badKey = false;
  for (const k of Object.keys(o)) {
    if (!k.isWellFormed()) badKey = true;
    const e = o[k], r = escapeStrings(e);
    if (r === e) continue;
    out ??= { ...o };
    out[k] = r;
  }
  if (!badKey) return out ?? v;
  const m = new Map<unknown, unknown>();
  for (const [k, e] of Object.entries(out ?? o)) m.set(escape(k), e);
  return m;
}
