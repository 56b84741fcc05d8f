/** Interval timers and resource usage: alarm(2), setitimer(2), getitimer(2), getrusage(2), times(2). */

import { EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";
import type { KernelTimer } from "../../timers.ts";
import { monotonicNs } from "../../time.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const ITIMER_REAL = 0, ITIMER_VIRTUAL = 1, ITIMER_PROF = 2;
const SIGALRM = 14;

function readTimeval(b: Uint8Array, off: number): number {
  const v = new DataView(b.buffer, b.byteOffset);
  const sec = v.getBigInt64(off, true), usec = v.getBigInt64(off + 8, true);
  if (sec < 0n || usec < 0n || usec >= 1_000_000n) throw EINVAL;
  return Number(sec) * 1e9 + Number(usec) * 1000;
}

function writeTimeval(v: DataView, off: number, ns: number): void {
  // Round up so that a running timer never reads as 0.
  const us = Math.ceil(ns / 1000);
  v.setBigInt64(off, BigInt(Math.floor(us / 1e6)), true);
  v.setBigInt64(off + 8, BigInt(us % 1e6), true);
}

function current(t: Task): { valueNs: number; intervalNs: number } {
  const tm = t.tg.itimerReal;
  if (!tm) return { valueNs: 0, intervalNs: 0 };
  return { valueNs: Math.max(1000, tm.deadlineNs - monotonicNs()), intervalNs: tm.intervalNs };
}

function arm(t: Task, valueNs: number, intervalNs: number): void {
  const k = t.kernel;
  if (t.tg.itimerReal) k.removeTimer(t.tg.itimerReal);
  t.tg.itimerReal = null;
  if (valueNs > 0) {
    const tm: KernelTimer = { deadlineNs: monotonicNs() + valueNs, intervalNs, tg: t.tg, signo: SIGALRM, code: 0x80 };
    t.tg.itimerReal = tm;
    k.addTimer(tm);
  }
}

/** Implements setitimer(2); ITIMER_VIRTUAL and ITIMER_PROF are kept but never fire yet. */
const sysSetitimer: SyscallFn = (t, a) => {
  const which = a.int(0), newp = a.pointer(1), oldp = a.pointer(2);
  if (which !== ITIMER_REAL && which !== ITIMER_VIRTUAL && which !== ITIMER_PROF) throw EINVAL;
  const old = which === ITIMER_REAL ? current(t) : (t.tg.cpuItimers[which] ?? { valueNs: 0, intervalNs: 0 });
  let next: { valueNs: number; intervalNs: number } | null = null;
  if (newp !== 0) {
    const b = t.copyIn(newp, 32);
    next = { intervalNs: readTimeval(b, 0), valueNs: readTimeval(b, 16) };
  }
  if (oldp !== 0) {
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    writeTimeval(v, 0, old.intervalNs);
    writeTimeval(v, 16, old.valueNs === 0 ? 0 : old.valueNs);
    if (old.valueNs === 0) { v.setBigInt64(16, 0n, true); v.setBigInt64(24, 0n, true); }
    t.copyOut(oldp, b);
  }
  if (next) {
    if (which === ITIMER_REAL) arm(t, next.valueNs, next.intervalNs);
    else t.tg.cpuItimers[which] = next;
  }
  return 0;
};

/** Implements getitimer(2). */
const sysGetitimer: SyscallFn = (t, a) => {
  const which = a.int(0);
  if (which !== ITIMER_REAL && which !== ITIMER_VIRTUAL && which !== ITIMER_PROF) throw EINVAL;
  const cur = which === ITIMER_REAL ? current(t) : (t.tg.cpuItimers[which] ?? { valueNs: 0, intervalNs: 0 });
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  if (cur.intervalNs) writeTimeval(v, 0, cur.intervalNs);
  if (cur.valueNs) writeTimeval(v, 16, cur.valueNs);
  t.copyOut(a.pointer(1), b);
  return 0;
};

/** Implements alarm(2): returns the seconds left on the previous alarm, rounded. */
const sysAlarm: SyscallFn = (t, a) => {
  const secs = a.uint(0);
  const old = current(t);
  arm(t, secs * 1e9, 0);
  if (old.valueNs === 0) return 0;
  return Math.max(1, Math.round(old.valueNs / 1e9));
};

/** Implements getrusage(2); CPU times are not accounted yet and read as zero. */
const sysGetrusage: SyscallFn = (t, a) => {
  const who = a.int(0);
  if (who !== 0 && who !== -1 && who !== 1) throw EINVAL;
  t.copyOut(a.pointer(1), new Uint8Array(144));
  return 0;
};

/** Implements times(2): clock ticks (USER_HZ 100) since boot; CPU times read as zero. */
const sysTimes: SyscallFn = (t, a) => {
  if (a.pointer(0) !== 0) t.copyOut(a.pointer(0), new Uint8Array(32));
  return Math.floor(monotonicNs() / 1e7);
};

export const table: Record<number, SyscallEntry> = {
  36: supported("getitimer", sysGetitimer),
  37: supported("alarm", sysAlarm),
  38: partial("setitimer", sysSetitimer, "ITIMER_VIRTUAL and ITIMER_PROF never fire yet"),
  98: partial("getrusage", sysGetrusage, "CPU times and counters read as zero"),
  100: partial("times", sysTimes, "CPU times read as zero"),
};
