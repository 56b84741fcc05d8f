/**
 * The sandbox's clocks, never read by forwarding a clock syscall.
 *
 * - CLOCK_MONOTONIC counts from an arbitrary start (here: a fixed offset plus the sentry's
 *   uptime), as Linux only promises it never goes back. Until the first vDSO is made it is read
 *   from the sentry's own timer (performance.now, microsecond precision); from then on it is the
 *   TSC clock of kernel/vdso/clock.ts (nanoseconds), which continues from where this one was and
 *   is the same clock applications read through the vDSO.
 * - CLOCK_REALTIME follows the host's wall clock at boot plus monotonic progress (with the TSC
 *   clock: set to the host's at each calibration, about every second).
 *
 * @module
 */

import { tscClock } from "./vdso/clock.ts";
import { INIT_TIME_NS, type TimeNamespace } from "./time_namespace.ts";

/** Offset that makes CLOCK_MONOTONIC look like a machine that has been up a while. */
export const MONOTONIC_BASE_NS = 1_000_000_000_000; // 1000 s

/** Added by a restore so that the clock continues from the checkpoint's (continueMonotonicFrom). */
let restoreShiftNs = 0;

function timerMonotonicNs(): number {
  return MONOTONIC_BASE_NS + restoreShiftNs + performance.now() * 1e6;
}

/**
 * Makes CLOCK_MONOTONIC read at least `ns` from now on, as a restored sandbox's clock continues
 * from its checkpoint (gVisor's Timekeeper): the clock moves forward by what it lacks, never
 * back. Process-wide, as the clock is: one sentry runs one sandbox.
 */
export function continueMonotonicFrom(ns: number): void {
  const lack = ns - monotonicNs();
  if (lack <= 0) return;
  if (!tscClock.advance(lack)) restoreShiftNs += lack;
}

/** Nanoseconds on the sandbox's monotonic clock (a float before the TSC clock starts). */
export function monotonicNs(): number {
  return tscClock.monotonicNs(timerMonotonicNs) ?? timerMonotonicNs();
}

/** Nanoseconds since the Unix epoch. */
export function realtimeNs(): bigint {
  const mono = tscClock.monotonicNs(timerMonotonicNs);
  if (mono !== null) return BigInt(mono + tscClock.realOffsetNs);
  const ms = performance.timeOrigin + performance.now();
  return BigInt(Math.floor(ms * 1000)) * 1000n;
}

/**
 * The uptime in ns, as a task of time namespace `ns` sees it: CLOCK_BOOTTIME with the
 * namespace's offset, as Linux's sysinfo and /proc/uptime read it (the sandbox's clock starts
 * at MONOTONIC_BASE_NS, a machine that has been up a while).
 */
export function uptimeNs(ns: TimeNamespace = INIT_TIME_NS): number {
  return Math.max(monotonicNs() + Number(ns.boottimeNs), 0);
}

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
export const CLOCK_REALTIME_ALARM = 8;
export const CLOCK_BOOTTIME_ALARM = 9;
export const CLOCK_TAI = 11;

/**
 * The time of a clock in ns as bigint, as a task of time namespace `ns` reads it (its offsets
 * added), or null for clocks not supported.
 */
export function clockNs(clock: number, ns: TimeNamespace = INIT_TIME_NS): bigint | null {
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI:
      return realtimeNs();
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    // A sandbox never suspends: CLOCK_BOOTTIME is CLOCK_MONOTONIC, as on a Linux machine that
    // has not slept (it must never be behind it). The vDSO's page holds a BOOTTIME offset (0)
    // for the day a restored sandbox needs one.
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
      return BigInt(Math.floor(monotonicNs())) + ns.offsetOf(clock);
    // CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID need a task: see cpu_time.ts.
    default:
      return null;
  }
}
