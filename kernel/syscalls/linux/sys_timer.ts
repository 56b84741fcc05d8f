/**
 * POSIX timers: timer_create(2), timer_settime(2), timer_gettime(2), timer_getoverrun(2),
 * timer_delete(2). The timers themselves are plain data (kernel/timers.ts) fired by the
 * scheduler loop: wall-clock ones on the monotonic clock, CPU-time ones by sampling.
 */

import { EAGAIN, EINVAL, EOPNOTSUPP } from "../../errno.ts";
import { RLIMIT_SIGPENDING } from "../../../abi/linux/limits.ts";
import { sigpendingFull } from "../../task_signals.ts";
import type { Task } from "../../task.ts";
import { clockNs, monotonicNs } from "../../time.ts";
import { cpuClockNs, decodeCpuClock, type CpuClock } from "../../cpu_time.ts";
import {
  type CpuTimer, type KernelTimer, type PosixTimer, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD,
  SIGEV_THREAD_ID,
} from "../../timers.ts";
import { SI_TIMER, SIGALRM } from "../../../abi/linux/signal.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const TIMER_ABSTIME = 1;
/** Timers one process may hold (Linux bounds them only by RLIMIT_SIGPENDING, which the sandbox's root may raise). */
const MAX_TIMERS = 4096;

/** Wall clocks a timer may use; MONOTONIC_RAW and the coarse clocks cannot (EOPNOTSUPP). */
const WALL_TIMER_CLOCKS: ReadonlySet<number> = new Set([0, 1, 7, 8, 9, 11]);
const NO_TIMER_CLOCKS: ReadonlySet<number> = new Set([4, 5, 6]);

function timerOf(t: Task, id: number): PosixTimer {
  const p = t.tg.posixTimers.get(id);
  if (!p) throw EINVAL;
  return p;
}

/** The CPU clock of a timer's clock id, or null for a wall clock. */
function cpuClockOf(t: Task, p: PosixTimer): CpuClock | null {
  return decodeCpuClock(t, p.clockId, EINVAL);
}

/** Implements timer_create(2): SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE (and SIGEV_THREAD). */
const sysTimerCreate: SyscallFn = (t, a) => {
  const clockId = a.int(0), sevp = a.pointer(1), idp = a.pointer(2);
  if (NO_TIMER_CLOCKS.has(clockId)) throw EOPNOTSUPP;
  if (!WALL_TIMER_CLOCKS.has(clockId) && decodeCpuClock(t, clockId, EINVAL) === null) throw EINVAL;
  // alloc_posix_timer: the timer's signal is allocated with it, a place of the caller's
  // RLIMIT_SIGPENDING for as long as the timer lives (kernel/task_signals.ts).
  if (sigpendingFull(t.kernel, t.creds, t.tg.limits.soft(RLIMIT_SIGPENDING))) throw EAGAIN;
  const tg = t.tg;
  let id = 0;
  while (tg.posixTimers.has(id)) id++;
  if (id >= MAX_TIMERS) throw EINVAL;
  let notify = SIGEV_SIGNAL, signo = SIGALRM, value = BigInt(id), target: Task | null = null;
  if (sevp !== 0) {
    const b = t.copyIn(sevp, 64);
    const v = new DataView(b.buffer);
    value = v.getBigUint64(0, true);
    signo = v.getInt32(8, true);
    notify = v.getInt32(12, true);
    switch (notify) {
      case SIGEV_THREAD_ID | SIGEV_SIGNAL: {
        const th = t.findTask(v.getInt32(16, true));
        if (!th || th.tg !== tg) throw EINVAL;
        target = th;
      }
      // falls through: the signal is checked as for SIGEV_SIGNAL
      case SIGEV_SIGNAL:
      case SIGEV_THREAD:
        if (signo <= 0 || signo > 64) throw EINVAL;
        break;
      case SIGEV_NONE:
        break;
      default:
        throw EINVAL;
    }
  }
  // Written before the timer exists, so that a bad pointer leaves nothing behind.
  t.copyOutU32(idp, id);
  tg.posixTimers.set(id, {
    id, clockId, notify, signo, value, thread: target, wall: null, cpu: null, seq: ++tg.timerSeq, queued: false,
    overrun: 0, lastOverrun: 0,
  });
  return 0;
};

/** Reads struct itimerspec: interval then value, in ns. */
function readItimerspec(t: Task, addr: number): { intervalNs: number; valueNs: number } {
  const b = t.copyIn(addr, 32);
  const v = new DataView(b.buffer);
  const ts = (off: number) => {
    const sec = v.getBigInt64(off, true), nsec = v.getBigInt64(off + 8, true);
    if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) throw EINVAL;
    return Number(sec) * 1e9 + Number(nsec);
  };
  return { intervalNs: ts(0), valueNs: ts(16) };
}

function encodeItimerspec(intervalNs: number, valueNs: number): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  const put = (off: number, ns: number) => {
    const n = BigInt(Math.max(0, Math.round(ns)));
    v.setBigInt64(off, n / 1_000_000_000n, true);
    v.setBigInt64(off + 8, n % 1_000_000_000n, true);
  };
  put(0, intervalNs);
  put(16, valueNs);
  return b;
}

/** The time left and interval of a timer; a timer past due but not yet fired reads 1 ns. */
function currentSetting(p: PosixTimer): Uint8Array {
  if (p.wall) return encodeItimerspec(p.wall.intervalNs, Math.max(1, p.wall.deadlineNs - monotonicNs()));
  if (p.cpu) return encodeItimerspec(p.cpu.intervalNs, Math.max(1, p.cpu.expiresNs - cpuClockNs(p.cpu.clock)));
  return encodeItimerspec(0, 0);
}

/** Stops the timer; a signal of it still queued becomes stale (dropped at dequeue). */
function disarm(t: Task, p: PosixTimer): void {
  if (p.wall) t.kernel.removeTimer(p.wall);
  if (p.cpu) t.kernel.removeCpuTimer(p.cpu);
  p.wall = null;
  p.cpu = null;
  p.seq = ++t.tg.timerSeq;
  p.queued = false;
  p.overrun = 0;
}

/** Implements timer_settime(2), relative or TIMER_ABSTIME, one-shot or periodic. */
const sysTimerSettime: SyscallFn = (t, a) => {
  // Linux's order: no new value is EINVAL, then its copy (EFAULT), its check (EINVAL) and the
  // timer id (EINVAL); the old value is written last, after the timer is set (a bad pointer
  // there is EFAULT with the new setting in force).
  const flags = a.int(1), newp = a.pointer(2), oldp = a.pointer(3);
  if (newp === 0) throw EINVAL;
  const next = readItimerspec(t, newp);
  const p = timerOf(t, a.int(0));
  const old = oldp !== 0 ? currentSetting(p) : null;
  arm(t, p, flags, next);
  if (old !== null) t.copyOut(oldp, old);
  return 0;
};

/** Sets timer p to `next` (disarmed when its value is 0). */
function arm(t: Task, p: PosixTimer, flags: number, next: { intervalNs: number; valueNs: number }): void {
  disarm(t, p);
  if (next.valueNs === 0) return;
  const target = { tg: t.tg, signo: p.signo, code: SI_TIMER, thread: p.thread, posix: p };
  const cpu = cpuClockOf(t, p);
  if (cpu) {
    const now = cpuClockNs(cpu);
    const tm: CpuTimer = {
      ...target, clock: cpu, intervalNs: next.intervalNs,
      expiresNs: (flags & TIMER_ABSTIME) ? next.valueNs : now + next.valueNs,
    };
    p.cpu = tm;
    t.kernel.addCpuTimer(tm);
  } else {
    let deadlineNs = monotonicNs() + next.valueNs;
    if (flags & TIMER_ABSTIME) deadlineNs = monotonicNs() + (next.valueNs - Number(clockNs(p.clockId, t.timeNs)!));
    const tm: KernelTimer = { ...target, deadlineNs, intervalNs: next.intervalNs };
    p.wall = tm;
    t.kernel.addTimer(tm);
  }
}

/** Implements timer_gettime(2). */
const sysTimerGettime: SyscallFn = (t, a) => {
  const p = timerOf(t, a.int(0));
  t.copyOut(a.pointer(1), currentSetting(p));
  return 0;
};

/** Implements timer_getoverrun(2): the overrun count of the last delivered signal. */
const sysTimerGetoverrun: SyscallFn = (t, a) => timerOf(t, a.int(0)).lastOverrun;

/** Implements timer_delete(2). */
const sysTimerDelete: SyscallFn = (t, a) => {
  const p = timerOf(t, a.int(0));
  disarm(t, p);
  t.tg.posixTimers.delete(p.id);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  222: supported("timer_create", sysTimerCreate),
  223: supported("timer_settime", sysTimerSettime),
  224: supported("timer_gettime", sysTimerGettime),
  225: supported("timer_getoverrun", sysTimerGetoverrun),
  226: supported("timer_delete", sysTimerDelete),
};
