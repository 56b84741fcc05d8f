/**
 * A device wrapper that damages inbound traffic at seeded-random rates, for
 * testing the stack's recovery paths.
 *
 * Faults are applied on receive, so wrapping each side of a
 * {@linkcode loopbackPair} damages both directions. Each received frame is,
 * in order of checks: dropped; or corrupted (one random bit flipped in a
 * copy); then possibly duplicated (delivered twice); or held back and
 * delivered after the next frame (reordered). Held frames are released when
 * the inner device runs dry, so nothing is lost to reordering alone.
 *
 * Corruption models damage that a link's frame check sequence would not
 * catch: on Ethernet it touches only the IP packet after the 14-byte header,
 * and never ARP frames (which carry no checksum of their own).
 *
 * @module
 */

import type { LinkEndpoint, Medium } from "./endpoint.ts";

/** Link header length and EtherType offset on Ethernet. */
const ETH = { headerLen: 14, ethertype: 12 } as const;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
import { Prng } from "./prng.ts";

/** Probabilities in [0, 1] per received frame. */
export interface FaultRates {
  drop?: number;
  duplicate?: number;
  reorder?: number;
  corrupt?: number;
}

/** Counts of what was done, for tests and logs. */
export interface FaultStats {
  received: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

/** @savable */
export class FaultInjector implements LinkEndpoint {
  /** @nosave The wrapped device; re-attached on restore. */
  readonly #inner: LinkEndpoint;
  readonly #rng: Prng;
  /** Immutable. */
  readonly #rates: Required<FaultRates>;
  readonly stats: FaultStats = { received: 0, dropped: 0, duplicated: 0, reordered: 0, corrupted: 0 };
  /** Frames owned by the injector: a held (reordered) one and a pending duplicate. */
  #held: Uint8Array | null = null;
  #dup: Uint8Array | null = null;
  /** The copy handed out last, kept so it stays valid until the next receive. */
  #out: Uint8Array | null = null;

  constructor(inner: LinkEndpoint, opts: FaultRates & { seed: number }) {
    this.#inner = inner;
    this.#rng = new Prng(opts.seed);
    this.#rates = {
      drop: opts.drop ?? 0,
      duplicate: opts.duplicate ?? 0,
      reorder: opts.reorder ?? 0,
      corrupt: opts.corrupt ?? 0,
    };
  }

  get mtu(): number {
    return this.#inner.mtu;
  }
  get medium(): Medium {
    return this.#inner.medium;
  }

  receive(now: number): Uint8Array | null {
    if (this.#dup) {
      this.#out = this.#dup;
      this.#dup = null;
      return this.#out;
    }
    for (;;) {
      const f = this.#inner.receive(now);
      if (f === null) {
        const h = this.#held;
        this.#held = null;
        return (this.#out = h);
      }
      this.stats.received++;
      const r = this.#rates;
      if (r.drop > 0 && this.#rng.next() < r.drop) {
        this.stats.dropped++;
        continue;
      }
      let frame: Uint8Array | null = null;
      const skip = this.#corruptibleFrom(f);
      if (r.corrupt > 0 && this.#rng.next() < r.corrupt && skip < f.length) {
        frame = f.slice();
        const bit = skip * 8 + this.#rng.below((frame.length - skip) * 8);
        frame[bit >> 3] = frame[bit >> 3]! ^ (1 << (bit & 7));
        this.stats.corrupted++;
      }
      if (r.duplicate > 0 && this.#rng.next() < r.duplicate) {
        frame ??= f.slice();
        this.#dup = frame.slice();
        this.stats.duplicated++;
      }
      if (this.#held === null && r.reorder > 0 && this.#rng.next() < r.reorder) {
        this.#held = frame ?? f.slice();
        this.stats.reordered++;
        continue;
      }
      if (this.#held !== null && this.#dup === null) {
        // Deliver this one now and the held one right after it.
        this.#dup = this.#held;
        this.#held = null;
      }
      this.#out = frame;
      return frame ?? f;
    }
  }

  transmit(now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    return this.#inner.transmit(now, len, fill);
  }

  /** The first byte corruption may touch; the frame length if none. */
  #corruptibleFrom(f: Uint8Array): number {
    if (this.medium !== "ethernet") return 0;
    if (f.length <= ETH.headerLen) return f.length;
    const type = (f[ETH.ethertype]! << 8) | f[ETH.ethertype + 1]!;
    return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6 ? ETH.headerLen : f.length;
  }
}
