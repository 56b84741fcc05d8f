/**
 * Pipes: pipe(2), pipe2(2). Analogous to Linux's fs/pipe.c and gVisor's kernel/pipe.
 *
 * One {@linkcode Pipe} buffer, two descriptions (read end, write end) sharing one wait queue.
 * Linux semantics kept: a ring of 16 page slots (F_GETPIPE_SZ/F_SETPIPE_SZ adjust it), writes
 * of at most PIPE_BUF bytes are atomic (all or nothing), O_DIRECT packets (pipe2), reads return
 * what is there, EOF once every writer closed, EPIPE once every reader closed (the syscall
 * layer raises SIGPIPE), FIONREAD.
 *
 * @module
 */

import type { Credentials } from "../kernel/creds.ts";
import { checkUtimes, chmodBits, chownChange, explicitTimes, type InodeTimes, utimesApplied } from "./permissions.ts";
import type { TimeSpec } from "./vfs.ts";
import { EAGAIN, EBUSY, EINVAL, ENOTTY, EPERM, EPIPE, ESPIPE } from "../kernel/errno.ts";
import { FIONREAD, O_DIRECT, O_RDONLY, O_WRONLY, S_IFIFO } from "../abi/linux/file.ts";
import { EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM, WaitQueue } from "../waiter/mod.ts";
import { FileDescription, type MemoryIO, type Stat } from "./file_description.ts";

const PAGE_SIZE = 4096;
/** Writes of at most this many bytes are atomic (never interleaved with other writers'). */
export const PIPE_BUF = 4096;
export const DEFAULT_PIPE_SIZE = 65536;
/** /proc/sys/fs/pipe-max-size's default. */
export const PIPE_MAX_SIZE = 1048576;
/**
 * /proc/sys/fs/pipe-max-size now (root may change it; a checkpoint refuses a changed one): the
 * largest size F_SETPIPE_SZ gives without CAP_SYS_RESOURCE.
 */
export const pipeSysctl = { maxSize: PIPE_MAX_SIZE };

/**
 * Linux's round_pipe_size: a power of two of at least a page, 0 (invalid) above 2^31.
 */
export function roundPipeSize(n: number): number {
  if (n > 0x80000000) return 0;
  let size = PAGE_SIZE;
  while (size < n) size *= 2;
  return size;
}

let nextPipeIno = 1;

/**
 * @savable Slots of a pipe's ring (Linux's struct pipe_buffer): data[offset, offset + len).
 * Either one slot of at most PAGE_SIZE bytes (a slot that may take more bytes, `canMerge`, owns
 * a whole page), or a run of whole-page slots that lie back to back in one copy of a write:
 * `data` then starts on a page boundary of that copy and the run occupies every page slot that
 * [offset, offset + len) touches ({@linkcode slotsOf}). One object for the 16 pages of a 64 KiB
 * write instead of 16: what a pipe allocates per write was a fifth of the sentry's time on a
 * pipe stream.
 */
export class PipeBuffer {
  constructor(
    public data: Uint8Array,
    public offset: number,
    public len: number,
    /** Written without O_DIRECT and not full: a later small write may append to it. */
    public canMerge: boolean,
    /** Written with O_DIRECT: one read returns at most this slot and drops what it left. */
    public packet: boolean,
  ) {}

  /** The last view of a buffer a write handed over (Pipe.append, owned): taking it frees the buffer. */
  frees = false;
}

/** The ring slots b occupies: the pages [offset, offset + len) touches (1 for a single slot). */
function slotsOf(b: PipeBuffer): number {
  return Math.ceil((b.offset + b.len) / PAGE_SIZE) - Math.floor(b.offset / PAGE_SIZE);
}

/**
 * @savable The shared buffer of a pipe: a ring of page-sized slots, as Linux's pipe since 5.5.
 * The capacity is a count of slots (F_GETPIPE_SZ reports slots × PAGE_SIZE), so a pipe of
 * O_DIRECT packets fills after `slots` writes however small they are.
 *
 * Writes follow Linux's pipe_write: a write's last `total % PAGE_SIZE` bytes go first into the
 * last slot if it can merge and has room for them, the rest in whole pages, one slot each.
 * Hence PIPE_BUF atomicity: a write of at most PAGE_SIZE bytes lands in one slot, whole.
 */
export class Pipe {
  readonly bufs: PipeBuffer[] = [];
  /** Bytes buffered (the sum of the slots' lengths). */
  size = 0;
  /** Ring slots in use (the sum of slotsOf over bufs). */
  used = 0;
  /** Linux's max_usage: how many slots may be in use. */
  slots = DEFAULT_PIPE_SIZE / PAGE_SIZE;
  readers = 0;
  writers = 0;
  /** Opens of each side so far (FIFOs: a blocked open waits for the other count to change). */
  readOpens = 0;
  writeOpens = 0;
  readonly ino = nextPipeIno++;
  readonly queue = new WaitQueue();
  readonly createdNs = BigInt(Date.now()) * 1_000_000n;
  /**
   * The pipefs inode's permission bits and owner (an anonymous pipe's: pipe(2) makes it 0600,
   * owned by the caller's fsuid and fsgid; fchmod and fchown change it). A FIFO's are its
   * file's, in the tree.
   */
  attrs: PipeAttrs = { mode: 0o600, uid: 0, gid: 0 };
  /**
   * The inode's times once futimens, fchmod or fchown changed them; null: all the creation
   * time (pipefs updates no time on read or write).
   */
  times: InodeTimes | null = null;
  /**
   * A buffer every byte of which was read: the next owned write reuses it (Linux keeps a spare
   * page the same way), so a steady stream of writes allocates nothing. Only a cache.
   */
  #spare: ArrayBuffer | null = null;

  /**
   * The capacity and the buffered data as plain data, for a checkpoint (kernel/checkpoint/):
   * each slot's bytes with where they start in their first page, so that a restored ring uses
   * the same slots.
   */
  save(): {
    slots: number; attrs: PipeAttrs; bufs: { data: Uint8Array; offset: number; canMerge: boolean; packet: boolean }[];
  } {
    return {
      slots: this.slots,
      attrs: { ...this.attrs },
      bufs: this.bufs.map((b) => ({
        data: b.data.slice(b.offset, b.offset + b.len), offset: b.offset % PAGE_SIZE, canMerge: b.canMerge, packet: b.packet,
      })),
    };
  }

  /** A pipe holding what {@linkcode save} saved, with no ends yet (PipeEnd's constructor counts them). */
  static load(s: Omit<ReturnType<Pipe["save"]>, "attrs"> & { attrs?: PipeAttrs | undefined }): Pipe {
    const p = new Pipe();
    p.fill(s);
    return p;
  }

  /**
   * Puts what {@linkcode save} saved into this empty pipe (a FIFO's, which its inode holds: a
   * restore fills it rather than making another). Throws EINVAL when it holds data already.
   */
  fill(s: Omit<ReturnType<Pipe["save"]>, "attrs"> & { attrs?: PipeAttrs | undefined }): void {
    if (this.bufs.length > 0) throw EINVAL;
    this.slots = s.slots;
    if (s.attrs !== undefined) this.attrs = { ...s.attrs };
    for (const b of s.bufs) {
      // A slot that may merge owns a whole page, as append makes it.
      const data = new Uint8Array(Math.max(b.canMerge ? PAGE_SIZE : 0, b.offset + b.data.length));
      data.set(b.data, b.offset);
      const buf = new PipeBuffer(data, b.offset, b.data.length, b.canMerge, b.packet);
      this.bufs.push(buf);
      this.size += buf.len;
      this.used += slotsOf(buf);
    }
  }

  /** The capacity in bytes, as F_GETPIPE_SZ reports it. */
  get capacity(): number {
    return this.slots * PAGE_SIZE;
  }

  get full(): boolean {
    return this.used >= this.slots;
  }

  /** True if the next read starts at an O_DIRECT packet. */
  get headIsPacket(): boolean {
    return this.bufs.length > 0 && this.bufs[0]!.packet;
  }

  /** How many bytes the tail of a write of `total` bytes may merge into the last slot (0 or total % PAGE_SIZE). */
  #mergeable(total: number): number {
    const chars = total % PAGE_SIZE;
    const last = this.bufs[this.bufs.length - 1];
    if (chars === 0 || last === undefined || !last.canMerge) return 0;
    return last.offset + last.len + chars <= PAGE_SIZE ? chars : 0;
  }

  /**
   * How many bytes of a write of `total` bytes the pipe takes now, without waiting. A prefix
   * of that count fits too (so a caller may append less than it planned).
   */
  writable(total: number): number {
    const m = this.#mergeable(total);
    return m + Math.min(total - m, Math.max(0, this.slots - this.used) * PAGE_SIZE);
  }

  /** n bytes for a write to hand over to append (owned): the spare buffer when it is large enough. */
  allocate(n: number): Uint8Array {
    const spare = this.#spare;
    if (spare === null || spare.byteLength < n) return new Uint8Array(n);
    this.#spare = null;
    return new Uint8Array(spare, 0, n);
  }

  /** Takes the first k < b.len bytes of b: the pages of a run read to the end free their slots. */
  #consume(b: PipeBuffer, k: number): void {
    const before = slotsOf(b);
    b.offset += k;
    b.len -= k;
    this.size -= k;
    this.used -= before - slotsOf(b);
  }

  /** Slot b was taken: if it held the end of a handed-over buffer, that buffer is free. */
  #release(b: PipeBuffer): void {
    if (b.frees && (this.#spare === null || this.#spare.byteLength < b.data.buffer.byteLength)) {
      this.#spare = b.data.buffer as ArrayBuffer;
    }
  }

  /**
   * Appends data, the first bytes of a write of `total` bytes (the merge decision depends on
   * the whole write). Precondition: data.length <= writable(total). Wakes readers. `owned`:
   * the caller hands data over (it never touches it again), so whole pages become views of it
   * instead of a copy (the syscall layer reads the writer's memory straight into such a buffer).
   */
  append(data: Uint8Array, total: number, packet: boolean, owned = false): void {
    if (data.length === 0) return;
    let o = this.#mergeable(total);
    if (o > data.length) o = 0;
    if (o > 0) {
      const last = this.bufs[this.bufs.length - 1]!;
      last.data.set(data.subarray(0, o), last.offset + last.len);
      last.len += o;
    }
    // One copy of the rest: its whole pages are one run of slots (one slot each for packets,
    // which a read takes one at a time), a partial last page gets its own page so that later
    // small writes can merge into it in place.
    const rest = data.length - o;
    const whole = rest - (rest % PAGE_SIZE);
    let lastView: PipeBuffer | null = null;
    if (whole > 0) {
      const copy = owned ? data.subarray(o, o + whole) : data.slice(o, o + whole);
      const step = packet ? PAGE_SIZE : whole;
      for (let off = 0; off < whole; off += step) {
        lastView = new PipeBuffer(copy.subarray(off, off + step), 0, step, false, packet);
        this.bufs.push(lastView);
      }
      this.used += whole / PAGE_SIZE;
      o += whole;
    }
    if (o < data.length) {
      const n = data.length - o;
      const page = new Uint8Array(packet ? n : PAGE_SIZE);
      page.set(data.subarray(o));
      this.bufs.push(new PipeBuffer(page, 0, n, !packet, packet));
      this.used++;
    }
    // Slots are taken in order, so once the last view of the buffer is taken, all are.
    if (owned && lastView !== null) lastView.frees = true;
    this.size += data.length;
    this.queue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /**
   * Copies up to dst.length bytes out, as Linux's pipe_read: a packet ends the read, and what
   * dst had no room for of it is dropped. Wakes writers.
   */
  take(dst: Uint8Array): number {
    let o = 0;
    return this.takeVia(dst.length, (src) => {
      dst.set(src, o);
      o += src.length;
      return src.length;
    });
  }

  /**
   * take() without a copy of the pipe's own: hands `sink` the bytes a take of `max` bytes
   * returns, in order, as views of the pipe's memory (the slots that lie back to back in one
   * buffer, as the pages of one write do, in one view), and takes what sink accepted. sink
   * returns how many bytes of the view it accepted (fewer: a fault; nothing more is offered).
   * As Linux's pipe_read, a slot sink did not accept whole stays in the pipe. Wakes writers.
   */
  takeVia(max: number, sink: (src: Uint8Array) => number): number {
    const bufs = this.bufs;
    let planned = 0, count = 0;
    while (planned < max && count < bufs.length) {
      const b = bufs[count++]!;
      planned += Math.min(b.len, max - planned);
      if (b.packet) break;
    }
    // Offer the planned bytes run by run; `accepted` stops at the first short run.
    let accepted = 0, offered = 0;
    for (let i = 0; i < count && accepted === offered;) {
      const first = bufs[i]!;
      const start = first.data.byteOffset + first.offset;
      let end = start + Math.min(first.len, planned - offered);
      for (i++; i < count; i++) {
        const b = bufs[i]!;
        if (b.data.buffer !== first.data.buffer || b.data.byteOffset + b.offset !== end) break;
        end += Math.min(b.len, planned - offered - (end - start));
      }
      offered += end - start;
      accepted += Math.min(end - start, sink(new Uint8Array(first.data.buffer, start, end - start)));
    }
    // Consume the slots covered by what was accepted.
    let n = 0;
    while (bufs.length > 0) {
      const b = bufs[0]!;
      const k = Math.min(b.len, planned - n);
      if (k === 0) break;
      if (n + k > accepted) {
        // A short copy: of a run, the pages the sink took whole go; the slot it cut stays.
        const upto = Math.floor((b.offset + accepted - n) / PAGE_SIZE) * PAGE_SIZE - b.offset;
        if (!b.packet && upto > 0) {
          this.#consume(b, upto);
          n += upto;
        }
        break;
      }
      n += k;
      if (b.packet || k === b.len) {
        this.size -= b.len;
        this.used -= slotsOf(b);
        bufs.shift();
        this.#release(b);
        if (b.packet) break;
      } else {
        this.#consume(b, k);
      }
    }
    if (n > 0) this.queue.notify(EVENT_OUT | EVENT_WRNORM);
    return n;
  }

  /** Copies up to n bytes from the front without taking them (splice, tee). */
  peek(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.size));
    let o = 0;
    for (const b of this.bufs) {
      if (o >= out.length) break;
      const k = Math.min(b.len, out.length - o);
      out.set(b.data.subarray(b.offset, b.offset + k), o);
      o += k;
    }
    return out;
  }

  /** Drops n bytes from the front (a splice delivered them); packet boundaries do not stop it. */
  discard(n: number): void {
    while (n > 0 && this.bufs.length > 0) {
      const b = this.bufs[0]!;
      const k = Math.min(b.len, n);
      n -= k;
      if (k === b.len) {
        this.size -= k;
        this.used -= slotsOf(b);
        this.bufs.shift();
        this.#release(b);
      } else {
        this.#consume(b, k);
      }
    }
    this.queue.notify(EVENT_OUT | EVENT_WRNORM);
  }

  /** Readiness of an end that can read and/or write (Linux's pipe_poll). */
  readiness(mask: number, reader: boolean, writer: boolean, hupAllowed = true): number {
    let r = 0;
    if (reader) {
      if (this.size > 0) r |= EVENT_IN | EVENT_RDNORM;
      if (this.writers === 0 && hupAllowed) r |= EVENT_HUP;
    }
    if (writer) {
      if (!this.full) r |= EVENT_OUT | EVENT_WRNORM;
      if (this.readers === 0) r |= EVENT_ERR;
    }
    return r & (mask | EVENT_HUP | EVENT_ERR);
  }

  /**
   * F_SETPIPE_SZ (Linux's pipe_set_size): n as an unsigned int, rounded up to a power of two
   * of at least a page; EINVAL above 2^31; EPERM growing beyond /proc/sys/fs/pipe-max-size
   * without privilege; EBUSY below the slots in use. Returns the new size.
   */
  setSize(n: number, privileged: boolean): number {
    const size = roundPipeSize(n >>> 0);
    if (size === 0) throw EINVAL;
    const slots = size / PAGE_SIZE;
    if (slots > this.slots && size > pipeSysctl.maxSize && !privileged) throw EPERM;
    if (slots < this.used) throw EBUSY;
    this.slots = slots;
    this.queue.notify(EVENT_OUT | EVENT_WRNORM);
    return size;
  }
}

/** One end of a pipe. */
export class PipeEnd extends FileDescription {
  readonly pipe: Pipe;
  readonly isReader: boolean;

  override get supportsAsync(): boolean {
    return true;
  }

  constructor(pipe: Pipe, reader: boolean, extraFlags: number) {
    super((reader ? O_RDONLY : O_WRONLY) | extraFlags, pipe.queue);
    this.pipe = pipe;
    this.isReader = reader;
    if (reader) pipe.readers++;
    else pipe.writers++;
  }

  override get isStream(): boolean {
    return true;
  }

  /** A read that starts at a packet takes that packet only (readv: one read of the whole length). */
  override get messageOriented(): boolean {
    return this.pipe.headIsPacket;
  }

  /** Writes through this end make packets (pipe2's O_DIRECT). */
  get packetMode(): boolean {
    return (this.flags & O_DIRECT) !== 0;
  }

  path(): string {
    return `pipe:[${this.pipe.ino}]`;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    if (offset !== null) throw ESPIPE;
    const p = this.pipe;
    if (dst.length === 0) return 0;
    if (p.size === 0) {
      if (p.writers === 0) return 0;
      throw EAGAIN;
    }
    return p.take(dst);
  }

  /**
   * Writes what fits now (a write of at most PIPE_BUF bytes whole or not at all); EAGAIN if
   * nothing fits. A blocking write(2) that must wait for the rest is the syscall layer's
   * (kernel/syscalls/linux/_file_io.ts, pipeWrite).
   */
  override write(src: Uint8Array, offset: number | null): number {
    if (offset !== null) throw ESPIPE;
    const p = this.pipe;
    if (src.length === 0) return 0;
    if (p.readers === 0) throw EPIPE;
    const n = p.writable(src.length);
    if (n === 0) throw EAGAIN;
    p.append(src.subarray(0, n), src.length, this.packetMode);
    return n;
  }

  override readiness(mask: number): number {
    return this.pipe.readiness(mask, this.readable, this.writable);
  }

  /** FIONREAD: the bytes buffered, on either end (Linux's pipe_ioctl). */
  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== FIONREAD) throw ENOTTY;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, this.pipe.size, true);
    io.copyOut(arg, b);
    return 0;
  }

  stat(): Stat {
    const p = this.pipe;
    const c = p.createdNs;
    const a = p.attrs;
    const tm = p.times ?? { atimeNs: c, mtimeNs: c, ctimeNs: c };
    return {
      dev: 0xd, ino: p.ino, mode: S_IFIFO | a.mode, nlink: 1, uid: a.uid, gid: a.gid, rdev: 0,
      size: 0, blksize: 4096, blocks: 0, ...tm,
    };
  }

  /** fchmod of an anonymous pipe: its pipefs inode, shared by both ends (a FIFO's is in the tree). */
  override chmodOutsideTree(creds: Credentials, mode: number): void {
    const a = this.pipe.attrs;
    this.pipe.attrs = { ...a, mode: chmodBits(creds, a, mode) };
    this.#changed();
  }

  override chownOutsideTree(creds: Credentials, uid: number, gid: number): void {
    const a = this.pipe.attrs;
    const c = chownChange(creds, { ...a, mode: S_IFIFO | a.mode }, uid, gid, false);
    this.pipe.attrs = { mode: c.mode ?? a.mode, uid: c.uid ?? a.uid, gid: c.gid ?? a.gid };
    this.#changed();
  }

  /** futimens of an anonymous pipe: its pipefs inode's times, as any inode's setattr. */
  override touchOutsideTree(creds: Credentials, atime: TimeSpec, mtime: TimeSpec): void {
    const a = this.pipe.attrs;
    checkUtimes(creds, { ...a, mode: S_IFIFO | a.mode }, explicitTimes(atime, mtime));
    const st = this.stat();
    this.pipe.times = utimesApplied(st, atime, mtime, BigInt(Date.now()) * 1_000_000n);
  }

  /** An attribute change moves ctime. */
  #changed(): void {
    const st = this.stat();
    this.pipe.times = { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs, ctimeNs: BigInt(Date.now()) * 1_000_000n };
  }

  protected override release(): void {
    const p = this.pipe;
    if (this.isReader) p.readers--;
    else p.writers--;
    p.queue.notify(EVENT_IN | EVENT_OUT | EVENT_HUP | EVENT_ERR);
  }
}

/** The permission bits and owner of a pipe's inode. */
export interface PipeAttrs {
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Makes a new pipe: [read end, write end], with status flags for each (the reader's by default),
 * its inode owned by `owner` (the caller's fsuid and fsgid).
 */
export function newPipe(
  readFlags: number, writeFlags: number = readFlags, owner: { uid: number; gid: number } = { uid: 0, gid: 0 },
): [PipeEnd, PipeEnd] {
  const p = new Pipe();
  p.attrs = { mode: 0o600, uid: owner.uid, gid: owner.gid };
  return [new PipeEnd(p, true, readFlags), new PipeEnd(p, false, writeFlags)];
}
