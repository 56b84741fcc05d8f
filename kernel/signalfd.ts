/**
 * signalfd: pending signals read from a file, Linux's fs/signalfd.c.
 *
 * A read takes pending signals in the file's mask (lowest number first: each thread's private
 * set, then the process's shared set) and returns them as 128-byte struct signalfd_siginfo; it
 * would block (EAGAIN) when none is pending. The file is readable while one is pending. It is
 * woken through the thread group's signalQueue, which task_signals.ts notifies whenever a signal
 * becomes pending.
 *
 * Linux reads the pending signals of the task that reads; file operations here are not told
 * who calls, so a signalfd reads those of the process that created it (the same thing except
 * for a signalfd inherited across fork).
 *
 * @module
 */

import { EAGAIN, EINVAL } from "./errno.ts";
import { O_RDWR } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import { anonStat } from "../vfs/epoll.ts";
import { FileDescription, type Stat } from "../vfs/file_description.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { SigInfo } from "./signal_frame.ts";
import { sigBit } from "./signals.ts";

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

let nextIno = 1;

/** @savable */
export class SignalFd extends FileDescription {
  /** Immutable. */
  readonly tg: ThreadGroup;
  /** The signals this file reads (SIGKILL and SIGSTOP never). */
  mask: bigint;
  readonly ino = nextIno++;

  constructor(tg: ThreadGroup, mask: bigint, flags: number) {
    super(O_RDWR | flags, tg.signalQueue);
    this.tg = tg;
    this.mask = mask;
  }

  path(): string {
    return "anon_inode:[signalfd]";
  }

  stat(): Stat {
    return anonStat(this.ino);
  }

  override get isStream(): boolean {
    return true;
  }

  /** noop_llseek, as Linux's file operations for this file. */
  override seek(): number {
    return 0;
  }

  #pending(): bigint {
    let m = this.tg.sharedPending.mask;
    for (const t of this.tg.tasks) m |= t.pendingSignals.mask;
    return m & this.mask;
  }

  /** Takes the lowest pending signal in the mask. */
  #take(): SigInfo | null {
    const set = this.#pending();
    if (set === 0n) return null;
    let signo = 1;
    while (!(set & sigBit(signo))) signo++;
    for (const t of this.tg.tasks) {
      const info = t.pendingSignals.take(signo);
      if (info) return info;
    }
    return this.tg.sharedPending.take(signo);
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
