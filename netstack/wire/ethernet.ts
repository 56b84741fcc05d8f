/**
 * Ethernet II frames (IEEE 802.3, DIX framing).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination MAC address                    |
 * +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                               |                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 * |                      Source MAC address                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           EtherType           |            Payload ...        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

import { EthernetAddress } from "./address.ts";

/** Field offsets. */
const F = { dst: 0, src: 6, ethertype: 12, payload: 14 } as const;

/** Length of the Ethernet II header. */
export const ETHERNET_HEADER_LEN = 14;

/** EtherType values used by the stack. */
export const EtherType = { IPV4: 0x0800, ARP: 0x0806, IPV6: 0x86dd } as const;

/** A view of an Ethernet II frame. */
export class EthernetFrame {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Wraps a buffer we own; the caller guarantees it is long enough. */
  static unchecked(b: Uint8Array): EthernetFrame {
    return new EthernetFrame(b);
  }

  /** Wraps untrusted input; null if it cannot hold a header. */
  static checked(b: Uint8Array): EthernetFrame | null {
    return b.length < ETHERNET_HEADER_LEN ? null : new EthernetFrame(b);
  }

  get dst(): EthernetAddress {
    return new EthernetAddress(this.#bytes.subarray(F.dst, F.dst + 6));
  }
  set dst(a: EthernetAddress) {
    this.#bytes.set(a.bytes, F.dst);
  }
  get src(): EthernetAddress {
    return new EthernetAddress(this.#bytes.subarray(F.src, F.src + 6));
  }
  set src(a: EthernetAddress) {
    this.#bytes.set(a.bytes, F.src);
  }
  /** Whether the destination is `a`, without allocating. */
  dstIs(a: EthernetAddress): boolean {
    const b = this.#bytes, m = a.bytes;
    return b[0] === m[0] && b[1] === m[1] && b[2] === m[2] && b[3] === m[3] && b[4] === m[4] && b[5] === m[5];
  }
  /** Whether the destination is broadcast or multicast (the group bit). */
  get dstIsGroup(): boolean {
    return (this.#bytes[F.dst]! & 1) !== 0;
  }
  get ethertype(): number {
    return this.#view.getUint16(F.ethertype);
  }
  set ethertype(v: number) {
    this.#view.setUint16(F.ethertype, v);
  }
  /** Everything after the header (no copy). */
  get payload(): Uint8Array {
    return this.#bytes.subarray(F.payload);
  }
}

/** Parsed Ethernet header. */
export interface EthernetRepr {
  src: EthernetAddress;
  dst: EthernetAddress;
  ethertype: number;
}

export function parseEthernet(f: EthernetFrame): EthernetRepr {
  return { src: f.src, dst: f.dst, ethertype: f.ethertype };
}

/** Writes the header; the payload is the caller's business. */
export function emitEthernet(r: EthernetRepr, f: EthernetFrame): void {
  f.dst = r.dst;
  f.src = r.src;
  f.ethertype = r.ethertype;
}
