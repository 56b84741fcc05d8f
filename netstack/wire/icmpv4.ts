/**
 * ICMP for IPv4 (RFC 792).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |     Code      |          Checksum             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Rest of header (echo: Identifier | Sequence Number)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Data ...
 * +-+-+-+-+-
 * ```
 *
 * @module
 */

import { checksum } from "./checksum.ts";

/** Field offsets. */
const F = { type: 0, code: 1, checksum: 2, ident: 4, seqNo: 6, rest: 4, data: 8 } as const;

export const ICMPV4_HEADER_LEN = 8;

export const Icmpv4Type = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
} as const;

/** Destination-unreachable codes. */
export const Icmpv4Unreachable = { NET: 0, HOST: 1, PROTOCOL: 2, PORT: 3, FRAG_NEEDED: 4 } as const;

/** A view of an ICMPv4 message. */
export class Icmpv4Packet {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): Icmpv4Packet {
    return new Icmpv4Packet(b);
  }

  /** Null if shorter than the 8-byte header. The message is the whole buffer. */
  static checked(b: Uint8Array): Icmpv4Packet | null {
    return b.length < ICMPV4_HEADER_LEN ? null : new Icmpv4Packet(b);
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
  get rest(): number {
    return this.#view.getUint32(F.rest);
  }
  set rest(v: number) {
    this.#view.setUint32(F.rest, v);
  }
  get data(): Uint8Array {
    return this.#bytes.subarray(F.data);
  }
  verifyChecksum(): boolean {
    return checksum(this.#bytes) === 0;
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = checksum(this.#bytes);
  }
}

export type Icmpv4Repr =
  | { kind: "echoRequest" | "echoReply"; ident: number; seqNo: number; data: Uint8Array }
  | { kind: "other"; type: number; code: number; rest: number; data: Uint8Array };

/** Null on a bad checksum. `data` is a view into the packet. */
export function parseIcmpv4(p: Icmpv4Packet): Icmpv4Repr | null {
  if (!p.verifyChecksum()) return null;
  if ((p.type === Icmpv4Type.ECHO_REQUEST || p.type === Icmpv4Type.ECHO_REPLY) && p.code === 0) {
    return {
      kind: p.type === Icmpv4Type.ECHO_REQUEST ? "echoRequest" : "echoReply",
      ident: p.ident,
      seqNo: p.seqNo,
      data: p.data,
    };
  }
  return { kind: "other", type: p.type, code: p.code, rest: p.rest, data: p.data };
}

/** Length of the emitted message. */
export function icmpv4Len(r: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN + r.data.length;
}

/** Writes the whole message; `p` must be exactly {@linkcode icmpv4Len} long. */
export function emitIcmpv4(r: Icmpv4Repr, p: Icmpv4Packet): void {
  if (r.kind === "other") {
    p.type = r.type;
    p.code = r.code;
    p.rest = r.rest;
  } else {
    p.type = r.kind === "echoRequest" ? Icmpv4Type.ECHO_REQUEST : Icmpv4Type.ECHO_REPLY;
    p.code = 0;
    p.ident = r.ident;
    p.seqNo = r.seqNo;
  }
  p.data.set(r.data);
  p.fillChecksum();
}
