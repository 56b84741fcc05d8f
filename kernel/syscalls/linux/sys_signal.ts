/**
 * Signal syscalls: dispositions, masks, waiting for signals, the alternate stack and
 * sigreturn. Sending is in sys_kill.ts; queueing and delivery in kernel/task_signals.ts.
 */

import { EAGAIN, EINVAL, ENOMEM, EPERM, ESRCH } from "../../errno.ts";
import { SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SIGKILL, SIGSTOP } from "../../../abi/linux/signal.ts";
import { sigBit } from "../../signals.ts";
import {
  decodeSigInfo, encodeSigInfo, frameXstateLength, knownXstateShape, restoreFromUcontext, UCONTEXT_SIZE, xstateFromFrame,
} from "../../signal_frame.ts";
import { dequeueSignal, disposition, rtQueueFull, SS_DISABLE, SS_ONSTACK } from "../../task_signals.ts";
import { monotonicNs } from "../../time.ts";
import { checkSignalPermission } from "../../signal_permission.ts";
import type { Task } from "../../task.ts";
import { readTimespecNs } from "./_time.ts";
import { block, NORETURN, supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const UNBLOCKABLE = sigBit(SIGKILL) | sigBit(SIGSTOP);

/** Implements rt_sigaction(2): struct kernel_sigaction is handler, flags, restorer, mask. */
const sysRtSigaction: SyscallFn = (t, a) => {
  const sig = a.int(0), act = a.pointer(1), oact = a.pointer(2);
  if (a.sizeT(3) !== 8) throw EINVAL;
  if (sig < 1 || sig > 64) throw EINVAL;
  const next = act !== 0 ? t.copyIn(act, 32) : null;
  if (next && (sig === SIGKILL || sig === SIGSTOP)) throw EINVAL;
  const old = t.tg.handlers.get(sig);
  if (oact !== 0) {
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, old.handler, true);
    v.setBigUint64(8, BigInt(old.flags >>> 0), true);
    v.setBigUint64(16, old.restorer, true);
    v.setBigUint64(24, old.mask, true);
    t.copyOut(oact, b);
  }
  if (next) {
    const v = new DataView(next.buffer);
    const act = {
      handler: v.getBigUint64(0, true),
      flags: Number(v.getBigUint64(8, true) & 0xffffffffn),
      restorer: v.getBigUint64(16, true),
      mask: v.getBigUint64(24, true) & ~UNBLOCKABLE,
    };
    t.tg.handlers.set(sig, act);
    // Setting a pending signal to be ignored discards it (POSIX).
    if (disposition(sig, act) === "ignore") {
      t.tg.sharedPending.discard(sig);
      for (const th of t.tg.tasks) th.pendingSignals.discard(sig);
    }
  }
  return 0;
};

/** Implements rt_sigprocmask(2). */
const sysRtSigprocmask: SyscallFn = (t, a) => {
  const how = a.int(0), set = a.pointer(1), oset = a.pointer(2);
  if (a.sizeT(3) !== 8) throw EINVAL;
  const old = t.sigmask;
  if (set !== 0) {
    const s = t.copyInU64(set);
    switch (how) {
      case SIG_BLOCK:
        t.sigmask = old | s;
        break;
      case SIG_UNBLOCK:
        t.sigmask = old & ~s;
        break;
      case SIG_SETMASK:
        t.sigmask = s;
        break;
      default:
        throw EINVAL;
    }
    t.sigmask &= ~UNBLOCKABLE;
  }
  if (oset !== 0) t.copyOutU64(oset, old);
  return 0;
};

/** Implements rt_sigreturn(2): restores what the signal frame saved. */
const sysRtSigreturn: SyscallFn = (t) => {
  const regs = t.ctx.regs;
  const ucAddr = regs.get("rsp"); // the handler's ret popped pretcode: rsp is the ucontext
  let uc: Uint8Array;
  try {
    uc = t.copyIn(ucAddr, UCONTEXT_SIZE);
  } catch {
    t.kernel.killGroup(t.tg, 11);
    return NORETURN;
  }
  const restored = restoreFromUcontext(uc, regs);
  t.ctx.markRegsDirty();
  t.sigmask = restored.mask & ~UNBLOCKABLE;
  if (restored.fpAddr !== 0) {
    let shape = knownXstateShape();
    if (shape === null) {
      const full = t.ctx.getFpState();
      shape = { full: full.length, frame: frameXstateLength(full) };
    }
    try {
      t.ctx.setFpState(xstateFromFrame(t.copyIn(restored.fpAddr, shape.frame), shape.full));
    } catch {
      t.kernel.killGroup(t.tg, 11);
      return NORETURN;
    }
  }
  return NORETURN;
};

const MINSIGSTKSZ = 2048;

/** Implements sigaltstack(2). */
const sysSigaltstack: SyscallFn = (t, a) => {
  const ss = a.pointer(0), oss = a.pointer(1);
  const cur = t.altStack;
  const sp = t.ctx.syscall.sp;
  const onStack = cur.size > 0 && !(cur.flags & SS_DISABLE) && sp > cur.sp && sp <= cur.sp + cur.size;
  if (oss !== 0) {
    const b = new Uint8Array(24);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt(cur.sp), true);
    v.setInt32(8, onStack ? SS_ONSTACK : cur.flags & SS_DISABLE, true);
    v.setBigUint64(16, BigInt(cur.size), true);
    t.copyOut(oss, b);
  }
  if (ss !== 0) {
    const b = t.copyIn(ss, 24);
    const v = new DataView(b.buffer);
    const flags = v.getInt32(8, true);
    if (onStack) throw EPERM;
    if (flags & ~(SS_DISABLE | SS_ONSTACK | 0x80000000)) throw EINVAL;
    if (flags & SS_DISABLE) {
      t.altStack = { sp: 0, size: 0, flags: SS_DISABLE };
    } else {
      const size = Number(v.getBigUint64(16, true));
      if (size < MINSIGSTKSZ) throw ENOMEM;
      t.altStack = { sp: Number(v.getBigUint64(0, true)), size, flags: 0 };
    }
  }
  return 0;
};

/** Implements rt_sigpending(2). */
const sysRtSigpending: SyscallFn = (t, a) => {
  if (a.sizeT(1) > 8) throw EINVAL;
  t.copyOutU64(a.pointer(0), (t.pendingSignals.mask | t.tg.sharedPending.mask) & t.sigmask);
  return 0;
};

/** Implements rt_sigsuspend(2): always ends with EINTR, after a handler ran. */
const sysRtSigsuspend: SyscallFn = (t, a) => {
  if (t.syscallState === null) {
    if (a.sizeT(1) !== 8) throw EINVAL;
    const mask = t.copyInU64(a.pointer(0));
    t.savedMask = t.sigmask;
    t.sigmask = mask & ~UNBLOCKABLE;
    t.syscallState = { suspended: true };
  }
  return block([], 0, null, "never");
};

/** Implements pause(2). */
const sysPause: SyscallFn = () => block([], 0, null, "never");

/** Implements rt_sigtimedwait(2). */
const sysRtSigtimedwait: SyscallFn = (t, a) => {
  const setAddr = a.pointer(0), infoAddr = a.pointer(1), tsAddr = a.pointer(2);
  if (a.sizeT(3) !== 8) throw EINVAL;
  const set = t.copyInU64(setAddr) & ~UNBLOCKABLE;
  let st = t.syscallState as { deadlineNs: number | null } | null;
  if (st === null) {
    let deadline: number | null = null;
    if (tsAddr !== 0) deadline = monotonicNs() + readTimespecNs(t, tsAddr);
    st = { deadlineNs: deadline };
    t.syscallState = st;
  }
  const info = dequeueSignal(t, (t.pendingSignals.mask | t.tg.sharedPending.mask) & set);
  if (info) {
    t.sigWaitSet = null;
    if (infoAddr !== 0) t.copyOut(infoAddr, encodeSigInfo(info));
    return info.signo;
  }
  if (st.deadlineNs !== null && monotonicNs() >= st.deadlineNs) {
    t.sigWaitSet = null;
    throw EAGAIN;
  }
  t.sigWaitSet = set;
  return block([], 0, st.deadlineNs, "never");
};

/**
 * rt_sigqueueinfo and rt_tgsigqueueinfo, as Linux's kill_proc_info and do_send_specific: signal 0
 * only checks that the target exists and may be signalled; a zombie process is still a target
 * (the signal is ignored).
 */
function queueInfo(t: Task, tgid: number, tid: number | null, sig: number, infoAddr: number): number {
  if (tid !== null && (tid <= 0 || tgid <= 0)) throw EINVAL;
  if (sig < 0 || sig > 64) throw EINVAL;
  const info = decodeSigInfo(t.copyIn(infoAddr, 128));
  // The ids as the caller's PID namespace numbers them (one it gives nobody: ESRCH below).
  tgid = t.pidNs.global(tgid) ?? 0;
  if (tid !== null) tid = t.pidNs.global(tid) ?? 0;
  // Only the kernel may send si_code >= 0 (or SI_TKILL) to another process.
  if ((info.code >= 0 || info.code === -6) && tgid !== t.tg.tgid) throw EPERM;
  // rt_sigqueueinfo takes any thread's id for its process, as kill(2).
  const tg = t.kernel.threadGroups.get(tgid) ?? (tid === null ? t.kernel.tasks.get(tgid)?.tg : undefined);
  if (!tg || (tg.zombie && tid !== null && tid !== tgid)) throw ESRCH;
  let thread: Task | null = null;
  if (tid !== null && !tg.zombie) {
    thread = t.kernel.tasks.get(tid) ?? null;
    if (!thread || thread.tg !== tg) throw ESRCH;
  }
  checkSignalPermission(t, tg, sig, thread);
  if (sig !== 0 && !tg.zombie && rtQueueFull(tg, thread, sig, info.code)) throw EAGAIN;
  if (sig !== 0 && !tg.zombie) t.kernel.sendSignal(tg, sig, { ...info, signo: sig }, thread);
  return 0;
}

/** Implements rt_sigqueueinfo(2). */
const sysRtSigqueueinfo: SyscallFn = (t, a) => queueInfo(t, a.int(0), null, a.int(1), a.pointer(2));

/** Implements rt_tgsigqueueinfo(2). */
const sysRtTgsigqueueinfo: SyscallFn = (t, a) => queueInfo(t, a.int(0), a.int(1), a.int(2), a.pointer(3));

export const table: Record<number, SyscallEntry> = {
  13: supported("rt_sigaction", sysRtSigaction),
  14: supported("rt_sigprocmask", sysRtSigprocmask),
  15: supported("rt_sigreturn", sysRtSigreturn),
  34: supported("pause", sysPause),
  127: supported("rt_sigpending", sysRtSigpending),
  128: supported("rt_sigtimedwait", sysRtSigtimedwait),
  129: supported("rt_sigqueueinfo", sysRtSigqueueinfo),
  130: supported("rt_sigsuspend", sysRtSigsuspend),
  131: supported("sigaltstack", sysSigaltstack),
  297: supported("rt_tgsigqueueinfo", sysRtTgsigqueueinfo),
};
