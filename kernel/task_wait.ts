/**
 * wait4(2) and waitid(2): finding and reaping exited children. Analogous to Linux's
 * kernel/exit.c do_wait and gVisor's task_exit.go Wait.
 *
 * Stopped and continued children (WUNTRACED, WCONTINUED) come with job control.
 *
 * @module
 */

import { ECHILD, EINVAL } from "./errno.ts";
import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";

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

/** Decodes wait4's pid argument. */
export function selectorFromPid(t: Task, pid: number): WaitSelector {
  if (pid > 0) return { type: P_PID, id: pid };
  if (pid === 0) return { type: P_PGID, id: t.tg.pgid };
  if (pid === -1) return { type: P_ALL, id: 0 };
  return { type: P_PGID, id: -pid };
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

/** The outcome of one look at the children. */
export type WaitOutcome =
  /** A zombie child was found (and reaped unless WNOWAIT). */
  | { kind: "reaped"; child: ThreadGroup; status: number }
  /** Matching children exist but none has exited; the caller may block. */
  | { kind: "none" };

/**
 * Looks for an exited child of t's group matching sel. Throws ECHILD when nothing matches.
 * Reaps (removes from the kernel) unless options has WNOWAIT.
 */
export function waitForChild(t: Task, sel: WaitSelector, options: number): WaitOutcome {
  let any = false;
  for (const child of t.tg.children) {
    if (!matches(child, sel)) continue;
    // __WCLONE selects children whose exit signal is not SIGCHLD; __WALL selects all.
    const cloneChild = child.exitSignal !== 17;
    if (!(options & __WALL) && cloneChild !== ((options & __WCLONE) !== 0)) continue;
    any = true;
    if (child.zombie && child.exitStatus !== null) {
      if (!(options & WNOWAIT)) t.kernel.reap(child);
      return { kind: "reaped", child, status: child.exitStatus };
    }
  }
  if (!any) throw ECHILD;
  return { kind: "none" };
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
