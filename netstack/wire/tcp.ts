/**
 * TCP segments (RFC 9293 §3.1) with the options of RFC 9293 (MSS),
 * RFC 7323 (window scale, timestamps) and RFC 2018 (SACK).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Sequence Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Acknowledgment Number                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * |       |       |R|E|G|K|H|T|N|N|                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Checksum            |         Urgent Pointer        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           [Options]                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                             Data ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Options: EOL(0)  NOP(1)  MSS(2,4,mss16)  WS(3,3,shift)  SACK-perm(4,2)
 *          SACK(5,2+8n,{left32,right32}*n)  TS(8,10,tsval32,tsecr32)
 * ```
 *
 * The URG flag and urgent pointer are parsed and ignored (RFC 6093 advises
 * against urgent data); ECN bits are neither set nor interpreted.
 *
 * @module
 */

import type { IpAddress } from "./address.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "./checksum.ts";
import { IpProtocol } from "./ipv4.ts";
import { seq, type SeqNumber } from "./seq_number.ts";

/** Field offsets. */
const F = {
  srcPort: 0,
  dstPort: 2,
  seq: 4,
  ack: 8,
  dataOffset: 12,
  flags: 13,
  window: 14,
  checksum: 16,
  urgent: 18,
  options: 20,
} as const;

export const TCP_HEADER_LEN = 20;
const MAX_OPTIONS_LEN = 40;

/** Flag bits in byte 13. */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** Option kinds. */
const Opt = { EOL: 0, NOP: 1, MSS: 2, WS: 3, SACK_PERM: 4, SACK: 5, TS: 8 } as const;

/** A view of a TCP segment. The buffer must be exactly the IP payload. */
export class TcpPacket {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): TcpPacket {
    return new TcpPacket(b);
  }

  /** Null unless 20 <= header length <= buffer length. */
  static checked(b: Uint8Array): TcpPacket | null {
    if (b.length < TCP_HEADER_LEN) return null;
    const p = new TcpPacket(b);
    const hl = p.headerLength;
    if (hl < TCP_HEADER_LEN || hl > b.length) return null;
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
  get seq(): SeqNumber {
    return seq(this.#view.getUint32(F.seq));
  }
  set seq(v: SeqNumber) {
    this.#view.setUint32(F.seq, v);
  }
  get ack(): SeqNumber {
    return seq(this.#view.getUint32(F.ack));
  }
  set ack(v: SeqNumber) {
    this.#view.setUint32(F.ack, v);
  }
  /** Header length in bytes, options included. */
  get headerLength(): number {
    return (this.#bytes[F.dataOffset]! >> 4) * 4;
  }
  set headerLength(n: number) {
    this.#bytes[F.dataOffset] = (n >> 2) << 4;
  }
  get flags(): number {
    return this.#bytes[F.flags]!;
  }
  set flags(v: number) {
    this.#bytes[F.flags] = v;
  }
  get window(): number {
    return this.#view.getUint16(F.window);
  }
  set window(v: number) {
    this.#view.setUint16(F.window, v);
  }
  get checksum(): number {
    return this.#view.getUint16(F.checksum);
  }
  set checksum(v: number) {
    this.#view.setUint16(F.checksum, v);
  }
  get urgent(): number {
    return this.#view.getUint16(F.urgent);
  }
  set urgent(v: number) {
    this.#view.setUint16(F.urgent, v);
  }
  get options(): Uint8Array {
    return this.#bytes.subarray(F.options, this.headerLength);
  }
  get payload(): Uint8Array {
    return this.#bytes.subarray(this.headerLength);
  }
  verifyChecksum(src: IpAddress, dst: IpAddress): boolean {
    const s = pseudoHeaderSum({ src, dst, protocol: IpProtocol.TCP, length: this.#bytes.length });
    return checksumFinish(checksumAdd(s, this.#bytes)) === 0;
  }
  fillChecksum(src: IpAddress, dst: IpAddress): void {
    this.checksum = 0;
    const s = pseudoHeaderSum({ src, dst, protocol: IpProtocol.TCP, length: this.#bytes.length });
    this.checksum = checksumFinish(checksumAdd(s, this.#bytes));
  }
}

/** A SACK block: [left, right) in sequence space. */
export interface SackBlock {
  left: SeqNumber;
  right: SeqNumber;
}

/** A timestamp option. */
export interface TcpTimestamp {
  tsVal: number;
  tsEcr: number;
}

/** A parsed segment. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: SeqNumber;
  /** The acknowledgment number; null when the ACK flag is clear. */
  ack: SeqNumber | null;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  psh: boolean;
  /** The raw 16-bit window field, unscaled. */
  window: number;
  maxSegSize: number | null;
  windowScale: number | null;
  sackPermitted: boolean;
  sackBlocks: SackBlock[];
  timestamp: TcpTimestamp | null;
  payload: Uint8Array;
}

/** The payload of reprs without one: shared, since nothing can be written into it. */
const NO_PAYLOAD = new Uint8Array(0);

/** A repr with every option absent and no payload; spread it and override. */
export function tcpReprDefaults(): TcpRepr {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: seq(0),
    ack: null,
    syn: false,
    fin: false,
    rst: false,
    psh: false,
    window: 0,
    maxSegSize: null,
    windowScale: null,
    sackPermitted: false,
    sackBlocks: [],
    timestamp: null,
    payload: NO_PAYLOAD,
  };
}

/** Sequence space consumed: payload plus one each for SYN and FIN. */
export function tcpSegmentLen(r: TcpRepr): number {
  return r.payload.length + (r.syn ? 1 : 0) + (r.fin ? 1 : 0);
}

/**
 * Null on a bad checksum or malformed options (a length that
 * overruns the option space or is shorter than the option's fixed size).
 * `payload` is a view into the packet. `verify: false` skips the checksum,
 * for packets that never left the host (as Linux's CHECKSUM_UNNECESSARY).
 */
export function parseTcp(
  p: TcpPacket,
  addrs: { src: IpAddress; dst: IpAddress; verify?: boolean },
): TcpRepr | null {
  // A zero port is no error (Linux answers a SYN to port 0 with a RST, which comes from it).
  if (addrs.verify !== false && !p.verifyChecksum(addrs.src, addrs.dst)) return null;
  const flags = p.flags;
  const r: TcpRepr = {
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    seq: p.seq,
    ack: (flags & TcpFlag.ACK) ? p.ack : null,
    syn: (flags & TcpFlag.SYN) !== 0,
    fin: (flags & TcpFlag.FIN) !== 0,
    rst: (flags & TcpFlag.RST) !== 0,
    psh: (flags & TcpFlag.PSH) !== 0,
    window: p.window,
    maxSegSize: null,
    windowScale: null,
    sackPermitted: false,
    sackBlocks: [],
    timestamp: null,
    payload: p.payload,
  };
  const o = p.options;
  const v = new DataView(o.buffer, o.byteOffset, o.byteLength);
  for (let i = 0; i < o.length;) {
    const kind = o[i]!;
    if (kind === Opt.EOL) break;
    if (kind === Opt.NOP) {
      i++;
      continue;
    }
    if (i + 2 > o.length) return null;
    const len = o[i + 1]!;
    if (len < 2 || i + len > o.length) return null;
    switch (kind) {
      case Opt.MSS:
        if (len !== 4) return null;
        r.maxSegSize = v.getUint16(i + 2);
        break;
      case Opt.WS:
        if (len !== 3) return null;
        r.windowScale = Math.min(o[i + 2]!, 14); // RFC 7323 §2.3: clamp to 14
        break;
      case Opt.SACK_PERM:
        if (len !== 2) return null;
        r.sackPermitted = true;
        break;
      case Opt.SACK:
        if ((len - 2) % 8 !== 0) return null;
        for (let j = i + 2; j < i + len; j += 8) {
          r.sackBlocks.push({ left: seq(v.getUint32(j)), right: seq(v.getUint32(j + 4)) });
        }
        break;
      case Opt.TS:
        if (len !== 10) return null;
        r.timestamp = { tsVal: v.getUint32(i + 2), tsEcr: v.getUint32(i + 6) };
        break;
      default:
        break; // unknown options are skipped
    }
    i += len;
  }
  return r;
}

/** How many SACK blocks fit beside the other options of `r` (emitTcp writes that many). */
export function sackBlocksThatFit(r: TcpRepr): number {
  const left = MAX_OPTIONS_LEN - fixedOptionsLen(r) - 4;
  return Math.max(0, Math.min(r.sackBlocks.length, Math.floor(left / 8)));
}

function fixedOptionsLen(r: TcpRepr): number {
  return (r.maxSegSize !== null ? 4 : 0) + (r.windowScale !== null ? 4 : 0) +
    (r.sackPermitted ? 4 : 0) + (r.timestamp !== null ? 12 : 0);
}

/** Header length `emitTcp` will write, options included (a multiple of 4). */
export function tcpHeaderLen(r: TcpRepr): number {
  const n = sackBlocksThatFit(r);
  return TCP_HEADER_LEN + fixedOptionsLen(r) + (n > 0 ? 4 + 8 * n : 0);
}

/**
 * Writes header, options and payload, then the checksum. `p` must be exactly
 * `tcpHeaderLen(r) + r.payload.length` long. SACK blocks that do not fit are
 * dropped from the end.
 */
export function emitTcp(r: TcpRepr, p: TcpPacket, addrs: { src: IpAddress; dst: IpAddress }): void {
  const hl = tcpHeaderLen(r);
  p.srcPort = r.srcPort;
  p.dstPort = r.dstPort;
  p.seq = r.seq;
  p.ack = r.ack ?? seq(0);
  p.headerLength = hl;
  p.flags = (r.fin ? TcpFlag.FIN : 0) | (r.syn ? TcpFlag.SYN : 0) | (r.rst ? TcpFlag.RST : 0) |
    (r.psh ? TcpFlag.PSH : 0) | (r.ack !== null ? TcpFlag.ACK : 0);
  p.window = r.window;
  p.urgent = 0;
  const o = p.options;
  const v = new DataView(o.buffer, o.byteOffset, o.byteLength);
  let i = 0;
  if (r.maxSegSize !== null) {
    o[i] = Opt.MSS, o[i + 1] = 4, v.setUint16(i + 2, r.maxSegSize);
    i += 4;
  }
  if (r.windowScale !== null) {
    o[i] = Opt.NOP, o[i + 1] = Opt.WS, o[i + 2] = 3, o[i + 3] = r.windowScale;
    i += 4;
  }
  if (r.sackPermitted) {
    o[i] = Opt.NOP, o[i + 1] = Opt.NOP, o[i + 2] = Opt.SACK_PERM, o[i + 3] = 2;
    i += 4;
  }
  if (r.timestamp !== null) {
    o[i] = Opt.NOP, o[i + 1] = Opt.NOP, o[i + 2] = Opt.TS, o[i + 3] = 10;
    v.setUint32(i + 4, r.timestamp.tsVal);
    v.setUint32(i + 8, r.timestamp.tsEcr);
    i += 12;
  }
  const n = sackBlocksThatFit(r);
  if (n > 0) {
    o[i] = Opt.NOP, o[i + 1] = Opt.NOP, o[i + 2] = Opt.SACK, o[i + 3] = 2 + 8 * n;
    i += 4;
    for (let k = 0; k < n; k++, i += 8) {
      const b = r.sackBlocks[k]!;
      v.setUint32(i, b.left);
      v.setUint32(i + 4, b.right);
    }
  }
  p.payload.set(r.payload);
  p.fillChecksum(addrs.src, addrs.dst);
}
