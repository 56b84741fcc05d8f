/**
 * A fixed-capacity byte ring used for TCP send and receive queues.
 *
 * Beside plain enqueue/dequeue it supports writing into the unallocated space
 * past the end (`writeUnallocated`, for out-of-order segments) and reading at
 * an offset without consuming (`readAt`/`peek`, for (re)transmission). Every
 * copy is at most two `Uint8Array.set` calls.
 *
 * @module
 */

/** @savable */
export class RingBuffer {
  /** Immutable. */
  readonly #capacity: number;
  /** Immutable. Where the ring starts in its storage (see the constructor). */
  readonly #skew: number;
  /** Allocated on first write, so idle and listening sockets cost nothing. */
  #storage: Uint8Array | null = null;
  /** Index of the first byte. */
  #read = 0;
  /** Bytes stored. */
  #len = 0;

  /**
   * `skew` bytes are left unused before the ring in its storage, to set the ring's alignment
   * against other rings: a copy between two buffers whose addresses differ by 1 to 31 bytes
   * modulo a page runs about 10x slower (glibc's memmove on this machine: 23 µs per 64 KiB
   * instead of 2.5), and two 1 MiB buffers allocated one after the other differ by exactly
   * 16 bytes modulo a page (malloc's chunk header), so TCP's send-queue to receive-queue
   * copy hit it on every other connection.
   */
  constructor(capacity: number, skew = 0) {
    this.#capacity = capacity;
    this.#skew = skew;
  }

  get #buf(): Uint8Array {
    return this.#storage ??= this.#skew === 0
      ? new Uint8Array(this.#capacity)
      : new Uint8Array(this.#capacity + this.#skew).subarray(this.#skew);
  }

  get capacity(): number {
    return this.#capacity;
  }
  get length(): number {
    return this.#len;
  }
  /** Free space. */
  get window(): number {
    return this.#capacity - this.#len;
  }
  get isEmpty(): boolean {
    return this.#len === 0;
  }
  get isFull(): boolean {
    return this.#len === this.#capacity;
  }

  /** Frees the storage if nothing is buffered; the next write allocates anew. */
  release(): void {
    if (this.#len === 0) {
      this.#storage = null;
      this.#read = 0;
    }
  }

  /** Appends as much of `data` as fits; returns how much. */
  enqueue(data: Uint8Array): number {
    const n = Math.min(data.length, this.window);
    this.#copyIn(this.#len, data.subarray(0, n));
    this.#len += n;
    return n;
  }

  /**
   * Appends up to `max` bytes that `fill` writes straight into the free space, lent as at most
   * two views (the space may wrap). `fill` returns how many bytes it wrote; a short count ends
   * the call. Returns the bytes appended. For producers that can write into memory they do not
   * own (a process_vm_readv), sparing a copy.
   */
  enqueueVia(max: number, fill: (dst: Uint8Array) => number): number {
    let want = Math.min(max, this.window);
    let done = 0;
    while (want > 0) {
      const buf = this.#buf;
      const start = (this.#read + this.#len) % buf.length;
      const k = Math.min(want, buf.length - start);
      const n = Math.max(0, Math.min(k, fill(buf.subarray(start, start + k))));
      this.#len += n;
      done += n;
      want -= n;
      if (n < k) break;
    }
    return done;
  }

  /**
   * Hands up to `max` bytes from the front to `take` as at most two views (the data may
   * wrap), and consumes what `take` reports it used; a short count ends the call. Returns the
   * bytes consumed. The views are valid only during the call.
   */
  dequeueVia(max: number, take: (src: Uint8Array) => number): number {
    let want = Math.min(max, this.#len);
    let done = 0;
    while (want > 0) {
      const buf = this.#buf;
      const k = Math.min(want, buf.length - this.#read);
      const n = Math.max(0, Math.min(k, take(buf.subarray(this.#read, this.#read + k))));
      this.discard(n);
      done += n;
      want -= n;
      if (n < k) break;
    }
    return done;
  }

  /** Moves up to `into.length` bytes out; returns how many. */
  dequeue(into: Uint8Array): number {
    const n = this.readAt(0, into);
    this.discard(n);
    return n;
  }

  /** Drops `n` bytes from the front. */
  discard(n: number): void {
    const k = Math.min(n, this.#len);
    this.#len -= k;
    this.#read = (this.#read + k) % this.#capacity;
  }

  /** How many stored bytes from `offset` on lie back to back before the ring wraps. */
  contiguousFrom(offset: number): number {
    const n = this.#len - offset;
    if (n <= 0) return 0;
    const start = (this.#read + offset) % this.#capacity;
    return Math.min(n, this.#capacity - start);
  }

  /** Copies bytes from `offset` into `into` without consuming; returns how many. */
  readAt(offset: number, into: Uint8Array): number {
    const n = Math.max(0, Math.min(into.length, this.#len - offset));
    if (n === 0) return 0;
    const cap = this.#buf.length;
    const start = (this.#read + offset) % cap;
    const first = Math.min(n, cap - start);
    into.set(this.#buf.subarray(start, start + first));
    if (first < n) into.set(this.#buf.subarray(0, n - first), first);
    return n;
  }

  /**
   * Up to `len` bytes starting at `offset`: a view when contiguous, else a
   * copy. Valid until the buffer is next modified.
   */
  peek(offset: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.#len - offset));
    const cap = this.#buf.length;
    const start = (this.#read + offset) % cap;
    if (start + n <= cap) return this.#buf.subarray(start, start + n);
    const out = new Uint8Array(n);
    this.readAt(offset, out);
    return out;
  }

  /**
   * Writes `data` at `offset` bytes past the current end, without making it
   * readable. Returns how much fit.
   */
  writeUnallocated(offset: number, data: Uint8Array): number {
    const room = this.window - offset;
    if (room <= 0) return 0;
    const n = Math.min(room, data.length);
    this.#copyIn(this.#len + offset, n === data.length ? data : data.subarray(0, n));
    return n;
  }

  /** Makes `n` bytes written by `writeUnallocated` at offset 0 readable. */
  commit(n: number): void {
    this.#len += Math.min(n, this.window);
  }

  /**
   * For a checkpoint: the ring's first `n` bytes in order, those past `length` included (data
   * that arrived out of order, written with writeUnallocated and not yet committed). A copy.
   */
  snapshot(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(Math.max(0, Math.min(n, this.#capacity)));
    if (out.length === 0 || this.#storage === null) return out;
    const start = this.#read;
    const first = Math.min(out.length, this.#capacity - start);
    out.set(this.#buf.subarray(start, start + first));
    if (first < out.length) out.set(this.#buf.subarray(0, out.length - first), first);
    return out;
  }

  /**
   * For a restore: refills an empty ring from a snapshot, of which the first `len` bytes are
   * queued and the rest lies past the end (out-of-order data).
   * Preconditions: the ring is empty; `len <= bytes.length <= capacity`.
   */
  restore(bytes: Uint8Array, len: number): void {
    if (this.#len !== 0 || len > bytes.length || bytes.length > this.#capacity) {
      throw new RangeError("Cannot restore a ring buffer: it is not empty or the snapshot does not fit");
    }
    this.#read = 0;
    if (bytes.length > 0) this.#buf.set(bytes, 0);
    this.#len = len;
  }

  #copyIn(logical: number, data: Uint8Array): void {
    const cap = this.#buf.length;
    if (data.length === 0) return;
    const start = (this.#read + logical) % cap;
    const first = Math.min(data.length, cap - start);
    // No view when the data does not wrap: a view per copy is garbage per segment.
    if (first === data.length) this.#buf.set(data, start);
    else {
      this.#buf.set(data.subarray(0, first), start);
      this.#buf.set(data.subarray(first), 0);
    }
  }
}
