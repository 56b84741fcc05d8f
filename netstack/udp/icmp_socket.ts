/**
 * ICMP echo sockets, as Linux's unprivileged "ping sockets"
 * (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6): the socket owns an identifier, sends
 * echo requests and receives the matching echo replies.
 *
 * @module
 */

import type { IpAddress } from "../wire/address.ts";
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
