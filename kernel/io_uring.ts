/**
 * io_uring (Linux's io_uring/): an instance's rings and the requests it runs. The syscalls are
 * kernel/syscalls/linux/sys_io_uring.ts.
 *
 * The rings are Linux's: `struct io_rings` (the SQ and CQ heads and tails a cache line apart,
 * the masks, sizes, sq_dropped, sq_flags, cq_flags, cq_overflow, then the CQEs, then the SQ
 * index array) and the SQE array, in a file of their own (a MemFd, as kernel/aio.ts's ring)
 * that mmap of the io_uring descriptor maps MAP_SHARED at IORING_OFF_SQ_RING and
 * IORING_OFF_CQ_RING (one region: IORING_FEAT_SINGLE_MMAP) and IORING_OFF_SQES. The application
 * writes SQEs and the SQ tail and reads CQEs in its mapping; the sentry reads and writes the
 * same pages through the file. As Linux, the kernel keeps its own SQ head and CQ tail
 * (`#sqHead`, `#cqTail`) and only publishes them, so garbage written over the ring header
 * confuses the application alone.
 *
 * Requests run through the sentry's own file descriptions, inside io_uring_enter, in
 * submission order: a read or write of a regular file completes there. One that would block
 * (a pipe or socket with nothing to give or no room) waits on its file's queue and runs again
 * when the file is ready, as Linux's poll arming does, so io_uring_enter never sleeps for it
 * and the other tasks run, whether the file is O_NONBLOCK or not (Linux retries a file that
 * supports NOWAIT); RWF_NOWAIT and MSG_DONTWAIT complete with -EAGAIN instead. A request
 * waiting this way is run by the task that submitted it (its memory, its credentials); if that
 * task exits the request ends with -ECANCELED. IOSQE_IO_DRAIN holds a request until every
 * earlier one completed; IOSQE_IO_LINK runs a chain one after the other and cancels the rest
 * after a failure (-ECANCELED). IOSQE_ASYNC changes nothing visible.
 *
 * Completions (IORING_FEAT_NODROP): a CQE that does not fit waits in the overflow list
 * (IORING_SQ_CQ_OVERFLOW in sq_flags) and moves into the ring, in order, as the application
 * frees room and enters the kernel. The ring's waiters (io_uring_enter, poll, epoll) are woken
 * after the CQE and the tail are written.
 *
 * Not here: SQPOLL, IOPOLL and the other setup flags beside CQSIZE, CLAMP, SUBMIT_ALL,
 * COOP_TASKRUN, TASKRUN_FLAG, SINGLE_ISSUER and NO_SQARRAY (EINVAL, as gVisor); opcodes other
 * than those in SUPPORTED_OPS complete with -EINVAL (IORING_REGISTER_PROBE says which are
 * there); registered files, eventfds and buffers only (IORING_REGISTER_*).
 *
 * @module
 */

import { PAGE_SIZE } from "../abi/linux/mm.ts";
import { MemFd } from "../vfs/memfd.ts";
import { AnonInodeFile } from "../vfs/anon_file.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import type { EventFd } from "../vfs/eventfd.ts";
import { EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM, type Waker, WaitQueue } from "../waiter/mod.ts";
import { EINVAL } from "./errno.ts";
import type { DeadlineTarget } from "./timers.ts";
import type { Task } from "./task.ts";

export const IORING_OFF_SQ_RING = 0;
export const IORING_OFF_CQ_RING = 0x8000000;
export const IORING_OFF_SQES = 0x10000000;
const IORING_OFF_MMAP_MASK = 0xf8000000;

export const IORING_MAX_ENTRIES = 32768;
export const IORING_MAX_CQ_ENTRIES = 2 * IORING_MAX_ENTRIES;

export const IORING_SETUP_CQSIZE = 1 << 3;
export const IORING_SETUP_CLAMP = 1 << 4;
export const IORING_SETUP_SUBMIT_ALL = 1 << 7;
export const IORING_SETUP_NO_SQARRAY = 1 << 16;
/** The setup flags this io_uring takes: CQSIZE, CLAMP, SUBMIT_ALL, COOP_TASKRUN, TASKRUN_FLAG, SINGLE_ISSUER, NO_SQARRAY. */
export const SUPPORTED_SETUP_FLAGS = (1 << 3) | (1 << 4) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 12) | (1 << 16);

/** IORING_FEAT_SINGLE_MMAP, NODROP, SUBMIT_STABLE, RW_CUR_POS, CUR_PERSONALITY, EXT_ARG. */
export const FEATURES = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x100;

/**
 * struct io_rings' fields, as Linux 6.18 lays them out (the heads and tails packed; gVisor's
 * older layout put each on a cache line of its own), then the CQEs on a cache line.
 */
export const SQ_HEAD = 0, SQ_TAIL = 4, CQ_HEAD = 8, CQ_TAIL = 12;
export const SQ_RING_MASK = 16, CQ_RING_MASK = 20, SQ_RING_ENTRIES = 24, CQ_RING_ENTRIES = 28;
export const SQ_DROPPED = 32, SQ_FLAGS = 36, CQ_FLAGS = 40, CQ_OVERFLOW = 44, CQES = 64;
const HEADER = 64;
const IORING_SQ_CQ_OVERFLOW = 1 << 1;
const SQE_SIZE = 64;
const CQE_SIZE = 16;

/** The opcodes. */
export const IORING_OP_NOP = 0, IORING_OP_READV = 1, IORING_OP_WRITEV = 2, IORING_OP_FSYNC = 3;
export const IORING_OP_READ_FIXED = 4, IORING_OP_WRITE_FIXED = 5, IORING_OP_POLL_ADD = 6, IORING_OP_POLL_REMOVE = 7;
export const IORING_OP_SENDMSG = 9, IORING_OP_RECVMSG = 10, IORING_OP_TIMEOUT = 11, IORING_OP_TIMEOUT_REMOVE = 12;
export const IORING_OP_ASYNC_CANCEL = 14, IORING_OP_CLOSE = 19, IORING_OP_READ = 22, IORING_OP_WRITE = 23;
export const IORING_OP_SEND = 26, IORING_OP_RECV = 27;
/** IORING_OP_LAST on Linux 6.18: opcodes at or past it are EINVAL everywhere. */
export const IORING_OP_LAST = 61;
/** The opcodes this io_uring runs (IORING_REGISTER_PROBE's IO_URING_OP_SUPPORTED). */
export const SUPPORTED_OPS: ReadonlySet<number> = new Set([
  IORING_OP_NOP, IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED,
  IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_TIMEOUT,
  IORING_OP_TIMEOUT_REMOVE, IORING_OP_ASYNC_CANCEL, IORING_OP_CLOSE, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_SEND,
  IORING_OP_RECV,
]);

export const IOSQE_FIXED_FILE = 1 << 0, IOSQE_IO_DRAIN = 1 << 1, IOSQE_IO_LINK = 1 << 2, IOSQE_IO_HARDLINK = 1 << 3;
export const IOSQE_ASYNC = 1 << 4, IOSQE_BUFFER_SELECT = 1 << 5, IOSQE_CQE_SKIP_SUCCESS = 1 << 6;
const SQE_VALID_FLAGS = 0x7f;

/** One SQE as read from the ring (its fields by Linux's names). */
export interface Sqe {
  opcode: number;
  flags: number;
  ioprio: number;
  fd: number;
  off: bigint;
  addr: bigint;
  len: number;
  opFlags: number;
  userData: bigint;
  bufIndex: number;
  personality: number;
  spliceFdIn: number;
  addr3: bigint;
}

function parseSqe(b: Uint8Array, at: number): Sqe {
  const v = new DataView(b.buffer, b.byteOffset + at, SQE_SIZE);
  return {
    opcode: v.getUint8(0),
    flags: v.getUint8(1),
    ioprio: v.getUint16(2, true),
    fd: v.getInt32(4, true),
    off: v.getBigUint64(8, true),
    addr: v.getBigUint64(16, true),
    len: v.getUint32(24, true),
    opFlags: v.getUint32(28, true),
    userData: v.getBigUint64(32, true),
    bufIndex: v.getUint16(40, true),
    personality: v.getUint16(42, true),
    spliceFdIn: v.getInt32(44, true),
    addr3: v.getBigUint64(48, true),
  };
}

/**
 * What running a request came to: a result for its CQE, or "wait" with the queue and events
 * that make it worth running again (a file not ready), or "pending" (a timeout or poll that
 * completes itself later).
 */
export type IssueResult = number | { wait: WaitQueue; events: number } | "pending";

/** Runs one request's operation for its ring (sys_io_uring.ts holds the operations). */
export type Issuer = (ring: IoUring, req: Request) => IssueResult;

/**
 * The operations, set by sys_io_uring.ts as it loads: a ring restored by a checkpoint runs
 * requests only through io_uring_enter, whose module is then loaded.
 */
let issuer: Issuer | null = null;

export function setRingIssuer(fn: Issuer): void {
  issuer = fn;
}

/** A ring's state as a checkpoint saves it (kernel/checkpoint/io_uring.ts): an idle ring's. */
export interface RingState {
  sqEntries: number;
  cqEntries: number;
  setupFlags: number;
  sqHead: number;
  cqTail: number;
  completions: number;
  overflow: [bigint, number, number][];
  buffers: [number, number][] | null;
}

/** @nosave One submitted request, until its CQE is posted (a checkpoint refuses a ring with any). */
export class Request implements Waker {
  /** The next request of its IOSQE_IO_LINK chain, run once this one succeeded. */
  next: Request | null = null;
  /** The queue it waits on for its file, or null. */
  #waitingOn: WaitQueue | null = null;
  /** Set once its CQE is posted or it is cancelled. */
  done = false;
  /** Whatever the operation keeps between runs (a timeout's deadline, a poll's mask). */
  state: unknown = null;

  constructor(readonly ring: IoUring, readonly task: Task, readonly sqe: Sqe, readonly file: FileDescription | null) {}

  /** Runs the operation; completes the request unless it must wait. */
  run(): void {
    if (this.done) return;
    this.#stopWaiting();
    if (this.task.state === "dead") {
      this.ring.complete(this, -125 /* ECANCELED */);
      return;
    }
    const r = this.ring.issue(this);
    if (r === "pending") return;
    if (typeof r === "number") {
      this.ring.complete(this, r);
      return;
    }
    this.#waitingOn = r.wait;
    r.wait.register(this, r.events);
  }

  /** The file's queue: ready, maybe; run again. */
  wake(_events: number): void {
    if (this.done) return;
    // Never inside the file's notify (its caller may be half-way through a change): at the
    // kernel loop's next turn, between two steps.
    this.task.kernel.defer(() => this.run());
  }

  #stopWaiting(): void {
    if (this.#waitingOn !== null) {
      this.#waitingOn.unregister(this);
      this.#waitingOn = null;
    }
  }

  /** Lets go of what it holds (its file, its wait); the ring posts its CQE. */
  finish(): void {
    this.done = true;
    this.#stopWaiting();
    this.file?.decRef();
  }
}

/** @nosave An IORING_OP_TIMEOUT's deadline, watched by the kernel's loop. */
export class RingTimeout implements DeadlineTarget {
  constructor(readonly req: Request, public deadlineNs: number | null, readonly target: number | null, readonly etimeSuccess: boolean) {}

  expire(_now: number): void {
    this.deadlineNs = null;
    this.req.ring.timeoutFired(this);
  }
}

/**
 * @savable An io_uring instance (anon_inode:[io_uring]). A checkpoint saves an idle one (no request in
 * flight, no registered files or eventfd), with its rings' memfd and the kernel's own head and
 * tail (kernel/checkpoint/io_uring.ts).
 */
export class IoUring extends AnonInodeFile {
  /** Immutable. The rings and SQEs; each mapping holds a reference of its own. */
  readonly mem: MemFd;
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly setupFlags: number;
  /** Immutable. struct io_rings' size up to the end of the SQ index array, and the SQEs' offset in `mem`. */
  readonly ringsSize: number;
  readonly sqArrayOff: number;
  readonly sqesOff: number;
  /** The kernel's SQ head (ctx->cached_sq_head) and CQ tail (ctx->cached_cq_tail). */
  sqHead = 0;
  cqTail = 0;
  /** CQEs that did not fit (IORING_FEAT_NODROP), oldest first: [user_data, res, flags]. */
  overflow: [bigint, number, number][] = [];
  /** Requests submitted and not yet completed. */
  readonly inFlight = new Set<Request>();
  /** IOSQE_IO_DRAIN requests (and everything after one) held until the ring is empty. */
  drained: Request[] = [];
  /** IORING_REGISTER_BUFFERS' buffers, [addr, len]; null when none are registered. */
  buffers: [number, number][] | null = null;
  /** IORING_REGISTER_FILES' table (null entries: sparse), or null. */
  files: (FileDescription | null)[] | null = null;
  /** IORING_REGISTER_EVENTFD's eventfd, signalled at each CQE (only async ones with EVENTFD_ASYNC). */
  eventFd: EventFd | null = null;
  eventFdAsync = false;
  /** IORING_OP_TIMEOUTs waiting for completions or their deadline. */
  readonly timeouts = new Set<RingTimeout>();
  /** Completions posted, timeouts' own excepted (what a TIMEOUT's count waits for). */
  completions = 0;
  /** Watches timeouts' deadlines (Kernel.addDeadline/removeDeadline). */
  readonly deadlines: { add(d: DeadlineTarget): void; remove(d: DeadlineTarget): void };

  /** A new ring; with `restored`, the ring a checkpoint saved, over its rings' memfd as restored. */
  constructor(
    sqEntries: number, cqEntries: number, setupFlags: number, fileFlags: number,
    deadlines: { add(d: DeadlineTarget): void; remove(d: DeadlineTarget): void },
    restored: { mem: MemFd; state: RingState } | null = null,
  ) {
    super("anon_inode:[io_uring]", fileFlags);
    this.sqEntries = sqEntries;
    this.cqEntries = cqEntries;
    this.setupFlags = setupFlags;
    this.deadlines = deadlines;
    const noArray = (setupFlags & IORING_SETUP_NO_SQARRAY) !== 0;
    // rings_size: the CQEs, then (cache-line aligned) the SQ index array.
    const cqEnd = CQES + cqEntries * CQE_SIZE;
    this.sqArrayOff = noArray ? 0 : Math.ceil(cqEnd / 64) * 64;
    this.ringsSize = noArray ? cqEnd : this.sqArrayOff + sqEntries * 4;
    this.sqesOff = Math.ceil(this.ringsSize / PAGE_SIZE) * PAGE_SIZE;
    if (restored !== null) {
      this.mem = restored.mem.incRef();
      const st = restored.state;
      this.sqHead = st.sqHead;
      this.cqTail = st.cqTail;
      this.completions = st.completions;
      this.overflow = st.overflow.map(([u, r, f]) => [u, r, f]);
      this.buffers = st.buffers === null ? null : st.buffers.map(([a, l]) => [a, l]);
      return;
    }
    this.mem = MemFd.create(0);
    this.mem.name = "[io_uring]";
    try {
      this.mem.truncate(this.sqesOff + Math.ceil((sqEntries * SQE_SIZE) / PAGE_SIZE) * PAGE_SIZE);
      const h = new DataView(new ArrayBuffer(HEADER - SQ_RING_MASK));
      h.setUint32(SQ_RING_MASK - SQ_RING_MASK, sqEntries - 1, true);
      h.setUint32(CQ_RING_MASK - SQ_RING_MASK, cqEntries - 1, true);
      h.setUint32(SQ_RING_ENTRIES - SQ_RING_MASK, sqEntries, true);
      h.setUint32(CQ_RING_ENTRIES - SQ_RING_MASK, cqEntries, true);
      this.mem.write(new Uint8Array(h.buffer), SQ_RING_MASK);
    } catch (e) {
      this.mem.decRef();
      throw e;
    }
  }

  /** The offsets io_uring_setup reports (io_sqring_offsets, io_cqring_offsets). */
  get sqArrayOffset(): number {
    return this.sqArrayOff;
  }

  /**
   * io_uring_mmap: the offset's high bits choose the region (its low bits are ignored) and the
   * mapping starts at the region's start; as Linux maps no more pages than the region has, an
   * access past the SQEs' pages faults (SIGBUS past the file's end).
   */
  override mmapTarget(offset: number, _len: number): { file: FileDescription; offset: number; name: string } {
    switch ((offset & IORING_OFF_MMAP_MASK) >>> 0) {
      case IORING_OFF_SQ_RING:
      case IORING_OFF_CQ_RING:
        return { file: this.mem, offset: 0, name: this.path() };
      case IORING_OFF_SQES:
        return { file: this.mem, offset: this.sqesOff, name: this.path() };
    }
    throw EINVAL;
  }

  #u32(off: number): number {
    const b = new Uint8Array(4);
    this.mem.read(b, off);
    return new DataView(b.buffer).getUint32(0, true);
  }

  #setU32(off: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.mem.write(b, off);
  }

  /**
   * Reads up to `want` SQEs from the ring (io_submit_sqes's loop, io_get_sqe) without
   * consuming them: an index out of range in the SQ array is null and ends the list.
   */
  takeSqes(want: number): (Sqe | null)[] {
    const hdr = new Uint8Array(HEADER);
    this.mem.read(hdr, 0);
    const tail = new DataView(hdr.buffer).getUint32(SQ_TAIL, true);
    const n = Math.min((tail - this.sqHead) >>> 0, this.sqEntries, want);
    const out: (Sqe | null)[] = [];
    if (n === 0) return out;
    const mask = this.sqEntries - 1;
    let indices: DataView | null = null;
    if (!(this.setupFlags & IORING_SETUP_NO_SQARRAY)) {
      const raw = new Uint8Array(this.sqEntries * 4);
      this.mem.read(raw, this.sqArrayOff);
      indices = new DataView(raw.buffer);
    }
    const sqes = new Uint8Array(this.sqEntries * SQE_SIZE);
    this.mem.read(sqes, this.sqesOff);
    let head = this.sqHead;
    for (let i = 0; i < n; i++) {
      const slot = (head & mask) >>> 0;
      const idx = indices === null ? slot : indices.getUint32(slot * 4, true);
      if (idx >= this.sqEntries) {
        out.push(null);
        break;
      }
      out.push(parseSqe(sqes, idx * SQE_SIZE));
      head = (head + 1) >>> 0;
    }
    return out;
  }

  /**
   * Publishes the SQ head after a batch consumed `n` entries (io_commit_sqring); `dropped` of
   * them were indices out of range (sq_dropped).
   */
  consumeSqes(n: number, dropped: number): void {
    this.sqHead = (this.sqHead + n) >>> 0;
    if (dropped > 0) this.#setU32(SQ_DROPPED, this.#u32(SQ_DROPPED) + dropped);
    this.#setU32(SQ_HEAD, this.sqHead);
  }

  /** CQEs the application has not consumed yet (the CQ head is the application's). */
  cqReady(): number {
    return (this.cqTail - this.#u32(CQ_HEAD)) >>> 0;
  }

  /** Posts one CQE (io_cqring_event_overflow when the ring is full). */
  post(userData: bigint, res: number, flags: number): void {
    if (this.overflow.length > 0 || this.cqReady() >= this.cqEntries) {
      if (this.overflow.length === 0) this.#setSqFlags(true);
      this.overflow.push([userData, res, flags]);
    } else {
      this.#write(userData, res, flags);
      this.#setU32(CQ_TAIL, this.cqTail);
    }
    if (this.eventFd !== null) this.eventFd.signal(1n);
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  #write(userData: bigint, res: number, flags: number): void {
    const b = new Uint8Array(CQE_SIZE);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, userData, true);
    v.setInt32(8, res, true);
    v.setUint32(12, flags >>> 0, true);
    this.mem.write(b, CQES + ((this.cqTail & (this.cqEntries - 1)) >>> 0) * CQE_SIZE);
    this.cqTail = (this.cqTail + 1) >>> 0;
  }

  #setSqFlags(overflowing: boolean): void {
    const f = this.#u32(SQ_FLAGS);
    this.#setU32(SQ_FLAGS, overflowing ? f | IORING_SQ_CQ_OVERFLOW : f & ~IORING_SQ_CQ_OVERFLOW);
  }

  /** Moves overflowed CQEs into the room the application freed (io_cqring_overflow_flush). */
  flushOverflow(): void {
    if (this.overflow.length === 0) return;
    let room = this.cqEntries - this.cqReady();
    let moved = false;
    while (room > 0 && this.overflow.length > 0) {
      const [u, r, f] = this.overflow.shift()!;
      this.#write(u, r, f);
      room--;
      moved = true;
    }
    if (moved) this.#setU32(CQ_TAIL, this.cqTail);
    if (this.overflow.length === 0) this.#setSqFlags(false);
  }

  /** Submits one request: held behind a drain, or run now. */
  submit(req: Request): void {
    this.inFlight.add(req);
    if (this.drained.length > 0 || ((req.sqe.flags & IOSQE_IO_DRAIN) && this.inFlight.size > 1)) {
      this.drained.push(req);
      return;
    }
    req.run();
  }

  /** Runs the operation of req (sys_io_uring.ts). */
  issue(req: Request): IssueResult {
    if (issuer === null) throw new Error("io_uring: a request without sys_io_uring.ts loaded");
    return issuer(this, req);
  }

  /**
   * What a checkpoint saves (kernel/checkpoint/io_uring.ts), or why it cannot: only an idle
   * ring (nothing in flight), without registered files or an eventfd, is saved so far.
   */
  checkpointState(): RingState | string {
    if (this.inFlight.size > 0 || this.drained.length > 0 || this.timeouts.size > 0) return "an io_uring with requests in flight";
    if (this.files !== null) return "an io_uring with registered files";
    if (this.eventFd !== null) return "an io_uring with a registered eventfd";
    return {
      sqEntries: this.sqEntries, cqEntries: this.cqEntries, setupFlags: this.setupFlags, sqHead: this.sqHead,
      cqTail: this.cqTail, completions: this.completions, overflow: this.overflow.map(([u, r, f]) => [u, r, f]),
      buffers: this.buffers === null ? null : this.buffers.map(([a, l]) => [a, l]),
    };
  }

  /** Requests a cancel (ASYNC_CANCEL, POLL_REMOVE, TIMEOUT_REMOVE) ends after its own CQE, as Linux's task work does. */
  #cancels: Request[] = [];

  /** Ends r with -ECANCELED once the request cancelling it has completed. */
  cancelLater(r: Request): void {
    this.#cancels.push(r);
  }

  /** Ends req with res: its CQE (unless IOSQE_CQE_SKIP_SUCCESS and a success), then its link. */
  complete(req: Request, res: number, cqeFlags = 0): void {
    if (req.done) return;
    this.#completeOne(req, res, cqeFlags);
    while (this.#cancels.length > 0) {
      const r = this.#cancels.shift()!;
      const st = r.state;
      if (st instanceof RingTimeout) this.dropTimeout(st);
      this.#completeOne(r, -125 /* ECANCELED */, 0);
    }
  }

  #completeOne(req: Request, res: number, cqeFlags: number): void {
    if (req.done) return;
    req.finish();
    this.inFlight.delete(req);
    if (!(res >= 0 && (req.sqe.flags & IOSQE_CQE_SKIP_SUCCESS))) this.post(req.sqe.userData, res, cqeFlags);
    if (req.sqe.opcode !== IORING_OP_TIMEOUT) {
      this.completions++;
      this.#checkTimeouts();
    }
    const next = req.next;
    if (next !== null) {
      // A link's failure cancels what follows it (a hard link's does not).
      const broken = res < 0 && !(req.sqe.flags & IOSQE_IO_HARDLINK);
      if (broken) this.#cancelChain(next);
      else next.run();
    }
    this.#releaseDrained();
  }

  #cancelChain(req: Request | null): void {
    for (let r = req; r !== null; r = r.next) {
      if (r.done) continue;
      r.finish();
      this.inFlight.delete(r);
      this.post(r.sqe.userData, -125 /* ECANCELED */, 0);
    }
  }

  #releaseDrained(): void {
    while (this.drained.length > 0) {
      const head = this.drained[0]!;
      // A drain request waits for everything before it; the ones after it for it.
      const before = this.inFlight.size - this.drained.length;
      if ((head.sqe.flags & IOSQE_IO_DRAIN) && before > 0) return;
      this.drained.shift();
      head.run();
    }
  }

  /** An IORING_OP_TIMEOUT's deadline passed: -ETIME (or 0 with IORING_TIMEOUT_ETIME_SUCCESS). */
  timeoutFired(to: RingTimeout): void {
    this.timeouts.delete(to);
    this.complete(to.req, to.etimeSuccess ? 0 : -62 /* ETIME */);
  }

  /** Adds a timeout (its count is against `completions`). */
  addTimeout(to: RingTimeout): void {
    this.timeouts.add(to);
    if (to.deadlineNs !== null) this.deadlines.add(to);
  }

  /** Removes a timeout before it fires (completion count reached, TIMEOUT_REMOVE, cancel). */
  dropTimeout(to: RingTimeout): void {
    this.timeouts.delete(to);
    to.deadlineNs = null;
    this.deadlines.remove(to);
  }

  #checkTimeouts(): void {
    for (const to of [...this.timeouts]) {
      if (to.target !== null && this.completions >= to.target) {
        this.dropTimeout(to);
        this.complete(to.req, 0);
      }
    }
  }

  override readiness(mask: number): number {
    let r = 0;
    if (this.cqReady() > 0 || this.overflow.length > 0) r |= EVENT_IN | EVENT_RDNORM;
    // The SQ ring is the application's to fill: writable while it is not full.
    const tail = this.#u32(SQ_TAIL);
    if (((tail - this.sqHead) >>> 0) < this.sqEntries) r |= EVENT_OUT | EVENT_WRNORM;
    return r & mask;
  }

  override get isStream(): boolean {
    return true;
  }

  protected override release(): void {
    for (const req of [...this.inFlight]) {
      req.finish();
      const st = req.state;
      if (st instanceof RingTimeout) this.dropTimeout(st);
    }
    this.inFlight.clear();
    this.drained = [];
    for (const f of this.files ?? []) f?.decRef();
    this.files = null;
    this.eventFd?.decRef();
    this.eventFd = null;
    this.mem.decRef();
  }
}
