/**
 * Signal sending, queueing and delivery. Analogous to Linux's kernel/signal.c and gVisor's
 * task_signals.go.
 *
 * - Every task has a private pending set (thread-directed: tkill, faults) and every thread
 *   group a shared one (process-directed: kill). Standard signals are pending at most once;
 *   real-time signals (32+) queue every instance, in order.
 * - A signal is delivered when its task is about to return to user mode (Kernel.#step): the
 *   lowest-numbered deliverable signal first, synchronous faults before everything.
 * - Sending to a task that sleeps in a syscall wakes it as interrupted: the syscall then returns
 *   EINTR, or runs again after the handler (SA_RESTART with a restartable syscall), or runs again
 *   at once when the signal's action was to ignore it.
 * - Default actions: terminate (SIGKILL and fatal signals kill the group at once when not
 *   blocked), ignore, stop and continue (kernel/job_control.ts: sending SIGCONT continues the
 *   group whatever its disposition; a stop signal stops the group when a thread dequeues it).
 *
 * @module
 */

import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";
import { sigBit, type SigAction } from "./signals.ts";
import { buildFrame, initialFpState, noteXstateShape, type SigInfo } from "./signal_frame.ts";
import { EVENT_IN } from "../waiter/mod.ts";
import { SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER, SA_SIGINFO, SIGSEGV } from "../abi/linux/signal.ts";
import { applySendSideEffects, initiateGroupStop } from "./job_control.ts";
import { enterStop } from "./ptrace.ts";
import { rseqSignalDeliver } from "./rseq.ts";
import { RLIMIT_SIGPENDING } from "../abi/linux/limits.ts";
import { type RlimitCharge, rlimitOverlimit, UCOUNT_RLIMIT_SIGPENDING } from "./ucounts.ts";

export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;

/** Signals the CPU raises; they are dequeued first. */
const SYNCHRONOUS = sigBit(11) | sigBit(7) | sigBit(4) | sigBit(5) | sigBit(8) | sigBit(31);
/** SIGKILL and SIGSTOP can be neither blocked nor handled. */
export const UNBLOCKABLE = sigBit(9) | sigBit(19);
const DEFAULT_IGNORE = sigBit(17) | sigBit(18) | sigBit(23) | sigBit(28);
const DEFAULT_STOP = sigBit(19) | sigBit(20) | sigBit(21) | sigBit(22);

/** @savable A set of pending signals with their siginfo. */
export class PendingSignals {
  mask = 0n;
  readonly queue: SigInfo[] = [];

  /**
   * Adds a signal; a standard signal already pending is not queued twice, except a POSIX
   * timer's: Linux queues the timer's preallocated sigqueue whatever is pending
   * (send_sigqueue has no legacy_queue check), so a timer whose signal was already pending from
   * kill or tgkill still delivers its own, with its overruns, and is not left believing it
   * queued one that was dropped.
   */
  add(info: SigInfo): void {
    const bit = sigBit(info.signo);
    if (info.signo < 32 && (this.mask & bit) && info.timerSeq === undefined) return;
    this.mask |= bit;
    this.queue.push(info);
  }

  /** Removes and returns the first queued instance of signo. */
  take(signo: number): SigInfo | null {
    const i = this.queue.findIndex((q) => q.signo === signo);
    if (i < 0) return null;
    const [info] = this.queue.splice(i, 1);
    if (!this.queue.some((q) => q.signo === signo)) this.mask &= ~sigBit(signo);
    return info!;
  }

  /** Drops every instance of signo (it became ignored). */
  discard(signo: number): void {
    while (this.take(signo)) { /* drop */ }
  }
}

/** The lowest signal in set, synchronous signals first; 0 if none. */
export function pickSignal(set: bigint): number {
  const sync = set & SYNCHRONOUS;
  const from = sync !== 0n ? sync : set;
  for (let s = 1; s <= 64; s++) if (from & sigBit(s)) return s;
  return 0;
}

/** What a signal does to a process with the given disposition. */
export type Disposition = "handler" | "ignore" | "terminate" | "stop" | "continue";

export function disposition(signo: number, act: SigAction): Disposition {
  if (signo === 9) return "terminate";
  if (signo === 19) return "stop";
  if (act.handler === 1n) return "ignore";
  if (act.handler > 1n) return "handler";
  const bit = sigBit(signo);
  if (signo === 18) return "continue";
  if (DEFAULT_IGNORE & bit) return "ignore";
  if (DEFAULT_STOP & bit) return "stop";
  return "terminate";
}

/** Signals pending for t (private and shared) that it does not block. */
export function deliverableSet(t: Task): bigint {
  // Checked on every return to user mode: skip the bigint arithmetic when nothing is pending.
  if (t.pendingSignals.mask === 0n && t.tg.sharedPending.mask === 0n) return 0n;
  return (t.pendingSignals.mask | t.tg.sharedPending.mask) & ~(t.sigmask & ~UNBLOCKABLE);
}

/** Chooses the thread of tg that takes a process-directed signal: one that does not block it. */
function chooseThread(tg: ThreadGroup, signo: number): Task | null {
  const bit = sigBit(signo);
  const leader = tg.leader;
  if (leader && !(leader.sigmask & bit)) return leader;
  for (const t of tg.tasks) if (!(t.sigmask & bit)) return t;
  return null;
}

/**
 * si_uid as the receiving process's user namespace shows the sender's kernel uid (Linux's
 * __send_signal_locked: from_kuid_munged of the target's namespace). A siginfo a process made
 * itself (rt_sigqueueinfo and pidfd_send_signal's negative codes, but SI_TKILL and SI_MESGQ,
 * which the kernel fills) carries the uid as given.
 */
function uidForReceiver(tg: ThreadGroup, thread: Task | null, info: SigInfo): SigInfo {
  if (info.uid === undefined || (info.code < 0 && info.code !== -6 && info.code !== -3)) return info;
  const ns = (thread ?? tg.leader ?? tg.tasks.values().next().value)?.creds.userNs;
  if (ns === undefined || ns.parent === null) return info;
  return { ...info, uid: ns.uidOf(info.uid) };
}

/**
 * si_pid as the receiving process's PID namespace numbers the sender (0 when it cannot see it,
 * as Linux's __send_signal_locked for a sender in an ancestor namespace). A siginfo a process
 * made itself carries the pid as given, as uidForReceiver.
 */
function pidForReceiver(tg: ThreadGroup, info: SigInfo): SigInfo {
  if (info.pid === undefined || info.pid === 0 || tg.pidNs.parent === null) return info;
  if (info.code < 0 && info.code !== -6 && info.code !== -3) return info;
  return { ...info, pid: tg.pidNs.local(info.pid) };
}

/**
 * Whether tg, the init of a PID namespace, ignores signal info with action act (Linux's
 * sig_task_ignored with SIGNAL_UNKILLABLE): a signal it has no handler for is dropped, but
 * SIGKILL and SIGSTOP from the kernel (SI_KERNEL), from outside the sandbox or from a process
 * of an ancestor namespace (one tg's namespace cannot see). The sandbox's own init is left as
 * it was (a container's runtime reaches it from outside).
 */
function initIgnores(tg: ThreadGroup, info: SigInfo, act: SigAction, sender: Task | null): boolean {
  const ns = tg.pidNs;
  if (ns.parent === null || ns.init !== tg || act.handler !== 0n) return false;
  if (info.signo !== 9 && info.signo !== 19) return true;
  const forced = info.code === 0x80 || sender === null || !ns.sees(sender.tg.tgid);
  return !forced;
}

/**
 * Whether t's process, a PID namespace's init, drops the default action of signo when it takes
 * it from its queue (get_signal: a SIGNAL_UNKILLABLE process acts only on SIGKILL and SIGSTOP,
 * which reached it from an ancestor). A fault's signal was made fatal before it was queued.
 */
function initDropsDefault(t: Task, info: SigInfo): boolean {
  const ns = t.tg.pidNs;
  return ns.parent !== null && ns.init === t.tg && info.signo !== 9 && info.signo !== 19 && info.addr === undefined;
}

/**
 * Sends a signal: to one task (`thread`) or to its whole group (waking `prefer` for it when that
 * thread does not block it). Implements what kill, tgkill, faults and the kernel's own signals
 * (SIGCHLD, SIGPIPE, timers) share. Returns true when the
 * signal was queued (pending), false when it was dropped or acted on at once.
 */
export function sendSignal(tg: ThreadGroup, info: SigInfo, thread: Task | null = null, prefer: Task | null = null): boolean {
  const k = (thread ?? tg.leader)?.kernel;
  if (!k || tg.zombie || tg.exitStatus !== null) return false;
  info = pidForReceiver(tg, uidForReceiver(tg, thread, info));
  const signo = info.signo;
  if (signo === 0) return false;
  applySendSideEffects(tg, signo);
  const act = tg.handlers.get(signo);
  const d = disposition(signo, act);
  const bit = sigBit(signo);
  // A process-directed signal goes to the thread it names first when that one takes it
  // (complete_signal's wants_signal(p)): a CPU timer's, to the thread that was running.
  const preferred = prefer !== null && prefer.tg === tg && prefer.state !== "dead" && !(prefer.sigmask & bit);
  const target = thread ?? (preferred ? prefer : chooseThread(tg, signo));
  const blocked = target === null || (target.sigmask & bit & ~UNBLOCKABLE) !== 0n;
  // A traced task's tracer sees every signal but SIGKILL first: none is dropped or acted on
  // at once (Linux's sig_ignored and complete_signal skip ptraced tasks).
  if (target?.ptrace != null && signo !== 9) {
    if (!enqueue(tg, thread, info)) return false;
    k.signalfdQueue.notify(EVENT_IN);
    if (!blocked) k.interruptTask(target);
    return true;
  }
  // A PID namespace's init is spared what it does not handle (it is not blocked, not traced).
  if (!blocked && initIgnores(tg, info, act, k.current)) return false;
  // An ignored signal that is not blocked is dropped at once (Linux's sig_ignored).
  // SIGCONT's default action (continuing) was taken by applySendSideEffects: nothing to queue.
  if ((d === "ignore" || d === "continue") && !blocked) return false;
  // A fatal signal ends the group at once. In a stopped group only SIGKILL does: any other
  // waits, as on Linux (wants_signal skips stopped threads), until SIGCONT lets a thread take it.
  if (d === "terminate" && !blocked && (signo === 9 || tg.groupStop === null)) {
    // Sent by another process, it takes effect after the sender's next stop (kernel.ts).
    if (!k.holdForWaker(tg, () => k.killGroup(tg, signo), true)) k.killGroup(tg, signo);
    return false;
  }
  if (!enqueue(tg, thread, info)) return false;
  k.signalfdQueue.notify(EVENT_IN);
  // A task in rt_sigtimedwait for this signal takes it from the call even when it does not block
  // it (Linux's do_sigtimedwait dequeues a waited-for signal before answering EINTR).
  if (target && !blocked) {
    if (target.sigWaitSet !== null && (target.sigWaitSet & bit)) k.wakeTask(target);
    else k.interruptTask(target);
  } else if (target === null || blocked) {
    // A task waiting in rt_sigtimedwait for this signal takes it even though it blocks it.
    for (const t of tg.tasks) if (t.sigWaitSet !== null && (t.sigWaitSet & bit)) k.wakeTask(t);
  }
  return true;
}

/** Takes the next deliverable signal of t, or null. */
export function dequeueSignal(t: Task, allowed: bigint = deliverableSet(t)): SigInfo | null {
  for (;;) {
    const signo = pickSignal(allowed & (t.pendingSignals.mask | t.tg.sharedPending.mask));
    if (signo === 0) return null;
    const info = t.pendingSignals.take(signo) ?? t.tg.sharedPending.take(signo);
    if (!info) return null;
    if (info.timerSeq === undefined || takeTimerSignal(t, info)) return info;
    // A stale timer signal is dropped; look again.
  }
}

/**
 * A POSIX timer's signal leaves the queue: it carries the overruns counted while it was queued,
 * and the timer may queue its next one (Linux's dequeue_signal → posixtimer_deliver_signal).
 * Returns false when the signal is stale: its timer was deleted or re-armed since it was queued.
 */
function takeTimerSignal(t: Task, info: SigInfo): boolean {
  const p = t.tg.posixTimers.get(info.timerId!);
  if (!p || p.seq !== info.timerSeq) return false;
  info.overrun = p.overrun;
  p.lastOverrun = p.overrun;
  p.overrun = 0;
  p.queued = false;
  return true;
}

/**
 * Delivers every deliverable signal of t before it returns to user mode: applies default
 * actions, or builds a handler frame on its stack. Returns false if t died or stopped.
 */
export function deliverSignals(t: Task): boolean {
  for (let guard = 0; guard < 64; guard++) {
    const l = t.ptrace;
    let info: SigInfo | null;
    if (l !== null && l.inject !== null) {
      // What the tracer passed on is delivered without another stop; blocked now, it waits
      // in the queue as any signal (Linux's ptrace_signal).
      info = l.inject;
      l.inject = null;
      if (t.sigmask & sigBit(info.signo) & ~UNBLOCKABLE) {
        t.pendingSignals.add(info);
        continue;
      }
    } else {
      if (deliverableSet(t) === 0n) return true;
      info = dequeueSignal(t);
      if (!info) return true;
      // A traced task stops for its tracer before acting on any signal but SIGKILL.
      if (l !== null && info.signo !== 9) {
        enterStop(t, { kind: "signal", signo: info.signo, info });
        return false;
      }
    }
    const act = t.tg.handlers.get(info.signo);
    switch (disposition(info.signo, act)) {
      case "ignore":
      case "continue":
        continue;
      case "stop":
        if (initDropsDefault(t, info)) continue;
        if (initiateGroupStop(t, info.signo)) return false;
        continue;
      case "terminate":
        if (initDropsDefault(t, info)) continue;
        t.kernel.killGroup(t.tg, info.signo);
        return false;
      case "handler":
        if (!enterHandler(t, info, act)) return false;
        continue;
    }
  }
  return true;
}

export const ERESTARTSYS = 512;
export const ERESTARTNOHAND = 514;

/**
 * Settles Task.restartCode on t's way back to user mode, as Linux's handle_signal (act: the
 * handler being entered) and arch_do_signal_or_restart (act null: no handler) do when rax still
 * holds the -ERESTART* value (a tracer may have changed it): a handler gets EINTR, or the
 * syscall again after ERESTARTSYS with SA_RESTART; without one the syscall runs again.
 */
export function settleRestart(t: Task, act: SigAction | null): void {
  const code = t.restartCode;
  t.restartCode = 0;
  const regs = t.ctx.regs;
  if (BigInt.asIntN(64, regs.get64("rax")) !== BigInt(-code)) return;
  if (act === null || (code === ERESTARTSYS && (act.flags & SA_RESTART) !== 0)) {
    regs.set("rip", regs.get("rip") - 2);
    regs.set64("rax", regs.get64("orig_rax"));
  } else {
    regs.set("rax", -4 /* EINTR */);
  }
  t.ctx.markRegsDirty();
}

/** Builds the signal frame and points t at the handler. False if the stack was unusable. */
function enterHandler(t: Task, info: SigInfo, act: SigAction): boolean {
  if (t.restartCode !== 0) settleRestart(t, act);
  // setup_rt_frame's rseq_signal_deliver: a critical section is left for its abort handler,
  // whose address the frame then holds.
  if (t.rseq !== null) rseqSignalDeliver(t, info.signo);
  const ctx = t.ctx;
  const regs = ctx.regs;
  const alt = t.altStack;
  const sp = regs.get("rsp");
  const onAlt = (act.flags & SA_ONSTACK) !== 0 && !(alt.flags & SS_DISABLE) && alt.size > 0 &&
    !(sp > alt.sp && sp <= alt.sp + alt.size);
  const oldMask = t.savedMask ?? t.sigmask;
  t.savedMask = null;
  const xstate = ctx.getFpState();
  noteXstateShape(xstate);
  const frame = buildFrame({
    regs,
    xstate,
    info,
    oldMask,
    altStack: { sp: alt.sp, size: alt.size, flags: onAlt || (sp > alt.sp && sp <= alt.sp + alt.size) ? SS_ONSTACK : alt.flags },
    handler: act.handler,
    restorer: (act.flags & SA_RESTORER) ? act.restorer : 0n,
    onAltStack: onAlt,
  });
  // A frame on the alternate stack (entering it, or nested there) that would reach below its
  // bottom is not written: Linux's get_sigframe gives up and forces SIGSEGV, so a handler that
  // keeps faulting walks off its stack into a kill, not into the memory below.
  const onAltStack = (a: number) => !(alt.flags & SS_DISABLE) && a > alt.sp && a - alt.sp <= alt.size;
  const overflows = (onAlt || onAltStack(sp)) && !onAltStack(frame.addr);
  // As Linux's copy_to_user of the frame, the write grows a MAP_GROWSDOWN stack below it.
  if (overflows || t.writeUser(frame.addr, frame.bytes) !== frame.bytes.length) {
    // No frame (Linux's signal_setup_done → force_sigsegv): for SIGSEGV itself the default
    // action (fatal); for another signal a forced SIGSEGV, which its own handler may take (on
    // the normal stack unless SA_ONSTACK) once unblocked; the mask stays as it was.
    if (info.signo === SIGSEGV) {
      t.kernel.killGroup(t.tg, SIGSEGV);
      return false;
    }
    forceSignal(t, SIGSEGV);
    return true;
  }
  // The handler starts with a clean FP state, as on Linux (the frame holds the old one).
  ctx.setFpState(initialFpState(xstate));
  regs.set("rip", Number(act.handler));
  regs.set("rsp", frame.frameAddr);
  regs.set("rdi", info.signo);
  regs.set("rsi", (act.flags & SA_SIGINFO) ? frame.infoAddr : 0);
  regs.set("rdx", (act.flags & SA_SIGINFO) ? frame.ucAddr : 0);
  regs.set("rax", 0);
  regs.set("orig_rax", -1);
  // Clear TF and DF for the handler, as Linux does.
  regs.set64("eflags", regs.get64("eflags") & ~0x10500n);
  ctx.markRegsDirty();
  let mask = t.sigmask | act.mask;
  if (!(act.flags & SA_NODEFER)) mask |= sigBit(info.signo);
  t.sigmask = mask & ~UNBLOCKABLE;
  // SA_RESETHAND resets only the handler: Linux's get_signal sets sa_handler = SIG_DFL and keeps
  // the flags (SA_SIGINFO among them), mask and restorer a later sigaction reads back.
  if (act.flags & SA_RESETHAND) {
    t.tg.handlers.set(info.signo, { ...act, handler: 0n });
  }
  return true;
}

/**
 * Linux's force_sig for a kernel-made signal (SI_KERNEL) to t: a blocked or ignored one is
 * unblocked and its action reset to the default first, so that it cannot be missed.
 */
export function forceSignal(t: Task, signo: number): void {
  const bit = sigBit(signo);
  if (disposition(signo, t.tg.handlers.get(signo)) === "ignore" || (t.sigmask & bit)) {
    t.sigmask &= ~bit;
    t.tg.handlers.set(signo, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
  }
  t.pendingSignals.add({ signo, code: 0x80 /* SI_KERNEL */ });
}

/**
 * The user a signal queued for `tg` (to `thread`, or to the process) counts for: the receiving
 * task's real uid in its user namespace (Linux's task_ucounts of the target).
 */
function receiverCreds(tg: ThreadGroup, thread: Task | null): Task["creds"] | null {
  return (thread ?? tg.leader ?? tg.tasks.values().next().value)?.creds ?? null;
}

/**
 * What every user holds of RLIMIT_SIGPENDING: each queued siginfo (a standard signal's as well,
 * not one queued without it) for the user of the task or process it waits in, and each POSIX
 * timer's preallocated one, from the timer's creation, for its process's user.
 */
function* sigpendingCharges(k: Task["kernel"]): Generator<RlimitCharge> {
  const held = (q: PendingSignals) => q.queue.reduce((n, i) => n + (i.timerSeq === undefined && i.lost === undefined ? 1 : 0), 0);
  for (const g of k.threadGroups.values()) {
    if (g.zombie) continue;
    for (const x of g.tasks) {
      const n = held(x.pendingSignals);
      if (n > 0) yield [x.creds.userNs, x.creds.uid, n];
    }
    const c = receiverCreds(g, null);
    if (c === null) continue;
    const n = held(g.sharedPending) + g.posixTimers.size;
    if (n > 0) yield [c.userNs, c.uid, n];
  }
}

/**
 * Whether `creds`' user has RLIMIT_SIGPENDING (`limit`, the receiver's soft limit) signals
 * queued or held already (sig_get_ucounts failing).
 */
export function sigpendingFull(k: Task["kernel"], creds: Task["creds"], limit: number): boolean {
  return limit !== Infinity && rlimitOverlimit(sigpendingCharges(k), creds.userNs, creds.uid, 1, limit, UCOUNT_RLIMIT_SIGPENDING);
}

/**
 * Queues info for tg (to `thread`, or to the process), as Linux's __send_signal_locked after
 * its legacy_queue check: a siginfo takes a place of the receiving user's RLIMIT_SIGPENDING;
 * a standard signal the kernel or kill(2) sent (si_code >= 0) takes one whatever the count,
 * SIGKILL and a POSIX timer's (preallocated) none. Without a place, a real-time signal a process
 * made (si_code other than SI_USER) is dropped (its syscalls answered EAGAIN first, rtQueueFull),
 * any other is pending without its siginfo. Returns false when nothing was queued.
 */
function enqueue(tg: ThreadGroup, thread: Task | null, info: SigInfo): boolean {
  const p = thread ? thread.pendingSignals : tg.sharedPending;
  const bit = sigBit(info.signo);
  if (info.signo < 32 && (p.mask & bit) && info.timerSeq === undefined) return true; // legacy_queue
  const override = info.signo < 32 && info.code >= 0;
  if (info.timerSeq === undefined && info.signo !== 9 && !override) {
    const c = receiverCreds(tg, thread);
    const k = (thread ?? tg.leader ?? tg.tasks.values().next().value)?.kernel;
    if (c !== null && k !== undefined && sigpendingFull(k, c, tg.limits.soft(RLIMIT_SIGPENDING))) {
      if (info.signo >= 32 && info.code !== 0) return false;
      if (p.mask & bit) return true; // an instance is pending already: nothing more to show
      info = { signo: info.signo, code: 0 /* SI_USER */, pid: 0, uid: 0, lost: true };
    }
  }
  p.add(info);
  return true;
}

/**
 * Whether queueing a real-time signal that a process made (si_code other than SI_USER: tkill,
 * tgkill, sigqueue, pidfd_send_signal with a siginfo) fails with EAGAIN: the receiver's user is
 * at RLIMIT_SIGPENDING (the receiver's soft limit; Linux's __send_signal_locked: its sigqueue
 * cannot be allocated, and it is not one kill(2) sent, whose signal would go on without its
 * siginfo). A signal the receiver ignores is dropped before that.
 */
export function rtQueueFull(tg: ThreadGroup, thread: Task | null, signo: number, code: number): boolean {
  if (signo < 32 || code === 0 /* SI_USER */) return false;
  const target = thread ?? tg.leader ?? tg.tasks.values().next().value;
  if (target === undefined) return false;
  const act = tg.handlers.get(signo);
  if (disposition(signo, act) === "ignore" && !(target.sigmask & sigBit(signo))) return false;
  return sigpendingFull(target.kernel, target.creds, tg.limits.soft(RLIMIT_SIGPENDING));
}
