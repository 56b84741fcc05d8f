/**
 * Interval timers and resource usage: alarm(2), setitimer(2), getitimer(2), getrusage(2),
 * times(2). CPU times come from kernel/cpu_time.ts; ITIMER_VIRTUAL and ITIMER_PROF are sampled
 * CPU-time timers (kernel/timers.ts: they fire up to ~10 ms late).
 */

import { EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";
import type { CpuTimer, KernelTimer } from "../../timers.ts";
import { monotonicNs } from "../../time.ts";
import {
  childrenCpu, cpuClockNs, type CpuClockKind, encodeRusage, groupCpu, taskCpu, toClockTicks,
} from "../../cpu_time.ts";
import { SIGALRM, SIGPROF, SIGVTALRM, SI_KERNEL } from "../../../abi/linux/signal.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const ITIMER_REAL = 0, ITIMER_VIRTUAL = 1, ITIMER_PROF = 2;
/** The host's scheduler tick (HZ=250), as Linux adds to CPU itimers. */
const TICK_NS = 4_000_000;
const RUSAGE_SELF = 0, RUSAGE_CHILDREN = -1, RUSAGE_THREAD = 1;

interface ItimerValue {
  valueNs: number;
  intervalNs: number;
}

function readTimeval(b: Uint8Array, off: number): number {
  const v = new DataView(b.buffer, b.byteOffset);
  const sec = v.getBigInt64(off, true), usec = v.getBigInt64(off + 8, true);
  if (sec < 0n || usec < 0n || usec >= 1_000_000n) throw EINVAL;
  return Number(sec) * 1e9 + Number(usec) * 1000;
}

function writeTimeval(v: DataView, off: number, ns: number): void {
  if (ns <= 0) return;
  // Round up so that a running timer never reads as 0.
  const us = Math.ceil(ns / 1000);
  v.setBigInt64(off, BigInt(Math.floor(us / 1e6)), true);
  v.setBigInt64(off + 8, BigInt(us % 1e6), true);
}

function encodeItimer(cur: ItimerValue): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  writeTimeval(v, 0, cur.intervalNs);
  writeTimeval(v, 16, cur.valueNs);
  return b;
}

function cpuTimerOf(t: Task, which: number): CpuTimer | null {
  return which === ITIMER_VIRTUAL ? t.tg.itimerVirtual : t.tg.itimerProf;
}

function current(t: Task, which: number): ItimerValue {
  if (which === ITIMER_REAL) {
    const tm = t.tg.itimerReal;
    if (!tm) return { valueNs: 0, intervalNs: 0 };
    return { valueNs: Math.max(1000, tm.deadlineNs - monotonicNs()), intervalNs: tm.intervalNs };
  }
  const tm = cpuTimerOf(t, which);
  if (!tm) return { valueNs: 0, intervalNs: 0 };
  // Not sampled yet past its expiry: it is about to fire; report the smallest value.
  return { valueNs: Math.max(1000, tm.expiresNs - cpuClockNs(tm.clock)), intervalNs: tm.intervalNs };
}

function arm(t: Task, which: number, next: ItimerValue): void {
  const k = t.kernel, tg = t.tg;
  if (which === ITIMER_REAL) {
    if (tg.itimerReal) k.removeTimer(tg.itimerReal);
    tg.itimerReal = null;
    if (next.valueNs > 0) {
      const tm: KernelTimer = {
        deadlineNs: monotonicNs() + next.valueNs, intervalNs: next.intervalNs, tg, signo: SIGALRM, code: SI_KERNEL,
      };
      tg.itimerReal = tm;
      k.addTimer(tm);
    }
    return;
  }
  const old = cpuTimerOf(t, which);
  if (old) k.removeCpuTimer(old);
  let tm: CpuTimer | null = null;
  if (next.valueNs > 0) {
    const kind: CpuClockKind = which === ITIMER_VIRTUAL ? "virt" : "prof";
    const clock = { kind, thread: null, group: tg };
    tm = {
      // Linux adds a tick to a CPU itimer's first expiry (set_cpu_itimer), so getitimer reads
      // back slightly more than was set.
      clock, expiresNs: cpuClockNs(clock) + next.valueNs + TICK_NS, intervalNs: next.intervalNs, tg,
      signo: which === ITIMER_VIRTUAL ? SIGVTALRM : SIGPROF, code: SI_KERNEL,
    };
    k.addCpuTimer(tm);
  }
  if (which === ITIMER_VIRTUAL) tg.itimerVirtual = tm;
  else tg.itimerProf = tm;
}

/** Implements setitimer(2) for ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF. */
const sysSetitimer: SyscallFn = (t, a) => {
  const which = a.int(0), newp = a.pointer(1), oldp = a.pointer(2);
  if (which !== ITIMER_REAL && which !== ITIMER_VIRTUAL && which !== ITIMER_PROF) throw EINVAL;
  let next: ItimerValue | null = null;
  if (newp !== 0) {
    const b = t.copyIn(newp, 32);
    next = { intervalNs: readTimeval(b, 0), valueNs: readTimeval(b, 16) };
  }
  if (oldp !== 0) t.copyOut(oldp, encodeItimer(current(t, which)));
  if (next) arm(t, which, next);
  return 0;
};

/** Implements getitimer(2). */
const sysGetitimer: SyscallFn = (t, a) => {
  const which = a.int(0);
  if (which !== ITIMER_REAL && which !== ITIMER_VIRTUAL && which !== ITIMER_PROF) throw EINVAL;
  t.copyOut(a.pointer(1), encodeItimer(current(t, which)));
  return 0;
};

/** Implements alarm(2): returns the seconds left on the previous alarm, rounded. */
const sysAlarm: SyscallFn = (t, a) => {
  const secs = a.uint(0);
  const old = current(t, ITIMER_REAL);
  arm(t, ITIMER_REAL, { valueNs: secs * 1e9, intervalNs: 0 });
  if (old.valueNs === 0) return 0;
  return Math.max(1, Math.round(old.valueNs / 1e9));
};

/**
 * Implements getrusage(2): user and system time and ru_maxrss for the process, its reaped
 * children or the calling thread; the other counters read zero.
 */
const sysGetrusage: SyscallFn = (t, a) => {
  const who = a.int(0);
  let b: Uint8Array;
  switch (who) {
    case RUSAGE_SELF:
      b = encodeRusage(groupCpu(t.tg), Math.max(t.tg.maxRssKb, t.mm.as.peakRssKb()));
      break;
    case RUSAGE_CHILDREN:
      b = encodeRusage(childrenCpu(t.tg), t.tg.childMaxRssKb);
      break;
    case RUSAGE_THREAD:
      b = encodeRusage(taskCpu(t), Math.max(t.tg.maxRssKb, t.mm.as.peakRssKb()));
      break;
    default:
      throw EINVAL;
  }
  t.copyOut(a.pointer(1), b);
  return 0;
};

/** Implements times(2): the process's and its reaped children's CPU times in clock ticks. */
const sysTimes: SyscallFn = (t, a) => {
  if (a.pointer(0) !== 0) {
    const self = groupCpu(t.tg), kids = childrenCpu(t.tg);
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, toClockTicks(self.userNs), true);
    v.setBigInt64(8, toClockTicks(self.sysNs), true);
    v.setBigInt64(16, toClockTicks(kids.userNs), true);
    v.setBigInt64(24, toClockTicks(kids.sysNs), true);
    t.copyOut(a.pointer(0), b);
  }
  return Math.floor(monotonicNs() / 1e7);
};

export const table: Record<number, SyscallEntry> = {
  36: supported("getitimer", sysGetitimer),
  37: supported("alarm", sysAlarm),
  38: supported("setitimer", sysSetitimer),
  98: supported("getrusage", sysGetrusage),
  100: supported("times", sysTimes),
};
