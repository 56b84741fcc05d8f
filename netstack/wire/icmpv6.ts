/**
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages of RFC 4861 §4.3-4.4.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |     Code      |          Checksum             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Rest of header (echo: Identifier | Sequence; NA: R|S|O flags)|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Body: data, or for NS/NA the 16-byte target then options    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * NDP option:  | Type | Length (8-byte units) | value ... |
 * ```
 *
 * The checksum covers the IPv6 pseudo-header, so parse and emit take the
 * addresses.
 *
 * @module
 */

import { EthernetAddress, Ipv6Address } from "./address.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "./checksum.ts";
import { IpProtocol } from "./ipv4.ts";

/** Field offsets. */
const F = { type: 0, code: 1, checksum: 2, rest: 4, ident: 4, seqNo: 6, flags: 4, body: 8 } as const;
/** Offsets inside an NS/NA body. */
const ND = { target: 8, options: 24 } as const;

export const ICMPV6_HEADER_LEN = 8;

export const Icmpv6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAM_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
} as const;

const NDP_OPT_SOURCE_LL = 1;
const NDP_OPT_TARGET_LL = 2;
const NA_FLAG_ROUTER = 0x80;
const NA_FLAG_SOLICITED = 0x40;
const NA_FLAG_OVERRIDE = 0x20;

/** A view of an ICMPv6 message. */
export class Icmpv6Packet {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): Icmpv6Packet {
    return new Icmpv6Packet(b);
  }

  /** Null if shorter than the header, or than the fixed part of an NS/NA. */
  static checked(b: Uint8Array): Icmpv6Packet | null {
    if (b.length < ICMPV6_HEADER_LEN) return null;
    const t = b[0];
    if ((t === Icmpv6Type.NEIGHBOR_SOLICIT || t === Icmpv6Type.NEIGHBOR_ADVERT) && b.length < ND.options) {
      return null;
    }
    return new Icmpv6Packet(b);
  }

  get bytes(): Uint8Array {
    return this.#bytes;
  }
  get type(): number {
    return this.#bytes[F.type]!;
  }
  set type(v: number) {
    this.#bytes[F.type] = v;
  }
  get code(): number {
    return this.#bytes[F.code]!;
  }
  set code(v: number) {
    this.#bytes[F.code] = v;
  }
  get checksum(): number {
    return this.#view.getUint16(F.checksum);
  }
  set checksum(v: number) {
    this.#view.setUint16(F.checksum, v);
  }
  get rest(): number {
    return this.#view.getUint32(F.rest);
  }
  set rest(v: number) {
    this.#view.setUint32(F.rest, v);
  }
  get ident(): number {
    return this.#view.getUint16(F.ident);
  }
  set ident(v: number) {
    this.#view.setUint16(F.ident, v);
  }
  get seqNo(): number {
    return this.#view.getUint16(F.seqNo);
  }
  set seqNo(v: number) {
    this.#view.setUint16(F.seqNo, v);
  }
  get flags(): number {
    return this.#bytes[F.flags]!;
  }
  get body(): Uint8Array {
    return this.#bytes.subarray(F.body);
  }
  get target(): Ipv6Address {
    return new Ipv6Address(this.#bytes.subarray(ND.target, ND.target + 16));
  }
  set target(a: Ipv6Address) {
    this.#bytes.set(a.bytes, ND.target);
  }
  get options(): Uint8Array {
    return this.#bytes.subarray(ND.options);
  }
  verifyChecksum(src: Ipv6Address, dst: Ipv6Address): boolean {
    const s = pseudoHeaderSum({ src, dst, protocol: IpProtocol.ICMPV6, length: this.#bytes.length });
    return checksumFinish(checksumAdd(s, this.#bytes)) === 0;
  }
  fillChecksum(src: Ipv6Address, dst: Ipv6Address): void {
    this.checksum = 0;
    const s = pseudoHeaderSum({ src, dst, protocol: IpProtocol.ICMPV6, length: this.#bytes.length });
    this.checksum = checksumFinish(checksumAdd(s, this.#bytes));
  }
}

export type Icmpv6Repr =
  | { kind: "echoRequest" | "echoReply"; ident: number; seqNo: number; data: Uint8Array }
  | { kind: "neighborSolicit"; target: Ipv6Address; sourceLinkAddr: EthernetAddress | null }
  | {
    kind: "neighborAdvert";
    router: boolean;
    solicited: boolean;
    override: boolean;
    target: Ipv6Address;
    targetLinkAddr: EthernetAddress | null;
  }
  | { kind: "other"; type: number; code: number; rest: number; data: Uint8Array };

/** Finds a link-layer address option of `kind`; undefined on malformed options. */
function findLinkAddrOption(opts: Uint8Array, kind: number): EthernetAddress | null | undefined {
  let found: EthernetAddress | null = null;
  for (let i = 0; i < opts.length;) {
    if (i + 2 > opts.length) return undefined;
    const len = opts[i + 1]! * 8;
    if (len === 0 || i + len > opts.length) return undefined;
    if (opts[i] === kind && len >= 8) found = new EthernetAddress(opts.subarray(i + 2, i + 8));
    i += len;
  }
  return found;
}

/** Null on a bad checksum or malformed NDP options. */
export function parseIcmpv6(p: Icmpv6Packet, addrs: { src: Ipv6Address; dst: Ipv6Address }): Icmpv6Repr | null {
  if (!p.verifyChecksum(addrs.src, addrs.dst)) return null;
  switch (p.type) {
    case Icmpv6Type.ECHO_REQUEST:
    case Icmpv6Type.ECHO_REPLY:
      return {
        kind: p.type === Icmpv6Type.ECHO_REQUEST ? "echoRequest" : "echoReply",
        ident: p.ident,
        seqNo: p.seqNo,
        data: p.body,
      };
    case Icmpv6Type.NEIGHBOR_SOLICIT: {
      if (p.code !== 0) return null;
      const ll = findLinkAddrOption(p.options, NDP_OPT_SOURCE_LL);
      if (ll === undefined) return null;
      return { kind: "neighborSolicit", target: p.target, sourceLinkAddr: ll };
    }
    case Icmpv6Type.NEIGHBOR_ADVERT: {
      if (p.code !== 0) return null;
      const ll = findLinkAddrOption(p.options, NDP_OPT_TARGET_LL);
      if (ll === undefined) return null;
      const f = p.flags;
      return {
        kind: "neighborAdvert",
        router: (f & NA_FLAG_ROUTER) !== 0,
        solicited: (f & NA_FLAG_SOLICITED) !== 0,
        override: (f & NA_FLAG_OVERRIDE) !== 0,
        target: p.target,
        targetLinkAddr: ll,
      };
    }
    default:
      return { kind: "other", type: p.type, code: p.code, rest: p.rest, data: p.body };
  }
}

/** Length of the emitted message. */
export function icmpv6Len(r: Icmpv6Repr): number {
  switch (r.kind) {
    case "neighborSolicit":
      return ND.options + (r.sourceLinkAddr ? 8 : 0);
    case "neighborAdvert":
      return ND.options + (r.targetLinkAddr ? 8 : 0);
    default:
      return ICMPV6_HEADER_LEN + r.data.length;
  }
}

/** Writes the whole message including the checksum; `p` must be {@linkcode icmpv6Len} long. */
export function emitIcmpv6(r: Icmpv6Repr, p: Icmpv6Packet, addrs: { src: Ipv6Address; dst: Ipv6Address }): void {
  p.code = 0;
  p.rest = 0;
  switch (r.kind) {
    case "echoRequest":
    case "echoReply":
      p.type = r.kind === "echoRequest" ? Icmpv6Type.ECHO_REQUEST : Icmpv6Type.ECHO_REPLY;
      p.ident = r.ident;
      p.seqNo = r.seqNo;
      p.body.set(r.data);
      break;
    case "neighborSolicit":
      p.type = Icmpv6Type.NEIGHBOR_SOLICIT;
      p.target = r.target;
      if (r.sourceLinkAddr) {
        p.options.set([NDP_OPT_SOURCE_LL, 1, ...r.sourceLinkAddr.bytes]);
      }
      break;
    case "neighborAdvert":
      p.type = Icmpv6Type.NEIGHBOR_ADVERT;
      p.rest = ((r.router ? NA_FLAG_ROUTER : 0) | (r.solicited ? NA_FLAG_SOLICITED : 0) |
        (r.override ? NA_FLAG_OVERRIDE : 0)) << 24 >>> 0;
      p.target = r.target;
      if (r.targetLinkAddr) {
        p.options.set([NDP_OPT_TARGET_LL, 1, ...r.targetLinkAddr.bytes]);
      }
      break;
    case "other":
      p.type = r.type;
      p.code = r.code;
      p.rest = r.rest;
      p.body.set(r.data);
      break;
  }
  p.fillChecksum(addrs.src, addrs.dst);
}
