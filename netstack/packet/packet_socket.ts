/**
 * Packet sockets (packet(7)) as the stack sees them: a socket names an Ethernet protocol
 * (ETH_P_ALL for every frame) and optionally an interface, and gets a copy of every frame of
 * that protocol the stack's interfaces carry. The stack hands frames over as their network
 * packet plus the link-layer facts (interface, ethertype, direction); the socket layer adds
 * the Ethernet header SOCK_RAW shows. Sends are queued and leave at the next poll.
 *
 * Only loopback frames are seen: the sandbox's lo, as Linux's loopback device shows them.
 *
 * @module
 */

import { MessageQueues } from "../message_queues.ts";

/** ETH_P_ALL: every protocol, outgoing frames too. */
export const ETH_P_ALL = 0x0003;
/** sll_pkttype values (linux/if_packet.h). */
export const PACKET_HOST = 0;
export const PACKET_OUTGOING = 4;

/** A frame a packet socket received. */
export interface PacketFrame {
  /** The interface's index in the stack (ifindex - 1). */
  ifIndex: number;
  /** The ethertype. */
  protocol: number;
  /** PACKET_HOST or PACKET_OUTGOING. */
  pktType: number;
  /** The frame's payload (the network packet), without link-layer header. */
  data: Uint8Array;
  /** The bytes of the frame as the socket reads it (link header included) a filter kept; absent: all. */
  snap?: number;
  /** The link header its sender wrote (a packet socket's SOCK_RAW send on lo); absent: lo's own. */
  link?: Uint8Array;
}

/** A frame a packet socket wants sent. */
export interface PacketSend {
  ifIndex: number;
  protocol: number;
  /** The network packet (the link header, if any was written, already taken off). */
  data: Uint8Array;
  /** The link header a SOCK_RAW sender wrote (lo passes it on as it is); absent: none written. */
  link?: Uint8Array;
}

export interface PacketHost {
  packetUnregister(sock: PacketSocket): void;
}

export class PacketSocket {
  readonly #host: PacketHost;
  /** The bound ethertype (host order); 0 takes nothing. */
  protocol: number;
  /** The bound interface's stack index, or -1 for any. */
  ifIndex = -1;
  /** Received frames (an Ethernet header: 14 bytes of headroom) and frames to send. */
  readonly #q = new MessageQueues<PacketFrame, PacketSend>(14);
  #closed = false;
  /** Frames dropped for want of buffer room (PACKET_STATISTICS). */
  drops = 0;

  constructor(host: PacketHost, protocol: number) {
    this.#host = host;
    this.protocol = protocol;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** SO_RCVBUF: frames are taken while the queue's memory is within it. */
  get receiveLimit(): number {
    return this.#q.receiveLimit;
  }

  set receiveLimit(n: number) {
    this.#q.receiveLimit = n;
  }

  get rxSignature(): number {
    return this.#q.rxSignature;
  }

  get queued(): number {
    return this.#q.queued;
  }

  get nextLength(): number {
    return this.#q.nextLength;
  }

  peek(): PacketFrame | null {
    return this.#q.peek();
  }

  take(): PacketFrame | null {
    return this.#q.take();
  }

  send(p: PacketSend): boolean {
    return !this.#closed && this.#q.send(p);
  }

  get writable(): boolean {
    return this.#q.writable;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#q.clear();
    this.#host.packetUnregister(this);
  }

  // --- Host side. ---

  /** Whether a frame passes the socket's binding: ETH_P_ALL sees outgoing frames too. */
  accepts(ifIndex: number, protocol: number, pktType: number): boolean {
    if (this.#closed || this.protocol === 0) return false;
    if (this.ifIndex !== -1 && this.ifIndex !== ifIndex) return false;
    if (this.protocol === ETH_P_ALL) return true;
    return pktType !== PACKET_OUTGOING && this.protocol === protocol;
  }

  /** The owner's socket filter: the frame's snap length, or -1 to drop it (packet_rcv's run_filter). */
  filter: ((f: PacketFrame) => number) | null = null;

  deliver(f: PacketFrame): void {
    if (this.#closed) return;
    if (this.filter !== null) {
      const snap = this.filter(f);
      if (snap < 0) return;
      f = { ...f, snap };
    }
    if (this.ring !== null) {
      this.ring(f);
      return;
    }
    if (!this.#q.receive(f)) this.drops++;
  }

  /** The owner's PACKET_RX_RING: takes each frame (after the filter) instead of the receive queue. */
  ring: ((f: PacketFrame) => void) | null = null;

  pollAt(now: number): number | null {
    return this.#q.sending ? now : null;
  }

  /** Hands every waiting frame to emit (a frame on lo always goes). */
  dispatch(emit: (p: PacketSend, sock: PacketSocket) => void): boolean {
    return this.#q.dispatch((p) => {
      emit(p, this);
      return true;
    });
  }
}
