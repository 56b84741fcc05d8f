/**
 * ICMP echo sockets, as Linux's unprivileged "ping sockets"
 * (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6): the socket owns an identifier, sends
 * echo requests and receives the matching echo replies.
 *
 * @module
 */

import { type IpAddress, parseIpAddress } from "../wire/address.ts";
import { EHOSTUNREACH, EINVAL, EMSGSIZE } from "../errors.ts";

/** What an ICMP socket needs from its stack. */
export interface IcmpHost {
  /** Reserves an echo identifier (0 for any free one). */
  icmpBind(sock: IcmpSocket, ident: number): number;
  icmpUnbind(sock: IcmpSocket): void;
  icmpRoute(dst: IpAddress): { src: IpAddress; mtu: number } | null;
}

/** An echo message queued in either direction. */
export interface EchoMessage {
  peer: IpAddress;
  /** Our source address, when known. */
  local: IpAddress | null;
  ident: number;
  seqNo: number;
  data: Uint8Array;
}

/** What the stack does with an echo request the socket wants sent. */
export type IcmpEmit = (m: EchoMessage) => boolean;

/** An echo message as plain data: addresses as text. */
export interface EchoSnapshot {
  peer: string;
  local: string | null;
  ident: number;
  seqNo: number;
  data: Uint8Array<ArrayBuffer>;
}

/** A ping socket's state as plain data, for a checkpoint (kernel/checkpoint/inet_sockets.ts). */
export interface IcmpSnapshot {
  ident: number;
  bound: boolean;
  rx: EchoSnapshot[];
  tx: EchoSnapshot[];
  queueLimit: number;
}

/** @savable */
export class IcmpSocket {
  readonly #host: IcmpHost;
  #ident = 0;
  #bound = false;
  #rx: EchoMessage[] = [];
  #tx: EchoMessage[] = [];
  /** Immutable. */
  readonly #queueLimit: number;

  constructor(host: IcmpHost, opts: { queueLimit?: number } = {}) {
    this.#host = host;
    this.#queueLimit = opts.queueLimit ?? 64;
  }

  get ident(): number {
    return this.#ident;
  }

  /** Chooses the echo identifier (0 for any). */
  bind(ident: number): void {
    if (this.#bound) throw EINVAL;
    this.#ident = this.#host.icmpBind(this, ident);
    this.#bound = true;
  }

  /** Queues an echo request; null if the queue is full. */
  sendTo(dst: IpAddress, seqNo: number, data: Uint8Array): number | null {
    if (data.length > 65507 - 8) throw EMSGSIZE;
    const route = this.#host.icmpRoute(dst);
    if (route === null) throw EHOSTUNREACH;
    if (!this.#bound) this.bind(0);
    if (this.#tx.length >= this.#queueLimit) return null;
    this.#tx.push({ peer: dst, local: route.src, ident: this.#ident, seqNo, data: data.slice() });
    return data.length;
  }

  /** The next reply's payload length (with its ICMP header, as read), 0 if none (FIONREAD). */
  get nextLength(): number {
    const m = this.#rx[0];
    return m === undefined ? 0 : 8 + m.data.length;
  }

  /** The next echo reply, or null. */
  recvFrom(): EchoMessage | null {
    return this.#rx.shift() ?? null;
  }

  readiness(): { readable: boolean; writable: boolean; hup: boolean; error: boolean } {
    return { readable: this.#rx.length > 0, writable: this.#tx.length < this.#queueLimit, hup: false, error: false };
  }

  close(): void {
    if (this.#bound) this.#host.icmpUnbind(this);
    this.#bound = false;
    this.#rx = [];
    this.#tx = [];
  }

  // --- Checkpoint. ---

  /** The socket as plain data. */
  snapshot(): IcmpSnapshot {
    const m = (e: EchoMessage): EchoSnapshot => ({
      peer: e.peer.toString(), local: e.local?.toString() ?? null, ident: e.ident, seqNo: e.seqNo, data: e.data.slice(),
    });
    return { ident: this.#ident, bound: this.#bound, rx: this.#rx.map(m), tx: this.#tx.map(m), queueLimit: this.#queueLimit };
  }

  /**
   * Takes a snapshot back into this socket, new from its host's icmpSocket, then its identifier
   * from the host. Throws RangeError for queues past the limit or an identifier of 0, SyntaxError
   * for an address that is not one, or the host's EADDRINUSE.
   */
  restore(s: IcmpSnapshot): void {
    if (this.#bound) throw new RangeError("ping socket: restored twice");
    if (s.queueLimit !== this.#queueLimit || s.rx.length > s.queueLimit || s.tx.length > s.queueLimit) {
      throw new RangeError("ping socket: a queue holds more than its limit");
    }
    if (s.bound !== (s.ident !== 0) || (!s.bound && s.tx.length > 0)) throw new RangeError("ping socket: an identifier without a binding");
    const m = (e: EchoSnapshot): EchoMessage => ({
      peer: parseIpAddress(e.peer), local: e.local === null ? null : parseIpAddress(e.local), ident: e.ident, seqNo: e.seqNo,
      data: e.data.slice(),
    });
    this.#rx = s.rx.map(m);
    this.#tx = s.tx.map(m);
    if (s.bound) {
      this.#ident = this.#host.icmpBind(this, s.ident);
      this.#bound = true;
    }
  }

  // --- Host side. ---

  deliver(m: EchoMessage): void {
    if (this.#rx.length < this.#queueLimit) this.#rx.push({ ...m, data: m.data.slice() });
  }

  pollAt(now: number): number | null {
    return this.#tx.length > 0 ? now : null;
  }

  dispatch(_now: number, emit: IcmpEmit): boolean {
    let sent = false;
    while (this.#tx.length > 0) {
      if (!emit(this.#tx[0]!)) break;
      this.#tx.shift();
      sent = true;
    }
    return sent;
  }
}
