/**
 * CPU-time accounting: what getrusage(2), times(2), the CPU-time clocks and ITIMER_VIRTUAL/PROF
 * read. Analogous to Linux's kernel/sched/cputime.c and gVisor's task_acct.go.
 *
 * Application code runs in the stubs, so the host charges its CPU time to the stub threads;
 * the platform reads it on demand (Context.cpuTime: /proc/PID/task/TID schedstat and stat),
 * never on the syscall path. User time is the stub's user time; system time is what the host
 * charged the stub in kernel mode (ptrace stops, page faults, injected syscalls). Time the
 * sentry spends in a syscall handler is not charged to the task.
 *
 * Bookkeeping (all plain numbers, in ns):
 * - Task.cpuBase: time of the task's earlier host threads (execve gives it a new one).
 * - ThreadGroup.userNs/sysNs: time of the group's exited threads, charged at their exit.
 * - MemoryManager.hostCpuCharged: what was charged one host thread at a time (an exiting thread
 *   of a live stub, a vfork child's exec) while the stub lives.
 *
 * Two ways of reading the host, chosen by cost: a host thread that goes away while its stub
 * lives is read alone (Context.cpuTime, /proc reads: Kernel.#exitTask, a vfork child's execve);
 * a stub that dies with its last users (exit_group, execve of a process alone in its address
 * space) is reaped at once and wait4's rusage gives its whole life's time and peak RSS
 * (AddressSpace.releaseAndReap): that total, less hostCpuCharged, is the last users' share.
 * - ThreadGroup.childUserNs/childSysNs/childMaxRssKb: reaped children and their own reaped
 *   children, added at reap as Linux's wait_task_zombie does.
 *
 * @module
 */

import type { CpuTime } from "../platform/mod.ts";
import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { MemoryManager } from "./mm/mm.ts";

export type { CpuTime };

/** CPU time of one task: its earlier host threads plus its current one (if alive). */
export function taskCpu(t: Task): CpuTime {
  if (t.state === "dead" || t.cpuFrozen) return { ...t.cpuBase };
  const c = t.ctx.cpuTime();
  return { userNs: t.cpuBase.userNs + c.userNs, sysNs: t.cpuBase.sysNs + c.sysNs };
}

/** CPU time of a process: its exited threads plus every live one. */
export function groupCpu(tg: ThreadGroup): CpuTime {
  let userNs = tg.userNs, sysNs = tg.sysNs;
  for (const t of tg.tasks) {
    const c = taskCpu(t);
    userNs += c.userNs;
    sysNs += c.sysNs;
  }
  return { userNs, sysNs };
}

/** CPU time of a process's reaped children (RUSAGE_CHILDREN, times' tms_c*). */
export function childrenCpu(tg: ThreadGroup): CpuTime {
  return { userNs: tg.childUserNs, sysNs: tg.childSysNs };
}

/**
 * Folds the current host thread's time into t.cpuBase and charges it to the address space:
 * called just before the host thread goes away while its stub lives on, and can still be read.
 */
export function freezeTaskCpu(t: Task): void {
  if (t.state === "dead" || t.cpuFrozen) return;
  const c = t.ctx.cpuTime();
  t.cpuBase = { userNs: t.cpuBase.userNs + c.userNs, sysNs: t.cpuBase.sysNs + c.sysNs };
  t.cpuFrozen = true;
  const charged = t.tg.mm.hostCpuCharged;
  charged.userNs += c.userNs;
  charged.sysNs += c.sysNs;
}

/**
 * What a reaped stub's lifetime usage holds beyond the time already charged one thread at a
 * time: the share of its last users. Components below zero (the two ways of splitting user
 * from system time differ a little) count as zero.
 */
export function unchargedHostCpu(mm: MemoryManager, u: CpuTime): CpuTime {
  return {
    userNs: Math.max(0, u.userNs - mm.hostCpuCharged.userNs),
    sysNs: Math.max(0, u.sysNs - mm.hostCpuCharged.sysNs),
  };
}

/** A reaped child's times (its own and its reaped children's) go to its parent. */
export function chargeReapedChild(parent: ThreadGroup, child: ThreadGroup): void {
  parent.childUserNs += child.userNs + child.childUserNs;
  parent.childSysNs += child.sysNs + child.childSysNs;
  parent.childMaxRssKb = Math.max(parent.childMaxRssKb, child.maxRssKb, child.childMaxRssKb);
}

/** struct rusage (144 bytes) with the times and maxrss filled in; other counters read 0. */
export function encodeRusage(c: CpuTime, maxRssKb: number): Uint8Array {
  const b = new Uint8Array(144);
  const v = new DataView(b.buffer);
  const tv = (off: number, ns: number) => {
    const us = Math.floor(ns / 1000);
    v.setBigInt64(off, BigInt(Math.floor(us / 1e6)), true);
    v.setBigInt64(off + 8, BigInt(us % 1e6), true);
  };
  tv(0, c.userNs);
  tv(16, c.sysNs);
  v.setBigInt64(32, BigInt(maxRssKb), true);
  return b;
}

/** Clock ticks (USER_HZ = 100) for times(2). */
export function toClockTicks(ns: number): bigint {
  return BigInt(Math.floor(ns / 10_000_000));
}

/** Which time a CPU clock counts (Linux's CPUCLOCK_PROF, CPUCLOCK_VIRT, CPUCLOCK_SCHED). */
export type CpuClockKind = "prof" | "virt" | "sched";

/** A decoded CPU-time clock: whose time, and which part of it. */
export interface CpuClock {
  kind: CpuClockKind;
  /** A thread's own time, or (null) the whole process of `group`. */
  thread: Task | null;
  group: ThreadGroup;
}

/**
 * Decodes a CPU-time clock id for t: CLOCK_PROCESS_CPUTIME_ID (2), CLOCK_THREAD_CPUTIME_ID (3),
 * or the negative ids of clock_getcpuclockid(3) and pthread_getcpuclockid(3)
 * (`~pid << 3 | perthread << 2 | kind`). Returns null for any other clock; throws EINVAL for a
 * bad CPU clock (no such process, another process's thread, kind 3), as Linux does.
 */
export function decodeCpuClock(t: Task, clock: number, invalid: Error): CpuClock | null {
  if (clock === 2) return { kind: "sched", thread: null, group: t.tg };
  if (clock === 3) return { kind: "sched", thread: t, group: t.tg };
  if (clock >= 0) return null;
  const which = clock & 3;
  if (which === 3) throw invalid;
  const kind: CpuClockKind = which === 0 ? "prof" : which === 1 ? "virt" : "sched";
  const id = ~(clock >> 3);
  if (clock & 4) {
    if (id === 0) return { kind, thread: t, group: t.tg };
    const th = t.findTask(id);
    if (!th || th.tg !== t.tg) throw invalid;
    return { kind, thread: th, group: t.tg };
  }
  if (id === 0) return { kind, thread: null, group: t.tg };
  // A zombie's clock still reads (its pid stays until it is reaped): by its thread group.
  const tg = t.findTask(id)?.tg ?? t.findProcess(id);
  if (!tg) throw invalid;
  return { kind, thread: null, group: tg };
}

/** The value of a CPU clock in ns. */
export function cpuClockNs(c: CpuClock): number {
  const v = c.thread ? taskCpu(c.thread) : groupCpu(c.group);
  return c.kind === "virt" ? v.userNs : v.userNs + v.sysNs;
}
