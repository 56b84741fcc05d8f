/**
 * timerfd: a timer whose expirations are read from a file, Linux's fs/timerfd.c.
 *
 * State is plain data: the next expiration as a deadline on the kernel's monotonic clock, the
 * interval, and the expirations not yet read. A timer on CLOCK_REALTIME or CLOCK_BOOTTIME is
 * converted to a monotonic deadline when it is set; the sandbox's clocks never jump, so the
 * conversion holds (and TFD_TIMER_CANCEL_ON_SET, accepted, never fires).
 *
 * Expirations are counted lazily from the deadline whenever the timer is looked at, and the
 * scheduler loop calls {@linkcode TimerFd.expire} at the deadline (Kernel.addDeadline) so that
 * readers, poll and epoll are woken.
 *
 * @module
 */

import { AnonInodeFile } from "../vfs/anon_file.ts";
import { EAGAIN, EINVAL } from "./errno.ts";
import { O_RDWR } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import type { Kernel } from "./kernel.ts";
import { clockNs, monotonicNs } from "./time.ts";
import type { TimeNamespace } from "./time_namespace.ts";
import type { DeadlineTarget } from "./timers.ts";

export const TFD_TIMER_ABSTIME = 1;
export const TFD_TIMER_CANCEL_ON_SET = 2;

/** @savable */
export class TimerFd extends AnonInodeFile implements DeadlineTarget {
  /** Immutable. */
  readonly kernel: Kernel;
  /** Immutable. The clock the timer was created on (CLOCK_*). */
  readonly clock: number;
  /** Next expiration, monotonic ns; null while disarmed. */
  deadlineNs: number | null = null;
  /** 0 for a one-shot timer. */
  intervalNs = 0;
  /** Expirations since the last read (or settime). */
  ticks = 0n;

  constructor(kernel: Kernel, clock: number, flags: number) {
    super("anon_inode:[timerfd]", O_RDWR | flags);
    this.kernel = kernel;
    this.clock = clock;
  }

  /** Counts expirations up to now; true if there were new ones. */
  #advance(now: number): boolean {
    const d = this.deadlineNs;
    if (d === null || now < d) return false;
    if (this.intervalNs > 0) {
      const n = 1 + Math.floor((now - d) / this.intervalNs);
      this.ticks += BigInt(n);
      this.deadlineNs = d + n * this.intervalNs;
    } else {
      this.ticks += 1n;
      this.deadlineNs = null;
    }
    return true;
  }

  /** Implements DeadlineTarget: the loop reached the deadline. */
  expire(now: number): void {
    if (this.#advance(now)) this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /**
   * Implements timerfd_settime(2). valueNs and intervalNs come from a validated itimerspec;
   * valueNs 0 disarms; an absolute time is on the clock as the setter's time namespace shows it
   * (timens_ktime_to_host). Returns the old setting as timerfd_gettime reports it.
   */
  set(flags: number, valueNs: bigint, intervalNs: bigint, timeNs?: TimeNamespace): [bigint, bigint] {
    const old = this.get();
    this.ticks = 0n;
    this.intervalNs = Number(intervalNs);
    if (valueNs === 0n) {
      this.deadlineNs = null;
      this.kernel.removeDeadline(this);
      return old;
    }
    const now = monotonicNs();
    if (flags & TFD_TIMER_ABSTIME) {
      const clockNow = clockNs(this.clock, timeNs) ?? BigInt(Math.floor(now));
      this.deadlineNs = now + Number(valueNs - clockNow);
    } else {
      this.deadlineNs = now + Number(valueNs);
    }
    this.kernel.addDeadline(this);
    // An absolute time already past expires at once.
    this.expire(now);
    return old;
  }

  /** Implements timerfd_gettime(2): [time to the next expiration, interval], in ns. */
  get(): [bigint, bigint] {
    const now = monotonicNs();
    this.#advance(now);
    const d = this.deadlineNs;
    const left = d === null ? 0n : BigInt(Math.max(1, Math.ceil(d - now)));
    return [left, BigInt(this.intervalNs)];
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    if (dst.length < 8) throw EINVAL;
    this.#advance(monotonicNs());
    if (this.ticks === 0n) throw EAGAIN;
    new DataView(dst.buffer, dst.byteOffset, 8).setBigUint64(0, this.ticks, true);
    this.ticks = 0n;
    return 8;
  }

  override readiness(mask: number): number {
    this.#advance(monotonicNs());
    return this.ticks > 0n ? mask & (EVENT_IN | EVENT_RDNORM) : 0;
  }

  protected override release(): void {
    this.deadlineNs = null;
    this.kernel.removeDeadline(this);
  }
}
