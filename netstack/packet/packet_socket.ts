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
}

/** A frame a packet socket wants sent. */
export interface PacketSend {
  ifIndex: number;
  protocol: number;
  /** The network packet (the link header, if any was written, already taken off). */
  data: Uint8Array;
}

export interface PacketHost {
  packetUnregister(sock: PacketSocket): void;
}

/** The skb truesize Linux charges a received frame of `len` bytes against SO_RCVBUF. */
export function packetTruesize(len: number): number {
  const need = len + 14 + 32 + 320;
  let alloc = 512;
  while (alloc < need) alloc *= 2;
  return alloc + 256;
}

export class PacketSocket {
  readonly #host: PacketHost;
  /** The bound ethertype (host order); 0 takes nothing. */
  protocol: number;
  /** The bound interface's stack index, or -1 for any. */
  ifIndex = -1;
  receiveLimit = 212992;
  #rx: PacketFrame[] = [];
  #rxBytes = 0;
  #tx: PacketSend[] = [];
  #received = 0;
  #closed = false;
  /** Frames dropped for want of buffer room (PACKET_STATISTICS). */
  drops = 0;
  readonly #txLimit = 256;

  constructor(host: PacketHost, protocol: number) {
    this.#host = host;
    this.protocol = protocol;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get rxSignature(): number {
    return this.#received + this.#rx.length;
  }

  get queued(): number {
    return this.#rx.length;
  }

  get nextLength(): number {
    return this.#rx[0]?.data.length ?? 0;
  }

  peek(): PacketFrame | null {
    return this.#rx[0] ?? null;
  }

  take(): PacketFrame | null {
    const p = this.#rx.shift();
    if (p === undefined) return null;
    this.#rxBytes -= packetTruesize(p.data.length);
    return p;
  }

  send(p: PacketSend): boolean {
    if (this.#closed || this.#tx.length >= this.#txLimit) return false;
    this.#tx.push({ ...p, data: p.data.slice() });
    return true;
  }

  get writable(): boolean {
    return this.#tx.length < this.#txLimit;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rx = [];
    this.#rxBytes = 0;
    this.#tx = [];
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

  deliver(f: PacketFrame): void {
    if (this.#closed) return;
    if (this.#rxBytes >= this.receiveLimit) {
      this.drops++;
      return;
    }
    this.#rx.push({ ...f, data: f.data.slice() });
    this.#rxBytes += packetTruesize(f.data.length);
    this.#received++;
  }

  pollAt(now: number): number | null {
    return this.#tx.length > 0 ? now : null;
  }

  dispatch(emit: (p: PacketSend, sock: PacketSocket) => void): boolean {
    if (this.#tx.length === 0) return false;
    const q = this.#tx;
    this.#tx = [];
    for (const p of q) emit(p, this);
    return true;
  }
}
