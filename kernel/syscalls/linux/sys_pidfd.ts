/**
 * pidfd_open(2), pidfd_send_signal(2), pidfd_getfd(2). The file is in kernel/pidfd.ts.
 *
 * @module
 */

import { rtQueueFull } from "../../task_signals.ts";
import { procProcessDirPid } from "../../../vfs/procfs/procfs.ts";
import { mayAttach } from "./sys_process_vm.ts";
import { EAGAIN, EBADF, EINVAL, ENOENT, EPERM, ESRCH } from "../../errno.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import { decodeSigInfo } from "../../signal_frame.ts";
import { PidFd, PIDFD_THREAD } from "../../pidfd.ts";
import { checkSignalPermission, maySignal } from "../../signal_permission.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import type { Task } from "../../task.ts";

const PIDFD_NONBLOCK = O_NONBLOCK;
const SI_USER = 0;
/** pidfd_send_signal scopes (Linux 6.9): at most one. */
const PIDFD_SIGNAL_THREAD = 1;
const PIDFD_SIGNAL_THREAD_GROUP = 2;
const PIDFD_SIGNAL_PROCESS_GROUP = 4;
const SI_TKILL = -6;

/**
 * Implements pidfd_open(2): a process (a thread-group leader's id), or with PIDFD_THREAD any
 * thread; close-on-exec always.
 */
const sysPidfdOpen: SyscallFn = (t, a) => {
  const pid = a.int(0), flags = a.uint(1);
  if (flags & ~(PIDFD_NONBLOCK | PIDFD_THREAD)) throw EINVAL;
  if (pid <= 0) throw EINVAL;
  // pid is the caller's namespace's number; one it gives nobody is ESRCH.
  const id = t.pidNs.global(pid);
  if (id === undefined) throw ESRCH;
  if (flags & PIDFD_THREAD) {
    const task = t.kernel.tasks.get(id);
    if (task === undefined || task.state === "dead") throw ESRCH;
    return t.fdTable.install(new PidFd(t.kernel, task.tg, flags & PIDFD_NONBLOCK, id), true);
  }
  const tg = t.kernel.threadGroups.get(id);
  // A thread that is not a leader names no process: ENOENT since Linux 6.15 (EINVAL before).
  if (!tg) throw t.kernel.tasks.has(id) ? ENOENT : ESRCH;
  return t.fdTable.install(new PidFd(t.kernel, tg, flags & PIDFD_NONBLOCK), true);
};

/** The pidfd behind fd: EBADF when fd is not one, as Linux. */
function pidfdOf(t: Task, fd: number): PidFd {
  const f = t.fdTable.get(fd);
  if (!(f instanceof PidFd)) throw EBADF;
  return f;
}

/**
 * pidfd_send_signal's target: a pidfd, or the descriptor of a /proc/PID directory (Linux's
 * pidfd_to_pid), which names the process that had the id when it was looked up: one since gone
 * (or its id reused by another) is ESRCH.
 */
function signalTargetOf(t: Task, fd: number): PidFd {
  const f = t.fdTable.get(fd);
  if (f instanceof PidFd) return f;
  const d = f?.location()?.dentry;
  const pid = d === undefined ? null : procProcessDirPid(d);
  if (pid === null) throw EBADF;
  // /proc/TID of a thread that does not lead names no process (pid_task(PIDTYPE_TGID) is NULL).
  const tg = t.kernel.threadGroups.get(pid);
  if (tg === undefined) throw ESRCH;
  return new PidFd(t.kernel, tg, 0);
}

/** Implements pidfd_send_signal(2), with the scope flags of Linux 6.9. */
const sysPidfdSendSignal: SyscallFn = (t, a) => {
  const fd = a.fd(0), sig = a.int(1), infoAddr = a.pointer(2), flags = a.uint(3);
  if (flags & ~(PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP | PIDFD_SIGNAL_PROCESS_GROUP)) throw EINVAL;
  if (flags & (flags - 1)) throw EINVAL;
  const p = signalTargetOf(t, fd);
  let info = { signo: sig, code: SI_USER, pid: t.tg.tgid, uid: t.creds.uid } as ReturnType<typeof decodeSigInfo>;
  if (infoAddr !== 0) {
    const given = decodeSigInfo(t.copyIn(infoAddr, 128));
    if (given.signo !== sig) throw EINVAL;
    if (p.tg !== t.tg && (given.code >= 0 || given.code === SI_TKILL)) throw EPERM;
    info = given;
  }
  if (p.reaped) throw ESRCH;
  if (p.nonLeaderThread && p.thread === null) throw ESRCH; // the thread is gone
  if (sig < 0 || sig > 64) throw EINVAL;
  const k = t.kernel;
  if (flags === PIDFD_SIGNAL_PROCESS_GROUP && ![...k.threadGroups.values()].some((g) => !g.zombie && g.pgid === p.tg.tgid)) {
    throw ESRCH;
  }
  if (flags !== PIDFD_SIGNAL_PROCESS_GROUP && !p.tg.zombie) checkSignalPermission(t, p.tg, sig);
  if (p.tg.zombie || sig === 0) return 0;
  // A PIDFD_THREAD pidfd signals its thread unless told otherwise (a gone thread: ESRCH).
  if (p.tid !== 0 && (flags === 0 || flags === PIDFD_SIGNAL_THREAD)) {
    const th = p.thread;
    if (th === null) throw ESRCH;
    if (rtQueueFull(p.tg, th, sig, info.code)) throw EAGAIN;
    k.sendSignal(p.tg, sig, info, th);
  } else if (flags === PIDFD_SIGNAL_THREAD) {
    k.sendSignal(p.tg, sig, info, p.tg.leader ?? null);
  } else if (flags === PIDFD_SIGNAL_PROCESS_GROUP) {
    // The process group whose id is the pidfd's pid (kill_pgrp_info), not the target's group.
    const members = [...k.threadGroups.values()].filter((g) => !g.zombie && g.pgid === p.tg.tgid);
    if (members.length === 0) throw ESRCH;
    const allowed = members.filter((g) => maySignal(t, g, sig));
    if (allowed.length === 0) throw EPERM;
    for (const g of allowed) k.sendSignal(g, sig, info);
  } else {
    if (rtQueueFull(p.tg, null, sig, info.code)) throw EAGAIN;
    k.sendSignal(p.tg, sig, info);
  }
  return 0;
};

/**
 * Implements pidfd_getfd(2): a copy of another process's descriptor, close-on-exec, for a
 * caller with ptrace attach access to it (EPERM; Linux's __pidfd_fget).
 */
const sysPidfdGetfd: SyscallFn = (t, a) => {
  const p = pidfdOf(t, a.fd(0)), targetFd = a.fd(1), flags = a.uint(2);
  if (flags !== 0) throw EINVAL;
  const leader = p.tg.leader;
  if (!leader || p.tg.zombie) throw ESRCH;
  if (!mayAttach(t, leader)) throw EPERM;
  const f = leader.fdTable.get(targetFd);
  return t.fdTable.install(f.incRef(), true);
};

export const table: Record<number, SyscallEntry> = {
  424: supported("pidfd_send_signal", sysPidfdSendSignal),
  434: supported("pidfd_open", sysPidfdOpen),
  438: supported("pidfd_getfd", sysPidfdGetfd),
};
