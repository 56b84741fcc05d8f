/**
 * Kernel timers that send signals: ITIMER_REAL / alarm(2), ITIMER_VIRTUAL / ITIMER_PROF and
 * POSIX timers (timer_create(2)). Plain data (a deadline, a target group and a signal), so that
 * a checkpoint saves them as they are; the scheduler loop fires them (Kernel.#expireDeadlines
 * for wall-clock timers, Kernel.#sampleCpuTimers for CPU-time timers). DeadlineTarget is for
 * kernel objects woken at a deadline (timerfd).
 *
 * Wall-clock timers (CLOCK_REALTIME, MONOTONIC, BOOTTIME) all run on the kernel's monotonic
 * clock: the sandbox's realtime clock is monotonic plus a fixed offset and cannot be set.
 *
 * CPU-time timers are checked by sampling the host's accounting, at most every
 * CPU_SAMPLE_NS while one is armed and a task of the sandbox runs: they fire up to about 10 ms
 * late (Linux checks at every tick, 1-4 ms), never early.
 *
 * @module
 */

import type { ThreadGroup } from "./thread_group.ts";
import type { Task } from "./task.ts";
import type { CpuClock } from "./cpu_time.ts";

/** How often armed CPU-time timers are checked while tasks run, in ns. */
export const CPU_SAMPLE_NS = 10_000_000;

/** What a timer does when it expires: send a signal, maybe with POSIX timer bookkeeping. */
export interface TimerTarget {
  tg: ThreadGroup;
  signo: number;
  /** si_code of the signal: SI_KERNEL for itimers (0x80), SI_TIMER for POSIX timers. */
  code: number;
  /** SIGEV_THREAD_ID: the thread that gets the signal; otherwise the process does. */
  thread?: Task | null;
  /** For POSIX timers: overrun counting and the siginfo's timer fields. */
  posix?: PosixTimer | null;
}

/** @savable A timer on the monotonic clock. */
export interface KernelTimer extends TimerTarget {
  /** Monotonic deadline in ns. */
  deadlineNs: number;
  /** 0 for one-shot. */
  intervalNs: number;
}

/** @savable A timer on a CPU-time clock. */
export interface CpuTimer extends TimerTarget {
  clock: CpuClock;
  /** Expiry, in ns on that clock. */
  expiresNs: number;
  /** 0 for one-shot. */
  intervalNs: number;
}

export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;
export const SIGEV_THREAD_ID = 4;

/**
 * @savable A POSIX timer (timer_create). Linux's k_itimer: at most one signal of a timer is
 * queued at a time; expirations while it is queued count as overruns, reported in si_overrun of
 * the signal when it is delivered and by timer_getoverrun afterwards.
 */
export interface PosixTimer {
  id: number;
  /** The clock it was created on (for timer_gettime's reading of CPU clocks). */
  clockId: number;
  notify: number;
  signo: number;
  value: bigint;
  /** SIGEV_THREAD_ID: the thread its signals go to. */
  thread: Task | null;
  /** The armed timer, or null while disarmed. */
  wall: KernelTimer | null;
  cpu: CpuTimer | null;
  /**
   * Bumped by timer_settime and timer_delete: a queued signal carrying an older value is stale
   * and dropped when dequeued (Linux 6.13+, it_signal_seq).
   */
  seq: number;
  /** True while its signal is queued and not yet delivered. */
  queued: boolean;
  /** Expirations since the queued signal was sent. */
  overrun: number;
  /** The overrun count of the last delivered signal (timer_getoverrun). */
  lastOverrun: number;
}

/** DELAYTIMER_MAX: overrun counts saturate here. */
export const DELAYTIMER_MAX = 0x7fffffff;

/**
 * @savable A kernel object woken at a deadline (a timerfd). While registered with
 * Kernel.addDeadline, the scheduler loop sleeps no later than deadlineNs and then calls
 * expire(); the object re-arms itself by changing deadlineNs, or leaves with removeDeadline.
 */
export interface DeadlineTarget {
  /** Monotonic deadline in ns, or null while disarmed. */
  readonly deadlineNs: number | null;
  expire(nowNs: number): void;
}
