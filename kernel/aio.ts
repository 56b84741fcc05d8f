/**
 * Linux's native asynchronous I/O (fs/aio.c): the contexts io_setup makes and their completion
 * rings. The syscalls are kernel/syscalls/linux/sys_aio.ts.
 *
 * The ring is Linux's `struct aio_ring` in a file of its own (a MemFd), mapped MAP_SHARED into
 * the process at the context's id, as Linux maps its aio pseudo-file: programs (libaio, fio's
 * userspace reaping) read events straight from it and move `head` themselves, so the ring in
 * memory is the truth for `head`, and the kernel's `tail` is written there after every event.
 * The sentry reaches the ring through the file (pread/pwrite of the host memfd), never through
 * the process's protections, as Linux writes it through its own mapping of the pages.
 *
 * Where this differs from Linux: every read and write completes inside io_submit, as Linux's
 * own buffered I/O does; one that would block (an empty pipe, a full socket) completes at once
 * with -EAGAIN instead of holding io_submit. IOCB_CMD_POLL waits for real.
 *
 * Ordering rules: the event is in the ring and `tail` written before the context's waiters
 * are woken and before an IOCB_FLAG_RESFD eventfd is signalled, so whoever wakes finds it.
 *
 * @module
 */

import { PAGE_SIZE } from "../abi/linux/mm.ts";
import { MemFd } from "../vfs/memfd.ts";
import type { EventFd } from "../vfs/eventfd.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import { EVENT_IN, type Waker, WaitQueue } from "../waiter/mod.ts";

/** fs/aio.c's AIO_RING_MAGIC, and the ring header's size (struct aio_ring). */
export const AIO_RING_MAGIC = 0xa10a10a1;
export const RING_HEADER = 32;
/** struct io_event: data, obj, res, res2. */
export const IO_EVENT_SIZE = 32;
/** /proc/sys/fs/aio-max-nr's default: the events all of one address space's contexts may ask for. */
export const AIO_MAX_NR = 65536;
/** Linux's bound on one context's events before aio-max-nr (0x10000000 / sizeof(io_event)). */
export const AIO_MAX_EVENTS = 0x1000_0000 / IO_EVENT_SIZE;

/** One completion: struct io_event. */
export interface AioEvent {
  data: bigint;
  obj: bigint;
  res: bigint;
  res2: bigint;
}

/** @nosave An IOCB_CMD_POLL waiting for its file (a checkpoint refuses a sandbox with contexts). */
export class AioPoll implements Waker {
  constructor(
    readonly ctx: AioContext,
    readonly file: FileDescription,
    /** The events asked for, EPOLLERR and EPOLLHUP included. */
    readonly events: number,
    readonly data: bigint,
    readonly obj: bigint,
    readonly resfd: EventFd | null,
  ) {}

  /**
   * The file's queue: as Linux's aio_poll_wake, a wake whose events the request asked for
   * completes it with those events (the wake's own, not masked), one with none is looked at
   * again.
   */
  wake(events: number): void {
    let mask = events;
    if (mask !== 0 && (mask & this.events) === 0) return;
    if (mask === 0) mask = this.file.readiness(this.events) & this.events;
    if (mask === 0) return;
    this.finish(mask);
  }

  /** Completes with res = mask (0 when cancelled) and lets go of the file. */
  finish(mask: number): void {
    if (!this.ctx.polls.delete(this)) return;
    this.file.waitQueue.unregister(this);
    this.ctx.complete({ data: this.data, obj: this.obj, res: BigInt(mask), res2: 0n }, this.resfd);
    this.file.decRef();
    this.resfd?.decRef();
  }
}

/** @nosave One io_setup context (a checkpoint refuses a sandbox with contexts: not saved yet). */
export class AioContext {
  /** Immutable. The index in its address space's table: the ring's `id`. */
  readonly id: number;
  /** Immutable. The ring's file; the table holds one reference, each mapping its own. */
  readonly ring: MemFd;
  /** Immutable. Slots in the ring (ring->nr); one is always left empty. */
  readonly nr: number;
  /** Immutable. What io_setup asked for: what counts against aio-max-nr. */
  readonly maxReqs: number;
  /** The next slot the kernel fills (ctx->tail). */
  tail = 0;
  /** Woken (EVENT_IN) when an event lands. */
  readonly waitQueue = new WaitQueue();
  /** IOCB_CMD_POLLs still waiting. */
  readonly polls = new Set<AioPoll>();

  constructor(id: number, nrEvents: number) {
    this.id = id;
    this.maxReqs = nrEvents;
    // fs/aio.c's sizing: at least 4 per CPU (Linux counts possible CPUs; one here), doubled,
    // then as many as the ring's whole pages hold.
    const want = Math.max(nrEvents, 4) * 2;
    const pages = Math.ceil((RING_HEADER + want * IO_EVENT_SIZE) / PAGE_SIZE);
    this.nr = (pages * PAGE_SIZE - RING_HEADER) / IO_EVENT_SIZE;
    this.ring = MemFd.create(0);
    this.ring.name = "[aio]";
    try {
      this.ring.truncate(pages * PAGE_SIZE);
      const h = new DataView(new ArrayBuffer(RING_HEADER));
      h.setUint32(0, id, true);
      h.setUint32(4, this.nr, true);
      h.setUint32(16, AIO_RING_MAGIC, true);
      h.setUint32(20, 1, true); // compat_features: AIO_RING_COMPAT_FEATURES
      h.setUint32(28, RING_HEADER, true);
      this.ring.write(new Uint8Array(h.buffer), 0);
    } catch (e) {
      this.ring.decRef();
      throw e;
    }
  }

  /** The ring's size in bytes: what io_setup maps. */
  get size(): number {
    return Math.ceil((RING_HEADER + this.nr * IO_EVENT_SIZE) / PAGE_SIZE) * PAGE_SIZE;
  }

  #u32(off: number): number {
    const b = new Uint8Array(4);
    this.ring.read(b, off);
    return new DataView(b.buffer).getUint32(0, true);
  }

  #setU32(off: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.ring.write(b, off);
  }

  /** ring->head as the program left it, within the ring (Linux takes it modulo nr). */
  head(): number {
    return this.#u32(8) % this.nr;
  }

  /** Events in the ring that nobody has taken. */
  get available(): number {
    return (this.tail - this.head() + this.nr) % this.nr;
  }

  /**
   * Room for another request (Linux's reqs_available): every request ends as an event in the
   * ring, which keeps one slot empty; polls still waiting hold theirs.
   */
  get full(): boolean {
    return this.available + this.polls.size >= this.nr - 1;
  }

  /** Puts an event in the ring, then wakes waiters and signals resfd (in that order). */
  complete(ev: AioEvent, resfd: EventFd | null): void {
    const b = new Uint8Array(IO_EVENT_SIZE);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt.asUintN(64, ev.data), true);
    v.setBigUint64(8, BigInt.asUintN(64, ev.obj), true);
    v.setBigInt64(16, BigInt.asIntN(64, ev.res), true);
    v.setBigInt64(24, BigInt.asIntN(64, ev.res2), true);
    this.ring.write(b, RING_HEADER + this.tail * IO_EVENT_SIZE);
    this.tail = (this.tail + 1) % this.nr;
    this.#setU32(12, this.tail);
    this.waitQueue.notify(EVENT_IN);
    resfd?.signal(1n);
  }

  /**
   * Up to max events from head on (the ring's bytes) and where head goes past them: the caller
   * copies them out, then {@linkcode consume}s (a copy that faults leaves them in the ring).
   */
  peek(max: number): { events: Uint8Array; head: number } {
    let head = this.head();
    const n = Math.min(max, this.available);
    const events = new Uint8Array(n * IO_EVENT_SIZE);
    let done = 0;
    while (done < n) {
      const run = Math.min(n - done, (head < this.tail ? this.tail : this.nr) - head);
      this.ring.read(events.subarray(done * IO_EVENT_SIZE, (done + run) * IO_EVENT_SIZE), RING_HEADER + head * IO_EVENT_SIZE);
      done += run;
      head = (head + run) % this.nr;
    }
    return { events, head };
  }

  /** Moves ring->head (after the events before it were delivered). */
  consume(head: number): void {
    this.#setU32(8, head);
  }

  /** io_destroy and exit: waiting polls end (cancelled), the table's ring reference goes. */
  kill(): void {
    for (const p of [...this.polls]) p.finish(0);
    this.ring.decRef();
  }
}

/** @nosave An address space's contexts (Linux's mm->ioctx_table). */
export class AioTable {
  readonly #contexts = new Map<number, AioContext>();

  /** The events all contexts asked for (this address space's share of aio-nr). */
  get requested(): number {
    let n = 0;
    for (const c of this.#contexts.values()) n += c.maxReqs;
    return n;
  }

  get size(): number {
    return this.#contexts.size;
  }

  /** A new context in the lowest free slot. */
  create(nrEvents: number): AioContext {
    let id = 0;
    while (this.#contexts.has(id)) id++;
    const c = new AioContext(id, nrEvents);
    this.#contexts.set(id, c);
    return c;
  }

  get(id: number): AioContext | null {
    return this.#contexts.get(id) ?? null;
  }

  remove(c: AioContext): void {
    if (this.#contexts.get(c.id) !== c) return;
    this.#contexts.delete(c.id);
    c.kill();
  }

  /** The address space is going away (exit, exec): every context ends. */
  release(): void {
    for (const c of [...this.#contexts.values()]) this.remove(c);
  }
}
