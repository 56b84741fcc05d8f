/**
 * IP fragment reassembly: IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5),
 * with RFC 815-style hole tracking.
 *
 * Each datagram in progress is keyed by (src, dst, protocol, ident). The
 * buffer grows to the largest offset seen, capped at 65535 bytes; overlapping
 * fragments simply overwrite (RFC 5722 forbids overlaps for IPv6; IPv4 data
 * is identical in practice). A datagram not completed within the timeout is
 * dropped.
 *
 * @module
 */

import type { IpAddress } from "../wire/address.ts";

/** RFC 791 suggests 15 s lower bound; Linux uses 30 s. */
export const REASSEMBLY_TIMEOUT = 30_000;
const MAX_DATAGRAM = 65535;
/** Bound on datagrams reassembled at once. */
const MAX_PENDING = 64;

interface Pending {
  buf: Uint8Array;
  /** Sorted disjoint received [start, end) ranges, flattened. */
  ranges: number[];
  /** Total length, known once the last fragment (MF clear) arrives. */
  total: number | null;
  expiresAt: number;
}

/** @savable */
export class Reassembler {
  #pending = new Map<string, Pending>();

  get size(): number {
    return this.#pending.size;
  }

  /**
   * Adds one fragment's payload. Returns the whole datagram payload once
   * complete, else null. Malformed fragments (past 64 KiB, or data beyond a
   * known end) drop the whole datagram.
   */
  add(
    now: number,
    key: { src: IpAddress; dst: IpAddress; protocol: number; ident: number },
    frag: { offset: number; more: boolean; data: Uint8Array },
  ): Uint8Array | null {
    const k = `${key.src}|${key.dst}|${key.protocol}|${key.ident}`;
    let p = this.#pending.get(k);
    const end = frag.offset + frag.data.length;
    if (end > MAX_DATAGRAM || (frag.more && frag.data.length % 8 !== 0)) {
      this.#pending.delete(k);
      return null;
    }
    if (!p) {
      if (this.#pending.size >= MAX_PENDING) this.#evictOldest();
      p = { buf: new Uint8Array(0), ranges: [], total: null, expiresAt: now + REASSEMBLY_TIMEOUT };
      this.#pending.set(k, p);
    }
    if (!frag.more) {
      if (p.total !== null && p.total !== end) {
        this.#pending.delete(k);
        return null;
      }
      p.total = end;
    }
    if (p.total !== null && end > p.total) {
      this.#pending.delete(k);
      return null;
    }
    if (end > p.buf.length) {
      const grown = new Uint8Array(Math.max(end, Math.min(MAX_DATAGRAM, p.buf.length * 2)));
      grown.set(p.buf);
      p.buf = grown;
    }
    p.buf.set(frag.data, frag.offset);
    p.ranges = addRange(p.ranges, frag.offset, end);
    if (p.total !== null && p.ranges.length === 2 && p.ranges[0] === 0 && p.ranges[1] === p.total) {
      this.#pending.delete(k);
      return p.buf.subarray(0, p.total);
    }
    return null;
  }

  /** Whether no datagram is being reassembled (then expire has nothing to do). */
  get isEmpty(): boolean {
    return this.#pending.size === 0;
  }

  /** Drops datagrams whose time is up. */
  expire(now: number): void {
    for (const [k, p] of this.#pending) if (p.expiresAt <= now) this.#pending.delete(k);
  }

  /** The earliest expiry, or null. */
  nextExpiry(): number | null {
    let t: number | null = null;
    for (const p of this.#pending.values()) if (t === null || p.expiresAt < t) t = p.expiresAt;
    return t;
  }

  #evictOldest(): void {
    let oldest: string | null = null, at = Infinity;
    for (const [k, p] of this.#pending) {
      if (p.expiresAt < at) [oldest, at] = [k, p.expiresAt];
    }
    if (oldest !== null) this.#pending.delete(oldest);
  }
}

function addRange(r: number[], start: number, end: number): number[] {
  const out: number[] = [];
  let s = start, e = end, i = 0;
  while (i < r.length && r[i + 1]! < s) out.push(r[i]!, r[i + 1]!), i += 2;
  while (i < r.length && r[i]! <= e) s = Math.min(s, r[i]!), e = Math.max(e, r[i + 1]!), i += 2;
  out.push(s, e);
  for (; i < r.length; i++) out.push(r[i]!);
  return out;
}
