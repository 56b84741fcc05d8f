/**
 * IPv4 (RFC 791).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |Type of Service|          Total Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |Flags|      Fragment Offset    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options                    |    Padding    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Options are accepted and skipped on input, never emitted.
 *
 * @module
 */

import { Ipv4Address } from "./address.ts";
import { checksum } from "./checksum.ts";

/** Field offsets. */
const F = {
  verIhl: 0,
  tos: 1,
  totalLength: 2,
  ident: 4,
  flagsFrag: 6,
  ttl: 8,
  protocol: 9,
  checksum: 10,
  src: 12,
  dst: 16,
} as const;

/** Length of a header without options. */
export const IPV4_HEADER_LEN = 20;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/** IP protocol numbers (shared by IPv4 "protocol" and IPv6 "next header"). */
export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17, IPV6_FRAGMENT: 44, ICMPV6: 58, UDPLITE: 136 } as const;

/** A view of an IPv4 packet. */
export class Ipv4Packet {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): Ipv4Packet {
    return new Ipv4Packet(b);
  }

  /**
   * Null unless: version is 4, the header length is at least 20 and fits in
   * the total length, and the total length fits in the buffer. Trailing bytes
   * past the total length (link padding) are allowed and ignored.
   */
  static checked(b: Uint8Array): Ipv4Packet | null {
    if (b.length < IPV4_HEADER_LEN) return null;
    const p = new Ipv4Packet(b);
    if (p.version !== 4) return null;
    const hl = p.headerLength;
    if (hl < IPV4_HEADER_LEN) return null;
    const tl = p.totalLength;
    if (tl < hl || tl > b.length) return null;
    return p;
  }

  get version(): number {
    return this.#bytes[F.verIhl]! >> 4;
  }
  /** Header length in bytes. */
  get headerLength(): number {
    return (this.#bytes[F.verIhl]! & 0x0f) * 4;
  }
  set headerLength(n: number) {
    this.#bytes[F.verIhl] = 0x40 | (n >> 2);
  }
  get tos(): number {
    return this.#bytes[F.tos]!;
  }
  set tos(v: number) {
    this.#bytes[F.tos] = v;
  }
  get totalLength(): number {
    return this.#view.getUint16(F.totalLength);
  }
  set totalLength(n: number) {
    this.#view.setUint16(F.totalLength, n);
  }
  get ident(): number {
    return this.#view.getUint16(F.ident);
  }
  set ident(v: number) {
    this.#view.setUint16(F.ident, v);
  }
  get dontFragment(): boolean {
    return (this.#view.getUint16(F.flagsFrag) & FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (this.#view.getUint16(F.flagsFrag) & FLAG_MF) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (this.#view.getUint16(F.flagsFrag) & FRAG_OFFSET_MASK) * 8;
  }
  /** Sets DF, MF and the offset (bytes, a multiple of 8) at once. */
  setFragment(dontFragment: boolean, moreFragments: boolean, offset: number): void {
    this.#view.setUint16(
      F.flagsFrag,
      (dontFragment ? FLAG_DF : 0) | (moreFragments ? FLAG_MF : 0) | (offset >> 3),
    );
  }
  get isFragment(): boolean {
    return (this.#view.getUint16(F.flagsFrag) & (FLAG_MF | FRAG_OFFSET_MASK)) !== 0;
  }
  get ttl(): number {
    return this.#bytes[F.ttl]!;
  }
  set ttl(v: number) {
    this.#bytes[F.ttl] = v;
  }
  get protocol(): number {
    return this.#bytes[F.protocol]!;
  }
  set protocol(v: number) {
    this.#bytes[F.protocol] = v;
  }
  get checksum(): number {
    return this.#view.getUint16(F.checksum);
  }
  set checksum(v: number) {
    this.#view.setUint16(F.checksum, v);
  }
  get src(): Ipv4Address {
    return Ipv4Address.read(this.#bytes, F.src);
  }
  set src(a: Ipv4Address) {
    this.#bytes.set(a.bytes, F.src);
  }
  get dst(): Ipv4Address {
    return Ipv4Address.read(this.#bytes, F.dst);
  }
  set dst(a: Ipv4Address) {
    this.#bytes.set(a.bytes, F.dst);
  }
  /** The header bytes (no copy). */
  get header(): Uint8Array {
    return this.#bytes.subarray(0, this.headerLength);
  }
  /** Payload up to the total length (no copy). */
  get payload(): Uint8Array {
    return this.#bytes.subarray(this.headerLength, this.totalLength);
  }
  /** Whether the header checksum verifies. */
  verifyChecksum(): boolean {
    return checksum(this.header) === 0;
  }
  /** Recomputes the header checksum. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = checksum(this.header);
  }
}

/** Parsed IPv4 header, fragmentation aside. */
export interface Ipv4Repr {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  payloadLength: number;
  hopLimit: number;
}

/** Null if the header checksum fails. Fragmentation fields are read from the packet. */
export function parseIpv4(p: Ipv4Packet): Ipv4Repr | null {
  if (!p.verifyChecksum()) return null;
  return {
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    payloadLength: p.totalLength - p.headerLength,
    hopLimit: p.ttl,
  };
}

/** Writes a 20-byte header with DF clear, ident 0 unless given, and a valid checksum. */
export function emitIpv4(r: Ipv4Repr, p: Ipv4Packet, opts: { ident?: number; tos?: number } = {}): void {
  p.headerLength = IPV4_HEADER_LEN;
  p.tos = opts.tos ?? 0;
  p.totalLength = IPV4_HEADER_LEN + r.payloadLength;
  p.ident = opts.ident ?? 0;
  p.setFragment(false, false, 0);
  p.ttl = r.hopLimit;
  p.protocol = r.protocol;
  p.src = r.src;
  p.dst = r.dst;
  p.fillChecksum();
}
