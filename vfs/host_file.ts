/**
 * Descriptions of host file descriptors the sentry was given: its own stdin, stdout and stderr
 * (what runsc calls donated or host FDs). The application reads and writes them without ever
 * holding a host descriptor itself.
 *
 * Never blocking the sentry:
 * - A regular file is read and written directly (pread, pwrite, read, write).
 * - Anything else (terminal, pipe, socket, device) is polled with a zero timeout first. When
 *   nothing is ready the read throws EAGAIN and a single poll(2) with no timeout is started on
 *   a thread of Deno's pool; when it returns, the description's wait queue is notified with
 *   EVENT_IN and the blocked reader runs again. An eventfd beside the host descriptor lets
 *   release() cancel that poll, so a pending wait never keeps the process alive.
 * - Writes are synchronous host writes (retried on EINTR, continued after partial writes, and
 *   waited out with a blocking poll if the host descriptor is non-blocking and full).
 *
 * ioctl: TCGETS and TIOCGWINSZ are answered by the host terminal when the descriptor is one
 * (ENOTTY otherwise); FIONREAD is answered for every kind. Nothing that changes the host
 * terminal is passed through.
 *
 * @module
 */

import { EAGAIN, EFBIG, EINVAL, ENOTTY, ESPIPE, errnoFromNumber } from "../kernel/errno.ts";
import {
  FIONREAD, O_ACCMODE, O_APPEND, O_LARGEFILE, O_RDONLY, O_WRONLY, S_IFIFO, S_IFMT, S_IFREG,
  S_IFSOCK, TCGETS, TIOCGWINSZ,
} from "../abi/linux/file.ts";
import * as ffi from "../platform/ptrace/_ffi.ts";
import { EVENT_ALWAYS, EVENT_IN, EVENT_OUT } from "../waiter/mod.ts";
import { FileDescription, type MemoryIO, type Stat } from "./file_description.ts";
import { HostStatBuffer } from "./hostfs/host_stat.ts";

/** Size of the kernel's struct termios (not glibc's), which TCGETS fills. */
const KERNEL_TERMIOS_SIZE = 36;
const WINSIZE_SIZE = 8;
const HOST_EAGAIN = 11;

type HostKind = "regular" | "tty" | "stream" | "device";

/**
 * @savable A host descriptor as an open file description. The host descriptor itself is
 * host-bound: a restore must re-attach it (as runsc re-donates stdio).
 */
export class HostFile extends FileDescription {
  /** @nosave Immutable. */
  readonly #fd: number;
  /** Immutable. Whether release() closes the host descriptor. */
  readonly #owned: boolean;
  /** Immutable. */
  readonly #kind: HostKind;
  /** Immutable. For /proc/PID/fd. */
  readonly #name: string;
  /** @nosave The eventfd that cancels a pending wait; -1 until the first wait. */
  #cancelFd = -1;
  /** @nosave The pending host poll, or null. */
  #waiting: Promise<void> | null = null;
  #released = false;

  constructor(hostFd: number, o: { owned: boolean; defaultFlags: number }) {
    const fl = ffi.hostFcntl(hostFd, ffi.F_GETFL, 0);
    super((fl < 0 ? o.defaultFlags : fl & (O_ACCMODE | O_APPEND)) | O_LARGEFILE);
    this.#fd = hostFd;
    this.#owned = o.owned;
    const st = new HostStatBuffer();
    const type = ffi.hostFstat(hostFd, st.bytes) < 0 ? 0 : st.mode & S_IFMT;
    if (type === S_IFREG) this.#kind = "regular";
    else if (ffi.hostIsatty(hostFd)) this.#kind = "tty";
    else if (type === S_IFIFO || type === S_IFSOCK || type === 0) this.#kind = "stream";
    else this.#kind = "device";
    if (type === S_IFIFO) this.#name = `pipe:[${st.ino}]`;
    else if (type === S_IFSOCK) this.#name = `socket:[${st.ino}]`;
    else this.#name = `host:[${hostFd}]`;
  }

  path(): string {
    return this.#name;
  }

  override get isStream(): boolean {
    return this.#kind !== "regular";
  }

  override read(dst: Uint8Array, offset: number | null): number {
    if (this.#kind === "regular") {
      const n = offset === null ? ffi.hostRead(this.#fd, dst) : ffi.hostPread(this.#fd, dst, offset);
      if (n < 0) throw errnoFromNumber(-n);
      return n;
    }
    if (offset !== null) throw ESPIPE;
    if (dst.length === 0) return 0;
    const rev = ffi.hostPoll(this.#fd, ffi.POLLIN, 0);
    if (rev === 0) {
      this.#armWait();
      throw EAGAIN;
    }
    const n = ffi.hostRead(this.#fd, dst);
    if (n === -HOST_EAGAIN) {
      this.#armWait();
      throw EAGAIN;
    }
    if (n < 0) throw errnoFromNumber(-n);
    return n;
  }

  /** @nosave Counts what is written (the sentry's stdout and stderr), or null. */
  meter: OutputMeter | null = null;

  override write(src: Uint8Array, offset: number | null): number {
    if (offset !== null && this.#kind !== "regular") throw ESPIPE;
    const meter = this.meter;
    if (meter === null) return this.#write(src, offset);
    const n = meter.admit(src.length);
    const cut = n < src.length;
    let done = 0;
    try {
      done = n === 0 ? 0 : this.#write(src.subarray(0, n), offset);
    } finally {
      meter.wrote(done, cut);
    }
    // Past the limit: the sandbox is being ended (the writer with it); nothing more goes out.
    if (done === 0 && cut) throw EFBIG;
    return done;
  }

  #write(src: Uint8Array, offset: number | null): number {
    let done = 0;
    while (done < src.length) {
      const part = src.subarray(done);
      const n = offset === null ? ffi.hostWrite(this.#fd, part) : ffi.hostPwrite(this.#fd, part, offset + done);
      if (n === -HOST_EAGAIN) {
        ffi.hostPoll(this.#fd, ffi.POLLOUT, -1);
        continue;
      }
      if (n < 0) {
        if (done > 0) return done;
        throw errnoFromNumber(-n);
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  override seek(offset: number, whence: number): number {
    if (this.#kind === "tty" || this.#kind === "stream") throw ESPIPE;
    const r = ffi.hostLseek(this.#fd, offset, whence);
    if (r < 0) throw errnoFromNumber(-r);
    return r;
  }

  stat(): Stat {
    const st = new HostStatBuffer();
    const r = ffi.hostFstat(this.#fd, st.bytes);
    if (r < 0) throw errnoFromNumber(-r);
    return st.decode();
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    switch (cmd) {
      case TCGETS:
        return this.#ttyIoctl(cmd, arg, io, KERNEL_TERMIOS_SIZE);
      case TIOCGWINSZ:
        return this.#ttyIoctl(cmd, arg, io, WINSIZE_SIZE);
      case FIONREAD: {
        const b = new Uint8Array(4);
        if (this.#kind === "regular") {
          const st = this.stat();
          const pos = ffi.hostLseek(this.#fd, 0, 1);
          new DataView(b.buffer).setInt32(0, Math.min(Math.max(st.size - Math.max(pos, 0), 0), 0x7fffffff), true);
        } else {
          const r = ffi.hostIoctl(this.#fd, FIONREAD, b);
          if (r < 0) throw r === -ENOTTY.errno ? ENOTTY : errnoFromNumber(-r);
        }
        io.copyOut(arg, b);
        return 0;
      }
      default:
        throw ENOTTY;
    }
  }

  #ttyIoctl(cmd: number, arg: number, io: MemoryIO, size: number): number {
    if (this.#kind !== "tty") throw ENOTTY;
    const b = new Uint8Array(size);
    const r = ffi.hostIoctl(this.#fd, cmd, b);
    if (r < 0) throw errnoFromNumber(-r);
    io.copyOut(arg, b);
    return 0;
  }

  override readiness(mask: number): number {
    if (this.#kind === "regular") return mask & (EVENT_IN | EVENT_OUT);
    let ready = mask & EVENT_OUT; // Writes are synchronous: always "ready".
    if (mask & EVENT_IN) {
      const rev = ffi.hostPoll(this.#fd, ffi.POLLIN, 0);
      if (rev < 0) return ready;
      // poll(2) and the waiter use the same bit values.
      ready |= rev & (EVENT_IN | EVENT_ALWAYS);
      if ((rev & (ffi.POLLIN | ffi.POLLHUP | ffi.POLLERR | ffi.POLLNVAL)) === 0) this.#armWait();
    }
    return ready & (mask | EVENT_ALWAYS);
  }

  /** Starts the background host poll that notifies the wait queue, unless one is pending. */
  #armWait(): void {
    if (this.#waiting !== null || this.#released) return;
    if (this.#cancelFd < 0) {
      const e = ffi.hostEventfd();
      if (e < 0) throw errnoFromNumber(-e);
      this.#cancelFd = e;
    }
    const done = (): void => {
      this.#waiting = null;
      if (this.#released) this.#closeHost();
      else this.waitQueue.notify(EVENT_IN);
    };
    this.#waiting = ffi.hostPollAsync(this.#fd, ffi.POLLIN, this.#cancelFd).then(done, done);
  }

  /** The pending background poll, if any (tests wait on it). */
  get pendingWait(): Promise<void> | null {
    return this.#waiting;
  }

  protected override release(): void {
    this.#released = true;
    if (this.#waiting !== null) {
      // Wake the pool thread; the completion closes the descriptors.
      const one = new Uint8Array(8);
      one[0] = 1;
      ffi.hostWrite(this.#cancelFd, one);
    } else {
      this.#closeHost();
    }
  }

  #closeHost(): void {
    if (this.#cancelFd >= 0) ffi.hostClose(this.#cancelFd);
    this.#cancelFd = -1;
    if (this.#owned) ffi.hostClose(this.#fd);
  }
}

/** Wraps a host descriptor; owned: release() closes it. */
export function hostFile(hostFd: number, o: { owned: boolean }): HostFile {
  if (hostFd < 0) throw EINVAL;
  return new HostFile(hostFd, { owned: o.owned, defaultFlags: O_RDONLY });
}

/**
 * Counts and caps what the sandbox writes to one of the sentry's descriptors (its stdout and
 * stderr: the run report's byte counts, --output-limit; kernel/resources.ts).
 */
export interface OutputMeter {
  /** How many of n bytes about to be written may be. */
  admit(n: number): number;
  /** n bytes were written; cut: fewer were admitted than asked for. */
  wrote(n: number, cut: boolean): void;
}

/**
 * The sentry's own stdin (0), stdout (1) or stderr (2). Never closes the host descriptor.
 * `meter` counts (and may cap) what is written.
 */
export function hostStdio(fd: 0 | 1 | 2, meter: OutputMeter | null = null): HostFile {
  const f = new HostFile(fd, { owned: false, defaultFlags: fd === 0 ? O_RDONLY : O_WRONLY });
  f.meter = meter;
  return f;
}
