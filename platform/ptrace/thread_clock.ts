/**
 * The CPU time the host charged one stub thread, read from /proc/PID/task/TID: schedstat's run
 * time (ns) and stat's utime and stime (ticks, used only to split the run time as Linux's
 * cputime_adjust does for getrusage).
 *
 * The two files stay open while the thread lives: a pread of an open /proc file costs a few µs
 * here, opening it again several times more (path walk, a new inode), and a parked host thread
 * (ptrace.ts) serves many tasks in turn. Another process's thread has no CPU-time clock a
 * process may read (Linux refuses clock_gettime on a thread of another group), so /proc it is.
 *
 * @module
 */

import * as ffi from "./_ffi.ts";

/** Cumulative time of a host thread: run time in ns and the tick counts that split it. */
export interface ThreadCpuReading {
  ns: number;
  utime: number;
  stime: number;
}

export const ZERO_READING: ThreadCpuReading = Object.freeze({ ns: 0, utime: 0, stime: 0 });

const buf = new Uint8Array(1024);
const decoder = new TextDecoder();

/** @nosave The open /proc files of one host thread. Rebuilt on demand. */
export class ThreadClock {
  #sched = -1;
  #stat = -1;

  constructor(readonly pid: number, readonly tid: number) {}

  /** The thread's cumulative time, or null when it cannot be read (the thread is gone). */
  read(): ThreadCpuReading | null {
    if (this.#sched < 0) {
      const dir = `/proc/${this.pid}/task/${this.tid}`;
      const sched = ffi.hostOpen(`${dir}/schedstat`, ffi.O_RDONLY | ffi.O_CLOEXEC);
      if (sched < 0) return null;
      const stat = ffi.hostOpen(`${dir}/stat`, ffi.O_RDONLY | ffi.O_CLOEXEC);
      if (stat < 0) {
        ffi.hostClose(sched);
        return null;
      }
      this.#sched = sched;
      this.#stat = stat;
    }
    let n = ffi.hostPread(this.#sched, buf, 0);
    if (n <= 0) return null;
    const ns = Number(decoder.decode(buf.subarray(0, n)).split(" ")[0]);
    n = ffi.hostPread(this.#stat, buf, 0);
    if (n <= 0 || !Number.isFinite(ns)) return null;
    const stat = decoder.decode(buf.subarray(0, n));
    // Fields after the parenthesised comm: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ns, utime: Number(f[11]) || 0, stime: Number(f[12]) || 0 };
  }

  close(): void {
    if (this.#sched >= 0) ffi.hostClose(this.#sched);
    if (this.#stat >= 0) ffi.hostClose(this.#stat);
    this.#sched = this.#stat = -1;
  }
}

/**
 * The time between two readings of one thread, split into user and system time by the ticks
 * counted between them (all user time when no tick fell in between, as cputime_adjust does).
 */
export function cpuBetween(from: ThreadCpuReading, to: ThreadCpuReading): { userNs: number; sysNs: number } {
  const total = Math.max(0, to.ns - from.ns);
  const u = Math.max(0, to.utime - from.utime), s = Math.max(0, to.stime - from.stime);
  const userNs = u + s === 0 ? total : Math.round(total * u / (u + s));
  return { userNs, sysNs: total - userNs };
}
