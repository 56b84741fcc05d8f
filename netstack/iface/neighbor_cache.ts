/**
 * The neighbor cache shared by ARP (RFC 826) and NDP (RFC 4861): IP address
 * to link address, with expiry and rate-limited resolution.
 *
 * An expired entry is kept and still used (Linux's STALE state) while a
 * refresh is sent, so a long-lived flow does not stall on expiry.
 *
 * @module
 */

import type { EthernetAddress, IpAddress } from "../wire/address.ts";

/** How long a learned entry is fresh. */
export const NEIGHBOR_TTL = 60_000;
/** Minimum gap between resolution requests for one address. */
export const NEIGHBOR_RETRY = 1_000;
/** Entries kept at most; the stalest goes first (a bound against ARP floods). */
export const NEIGHBOR_MAX = 1024;

interface Entry {
  mac: EthernetAddress;
  expiresAt: number;
}

/** The answer to a lookup. */
export type NeighborLookup =
  | { kind: "found"; mac: EthernetAddress; refresh: boolean }
  | { kind: "missing"; request: boolean };

/** @savable */
export class NeighborCache {
  #entries = new Map<string, Entry>();
  /** Next time a request may go out, per address. */
  #requestAt = new Map<string, number>();

  /** Forgets every entry and pending request (the interface went away). */
  clear(): void {
    this.#entries.clear();
    this.#requestAt.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Records a mapping learned from the wire. */
  fill(ip: IpAddress, mac: EthernetAddress, now: number): void {
    const key = ip.toString();
    if (!this.#entries.has(key) && this.#entries.size >= NEIGHBOR_MAX) this.#evictStalest();
    this.#entries.delete(key); // re-insert so Map order tracks freshness
    this.#entries.set(key, { mac, expiresAt: now + NEIGHBOR_TTL });
    this.#requestAt.delete(ip.toString());
  }

  /** Whether an entry exists (fresh or stale). */
  has(ip: IpAddress): boolean {
    return this.#entries.has(ip.toString());
  }

  /**
   * Looks `ip` up. `request`/`refresh` say whether the caller should send a
   * resolution request now; asking counts as having sent one.
   */
  lookup(ip: IpAddress, now: number): NeighborLookup {
    const key = ip.toString();
    const e = this.#entries.get(key);
    const due = (this.#requestAt.get(key) ?? -Infinity) <= now;
    const ask = () => {
      if (due) this.#requestAt.set(key, now + NEIGHBOR_RETRY);
      return due;
    };
    if (e) return { kind: "found", mac: e.mac, refresh: e.expiresAt <= now ? ask() : false };
    return { kind: "missing", request: ask() };
  }

  /** The earliest time a pending request may be retried, if any is pending. */
  nextRetry(): number | null {
    let t: number | null = null;
    for (const [k, at] of this.#requestAt) {
      if (this.#entries.has(k)) continue;
      if (t === null || at < t) t = at;
    }
    return t;
  }

  #evictStalest(): void {
    const first = this.#entries.keys().next();
    if (!first.done) this.#entries.delete(first.value);
  }

  /** Forgets pending requests older than `now` that never got answers. */
  expireRequests(now: number): void {
    for (const [k, at] of this.#requestAt) if (at + NEIGHBOR_TTL < now) this.#requestAt.delete(k);
  }
}
