/**
 * Pipes: pipe(2), pipe2(2). Analogous to Linux's fs/pipe.c and gVisor's kernel/pipe.
 *
 * One {@linkcode Pipe} buffer, two descriptions (read end, write end) sharing one wait queue.
 * Linux semantics kept: capacity 64 KiB (F_GETPIPE_SZ/F_SETPIPE_SZ adjust it), writes of at
 * most PIPE_BUF bytes are atomic (all or nothing), reads return what is there, EOF once every
 * writer closed, EPIPE once every reader closed (the syscall layer raises SIGPIPE).
 *
 * @module
 */

import { EAGAIN, EBUSY, EINVAL, EPERM, EPIPE, ESPIPE } from "../kernel/errno.ts";
import { O_RDONLY, O_WRONLY, S_IFIFO } from "../abi/linux/file.ts";
import { EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM, WaitQueue } from "../waiter/mod.ts";
import { FileDescription, type Stat } from "./file_description.ts";

export const PIPE_BUF = 4096;
export const DEFAULT_PIPE_SIZE = 65536;
/** /proc/sys/fs/pipe-max-size. */
export const PIPE_MAX_SIZE = 1048576;

let nextPipeIno = 1;

/** @savable The shared buffer of a pipe. */
export class Pipe {
  readonly chunks: Uint8Array[] = [];
  /** Bytes buffered. */
  size = 0;
  capacity = DEFAULT_PIPE_SIZE;
  readers = 0;
  writers = 0;
  /** Opens of each side so far (FIFOs: a blocked open waits for the other count to change). */
  readOpens = 0;
  writeOpens = 0;
  readonly ino = nextPipeIno++;
  readonly queue = new WaitQueue();
  readonly createdNs = BigInt(Date.now()) * 1_000_000n;

  /** Copies up to dst.length bytes out. */
  take(dst: Uint8Array): number {
    let n = 0;
    while (n < dst.length && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, dst.length - n);
      dst.set(c.subarray(0, k), n);
      n += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.size -= n;
    return n;
  }

  /** Copies src in (the caller checked the room). */
  put(src: Uint8Array): void {
    this.chunks.push(src.slice());
    this.size += src.length;
  }

  readiness(mask: number, reader: boolean): number {
    let r = 0;
    if (reader) {
      if (this.size > 0) r |= EVENT_IN | EVENT_RDNORM;
      if (this.writers === 0) r |= EVENT_HUP;
    } else {
      if (this.capacity - this.size >= PIPE_BUF || (this.size < this.capacity && this.capacity < PIPE_BUF)) {
        r |= EVENT_OUT | EVENT_WRNORM;
      }
      if (this.readers === 0) r |= EVENT_ERR;
    }
    return r & (mask | EVENT_HUP | EVENT_ERR);
  }
}

/** One end of a pipe. */
export class PipeEnd extends FileDescription {
  readonly pipe: Pipe;
  readonly isReader: boolean;

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
    const n = p.take(dst);
    p.queue.notify(EVENT_OUT | EVENT_WRNORM);
    return n;
  }

  override write(src: Uint8Array, offset: number | null): number {
    if (offset !== null) throw ESPIPE;
    const p = this.pipe;
    if (p.readers === 0) throw EPIPE;
    if (src.length === 0) return 0;
    const room = p.capacity - p.size;
    // Up to PIPE_BUF bytes go in whole or not at all.
    if (room <= 0 || (src.length <= PIPE_BUF && room < src.length)) throw EAGAIN;
    const n = Math.min(room, src.length);
    p.put(src.subarray(0, n));
    p.queue.notify(EVENT_IN | EVENT_RDNORM);
    return n;
  }

  override readiness(mask: number): number {
    return this.pipe.readiness(mask, this.isReader);
  }

  stat(): Stat {
    const t = this.pipe.createdNs;
    return {
      dev: 0xd, ino: this.pipe.ino, mode: S_IFIFO | 0o600, nlink: 1, uid: 0, gid: 0, rdev: 0,
      size: 0, blksize: 4096, blocks: 0, atimeNs: t, mtimeNs: t, ctimeNs: t,
    };
  }

  /** F_GETPIPE_SZ. */
  getPipeSize(): number {
    return this.pipe.capacity;
  }

  /** F_SETPIPE_SZ: rounds up to a power of two of pages; EBUSY below what is buffered. */
  setPipeSize(n: number, privileged: boolean): number {
    if (n <= 0) throw EINVAL;
    if (n > PIPE_MAX_SIZE && !privileged) throw EPERM;
    if (n > 0x7fffffff) throw EINVAL;
    let size = 4096;
    while (size < n) size *= 2;
    if (size < this.pipe.size) throw EBUSY;
    this.pipe.capacity = size;
    this.pipe.queue.notify(EVENT_OUT);
    return size;
  }

  protected override release(): void {
    const p = this.pipe;
    if (this.isReader) p.readers--;
    else p.writers--;
    p.queue.notify(EVENT_IN | EVENT_OUT | EVENT_HUP | EVENT_ERR);
  }
}

/** Makes a new pipe: [read end, write end]. */
export function newPipe(extraFlags: number): [PipeEnd, PipeEnd] {
  const p = new Pipe();
  return [new PipeEnd(p, true, extraFlags), new PipeEnd(p, false, extraFlags)];
}
