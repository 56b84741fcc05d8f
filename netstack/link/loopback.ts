/**
 * Loopback devices: frames sent are queued and handed back by `receive`,
 * either on the same endpoint ({@linkcode Loopback}) or on the peer of a
 * connected pair ({@linkcode loopbackPair}), like a cable between two stacks.
 *
 * Frames are copied once, into pooled buffers owned by the queue.
 *
 * @module
 */

import type { LinkEndpoint, Medium } from "./endpoint.ts";

/** A bounded FIFO of frames with a buffer pool. @savable */
export class FrameQueue {
  /** Immutable. */
  readonly capacity: number;
  /** Immutable. Size of pooled buffers. */
  readonly bufferSize: number;
  #frames: Uint8Array[] = [];
  #head = 0;
  /** Full-size backing buffers ready for reuse. */
  #pool: Uint8Array[] = [];
  /** Backing of each queued frame, parallel to #frames. */
  #backing: Uint8Array[] = [];
  /** The backing of the frame last handed out by shift(); recycled on the next shift(). */
  #lent: Uint8Array | null = null;

  constructor(capacity: number, bufferSize: number) {
    this.capacity = capacity;
    this.bufferSize = bufferSize;
  }

  get length(): number {
    return this.#frames.length - this.#head;
  }

  /** Copies a frame in; false if full. */
  push(len: number, fill: (buf: Uint8Array) => void): boolean {
    if (this.length >= this.capacity) return false;
    const backing = this.#pool.pop() ?? new Uint8Array(this.bufferSize);
    const buf = backing.subarray(0, len);
    fill(buf);
    this.#frames.push(buf);
    this.#backing.push(backing);
    return true;
  }

  /** The next frame, valid until the next shift(). */
  shift(): Uint8Array | null {
    if (this.#lent) {
      this.#pool.push(this.#lent);
      this.#lent = null;
    }
    if (this.#head >= this.#frames.length) return null;
    const f = this.#frames[this.#head]!;
    this.#lent = this.#backing[this.#head]!;
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#backing = this.#backing.slice(this.#head);
      this.#head = 0;
    }
    return f;
  }
}

/** Options for loopback devices. */
export interface LoopbackOptions {
  /** Largest frame, link header included. Default 1514 for Ethernet, 1500 for IP. */
  mtu?: number;
  /** Default "ethernet". */
  medium?: Medium;
  /** Frames queued per direction before transmit fails. Default 1024. */
  capacity?: number;
}

/** A loopback endpoint. @savable */
export class Loopback implements LinkEndpoint {
  /** Immutable. */
  readonly mtu: number;
  /** Immutable. */
  readonly medium: Medium;
  readonly #rx: FrameQueue;
  readonly #tx: FrameQueue;

  /** A device that receives what it sends; pass queues to cross-connect. */
  constructor(opts: LoopbackOptions = {}, queues?: { rx: FrameQueue; tx: FrameQueue }) {
    this.medium = opts.medium ?? "ethernet";
    this.mtu = opts.mtu ?? (this.medium === "ethernet" ? 1514 : 1500);
    const q = new FrameQueue(opts.capacity ?? 1024, this.mtu);
    this.#rx = queues?.rx ?? q;
    this.#tx = queues?.tx ?? q;
  }

  /** Frames waiting to be received. */
  get pending(): number {
    return this.#rx.length;
  }

  receive(_now: number): Uint8Array | null {
    return this.#rx.shift();
  }

  transmit(_now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    if (len > this.mtu) return false;
    return this.#tx.push(len, fill);
  }
}

/** Two endpoints joined back to back: what one transmits the other receives. */
export function loopbackPair(opts: LoopbackOptions = {}): [Loopback, Loopback] {
  const medium = opts.medium ?? "ethernet";
  const mtu = opts.mtu ?? (medium === "ethernet" ? 1514 : 1500);
  const ab = new FrameQueue(opts.capacity ?? 1024, mtu);
  const ba = new FrameQueue(opts.capacity ?? 1024, mtu);
  return [
    new Loopback(opts, { rx: ba, tx: ab }),
    new Loopback(opts, { rx: ab, tx: ba }),
  ];
}
