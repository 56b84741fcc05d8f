/**
 * signalfd: pending signals read from a file, Linux's fs/signalfd.c.
 *
 * A read takes the reading task's pending signals in the file's mask, as Linux's
 * dequeue_signal(current): the lowest of the thread's own (thread-directed) set first, then the
 * lowest of its process's shared set; another thread's thread-directed signals are not its to
 * read. They come back as 128-byte struct signalfd_siginfo; with none pending a read would
 * block (EAGAIN). Readiness (poll, epoll) is likewise the asking task's.
 *
 * The reader is the task whose syscall is running (Kernel.current); outside any syscall (never
 * for reads) readiness falls back to every thread of the process that made the file. The
 * file's queue is the kernel's signalfdQueue, notified whenever any signal becomes pending, so a
 * signalfd inherited across fork wakes its new readers too (others re-check and sleep again).
 *
 * @module
 */

import { AnonInodeFile } from "../vfs/anon_file.ts";
import { EAGAIN, EINVAL } from "./errno.ts";
import { O_RDWR } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { SigInfo } from "./signal_frame.ts";
import { sigBit } from "./signals.ts";
import type { PendingSignals } from "./task_signals.ts";

/** sizeof(struct signalfd_siginfo). */
export const SIGNALFD_SIGINFO_SIZE = 128;
/** struct signalfd_siginfo field offsets. */
const SSI = {
  signo: 0, errno: 4, code: 8, pid: 12, uid: 16, fd: 20, tid: 24, band: 28, overrun: 32, trapno: 36,
  status: 40, int: 44, ptr: 48, utime: 56, stime: 64, addr: 72,
} as const;

const SIGCHLD = 17;
const FAULT_SIGNALS = new Set([4, 5, 7, 8, 11]);
const SI_TIMER = -2;
const SI_KERNEL = 0x80;

/** @savable */
export class SignalFd extends AnonInodeFile {
  /** Immutable. */
  readonly kernel: Kernel;
  /** Immutable. The process that made the file (readiness outside a syscall). */
  readonly tg: ThreadGroup;
  /** The signals this file reads (SIGKILL and SIGSTOP never). */
  mask: bigint;

  constructor(kernel: Kernel, tg: ThreadGroup, mask: bigint, flags: number) {
    super("anon_inode:[signalfd]", O_RDWR | flags, kernel.signalfdQueue);
    this.kernel = kernel;
    this.tg = tg;
    this.mask = mask;
  }

  #pending(): bigint {
    const t = this.kernel.current;
    if (t !== null) return (t.pendingSignals.mask | t.tg.sharedPending.mask) & this.mask;
    let m = this.tg.sharedPending.mask;
    for (const t of this.tg.tasks) m |= t.pendingSignals.mask;
    return m & this.mask;
  }

  /** Takes the reader's next signal in the mask: its own lowest, else its process's lowest. */
  #take(): SigInfo | null {
    const t = this.kernel.current;
    if (t === null) return null;
    return takeLowest(t.pendingSignals, this.mask) ?? takeLowest(t.tg.sharedPending, this.mask);
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    const max = Math.floor(dst.length / SIGNALFD_SIGINFO_SIZE);
    if (max === 0) throw EINVAL;
    let n = 0;
    for (; n < max; n++) {
      const info = this.#take();
      if (!info) break;
      dst.set(encodeSignalfdSiginfo(info), n * SIGNALFD_SIGINFO_SIZE);
    }
    if (n === 0) throw EAGAIN;
    return n * SIGNALFD_SIGINFO_SIZE;
  }

  override readiness(mask: number): number {
    return this.#pending() !== 0n ? mask & (EVENT_IN | EVENT_RDNORM) : 0;
  }
}

function takeLowest(p: PendingSignals, mask: bigint): SigInfo | null {
  const set = p.mask & mask;
  if (set === 0n) return null;
  let signo = 1;
  while (!(set & sigBit(signo))) signo++;
  return p.take(signo);
}

/** Encodes a struct signalfd_siginfo, with the fields Linux's signalfd_copyinfo fills per layout. */
export function encodeSignalfdSiginfo(i: SigInfo): Uint8Array {
  const b = new Uint8Array(SIGNALFD_SIGINFO_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(SSI.signo, i.signo, true);
  v.setInt32(SSI.errno, i.errno ?? 0, true);
  v.setInt32(SSI.code, i.code, true);
  if (i.code > 0 && i.code !== SI_KERNEL && FAULT_SIGNALS.has(i.signo)) {
    v.setBigUint64(SSI.addr, BigInt(i.addr ?? 0), true);
  } else if (i.code > 0 && i.code !== SI_KERNEL && i.signo === SIGCHLD) {
    v.setUint32(SSI.pid, i.pid ?? 0, true);
    v.setUint32(SSI.uid, i.uid ?? 0, true);
    v.setInt32(SSI.status, i.status ?? 0, true);
  } else if (i.band !== undefined) {
    v.setUint32(SSI.band, i.band, true);
    v.setInt32(SSI.fd, i.fd ?? 0, true);
  } else if (i.code === SI_TIMER) {
    v.setUint32(SSI.tid, i.timerId ?? 0, true);
    v.setUint32(SSI.overrun, i.overrun ?? 0, true);
    v.setBigUint64(SSI.ptr, i.value ?? 0n, true);
    v.setInt32(SSI.int, Number(BigInt.asIntN(32, i.value ?? 0n)), true);
  } else {
    v.setUint32(SSI.pid, i.pid ?? 0, true);
    v.setUint32(SSI.uid, i.uid ?? 0, true);
    if (i.code < 0) {
      v.setBigUint64(SSI.ptr, i.value ?? 0n, true);
      v.setInt32(SSI.int, Number(BigInt.asIntN(32, i.value ?? 0n)), true);
    }
  }
  return b;
}
