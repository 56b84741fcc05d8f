/**
 * The queues of a socket that moves whole messages its stack hands over (raw IP packets,
 * link-level frames): what was received, charged by Linux's skb truesize against the receive
 * limit (SO_RCVBUF, as sk_rmem_alloc against sk_rcvbuf), and what waits to be sent. Shared by
 * netstack/raw and netstack/packet, whose sockets differ in what they take, not in how they
 * queue it.
 *
 * @module
 */

/**
 * Linux's skb truesize of a received message of `len` bytes whose link and network headers
 * take `headroom` bytes: data, headers and shared info in a power-of-two allocation, plus the
 * sk_buff.
 */
export function skbTruesize(len: number, headroom: number): number {
  const need = len + headroom + 32 + 320;
  let alloc = 512;
  while (alloc < need) alloc *= 2;
  return alloc + 256;
}

/** Messages to send wait here, at most this many (then the sender waits). */
const SEND_QUEUE_MAX = 256;

export class MessageQueues<R extends { data: Uint8Array }, S extends { data: Uint8Array }> {
  /** SO_RCVBUF: messages are taken while the queue's memory is within it. */
  receiveLimit = 212992;
  #rx: R[] = [];
  #rxBytes = 0;
  #tx: S[] = [];
  #received = 0;
  /** Immutable. The headroom counted in each received message's truesize. */
  readonly #headroom: number;

  constructor(headroom: number) {
    this.#headroom = headroom;
  }

  /** Messages received so far plus one if one is queued (for edge-triggered waiters). */
  get rxSignature(): number {
    return this.#received + this.#rx.length;
  }

  get queued(): number {
    return this.#rx.length;
  }

  /** The next message's length, 0 if none (FIONREAD). */
  get nextLength(): number {
    return this.#rx[0]?.data.length ?? 0;
  }

  /** The next message, left queued (MSG_PEEK), or null. */
  peek(): R | null {
    return this.#rx[0] ?? null;
  }

  /** Takes the next message, or null. */
  take(): R | null {
    const m = this.#rx.shift();
    if (m === undefined) return null;
    this.#rxBytes -= skbTruesize(m.data.length, this.#headroom);
    return m;
  }

  /**
   * Queues a received message (copied); false when the receive buffer is full. Taken while the
   * memory already queued is within the limit (Linux's __sock_queue_rcv_skb checks
   * sk_rmem_alloc >= sk_rcvbuf before charging the new one).
   */
  receive(m: R): boolean {
    if (this.#rxBytes >= this.receiveLimit) return false;
    this.#rx.push({ ...m, data: m.data.slice() });
    this.#rxBytes += skbTruesize(m.data.length, this.#headroom);
    this.#received++;
    return true;
  }

  /** Queues a message to send (copied); false if the queue is full. */
  send(m: S): boolean {
    if (this.#tx.length >= SEND_QUEUE_MAX) return false;
    this.#tx.push({ ...m, data: m.data.slice() });
    return true;
  }

  get writable(): boolean {
    return this.#tx.length < SEND_QUEUE_MAX;
  }

  /** Whether something waits to be sent. */
  get sending(): boolean {
    return this.#tx.length > 0;
  }

  /** Hands the waiting messages to emit, in order, until it says it cannot take one. */
  dispatch(emit: (m: S) => boolean): boolean {
    let sent = false;
    while (this.#tx.length > 0) {
      if (!emit(this.#tx[0]!)) break;
      this.#tx.shift();
      sent = true;
    }
    return sent;
  }

  /** Drops everything (the socket closed). */
  clear(): void {
    this.#rx = [];
    this.#rxBytes = 0;
    this.#tx = [];
  }
}
