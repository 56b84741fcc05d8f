/**
 * ARP for IPv4 over Ethernet (RFC 826).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Hardware type (1)         |     Protocol type (0x0800)    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  HW len (6)   | Proto len (4) |          Operation            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Sender hardware address (6 bytes) ...             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Sender protocol address (4 bytes) ...             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Target hardware address (6 bytes) ...             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Target protocol address (4 bytes) ...             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

import { EthernetAddress, Ipv4Address } from "./address.ts";

/** Field offsets. */
const F = {
  htype: 0,
  ptype: 2,
  hlen: 4,
  plen: 5,
  oper: 6,
  sha: 8,
  spa: 14,
  tha: 18,
  tpa: 24,
} as const;

/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;

export const ArpOperation = { REQUEST: 1, REPLY: 2 } as const;

/** A view of an ARP packet. */
export class ArpPacket {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(b: Uint8Array) {
    this.#bytes = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  static unchecked(b: Uint8Array): ArpPacket {
    return new ArpPacket(b);
  }

  /** Null unless the packet is long enough and describes Ethernet/IPv4. */
  static checked(b: Uint8Array): ArpPacket | null {
    if (b.length < ARP_LEN) return null;
    const p = new ArpPacket(b);
    if (p.htype !== 1 || p.ptype !== 0x0800 || p.hlen !== 6 || p.plen !== 4) return null;
    return p;
  }

  get htype(): number {
    return this.#view.getUint16(F.htype);
  }
  get ptype(): number {
    return this.#view.getUint16(F.ptype);
  }
  get hlen(): number {
    return this.#bytes[F.hlen]!;
  }
  get plen(): number {
    return this.#bytes[F.plen]!;
  }
  get operation(): number {
    return this.#view.getUint16(F.oper);
  }
  get senderHardware(): EthernetAddress {
    return new EthernetAddress(this.#bytes.subarray(F.sha, F.sha + 6));
  }
  get senderProtocol(): Ipv4Address {
    return new Ipv4Address(this.#bytes.subarray(F.spa, F.spa + 4));
  }
  get targetHardware(): EthernetAddress {
    return new EthernetAddress(this.#bytes.subarray(F.tha, F.tha + 6));
  }
  get targetProtocol(): Ipv4Address {
    return new Ipv4Address(this.#bytes.subarray(F.tpa, F.tpa + 4));
  }

  /** Writes every field. */
  setAll(r: ArpRepr): void {
    const v = this.#view;
    v.setUint16(F.htype, 1);
    v.setUint16(F.ptype, 0x0800);
    this.#bytes[F.hlen] = 6;
    this.#bytes[F.plen] = 4;
    v.setUint16(F.oper, r.operation);
    this.#bytes.set(r.senderHardware.bytes, F.sha);
    this.#bytes.set(r.senderProtocol.bytes, F.spa);
    this.#bytes.set(r.targetHardware.bytes, F.tha);
    this.#bytes.set(r.targetProtocol.bytes, F.tpa);
  }
}

export interface ArpRepr {
  operation: number;
  senderHardware: EthernetAddress;
  senderProtocol: Ipv4Address;
  targetHardware: EthernetAddress;
  targetProtocol: Ipv4Address;
}

/** Null for operations other than request and reply. */
export function parseArp(p: ArpPacket): ArpRepr | null {
  const op = p.operation;
  if (op !== ArpOperation.REQUEST && op !== ArpOperation.REPLY) return null;
  return {
    operation: op,
    senderHardware: p.senderHardware,
    senderProtocol: p.senderProtocol,
    targetHardware: p.targetHardware,
    targetProtocol: p.targetProtocol,
  };
}

export function emitArp(r: ArpRepr, p: ArpPacket): void {
  p.setAll(r);
}
