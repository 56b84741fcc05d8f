/**
 * Kernel timers that send signals: ITIMER_REAL / alarm(2) now, POSIX timers later. Plain data
 * (a deadline, a target group and a signal), so that a checkpoint saves them as they are; the
 * scheduler loop fires them (Kernel.#expireDeadlines).
 *
 * @module
 */

import type { ThreadGroup } from "./thread_group.ts";

/** @savable */
export interface KernelTimer {
  /** Monotonic deadline in ns. */
  deadlineNs: number;
  /** 0 for one-shot. */
  intervalNs: number;
  tg: ThreadGroup;
  signo: number;
  /** si_code of the signal: SI_KERNEL for itimers (0x80). */
  code: number;
}

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
