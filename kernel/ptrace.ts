/**
 * ptrace(2) for applications: one task of the sandbox tracing another (gdb, strace, test
 * harnesses that PTRACE_TRACEME and stop). Everything is the sentry's own: the tracee's host
 * stub stays under the sentry's ptrace; its stops are kernel states here, its registers and
 * memory the sentry's copies. Analogous to Linux's kernel/ptrace.c and the ptrace parts of
 * kernel/signal.c, and gVisor's kernel/ptrace.go.
 *
 * The model:
 * - A tracee has a {@linkcode PtraceLink} to its tracer (a task). It stops ("ptrace-stop": state
 *   "stopped" with `link.stop` set) instead of acting on a dequeued signal other than SIGKILL
 *   (signal-delivery-stop), at syscall entry and exit under PTRACE_SYSCALL, at events the
 *   options ask for (exec, fork, vfork, clone), as its part of a group stop, and on
 *   PTRACE_INTERRUPT. The tracer's wait reports each stop once, by the tracee's thread id,
 *   without WUNTRACED.
 * - Only the tracer resumes a ptrace-stop (PTRACE_CONT, PTRACE_SYSCALL, PTRACE_DETACH, with a
 *   signal to deliver or none); SIGCONT does not, SIGKILL always ends the tracee.
 * - A tracer's exit detaches its tracees (PTRACE_O_EXITKILL kills them). A traced process's exit
 *   is its tracer's to wait for first: its parent (if another) is told, and may reap it, only
 *   once the tracer has waited or stopped tracing; a traced thread other than the last stays a
 *   zombie its tracer waits for by thread id. A traced process is not saved by a checkpoint
 *   (refused).
 *
 * Single-stepping runs the stub one instruction (the host's PTRACE_SYSEMU_SINGLESTEP); its trap
 * comes back as a SIGTRAP fault, which the tracer sees as a signal-delivery-stop.
 *
 * PTRACE_LISTEN leaves a seized tracee stopped but out of its ptrace-stop, until its group stop
 * ends and it traps again (PTRACE_EVENT_STOP).
 *
 * PTRACE_O_TRACEEXIT's stop is taken by every thread that ends, one in user mode at its next
 * stop (kernel.ts `Task.exitPending`), the threads an execve's de_thread kills included.
 *
 * Not done: seccomp events, changing the syscall number at entry.
 *
 * @module
 */

import type { Task } from "./task.ts";
import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { SigInfo } from "./signal_frame.ts";
import type { Credentials } from "./creds.ts";
import { EVENT_IN } from "../waiter/mod.ts";
import { CLD_TRAPPED, SA_NOCLDSTOP, SIGCHLD, SIGKILL, SIGSTOP, SIGTRAP } from "../abi/linux/signal.ts";

export const PTRACE_O_TRACESYSGOOD = 0x01;
export const PTRACE_O_TRACEFORK = 0x02;
export const PTRACE_O_TRACEVFORK = 0x04;
export const PTRACE_O_TRACECLONE = 0x08;
export const PTRACE_O_TRACEEXEC = 0x10;
export const PTRACE_O_TRACEVFORKDONE = 0x20;
export const PTRACE_O_TRACEEXIT = 0x40;
export const PTRACE_O_TRACESECCOMP = 0x80;
export const PTRACE_O_EXITKILL = 0x100000;
export const PTRACE_O_SUSPEND_SECCOMP = 0x200000;
export const PTRACE_O_MASK = 0x3000ff;

export const PTRACE_EVENT_FORK = 1;
export const PTRACE_EVENT_VFORK = 2;
export const PTRACE_EVENT_CLONE = 3;
export const PTRACE_EVENT_EXEC = 4;
export const PTRACE_EVENT_VFORK_DONE = 5;
export const PTRACE_EVENT_EXIT = 6;
export const PTRACE_EVENT_SECCOMP = 7;
export const PTRACE_EVENT_STOP = 128;

/** Why a tracee is in a ptrace-stop. */
export type PtraceStop =
  /** It dequeued this signal; the tracer decides what is delivered. */
  | { kind: "signal"; signo: number; info: SigInfo }
  /** Its part of a group stop (signo: the stop signal). */
  | { kind: "group"; signo: number }
  /** PTRACE_SYSCALL's stop before (entry) or after (exit) a syscall. */
  | { kind: "syscall"; entry: boolean }
  /** A PTRACE_EVENT_* stop (PTRACE_EVENT_STOP for PTRACE_INTERRUPT and a seized new child). */
  | { kind: "event"; event: number };

/** The tracee's side of a trace. @savable (refused: a traced sandbox is not checkpointed) */
export interface PtraceLink {
  tracer: Task;
  /**
   * The credentials the trace began with (Linux's ptracer_cred): the tracer's at attach or
   * seize, the tracee's own at PTRACE_TRACEME, the parent's link's for an auto-attached child.
   * A set-id execve gains nothing unless they hold CAP_SYS_PTRACE (kernel/loader/load.ts).
   */
  tracerCreds: Credentials;
  /** PTRACE_SEIZE (no SIGSTOP at attach, PTRACE_EVENT_STOP for group stops and interrupts). */
  seized: boolean;
  options: number;
  stop: PtraceStop | null;
  /** The stop is not yet reported to the tracer's wait. */
  report: boolean;
  /** PTRACE_SYSCALL: stop at the next syscall entry and exit. */
  syscallStops: boolean;
  /** PTRACE_SYSEMU: stop at the next syscall entry, and do not run it. */
  sysemu: boolean;
  /**
   * The current syscall-entry stop was taken under PTRACE_SYSEMU: the syscall is skipped
   * however the tracer resumes it (CONT, DETACH...), as Linux decides at entry.
   */
  emulated: boolean;
  /** PTRACE_SINGLESTEP: run one instruction, then stop with SIGTRAP. */
  singleStep: boolean;
  /** The current syscall's entry stop is done (its exit stop comes when it completes). */
  inSyscallEntry: boolean;
  /** What the tracer passed on: delivered (not stopped for again) at the next return to user mode. */
  inject: SigInfo | null;
  /** Event stops to take once the current syscall has its result (fork, clone, exec), in order. */
  pendingEvents: { event: number; message: number }[];
  /** A vfork's child whose release (exec or exit) the tracer wants as PTRACE_EVENT_VFORK_DONE. */
  vforkDoneFor: number;
  /** PTRACE_GETEVENTMSG. */
  eventMessage: number;
  /** PTRACE_INTERRUPT asked for a stop. */
  interrupt: boolean;
  /** The group stop this tracee was let out of by its tracer (it does not stop for it again). */
  leftGroupStop: object | null;
  /** The tracee's process ended; its tracer, not its parent, has yet to see that in a wait. */
  exited: boolean;
  /**
   * A traced thread other than the last ended: its wait status, which its tracer's wait reports
   * by its thread id (Linux keeps a traced thread a zombie for its tracer); null otherwise.
   */
  threadExitStatus: number | null;
  /**
   * PTRACE_LISTEN: out of its ptrace-stop for the tracer's requests (ESRCH) and waits, yet still
   * stopped; the end of its group stop (SIGCONT) traps it again with PTRACE_EVENT_STOP.
   */
  listening: boolean;
}

/** Starts tracing `tracee` by `tracer` (attach, seize, traceme, an auto-attached child). */
export function link(
  tracee: Task, tracer: Task, seized: boolean, options: number, tracerCreds: Credentials = tracer.creds,
): PtraceLink {
  const l: PtraceLink = {
    tracer, tracerCreds, seized, options, stop: null, report: false, syscallStops: false, sysemu: false, emulated: false, singleStep: false,
    inSyscallEntry: false,
    inject: null, pendingEvents: [], vforkDoneFor: 0, eventMessage: 0, interrupt: false, leftGroupStop: null, exited: false,
    threadExitStatus: null, listening: false,
  };
  tracee.ptrace = l;
  tracer.tracees.add(tracee);
  return l;
}

/** The status word wait reports for a ptrace-stop. */
export function stopStatus(l: PtraceLink, stop: PtraceStop): number {
  switch (stop.kind) {
    case "signal":
      return 0x7f | (stop.signo << 8);
    case "group":
      return 0x7f | (stop.signo << 8) | (l.seized ? PTRACE_EVENT_STOP << 16 : 0);
    case "syscall":
      return 0x7f | ((SIGTRAP | ((l.options & PTRACE_O_TRACESYSGOOD) ? 0x80 : 0)) << 8);
    case "event":
      return 0x7f | (SIGTRAP << 8) | (stop.event << 16);
  }
}

/** The signal number wait's siginfo gives for a stop (si_status). */
export function stopSignal(l: PtraceLink, stop: PtraceStop): number {
  return (stopStatus(l, stop) >> 8) & 0xff;
}

/**
 * Puts t into a ptrace-stop (precondition: t is traced, in the kernel, off the run queue) and
 * tells its tracer: its wait queue, and SIGCHLD with CLD_TRAPPED unless SA_NOCLDSTOP.
 */
export function enterStop(t: Task, stop: PtraceStop): void {
  const l = t.ptrace!;
  l.stop = stop;
  l.report = true;
  t.state = "stopped";
  const tracer = l.tracer;
  const tg = tracer.tg;
  if (tg.zombie) return;
  if (!(tg.handlers.get(SIGCHLD).flags & SA_NOCLDSTOP)) {
    t.kernel.sendSignal(tg, SIGCHLD, { code: CLD_TRAPPED, pid: t.tid, uid: t.creds.uid, status: stopSignal(l, stop) });
  }
  tg.childWaitQueue.notify(1);
}

/**
 * Ends t's ptrace-stop: it runs again, `signo` (0 for none) to be delivered as the stop decides
 * (a signal-delivery-stop passes its own siginfo on when the signal is the same).
 */
export function resume(t: Task, signo: number): void {
  const l = t.ptrace;
  if (l === null || l.stop === null) return;
  const stop = l.stop;
  l.stop = null;
  l.report = false;
  if (stop.kind === "group") l.leftGroupStop = t.tg.groupStop;
  if (signo !== 0) {
    l.inject = stop.kind === "signal" && stop.signo === signo
      ? stop.info
      : { signo, code: 0 /* SI_USER */, pid: l.tracer.tg.tgid, uid: l.tracer.creds.uid };
  }
  t.kernel.resumeStoppedTask(t);
}

/** Ends the trace of t (PTRACE_DETACH, the tracer's exit, t's exit). */
export function unlink(t: Task, signo = 0): void {
  const l = t.ptrace;
  if (l === null) return;
  if (l.stop?.kind === "group" && t.tg.groupStop !== null) {
    // Still part of its group's stop: it stays stopped, with no new report (SIGCONT ends it).
    l.stop = null;
    l.report = false;
  } else if (l.stop !== null) {
    resume(t, signo);
  }
  // Detached while listening: its group stop goes on as an untraced thread's would.
  l.listening = false;
  // Detached at a PTRACE_SYSEMU entry stop: the syscall stays skipped, its rax the tracer's.
  if (l.inSyscallEntry && l.emulated) t.inSyscall = false;
  l.tracer.tracees.delete(t);
  t.ptrace = null;
  // A pending injection survives the detach: it is an ordinary signal now.
  if (l.inject !== null) t.pendingSignals.add(l.inject);
}

/**
 * Whether the zombie tg's exit still waits for a tracer that is not its parent to wait for it:
 * until then its parent is not told, and cannot reap it (Linux's ptrace_reparented zombie).
 */
export function exitAwaitsTracer(k: Kernel, tg: ThreadGroup): boolean {
  for (const tr of k.tasks.values()) {
    if (tr.tracees.size === 0 || tr.tg === tg.parent) continue;
    for (const x of tr.tracees) if (x.tg === tg && x.ptrace?.exited) return true;
  }
  return false;
}

/**
 * Whether a thread of tg other than `except` ended traced and its tracer has not waited for it
 * yet: Linux keeps such a zombie in the thread group until then, so the group is not empty (its
 * leader's zombie is not reported, de_thread waits).
 */
export function tracedThreadZombies(k: Kernel, tg: ThreadGroup, except: Task | null = null): boolean {
  for (const tr of k.tasks.values()) {
    if (tr.tracees.size === 0) continue;
    for (const x of tr.tracees) if (x !== except && x.tg === tg && x.ptrace?.threadExitStatus != null) return true;
  }
  return false;
}

/** The tracer of the exited x is done with it (waited, or gone): its parent may be told now. */
export function releaseExitedTracee(x: Task): void {
  const l = x.ptrace!;
  l.tracer.tracees.delete(x);
  x.ptrace = null;
  const tg = x.tg;
  // An execve of the group may be waiting for this thread's zombie to go (task_exec.ts).
  tg.threadExitQueue.notify(EVENT_IN);
  if (!tg.zombie) return;
  // The last traced thread zombie gone: a leader's zombie traced by another task is reportable.
  if (l.threadExitStatus !== null) {
    for (const tr of x.kernel.tasks.values()) {
      for (const y of tr.tracees) if (y.tg === tg && y.ptrace?.exited) tr.tg.childWaitQueue.notify(1);
    }
  }
  if (l.tracer.tg !== tg.parent && !exitAwaitsTracer(x.kernel, tg)) x.kernel.notifyParentOfExit(tg);
}

/**
 * de_thread made another thread the leader: the old leader's zombie, if a tracer still held
 * it, goes without a report (Linux's de_thread releases it silently and wakes the tracer).
 */
export function dropOldLeader(k: Kernel, tg: ThreadGroup, heir: Task): void {
  for (const tr of k.tasks.values()) {
    for (const x of tr.tracees) {
      if (x !== heir && x.tg === tg && x.tid === tg.tgid && x.ptrace?.exited) {
        tr.tracees.delete(x);
        x.ptrace = null;
        tr.tg.childWaitQueue.notify(1);
      }
    }
  }
}

/** The tracer is exiting (its task ends): every tracee is detached, or killed with EXITKILL. */
export function tracerExited(tracer: Task): void {
  for (const t of [...tracer.tracees]) {
    if (t.ptrace!.exited) {
      releaseExitedTracee(t);
      continue;
    }
    const kill = (t.ptrace!.options & PTRACE_O_EXITKILL) !== 0;
    unlink(t);
    if (kill) t.kernel.sendSignal(t.tg, SIGKILL);
  }
}

/**
 * The tracee's task ends (precondition: still in its group's task set), with wait status
 * `status`. Its tracer's wait sees the change. The tracer keeps the last thread: a tracer that is not the process's parent has
 * its wait report the exit once (Linux tells such a tracer first); a parent that traces it
 * reaps it whatever its clone flags (kernel/task_wait.ts).
 */
export function traceeExited(t: Task, status: number): void {
  const l = t.ptrace;
  if (l === null) return;
  const last = t.tg.tasks.size === 1 && t.tg.tasks.has(t);
  // A leader that ends before its threads stays its tracer's when that tracer is not its
  // parent: Linux keeps it a traced zombie (delay_group_leader), reported to the tracer once
  // the group is empty, and only then to its parent (kernel/task_wait.ts).
  if (t.tid === t.tg.tgid && !l.tracer.tg.zombie && (last || l.tracer.tg !== t.tg.parent)) {
    l.exited = true;
    l.stop = null;
  } else if (t.tid !== t.tg.tgid && !l.tracer.tg.zombie) {
    // A thread other than the leader, the last one too: a zombie for its tracer until it waits
    // for it, by the thread's id (then its process is its parent's to reap, as Linux's
    // release_task notifies the leader's parent once the last thread is released).
    l.exited = true;
    l.stop = null;
    l.threadExitStatus = status;
  } else {
    l.tracer.tracees.delete(t);
    t.ptrace = null;
  }
  l.tracer.tg.childWaitQueue.notify(1);
}

/**
 * A traced task created `child` (clone(2), fork, vfork; exitSignal: the clone's): with the matching option, the child is
 * traced too (starting in a stop: SIGSTOP, or PTRACE_EVENT_STOP when seized) and the parent
 * takes the event stop once the clone returns.
 */
export function onClone(t: Task, child: Task, exitSignal: number, vfork: boolean, thread: boolean): void {
  const l = t.ptrace;
  if (l === null) return;
  const event = vfork ? PTRACE_EVENT_VFORK : thread || exitSignal !== SIGCHLD ? PTRACE_EVENT_CLONE : PTRACE_EVENT_FORK;
  const option = event === PTRACE_EVENT_VFORK
    ? PTRACE_O_TRACEVFORK
    : event === PTRACE_EVENT_CLONE
    ? PTRACE_O_TRACECLONE
    : PTRACE_O_TRACEFORK;
  if (!(l.options & option)) {
    if (vfork && (l.options & PTRACE_O_TRACEVFORKDONE)) l.vforkDoneFor = child.tid;
    return;
  }
  const cl = link(child, l.tracer, l.seized, l.options, l.tracerCreds);
  if (l.seized) cl.interrupt = true;
  else child.pendingSignals.add({ signo: SIGSTOP, code: 0, pid: 0, uid: 0 });
  l.pendingEvents.push({ event, message: l.tracer.vnr(child.tid) }); // as the tracer numbers it
  if (vfork && (l.options & PTRACE_O_TRACEVFORKDONE)) l.vforkDoneFor = child.tid;
}

/**
 * A traced task completed execve: the exec event stop, or SIGTRAP without PTRACE_O_TRACEEXEC.
 * oldTid: its thread id before the exec, as its tracer numbers it (PTRACE_GETEVENTMSG).
 */
export function onExec(t: Task, oldTid: number): void {
  const l = t.ptrace;
  if (l === null) return;
  if (l.options & PTRACE_O_TRACEEXEC) l.pendingEvents.push({ event: PTRACE_EVENT_EXEC, message: oldTid });
  else if (!l.seized) t.pendingSignals.add({ signo: SIGTRAP, code: 0, pid: 0, uid: 0 });
}
