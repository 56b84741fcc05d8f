/**
 * UDP (RFC 768).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            Length             |           Checksum            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Data ...
 * +-+-+-+-+-
 * ```
 *
 * @module
 */

import type { IpAddress } from "./address.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "./checksum.ts";
import { IpProtocol } from "./ipv4.ts";

/** Field offsets. */
const F = { srcPort: 0, dstPort: 2, length: 4, checksum: 6, payload: 8 } as const;

export const UDP_HEADER_LEN = 8;

/** A view of a UDP datagram. */
export class UdpPacket {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): UdpPacket {
    return new UdpPacket(b);
  }

  /** Null unless 8 <= length field <= buffer length. */
  static checked(b: Uint8Array): UdpPacket | null {
    if (b.length < UDP_HEADER_LEN) return null;
    const p = new UdpPacket(b);
    const len = p.length;
    if (len < UDP_HEADER_LEN || len > b.length) return null;
    return p;
  }

  get srcPort(): number {
    return this.#view.getUint16(F.srcPort);
  }
  set srcPort(v: number) {
    this.#view.setUint16(F.srcPort, v);
  }
  get dstPort(): number {
    return this.#view.getUint16(F.dstPort);
  }
  set dstPort(v: number) {
    this.#view.setUint16(F.dstPort, v);
  }
  get length(): number {
    return this.#view.getUint16(F.length);
  }
  set length(v: number) {
    this.#view.setUint16(F.length, v);
  }
  get checksum(): number {
    return this.#view.getUint16(F.checksum);
  }
  set checksum(v: number) {
    this.#view.setUint16(F.checksum, v);
  }
  get payload(): Uint8Array {
    return this.#bytes.subarray(F.payload, this.length);
  }
  /** Verifies; a zero checksum over IPv4 means "not computed" and passes. */
  verifyChecksum(src: IpAddress, dst: IpAddress): boolean {
    if (src.version === 4 && this.checksum === 0) return true;
    const len = this.length;
    const s = pseudoHeaderSum({ src, dst, protocol: IpProtocol.UDP, length: len });
    return checksumFinish(checksumAdd(s, this.#bytes.subarray(0, len))) === 0;
  }
  fillChecksum(src: IpAddress, dst: IpAddress): void {
    this.checksum = 0;
    const len = this.length;
    const s = pseudoHeaderSum({ src, dst, protocol: IpProtocol.UDP, length: len });
    // A computed zero is sent as all ones (RFC 768).
    this.checksum = checksumFinish(checksumAdd(s, this.#bytes.subarray(0, len))) || 0xffff;
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
}

/** Null on a bad checksum or a zero destination port. */
export function parseUdp(p: UdpPacket, addrs: { src: IpAddress; dst: IpAddress }): UdpRepr | null {
  if (p.dstPort === 0) return null;
  if (!p.verifyChecksum(addrs.src, addrs.dst)) return null;
  return { srcPort: p.srcPort, dstPort: p.dstPort };
}

/** Writes header and payload and fills the checksum. */
export function emitUdp(
  r: UdpRepr,
  p: UdpPacket,
  opts: { src: IpAddress; dst: IpAddress; payload: Uint8Array },
): void {
  p.srcPort = r.srcPort;
  p.dstPort = r.dstPort;
  p.length = UDP_HEADER_LEN + opts.payload.length;
  p.payload.set(opts.payload);
  p.fillChecksum(opts.src, opts.dst);
}

// --- UDP-Lite (RFC 3828): UDP's header with the length field read as the checksum coverage. ---

/** A UDP-Lite datagram's ports and coverage as parsed (Linux's udplite_checksum_init). */
export interface UdpLiteRepr extends UdpRepr {
  /** Bytes the checksum covers, header included: the whole datagram when the field says 0. */
  coverage: number;
  /** The coverage is less than the datagram (Linux's UDP_SKB_CB(skb)->partial_cov). */
  partial: boolean;
  payload: Uint8Array;
}

/**
 * The whole of `b` as a UDP-Lite datagram (its length is the IP payload's), or null: shorter than
 * a header, a coverage below the header or past the end, a zero destination port or a checksum
 * that does not hold over the covered bytes (a UDP-Lite checksum is never optional).
 */
export function parseUdpLite(b: Uint8Array, addrs: { src: IpAddress; dst: IpAddress }): UdpLiteRepr | null {
  if (b.length < UDP_HEADER_LEN) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const field = v.getUint16(F.length);
  const coverage = field === 0 ? b.length : field;
  if (coverage < UDP_HEADER_LEN || coverage > b.length) return null;
  const dstPort = v.getUint16(F.dstPort);
  if (dstPort === 0) return null;
  const s = pseudoHeaderSum({ src: addrs.src, dst: addrs.dst, protocol: IpProtocol.UDPLITE, length: b.length });
  if (checksumFinish(checksumAdd(s, b.subarray(0, coverage))) !== 0) return null;
  return { srcPort: v.getUint16(F.srcPort), dstPort, coverage, partial: coverage < b.length, payload: b.subarray(UDP_HEADER_LEN) };
}

/**
 * Writes a UDP-Lite datagram into `b` (exactly header and payload long): `field` is the coverage
 * field as the sender chose it (0: all), and the checksum covers that much (RFC 3828 3.1).
 */
export function emitUdpLite(r: UdpRepr, b: Uint8Array, opts: { src: IpAddress; dst: IpAddress; payload: Uint8Array; field: number }): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  v.setUint16(F.srcPort, r.srcPort);
  v.setUint16(F.dstPort, r.dstPort);
  v.setUint16(F.length, opts.field);
  v.setUint16(F.checksum, 0);
  b.set(opts.payload, UDP_HEADER_LEN);
  const covered = opts.field === 0 ? b.length : opts.field;
  const s = pseudoHeaderSum({ src: opts.src, dst: opts.dst, protocol: IpProtocol.UDPLITE, length: b.length });
  v.setUint16(F.checksum, checksumFinish(checksumAdd(s, b.subarray(0, covered))) || 0xffff);
}
