/**
 * Netlink attributes as nf_tables reads them: parsed leniently like Linux's
 * nla_parse_deprecated (unknown types and a malformed tail are ignored, a later attribute of a
 * type replaces an earlier one), then checked against a policy like validate_nla (too short a
 * value, too long a string or binary, a value past its range: ERANGE). Every value handed on
 * has been checked for its length, so readers never index past it.
 *
 * @module
 */

import { ERANGE } from "../errno.ts";

/** The kind of one attribute in a policy (NLA_* of linux/netlink.h). */
export type AttrKind = "u8" | "u16" | "u32" | "u64" | "string" | "binary" | "nested";

export interface AttrPolicy {
  kind: AttrKind;
  /** string: the longest value without its NUL; binary: the longest value. */
  len?: number;
  /** u8/u16/u32 (big-endian as nf_tables sends them): the largest value allowed (NLA_POLICY_MAX). */
  max?: number;
}

export type Policy = Readonly<Record<number, AttrPolicy>>;

/** Attributes by type, each value checked against its policy. */
export class Attrs {
  readonly #m: Map<number, Uint8Array>;

  constructor(m: Map<number, Uint8Array>) {
    this.#m = m;
  }

  has(type: number): boolean {
    return this.#m.has(type);
  }

  raw(type: number): Uint8Array | undefined {
    return this.#m.get(type);
  }

  /** A big-endian u32 (its policy made sure of 4 bytes). */
  u32(type: number): number | undefined {
    const b = this.#m.get(type);
    return b === undefined ? undefined : ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  /** A big-endian u64. */
  u64(type: number): bigint | undefined {
    const b = this.#m.get(type);
    return b === undefined ? undefined : new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, false);
  }

  /** A string attribute up to its first NUL (nla_strcmp compares that far). */
  str(type: number): string | undefined {
    const b = this.#m.get(type);
    if (b === undefined) return undefined;
    const nul = b.indexOf(0);
    return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
  }
}

const MIN_LEN: Record<AttrKind, number> = { u8: 1, u16: 2, u32: 4, u64: 8, string: 1, binary: 0, nested: 0 };

/** Every well-formed attribute of b by type, the last of a type winning (nla_parse_deprecated). */
export function parseRaw(b: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let o = 0;
  while (o + 4 <= b.length) {
    const len = b[o]! | (b[o + 1]! << 8), type = (b[o + 2]! | (b[o + 3]! << 8)) & 0x3fff;
    if (len < 4 || o + len > b.length) break;
    if (type !== 0) out.set(type, b.subarray(o + 4, o + len));
    o += (len + 3) & ~3;
  }
  return out;
}

/** The attributes of b in order, type and value (a nested list such as NFTA_RULE_EXPRESSIONS). */
export function parseList(b: Uint8Array): { type: number; value: Uint8Array }[] {
  const out: { type: number; value: Uint8Array }[] = [];
  let o = 0;
  while (o + 4 <= b.length) {
    const len = b[o]! | (b[o + 1]! << 8), type = (b[o + 2]! | (b[o + 3]! << 8)) & 0x3fff;
    if (len < 4 || o + len > b.length) break;
    out.push({ type, value: b.subarray(o + 4, o + len) });
    o += (len + 3) & ~3;
  }
  return out;
}

/**
 * Parses b and checks it against policy (types the policy does not name are dropped, as
 * attributes past maxtype are): the attributes, or the errno Linux's validation gives.
 */
export function parseAttrs(b: Uint8Array, policy: Policy): Attrs | number {
  const m = parseRaw(b);
  for (const [type, v] of m) {
    const p = policy[type];
    if (p === undefined) {
      m.delete(type);
      continue;
    }
    let len = v.length;
    if (len < MIN_LEN[p.kind]) return ERANGE.errno;
    if (p.kind === "string" && p.len !== undefined) {
      if (v[len - 1] === 0) len--;
      if (len > p.len) return ERANGE.errno;
    }
    if (p.kind === "binary" && p.len !== undefined && len > p.len) return ERANGE.errno;
    if (p.kind === "nested" && len > 0 && len < 4) return ERANGE.errno;
    if (p.max !== undefined) {
      const n = p.kind === "u8" ? v[0]! : p.kind === "u16" ? (v[0]! << 8) | v[1]! : ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
      if (n > p.max) return ERANGE.errno;
    }
  }
  return new Attrs(m);
}

/** Builds the attributes of one nf_tables message or nest (values big-endian, as Linux sends). */
export class AttrWriter {
  readonly #parts: number[] = [];

  get length(): number {
    return this.#parts.length;
  }

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.#parts.push(b[i]!);
    return this;
  }

  attr(type: number, value: ArrayLike<number>): this {
    const len = 4 + value.length;
    this.#parts.push(len & 0xff, len >> 8, type & 0xff, type >> 8);
    this.bytes(value);
    while (this.#parts.length % 4) this.#parts.push(0);
    return this;
  }

  str(type: number, s: string): this {
    return this.attr(type, [...new TextEncoder().encode(s), 0]);
  }

  be32(type: number, v: number): this {
    return this.attr(type, [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  }

  be64(type: number, v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), false);
    return this.attr(type, b);
  }

  nest(type: number, inner: AttrWriter): this {
    return this.attr(type, inner.done());
  }

  done(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}
