/**
 * Netlink's wire format (linux/netlink.h), shared by every protocol: each message is a 16-byte
 * nlmsghdr (len, type, flags, seq, pid) and a payload aligned to 4; attributes are
 * (len, type) plus value, aligned to 4.
 *
 * @module
 */

import * as C from "../inet/constants.ts";

export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
/** The first type a protocol may use: below it are netlink's own (NOOP, ERROR, DONE, OVERRUN). */
export const NLMSG_MIN_TYPE = 0x10;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
/** On an ack or error message: the request is not echoed past its header. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** NLA_F_NESTED and NLA_F_NET_BYTEORDER: flags in an attribute's type, not part of it. */
export const NLA_TYPE_MASK = 0x3fff;
export const SOCKADDR_NL_LEN = 12;

/** Builds one netlink message: a fixed header struct, then attributes. */
export class MessageBuilder {
  readonly #parts: number[] = [];

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.#parts.push(b[i]!);
    return this;
  }

  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >> 8);
  }

  u32(v: number): this {
    return this.u16(v & 0xffff).u16((v >>> 16) & 0xffff);
  }

  attr(type: number, value: ArrayLike<number>): this {
    this.u16(4 + value.length).u16(type).bytes(value);
    while (this.#parts.length % 4) this.#parts.push(0);
    return this;
  }

  attrU32(type: number, v: number): this {
    return this.attr(type, le32(v));
  }

  attrString(type: number, s: string): this {
    return this.attr(type, [...new TextEncoder().encode(s), 0]);
  }

  /** The message with its nlmsghdr. */
  message(type: number, flags: number, seq: number, pid: number): Uint8Array {
    const body = this.#parts;
    const len = NLMSG_HDRLEN + body.length;
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint32(0, len, true);
    v.setUint16(4, type, true);
    v.setUint16(6, flags, true);
    v.setUint32(8, seq, true);
    v.setUint32(12, pid, true);
    b.set(body, NLMSG_HDRLEN);
    return b;
  }
}

export function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    b.set(p, o);
    o += p.length;
  }
  return b;
}

export function sockaddrNl(pid: number, groups = 0): Uint8Array {
  const b = new Uint8Array(SOCKADDR_NL_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, C.AF_NETLINK, true);
  v.setUint32(4, pid, true);
  v.setUint32(8, groups, true);
  return b;
}

/** The attributes from `from` on, by type (the first of each); null when one is malformed. */
export function parseAttrs(msg: Uint8Array, from: number): Map<number, Uint8Array> | null {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
  let o = from;
  while (o + 4 <= msg.length) {
    const len = v.getUint16(o, true), type = v.getUint16(o + 2, true) & 0x3fff;
    if (len < 4 || o + len > msg.length) return null;
    if (!out.has(type)) out.set(type, msg.subarray(o + 4, o + len));
    o += (len + 3) & ~3;
  }
  return out;
}
