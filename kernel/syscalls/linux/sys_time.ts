/** Clocks and sleeping: clock_gettime(2), gettimeofday(2), time(2), nanosleep(2), ... */

import { EINVAL, EOPNOTSUPP } from "../../errno.ts";
import {
  CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_THREAD_CPUTIME_ID, clockNs, monotonicNs, realtimeNs,
} from "../../time.ts";
import type { Task } from "../../task.ts";
import { readTimespecNs } from "./_time.ts";
import { type CpuClock, cpuClockNs, decodeCpuClock } from "../../cpu_time.ts";
import { sandboxCpus } from "../../cpus.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const TIMER_ABSTIME = 1;

function timespec(ns: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, ns / 1_000_000_000n, true);
  v.setBigInt64(8, ns % 1_000_000_000n, true);
  return b;
}

/** The time of any clock t may read: the wall clocks, or a CPU-time clock (cpu_time.ts). */
function anyClockNs(t: Task, clock: number): bigint {
  const cpu = decodeCpuClock(t, clock, EINVAL);
  if (cpu !== null) return BigInt(Math.floor(cpuClockNs(cpu)));
  const ns = clockNs(clock, t.timeNs);
  if (ns === null) throw EINVAL;
  return ns;
}

/** Implements clock_gettime(2), CPU-time clocks included. */
const sysClockGettime: SyscallFn = (t, a) => {
  t.copyOut(a.pointer(1), timespec(anyClockNs(t, a.int(0))));
  return 0;
};

/** Implements clock_getres(2): 1 ns for high-resolution clocks, a tick (4 ms) for coarse ones. */
const sysClockGetres: SyscallFn = (t, a) => {
  const clock = a.int(0);
  if (decodeCpuClock(t, clock, EINVAL) === null && clockNs(clock, t.timeNs) === null) throw EINVAL;
  const res = clock === 5 || clock === 6 ? 4_000_000n : 1n;
  if (a.pointer(1) !== 0) t.copyOut(a.pointer(1), timespec(res));
  return 0;
};

/** Implements gettimeofday(2); the timezone, if asked for, is UTC. */
const sysGettimeofday: SyscallFn = (t, a) => {
  const ns = realtimeNs();
  if (a.pointer(0) !== 0) {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, ns / 1_000_000_000n, true);
    v.setBigInt64(8, (ns % 1_000_000_000n) / 1000n, true);
    t.copyOut(a.pointer(0), b);
  }
  if (a.pointer(1) !== 0) t.copyOut(a.pointer(1), new Uint8Array(8));
  return 0;
};

/** Implements time(2). */
const sysTime: SyscallFn = (t, a) => {
  const sec = realtimeNs() / 1_000_000_000n;
  if (a.pointer(0) !== 0) t.copyOutU64(a.pointer(0), sec);
  return Number(sec);
};

/**
 * A sleep's progress: its absolute deadline, and where to write the time left if a signal
 * handler interrupts it (Kernel.#interruptSyscall writes `rem`; 0 for none). A stop and continue
 * runs the sleep again towards the same deadline, as Linux's restart_block does.
 */
export interface SleepState {
  deadlineNs: number;
  remAddr: number;
  /** A fault writing `rem` makes the call fail with EFAULT instead of EINTR (nanosleep_copyout). */
  remFaults: true;
}

/**
 * Sleeps until a monotonic deadline kept in t.syscallState, so that the syscall can run again
 * after every wake-up without drifting.
 */
function sleepUntil(t: Task, firstDeadline: () => number, remAddr = 0): SyscallResult {
  let st = t.syscallState as SleepState | null;
  if (st === null) {
    st = { deadlineNs: firstDeadline(), remAddr, remFaults: true };
    t.syscallState = st;
  }
  if (monotonicNs() >= st.deadlineNs) return 0;
  return block([], 0, st.deadlineNs, "never");
}

/** Implements nanosleep(2). */
const sysNanosleep: SyscallFn = (t, a) => {
  if (t.syscallState === null) {
    const ns = readTimespecNs(t, a.pointer(0));
    return sleepUntil(t, () => monotonicNs() + Number(ns), a.pointer(1));
  }
  return sleepUntil(t, () => 0);
};

/** A sleep on a process's CPU-time clock: until the clock reaches cpuDeadlineNs. */
interface CpuSleepState extends SleepState {
  clock: CpuClock;
  cpuDeadlineNs: number;
}

/**
 * Sleeps until a process CPU-time clock reaches the deadline (Linux's posix_cpu_nsleep). The
 * clock moves at most as fast as the host's CPUs together, so each wait lasts what is left of
 * it divided by their number (1 ms at least), and the clock is read again.
 */
function cpuSleep(_t: Task, st: CpuSleepState): SyscallResult {
  const left = st.cpuDeadlineNs - cpuClockNs(st.clock);
  if (left <= 0) return 0;
  // deadlineNs also gives an interrupted sleep its `rem`: the wall time to the next look.
  st.deadlineNs = monotonicNs() + Math.max(Math.ceil(left / sandboxCpus()), 1_000_000);
  return block([], 0, st.deadlineNs, "never");
}

/** Implements clock_nanosleep(2), relative and TIMER_ABSTIME. */
const sysClockNanosleep: SyscallFn = (t, a) => {
  const st = t.syscallState as CpuSleepState | SleepState | null;
  if (st !== null) return "clock" in st ? cpuSleep(t, st) : sleepUntil(t, () => 0);
  const clock = a.int(0), flags = a.int(1);
  if (clock === 2 || clock < 0) {
    // A process's CPU-time clock; a thread's is EINVAL, as Linux's posix_cpu_nsleep.
    const c = decodeCpuClock(t, clock, EINVAL)!;
    if (c.thread !== null) throw EINVAL;
    const ns = Number(readTimespecNs(t, a.pointer(2)));
    const abs = (flags & TIMER_ABSTIME) !== 0;
    const cst: CpuSleepState = {
      clock: c, cpuDeadlineNs: abs ? ns : cpuClockNs(c) + ns, deadlineNs: monotonicNs(), remAddr: abs ? 0 : a.pointer(3),
      remFaults: true,
    };
    t.syscallState = cst;
    return cpuSleep(t, cst);
  }
  // Clocks without an nsleep operation (the thread CPU clock, MONOTONIC_RAW, the coarse ones)
  // are EOPNOTSUPP; unknown ones EINVAL.
  if (clock === CLOCK_THREAD_CPUTIME_ID || clock === CLOCK_MONOTONIC_RAW || clock === CLOCK_REALTIME_COARSE || clock === CLOCK_MONOTONIC_COARSE) {
    throw EOPNOTSUPP;
  }
  if (clockNs(clock, t.timeNs) === null) throw EINVAL;
  const ns = BigInt(readTimespecNs(t, a.pointer(2)));
  return sleepUntil(t, () => {
    if (!(flags & TIMER_ABSTIME)) return monotonicNs() + Number(ns);
    const now = clockNs(clock, t.timeNs)!;
    return monotonicNs() + Number(ns - now);
  }, (flags & TIMER_ABSTIME) ? 0 : a.pointer(3));
};


export const table: Record<number, SyscallEntry> = {
  35: supported("nanosleep", sysNanosleep),
  96: supported("gettimeofday", sysGettimeofday),
  201: supported("time", sysTime),
  228: supported("clock_gettime", sysClockGettime),
  229: supported("clock_getres", sysClockGetres),
  230: supported("clock_nanosleep", sysClockNanosleep),
};
