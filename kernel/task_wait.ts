/**
 * wait4(2) and waitid(2): finding and reaping exited children, and reporting stopped and
 * continued ones (WUNTRACED/WSTOPPED, WCONTINUED; see job_control.ts). Analogous to Linux's
 * kernel/exit.c do_wait and gVisor's task_exit.go Wait.
 *
 * Each matching child is looked at in turn, as Linux's wait_consider_task does: exited (with
 * WEXITED), then stopped (WSTOPPED: reported once), then continued (WCONTINUED: reported once).
 *
 * @module
 */

import { ECHILD, EINVAL } from "./errno.ts";
import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";
import { exitAwaitsTracer, releaseExitedTracee, stopStatus, tracedThreadZombies } from "./ptrace.ts";

export const WNOHANG = 1;
export const WUNTRACED = 2;
export const WSTOPPED = 2;
export const WEXITED = 4;
export const WCONTINUED = 8;
export const WNOWAIT = 0x01000000;
export const __WNOTHREAD = 0x20000000;
export const __WALL = 0x40000000;
export const __WCLONE = 0x80000000;

export const P_ALL = 0;
export const P_PID = 1;
export const P_PGID = 2;
export const P_PIDFD = 3;

/** Which children a wait selects: Linux's (type, id) after decoding wait4's pid. */
export interface WaitSelector {
  type: number;
  id: number;
}

/**
 * Decodes wait4's pid argument. The ids are the caller's PID namespace's; the selector's are
 * global ({@linkcode globalWaitId}).
 */
export function selectorFromPid(t: Task, pid: number): WaitSelector {
  if (pid > 0) return { type: P_PID, id: globalWaitId(t, pid) };
  if (pid === 0) return { type: P_PGID, id: t.tg.pgid };
  if (pid === -1) return { type: P_ALL, id: 0 };
  return { type: P_PGID, id: globalWaitId(t, -pid) };
}

/**
 * The global id of the caller's namespace's number n, or -1, which no child has, when the
 * namespace gives n to nobody (Linux's find_get_pid finds no pid: the wait matches nothing).
 */
export function globalWaitId(t: Task, n: number): number {
  return t.pidNs.global(n) ?? -1;
}

function matches(child: ThreadGroup, sel: WaitSelector): boolean {
  switch (sel.type) {
    case P_PID:
      return child.tgid === sel.id;
    case P_PGID:
      return child.pgid === sel.id;
    default:
      return true;
  }
}

/**
 * The outcome of one look at the children. `pid` is the id reported, as the waiter's PID
 * namespace numbers it (taken before a reap frees the number).
 */
export type WaitOutcome =
  /** A zombie child was found (and reaped unless WNOWAIT). */
  | { kind: "reaped"; child: ThreadGroup; status: number; pid: number }
  /** A child stopped: status is `0x7f | signo << 8`; signo is the stop signal. */
  | { kind: "stopped"; child: ThreadGroup; status: number; signo: number; pid: number }
  /** A tracee of the caller is in a ptrace-stop (kernel/ptrace.ts): reported by its thread id. */
  | { kind: "trapped"; child: ThreadGroup; pid: number; status: number; signo: number }
  /** A stopped child was continued: status is 0xffff. */
  | { kind: "continued"; child: ThreadGroup; status: number; pid: number }
  /** Matching children exist but none has exited; the caller may block. */
  | { kind: "none" };

/**
 * Looks for a child of t's group matching sel with something to report under options (WEXITED,
 * WSTOPPED, WCONTINUED; wait4 adds WEXITED itself). Throws ECHILD when nothing matches. Reaps
 * (removes from the kernel) or consumes the stop/continue report unless options has WNOWAIT.
 */
export function waitForChild(t: Task, sel: WaitSelector, options: number): WaitOutcome {
  let any = false;
  // Tracees first: their ptrace-stops are reported without WUNTRACED, whatever their parent
  // and clone flags (Linux's wait_consider_task with ptrace set).
  for (const tracer of t.tg.tasks) {
    if ((options & __WNOTHREAD) && tracer !== t) continue;
    for (const x of tracer.tracees) {
      if (sel.type === P_PID ? x.tid !== sel.id : sel.type === P_PGID ? x.tg.pgid !== sel.id : false) continue;
      any = true;
      const l = x.ptrace!;
      if (l.exited) {
        // A traced thread that ended (not its process): reported once, by its thread id.
        if (l.threadExitStatus !== null) {
          if (!(options & WEXITED)) continue;
          const status = l.threadExitStatus, pid = t.vnr(x.tid);
          if (!(options & WNOWAIT)) releaseExitedTracee(x);
          return { kind: "reaped", child: x.tg, status, pid };
        }
        // A tracee that is not our child ended: reported once, and reaped by its parent. Our
        // own child is reaped below.
        if (x.tg.parent === t.tg || !x.tg.zombie || x.tg.exitStatus === null || !(options & WEXITED)) continue;
        // A leader whose traced threads are still zombies waits for them (delay_group_leader).
        if (tracedThreadZombies(t.kernel, x.tg)) continue;
        const status = x.tg.exitStatus, pid = t.vnr(x.tg.tgid);
        if (!(options & WNOWAIT)) releaseExitedTracee(x);
        return { kind: "reaped", child: x.tg, status, pid };
      }
      if (l.stop !== null && l.report) {
        if (!(options & WNOWAIT)) l.report = false;
        const status = stopStatus(l, l.stop);
        return { kind: "trapped", child: x.tg, pid: t.vnr(x.tid), status, signo: (status >> 8) & 0xff };
      }
    }
  }
  for (const child of t.tg.children) {
    if (!matches(child, sel)) continue;
    // __WCLONE selects children whose exit signal is not SIGCHLD; __WALL selects all, as does
    // our tracing the child.
    const cloneChild = child.exitSignal !== 17;
    const traced = tracedBy(t, child);
    if (!traced && !(options & __WALL) && cloneChild !== ((options & __WCLONE) !== 0)) continue;
    // __WNOTHREAD: only the children this thread created (while that thread lives: when it has
    // exited, its children are the other threads', as Linux reparents them within the group).
    if ((options & __WNOTHREAD) && child.parentThread !== 0 && child.parentThread !== t.tid &&
      t.kernel.tasks.get(child.parentThread)?.tg === t.tg) continue;
    if (child.zombie && child.exitStatus !== null) {
      // A dead child that the options cannot report does not count: with no other, ECHILD
      // rather than a wait that nothing could end (Linux's wait_task_zombie leaves notask_error).
      if (!(options & WEXITED)) continue;
      any = true;
      // Another tracer must wait for it first: not yet ours to reap.
      if (!traced && exitAwaitsTracer(t.kernel, child)) continue;
      const pid = t.vnr(child.tgid);
      if (!(options & WNOWAIT)) {
        if (traced) forgetExitedTracee(t, child);
        t.kernel.reap(child);
      }
      return { kind: "reaped", child, status: child.exitStatus, pid };
    }
    any = true;
    if ((options & WSTOPPED) && child.stopped && child.stopReport !== 0) {
      const signo = child.stopReport;
      if (!(options & WNOWAIT)) child.stopReport = 0;
      return { kind: "stopped", child, status: 0x7f | (signo << 8), signo, pid: t.vnr(child.tgid) };
    }
    if ((options & WCONTINUED) && child.continuedReport) {
      if (!(options & WNOWAIT)) child.continuedReport = false;
      return { kind: "continued", child, status: 0xffff, pid: t.vnr(child.tgid) };
    }
  }
  if (!any) throw ECHILD;
  return { kind: "none" };
}

/** Whether a task of t's group traces (or traced, until its exit is waited for) a thread of tg. */
function tracedBy(t: Task, tg: ThreadGroup): boolean {
  for (const tracer of t.tg.tasks) {
    if (tracer.tracees.size === 0) continue;
    for (const x of tracer.tracees) if (x.tg === tg) return true;
  }
  return false;
}

/** Drops the exit records of tg's tracees kept for t's group (tg is being reaped). */
function forgetExitedTracee(t: Task, tg: ThreadGroup): void {
  for (const tracer of t.tg.tasks) {
    for (const x of [...tracer.tracees]) {
      if (x.tg === tg && x.ptrace?.exited) {
        tracer.tracees.delete(x);
        x.ptrace = null;
      }
    }
  }
}

/** Checks wait4's options: unknown bits are EINVAL. */
export function checkWait4Options(options: number): void {
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) throw EINVAL;
}

/** Checks waitid's options: unknown bits, or none of WEXITED/WSTOPPED/WCONTINUED, are EINVAL. */
export function checkWaitidOptions(options: number): void {
  if (options & ~(WNOHANG | WEXITED | WSTOPPED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WALL | __WCLONE)) {
    throw EINVAL;
  }
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) throw EINVAL;
}
