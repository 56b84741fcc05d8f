/**
 * IPv6 fixed header (RFC 8200 §3).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |           Flow Label                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                         Source Address                        +
 * |                          (16 bytes)                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                      Destination Address                      +
 * |                          (16 bytes)                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Extension headers are not parsed: the next header is reported as is.
 *
 * @module
 */

import { Ipv6Address } from "./address.ts";

/** Field offsets. */
const F = {
  verTcFlow: 0,
  payloadLength: 4,
  nextHeader: 6,
  hopLimit: 7,
  src: 8,
  dst: 24,
  payload: 40,
} as const;

/** Length of the fixed header. */
export const IPV6_HEADER_LEN = 40;

/** A view of an IPv6 packet. */
export class Ipv6Packet {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): Ipv6Packet {
    return new Ipv6Packet(b);
  }

  /** Null unless version is 6 and the payload length fits in the buffer. */
  static checked(b: Uint8Array): Ipv6Packet | null {
    if (b.length < IPV6_HEADER_LEN) return null;
    const p = new Ipv6Packet(b);
    if (p.version !== 6) return null;
    if (IPV6_HEADER_LEN + p.payloadLength > b.length) return null;
    return p;
  }

  get version(): number {
    return this.#bytes[F.verTcFlow]! >> 4;
  }
  get trafficClass(): number {
    return (this.#view.getUint16(F.verTcFlow) >> 4) & 0xff;
  }
  get flowLabel(): number {
    return this.#view.getUint32(F.verTcFlow) & 0xfffff;
  }
  /** Sets version 6 with the given traffic class and flow label. */
  setVersionClassFlow(trafficClass: number, flowLabel: number): void {
    this.#view.setUint32(F.verTcFlow, ((6 << 28) | (trafficClass << 20) | flowLabel) >>> 0);
  }
  get payloadLength(): number {
    return this.#view.getUint16(F.payloadLength);
  }
  set payloadLength(n: number) {
    this.#view.setUint16(F.payloadLength, n);
  }
  get nextHeader(): number {
    return this.#bytes[F.nextHeader]!;
  }
  set nextHeader(v: number) {
    this.#bytes[F.nextHeader] = v;
  }
  get hopLimit(): number {
    return this.#bytes[F.hopLimit]!;
  }
  set hopLimit(v: number) {
    this.#bytes[F.hopLimit] = v;
  }
  get src(): Ipv6Address {
    return new Ipv6Address(this.#bytes.subarray(F.src, F.src + 16));
  }
  set src(a: Ipv6Address) {
    this.#bytes.set(a.bytes, F.src);
  }
  get dst(): Ipv6Address {
    return new Ipv6Address(this.#bytes.subarray(F.dst, F.dst + 16));
  }
  set dst(a: Ipv6Address) {
    this.#bytes.set(a.bytes, F.dst);
  }
  /** Payload up to the payload length (no copy). */
  get payload(): Uint8Array {
    return this.#bytes.subarray(F.payload, F.payload + this.payloadLength);
  }
}

export interface Ipv6Repr {
  src: Ipv6Address;
  dst: Ipv6Address;
  nextHeader: number;
  payloadLength: number;
  hopLimit: number;
}

export function parseIpv6(p: Ipv6Packet): Ipv6Repr {
  return {
    src: p.src,
    dst: p.dst,
    nextHeader: p.nextHeader,
    payloadLength: p.payloadLength,
    hopLimit: p.hopLimit,
  };
}

export function emitIpv6(r: Ipv6Repr, p: Ipv6Packet): void {
  p.setVersionClassFlow(0, 0);
  p.payloadLength = r.payloadLength;
  p.nextHeader = r.nextHeader;
  p.hopLimit = r.hopLimit;
  p.src = r.src;
  p.dst = r.dst;
}
