/**
 * Raw IP sockets, as Linux's raw(7) and gVisor's tcpip/transport/raw: the socket names one IP
 * protocol; every packet of that protocol the stack takes in is also copied to it (IPv4 with
 * its IP header, IPv6 without), filtered by the bound (local) and connected (remote) address
 * and, for ICMP, the socket's type filter. Sends hand the stack either an upper-layer payload,
 * which gets an IP header, or (IP_HDRINCL) a whole IPv4 packet.
 *
 * The socket holds no clock: sends are queued and leave at the next poll, as ping sockets'.
 *
 * @module
 */

import { MessageQueues } from "../message_queues.ts";
import type { IpAddress } from "../wire/address.ts";

/** A packet a raw socket received. */
export interface RawPacket {
  src: IpAddress;
  dst: IpAddress;
  /** IPv4: the IP header and payload; IPv6: the payload after the extension headers. */
  data: Uint8Array;
  /** The header's TTL (hop limit) and TOS (traffic class), for IP_RECVTTL and friends. */
  ttl: number;
  tos: number;
}

/** A packet a raw socket wants sent. */
export interface RawSend {
  /** Where it is routed (sendto's address); with IP_HDRINCL the header's own may differ. */
  dst: IpAddress;
  /** The source address, or null for the route's. */
  src: IpAddress | null;
  /** The payload, or with `hdrincl` the whole IPv4 packet. */
  data: Uint8Array;
  hdrincl: boolean;
  ttl: number;
  tos: number;
  /** IPv6: where to put the upper-layer checksum in the payload, or -1 for none. */
  checksumOffset: number;
}

/** What a raw socket needs from its stack. */
export interface RawHost {
  rawUnregister(sock: RawSocket): void;
}

/** What the stack does with a packet the socket wants sent; false if it must wait. */
export type RawEmit = (p: RawSend, sock: RawSocket) => boolean;

export class RawSocket {
  readonly #host: RawHost;
  /** 4 or 6. Immutable. */
  readonly version: 4 | 6;
  /** The IP protocol number (IPPROTO_RAW: 255 sends only). Immutable. */
  readonly protocol: number;
  /** bind(): only packets to this address are taken (null: any). */
  localAddr: IpAddress | null = null;
  /** connect(): only packets from this address are taken (null: any). */
  remoteAddr: IpAddress | null = null;
  /** ICMP_FILTER (IPv4 ICMP): bit t set drops type t (t < 32). */
  icmpFilter = 0;
  /** ICMP6_FILTER (ICMPv6): eight 32-bit words, bit t set blocks type t. */
  readonly icmp6Filter = new Uint32Array(8);
  /** IPV6_CHECKSUM: the offset of the checksum the stack verifies and fills, -1 for none. */
  checksumOffset = -1;
  /** Received packets (IPv4 and IPv6 headers: 28 bytes of headroom) and packets to send. */
  readonly #q = new MessageQueues<RawPacket, RawSend>(28);
  #closed = false;

  constructor(host: RawHost, version: 4 | 6, protocol: number) {
    this.#host = host;
    this.version = version;
    this.protocol = protocol;
    if (version === 6 && protocol === 58) this.checksumOffset = 2;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** SO_RCVBUF: packets are taken while the queue's memory is within it. */
  get receiveLimit(): number {
    return this.#q.receiveLimit;
  }

  set receiveLimit(n: number) {
    this.#q.receiveLimit = n;
  }

  /** Packets received so far plus one if one is queued (for edge-triggered waiters). */
  get rxSignature(): number {
    return this.#q.rxSignature;
  }

  /** The next packet's length, 0 if none (FIONREAD). */
  get nextLength(): number {
    return this.#q.nextLength;
  }

  get queued(): number {
    return this.#q.queued;
  }

  /** The next packet, left queued (MSG_PEEK), or null. */
  peek(): RawPacket | null {
    return this.#q.peek();
  }

  /** Takes the next packet, or null. */
  take(): RawPacket | null {
    return this.#q.take();
  }

  /** Queues a packet to send; false if the queue is full. */
  send(p: RawSend): boolean {
    return !this.#closed && this.#q.send(p);
  }

  get writable(): boolean {
    return this.#q.writable;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#q.clear();
    this.#host.rawUnregister(this);
  }

  // --- Host side. ---

  /** Whether a packet of this socket's protocol from src to dst passes its filters. */
  accepts(src: IpAddress, dst: IpAddress, payload: Uint8Array): boolean {
    if (this.localAddr !== null && !this.localAddr.equals(dst)) return false;
    if (this.remoteAddr !== null && !this.remoteAddr.equals(src)) return false;
    if (this.version === 4 && this.protocol === 1 && payload.length > 0) {
      // Linux's icmp_filter: a type below 32 whose bit is set is dropped.
      const t = payload[0]!;
      if (t < 32 && (this.icmpFilter >>> t) & 1) return false;
    }
    if (this.version === 6 && this.protocol === 58 && payload.length > 0) {
      const t = payload[0]!;
      if ((this.icmp6Filter[t >> 5]! >>> (t & 31)) & 1) return false;
    }
    return true;
  }

  /**
   * The owner's socket filter (SO_ATTACH_FILTER): the bytes of a packet's data to queue, or -1
   * to drop it; run before the receive buffer is looked at, as in sock_queue_rcv_skb.
   */
  filter: ((p: RawPacket) => number) | null = null;

  /** Queues a received packet (copied) if the receive buffer has room, as Linux's sock_queue_rcv_skb. */
  deliver(p: RawPacket): void {
    if (this.#closed) return;
    if (this.filter !== null) {
      const keep = this.filter(p);
      if (keep < 0) return;
      if (keep < p.data.length) p = { ...p, data: p.data.subarray(0, keep) };
    }
    this.#q.receive(p);
  }

  pollAt(now: number): number | null {
    return this.#q.sending ? now : null;
  }

  dispatch(emit: RawEmit): boolean {
    return this.#q.dispatch((p) => emit(p, this));
  }
}
