/**
 * Job control: group stop and continue, and orphaned process groups. Analogous to the job-control
 * parts of Linux's kernel/signal.c (do_signal_stop, prepare_signal's SIGCONT handling,
 * do_notify_parent_cldstop) and kernel/exit.c (kill_orphaned_pgrp), and gVisor's
 * task_stop.go/task_signals.go.
 *
 * The model (see kernel/task_states.dot):
 * - A stop signal whose action is the default (SIGSTOP always; SIGTSTP, SIGTTIN, SIGTTOU unless
 *   handled or ignored) is dequeued by one thread of the group, which starts a *group stop*
 *   ({@linkcode ThreadGroup.groupStop}) and stops. Every other thread of the group is interrupted
 *   (PTRACE_INTERRUPT in user mode, woken out of a sleeping syscall) and stops at its next kernel
 *   step (Kernel.#step): a stopped task is plain data in state "stopped", off the run queue; a
 *   task stopped inside a syscall runs the syscall again when continued.
 * - When the last thread has stopped, the group is *stopped*: the parent gets SIGCHLD with
 *   CLD_STOPPED (unless its SIGCHLD action has SA_NOCLDSTOP) and wait(WUNTRACED) reports
 *   `0x7f | signo << 8` once.
 * - SIGCONT, when *sent* (whatever its disposition or mask), discards pending stop signals and
 *   resumes every stopped thread; a group that was stopped then reports CLD_CONTINUED to its
 *   parent and wait(WCONTINUED) reports 0xffff once. A stop signal, when sent, discards a pending
 *   SIGCONT.
 * - SIGKILL (and any fatal signal not blocked) ends a stopped group at once.
 * - A process group is orphaned when no member has a parent in another process group of the same
 *   session. SIGTSTP, SIGTTIN and SIGTTOU with the default action are discarded in an orphaned
 *   group (SIGSTOP is not). When an exit makes a group with a stopped member orphaned, every
 *   member gets SIGHUP then SIGCONT. The sandbox's init counts as an ordinary parent (as a
 *   container's init does in its PID namespace), so a shell running as init keeps job control.
 *
 * For terminals (tty): {@linkcode signalProcessGroup}, {@linkcode isOrphanedProcessGroup} and
 * {@linkcode processGroupExists} are the API; a terminal sends SIGTSTP/SIGTTIN/SIGTTOU to a group
 * with signalProcessGroup and checks orphaning itself before a background read or write (as
 * Linux's tty_check_change and job_control do, returning EIO in an orphaned group).
 *
 * @module
 */

import type { Kernel } from "./kernel.ts";
import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { SigInfo } from "./signal_frame.ts";
import { enterStop, PTRACE_EVENT_STOP } from "./ptrace.ts";
import { sigBit } from "./signals.ts";
import {
  CLD_CONTINUED, CLD_STOPPED, SA_NOCLDSTOP, SI_KERNEL, SIGCHLD, SIGCONT, SIGHUP, SIGSTOP, SIGTSTP,
  SIGTTIN, SIGTTOU,
} from "../abi/linux/signal.ts";

/** Signals whose default action is to stop: SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU. */
export const STOP_SIGNALS: bigint = sigBit(SIGSTOP) | sigBit(SIGTSTP) | sigBit(SIGTTIN) | sigBit(SIGTTOU);

/** True for SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU. */
export function isStopSignal(signo: number): boolean {
  return signo >= 1 && signo <= 64 && (STOP_SIGNALS & sigBit(signo)) !== 0n;
}

/**
 * The side effects of *sending* signo to tg, before its disposition is looked at (Linux's
 * prepare_signal): a stop signal discards a pending SIGCONT; SIGCONT discards pending stop
 * signals and continues a stopped (or stopping) group.
 */
export function applySendSideEffects(tg: ThreadGroup, signo: number): void {
  if (isStopSignal(signo)) {
    discardEverywhere(tg, sigBit(SIGCONT));
  } else if (signo === SIGCONT) {
    discardEverywhere(tg, STOP_SIGNALS);
    continueGroup(tg);
    // Seized tracees trap with PTRACE_EVENT_STOP before they see the SIGCONT (Linux's
    // ptrace_trap_notify); one in a ptrace-stop traps as soon as its tracer resumes it.
    for (const t of tg.tasks) {
      const l = t.ptrace;
      if (l === null || !l.seized || (l.stop?.kind === "event" && l.stop.event === PTRACE_EVENT_STOP)) continue;
      l.interrupt = true;
      if (l.stop === null) t.kernel.interruptTask(t);
    }
  }
}

function discardEverywhere(tg: ThreadGroup, set: bigint): void {
  const both = tg.sharedPending.mask | [...tg.tasks].reduce((m, t) => m | t.pendingSignals.mask, 0n);
  if ((both & set) === 0n) return;
  for (let s = 1; s <= 64; s++) {
    if (!(set & sigBit(s))) continue;
    tg.sharedPending.discard(s);
    for (const t of tg.tasks) t.pendingSignals.discard(s);
  }
}

/**
 * t dequeued a stop signal with the default action. Starts the group stop (unless one is under
 * way, or the group is orphaned and the signal is not SIGSTOP) and stops t. Returns true when t
 * stopped, false when the signal was discarded.
 */
export function initiateGroupStop(t: Task, signo: number): boolean {
  const tg = t.tg;
  if (signo !== SIGSTOP && isOrphanedProcessGroup(t.kernel, tg.pgid)) return false;
  if (tg.exitStatus !== null) return false;
  if (tg.groupStop === null) {
    tg.groupStop = { signo };
    for (const other of tg.tasks) if (other !== t) t.kernel.interruptTask(other);
  }
  stopTask(t);
  return true;
}

/**
 * Puts t in the "stopped" state as its part of a group stop (precondition: tg.groupStop is set
 * and t is in the kernel, not on the run queue). The last thread to stop completes the stop.
 */
export function stopTask(t: Task): void {
  const tg = t.tg;
  // A traced thread's part of the stop is a ptrace-stop its tracer sees and ends (kernel/ptrace.ts).
  if (t.ptrace !== null && tg.groupStop !== null) enterStop(t, { kind: "group", signo: tg.groupStop.signo });
  t.state = "stopped";
  const stop = tg.groupStop;
  if (stop === null || tg.stopped) return;
  for (const other of tg.tasks) if (other.state !== "stopped") return;
  // Every thread is stopped: the group is (Linux's SIGNAL_STOP_STOPPED).
  tg.stopped = true;
  tg.stopReport = stop.signo;
  tg.continuedReport = false;
  notifyParent(tg, CLD_STOPPED, stop.signo);
}

/** Resumes a stopped or stopping group (SIGCONT). No effect on a group that is not stopping. */
export function continueGroup(tg: ThreadGroup): void {
  if (tg.groupStop === null) return;
  const wasStopped = tg.stopped;
  tg.groupStop = null;
  tg.stopped = false;
  tg.stopReport = 0;
  for (const t of tg.tasks) {
    // A ptrace-stop ends only by the tracer; a traced thread in the group stop runs again.
    if (t.state !== "stopped") continue;
    if (t.ptrace?.listening) {
      // PTRACE_LISTEN: the tracee traps again instead of running (Linux's JOBCTL_TRAP_NOTIFY).
      t.ptrace.listening = false;
      enterStop(t, { kind: "event", event: PTRACE_EVENT_STOP });
      continue;
    }
    if (t.ptrace?.stop != null) {
      if (t.ptrace.stop.kind !== "group") continue;
      t.ptrace.stop = null;
      t.ptrace.report = false;
    }
    t.kernel.resumeStoppedTask(t);
  }
  if (wasStopped) {
    tg.continuedReport = true;
    notifyParent(tg, CLD_CONTINUED, SIGCONT);
  }
}

/**
 * Tells tg's parent that tg stopped or continued: its wait queue always, SIGCHLD unless the
 * parent's SIGCHLD action has SA_NOCLDSTOP (Linux's do_notify_parent_cldstop).
 */
function notifyParent(tg: ThreadGroup, code: number, status: number): void {
  const parent = tg.parent;
  if (!parent || parent.zombie) return;
  const leader = tg.leader;
  const k = leader?.kernel;
  if (!k) return;
  if (!(parent.handlers.get(SIGCHLD).flags & SA_NOCLDSTOP)) {
    k.sendSignal(parent, SIGCHLD, { code, pid: tg.tgid, uid: leader.creds.uid, status });
  }
  parent.childWaitQueue.notify(1);
}

/** The live (not yet exited) thread groups of a process group. */
export function processGroupMembers(k: Kernel, pgid: number): ThreadGroup[] {
  const out: ThreadGroup[] = [];
  for (const g of k.threadGroups.values()) if (!g.zombie && g.exitStatus === null && g.pgid === pgid) out.push(g);
  return out;
}

/** True when a live process has process group id pgid. */
export function processGroupExists(k: Kernel, pgid: number): boolean {
  return processGroupMembers(k, pgid).length > 0;
}

/**
 * True when process group pgid is orphaned (POSIX): no member other than `ignored` has a parent
 * in a different process group of the same session (Linux's will_become_orphaned_pgrp). An
 * empty group counts as orphaned.
 */
export function isOrphanedProcessGroup(k: Kernel, pgid: number, ignored: ThreadGroup | null = null): boolean {
  for (const g of processGroupMembers(k, pgid)) {
    if (g === ignored) continue;
    const p = g.parent;
    if (p && !p.zombie && p.pgid !== pgid && p.sid === g.sid) return false;
  }
  return true;
}

/** True when a member of process group pgid is stopped (Linux's has_stopped_jobs). */
function hasStoppedJobs(k: Kernel, pgid: number): boolean {
  return processGroupMembers(k, pgid).some((g) => g.stopped);
}

/**
 * Sends signo to every process of group pgid (kill(-pgid), a terminal's job-control signals).
 * Returns how many processes it was sent to (0: no such group).
 */
export function signalProcessGroup(k: Kernel, pgid: number, signo: number, info: Partial<SigInfo> = {}): number {
  const members = processGroupMembers(k, pgid);
  for (const g of members) k.sendSignal(g, signo, info);
  return members.length;
}

/**
 * tg is exiting and `reparented` are its former children (already given their new parent).
 * A process group that this exit orphans while it has a stopped member gets SIGHUP then SIGCONT
 * (Linux's kill_orphaned_pgrp, for the exiting process's own group and for each child's).
 * Precondition: tg is already a zombie.
 */
export function hangUpOrphanedGroups(k: Kernel, tg: ThreadGroup, reparented: readonly ThreadGroup[]): void {
  const groups = new Set<number>();
  for (const c of reparented) {
    if (c.zombie || c.pgid === tg.pgid || c.sid !== tg.sid) continue;
    if (isOrphanedProcessGroup(k, c.pgid) && hasStoppedJobs(k, c.pgid)) groups.add(c.pgid);
  }
  const p = tg.parent;
  if (p && p.pgid !== tg.pgid && p.sid === tg.sid && isOrphanedProcessGroup(k, tg.pgid, tg) &&
    hasStoppedJobs(k, tg.pgid)) {
    groups.add(tg.pgid);
  }
  for (const pgid of groups) {
    signalProcessGroup(k, pgid, SIGHUP, { code: SI_KERNEL });
    signalProcessGroup(k, pgid, SIGCONT, { code: SI_KERNEL });
  }
}
