/**
 * timerfd_create(2), timerfd_settime(2), timerfd_gettime(2). The timer is in kernel/timerfd.ts.
 *
 * @module
 */

import { EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../../../abi/linux/file.ts";
import {
  CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_REALTIME_ALARM,
} from "../../time.ts";
import { TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET, TimerFd } from "../../timerfd.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const TFD_CLOEXEC = O_CLOEXEC;
const TFD_NONBLOCK = O_NONBLOCK;
const CLOCKS = new Set([CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM]);
const NS = 1_000_000_000n;

/** Implements timerfd_create(2). */
const sysTimerfdCreate: SyscallFn = (t, a) => {
  const clock = a.int(0), flags = a.int(1);
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) throw EINVAL;
  if (!CLOCKS.has(clock)) throw EINVAL;
  return t.fdTable.install(new TimerFd(t.kernel, clock, flags & TFD_NONBLOCK), (flags & TFD_CLOEXEC) !== 0);
};

/** The timerfd behind fd: EBADF, or EINVAL for another kind of file. */
function timerOf(t: Task, fd: number): TimerFd {
  const f = t.fdTable.get(fd);
  if (!(f instanceof TimerFd)) throw EINVAL;
  return f;
}

/** Reads a struct itimerspec as [interval, value] in ns; EINVAL unless both are valid timespecs. */
function readItimerspec(t: Task, addr: number): [bigint, bigint] {
  const v = new DataView(t.copyIn(addr, 32).buffer);
  const out: bigint[] = [];
  for (const off of [0, 16]) {
    const sec = v.getBigInt64(off, true), nsec = v.getBigInt64(off + 8, true);
    if (sec < 0n || nsec < 0n || nsec >= NS) throw EINVAL;
    out.push(sec * NS + nsec);
  }
  return [out[0]!, out[1]!];
}

function writeItimerspec(t: Task, addr: number, [value, interval]: [bigint, bigint]): void {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, interval / NS, true);
  v.setBigInt64(8, interval % NS, true);
  v.setBigInt64(16, value / NS, true);
  v.setBigInt64(24, value % NS, true);
  t.copyOut(addr, b);
}

/** Implements timerfd_settime(2), in the order of Linux's checks. */
const sysTimerfdSettime: SyscallFn = (t, a) => {
  const fd = a.fd(0), flags = a.int(1), newAddr = a.pointer(2), oldAddr = a.pointer(3);
  const [interval, value] = readItimerspec(t, newAddr);
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) throw EINVAL;
  const tf = timerOf(t, fd);
  const old = tf.set(flags, value, interval, t.timeNs);
  if (oldAddr !== 0) writeItimerspec(t, oldAddr, old);
  return 0;
};

/** Implements timerfd_gettime(2). */
const sysTimerfdGettime: SyscallFn = (t, a) => {
  const tf = timerOf(t, a.fd(0));
  writeItimerspec(t, a.pointer(1), tf.get());
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  283: supported("timerfd_create", sysTimerfdCreate),
  286: supported("timerfd_settime", sysTimerfdSettime),
  287: supported("timerfd_gettime", sysTimerfdGettime),
};
