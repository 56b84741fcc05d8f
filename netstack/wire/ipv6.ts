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

export function emitIpv6(r: Ipv6Repr, p: Ipv6Packet, trafficClass = 0): void {
  p.setVersionClassFlow(trafficClass, 0);
  p.payloadLength = r.payloadLength;
  p.nextHeader = r.nextHeader;
  p.hopLimit = r.hopLimit;
  p.src = r.src;
  p.dst = r.dst;
}

/** Extension header numbers (RFC 8200 §4) the stack knows how to walk. */
export const Ipv6ExtHeader = {
  HOP_BY_HOP: 0,
  ROUTING: 43,
  FRAGMENT: 44,
  DEST_OPTIONS: 60,
} as const;

/** Length of the fragment header. */
export const IPV6_FRAGMENT_HEADER_LEN = 8;

/**
 * Fragment header field offsets (RFC 8200 §4.5):
 *
 * ```
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Identification                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 */
const FH = { nextHeader: 0, reserved: 1, offsetFlags: 2, ident: 4 } as const;

/** A view of an IPv6 fragment header. */
export class Ipv6FragmentHeader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): Ipv6FragmentHeader {
    return new Ipv6FragmentHeader(b);
  }

  /** Null if shorter than 8 bytes. */
  static checked(b: Uint8Array): Ipv6FragmentHeader | null {
    return b.length < IPV6_FRAGMENT_HEADER_LEN ? null : new Ipv6FragmentHeader(b);
  }

  get nextHeader(): number {
    return this.#bytes[FH.nextHeader]!;
  }
  /** Offset of this fragment's data in bytes (a multiple of 8). */
  get offset(): number {
    return this.#view.getUint16(FH.offsetFlags) & 0xfff8;
  }
  get moreFragments(): boolean {
    return (this.#view.getUint16(FH.offsetFlags) & 1) !== 0;
  }
  get ident(): number {
    return this.#view.getUint32(FH.ident);
  }
  /** Data after the header (no copy). */
  get payload(): Uint8Array {
    return this.#bytes.subarray(IPV6_FRAGMENT_HEADER_LEN);
  }

  /** Writes every field; `offset` must be a multiple of 8. */
  setAll(f: { nextHeader: number; offset: number; more: boolean; ident: number }): void {
    this.#bytes[FH.nextHeader] = f.nextHeader;
    this.#bytes[FH.reserved] = 0;
    this.#view.setUint16(FH.offsetFlags, (f.offset & 0xfff8) | (f.more ? 1 : 0));
    this.#view.setUint32(FH.ident, f.ident >>> 0);
  }
}

/**
 * Walks hop-by-hop, routing and destination-options headers starting at
 * `payload` (whose type is `nextHeader`). Returns the first other header's
 * type and offset, or null if an extension header overruns the payload.
 * Option contents are not interpreted.
 */
export function skipIpv6Extensions(
  nextHeader: number,
  payload: Uint8Array,
): { nextHeader: number; offset: number } | null {
  let nh = nextHeader, off = 0;
  while (nh === Ipv6ExtHeader.HOP_BY_HOP || nh === Ipv6ExtHeader.ROUTING || nh === Ipv6ExtHeader.DEST_OPTIONS) {
    if (off + 2 > payload.length) return null;
    const len = (payload[off + 1]! + 1) * 8;
    if (off + len > payload.length) return null;
    nh = payload[off]!;
    off += len;
  }
  return { nextHeader: nh, offset: off };
}
