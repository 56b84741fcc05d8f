/** Waiting for children: wait4(2), waitid(2). */

import { EAGAIN, EBADF, ECHILD, EINVAL, ESRCH } from "../../errno.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import { PidFd } from "../../pidfd.ts";
import {
  checkWait4Options, checkWaitidOptions, globalWaitId, P_ALL, P_PGID, P_PID, P_PIDFD, selectorFromPid, waitForChild,
  type WaitOutcome, WEXITED, WNOHANG,
} from "../../task_wait.ts";
import type { Task } from "../../task.ts";
import { encodeRusage, groupCpu } from "../../cpu_time.ts";
import { block, supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import {
  CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_TRAPPED, SIGCHLD, SIGCONT,
} from "../../../abi/linux/signal.ts";

/**
 * The struct rusage of a waited-for child: for a reaped one its times and its reaped
 * descendants' (what RUSAGE_CHILDREN gains), for a stopped or continued one its times so far.
 */
function writeChildRusage(t: Task, addr: number, r: Exclude<WaitOutcome, { kind: "none" }>): void {
  const c = r.child;
  if (r.kind === "reaped") {
    const cpu = { userNs: c.userNs + c.childUserNs, sysNs: c.sysNs + c.childSysNs };
    t.copyOut(addr, encodeRusage(cpu, Math.max(c.maxRssKb, c.childMaxRssKb)));
  } else {
    t.copyOut(addr, encodeRusage(groupCpu(c), c.maxRssKb));
  }
}

/** Implements wait4(2): exited children, stopped ones with WUNTRACED, continued with WCONTINUED. */
const sysWait4: SyscallFn = (t, a) => {
  const pid = a.int(0), statusAddr = a.pointer(1), options = a.int(2), rusage = a.pointer(3);
  checkWait4Options(options);
  // -INT_MIN has no value: Linux's kernel_wait4 answers ESRCH for it (no such process group).
  if (pid === -0x80000000) throw ESRCH;
  const r = waitForChild(t, selectorFromPid(t, pid), options | WEXITED);
  if (r.kind === "none") {
    if (options & WNOHANG) return 0;
    return block([t.tg.childWaitQueue], 1);
  }
  if (statusAddr !== 0) t.copyOutU32(statusAddr, r.status);
  if (rusage !== 0) writeChildRusage(t, rusage, r);
  return r.pid;
};

/** The siginfo waitid(2) fills in: si_code CLD_* and si_status the exit code or signal. */
function waitidInfo(t: Task, r: Exclude<WaitOutcome, { kind: "none" }>): Uint8Array {
  const b = new Uint8Array(128);
  const v = new DataView(b.buffer);
  let code: number, status: number;
  switch (r.kind) {
    case "reaped": {
      const st = r.status;
      const signalled = (st & 0x7f) !== 0;
      code = !signalled ? CLD_EXITED : (st & 0x80) ? CLD_DUMPED : CLD_KILLED;
      status = signalled ? st & 0x7f : (st >> 8) & 0xff;
      break;
    }
    case "stopped":
      code = CLD_STOPPED;
      status = r.signo;
      break;
    case "trapped":
      code = CLD_TRAPPED;
      status = r.signo;
      break;
    case "continued":
      code = CLD_CONTINUED;
      status = SIGCONT;
      break;
  }
  v.setInt32(0, SIGCHLD, true);
  v.setInt32(8, code, true);
  v.setInt32(16, r.pid, true);
  // The child's uid as the waiter's user namespace shows it.
  v.setUint32(20, t.creds.userNs.uidOf(r.child.leader?.creds.uid ?? r.child.exitUid), true);
  v.setInt32(24, status, true);
  return b;
}

/**
 * The process behind a pidfd for waitid's P_PIDFD: EBADF, also for another kind of file (Linux's
 * pidfd_pid), ECHILD once it was reaped (its number may belong to another process now).
 */
function pidfdProcess(t: Task, fd: number): PidFd {
  const f = t.fdTable.get(fd);
  if (!(f instanceof PidFd)) throw EBADF;
  if (f.reaped) throw ECHILD;
  return f;
}

/** Implements waitid(2): P_ALL, P_PID, P_PGID and P_PIDFD. */
const sysWaitid: SyscallFn = (t, a) => {
  const idtype = a.int(0), id = a.int(1), infop = a.pointer(2), options = a.int(3), rusage = a.pointer(4);
  checkWaitidOptions(options);
  if (idtype !== P_ALL && idtype !== P_PID && idtype !== P_PGID && idtype !== P_PIDFD) throw EINVAL;
  if ((idtype === P_PID && id <= 0) || ((idtype === P_PGID || idtype === P_PIDFD) && id < 0)) throw EINVAL;
  const pidfd = idtype === P_PIDFD ? pidfdProcess(t, id) : null;
  const sel = pidfd !== null
    ? { type: P_PID, id: pidfd.tg.tgid }
    : { type: idtype, id: idtype === P_PGID && id === 0 ? t.tg.pgid : idtype === P_ALL ? id : globalWaitId(t, id) };
  const r = waitForChild(t, sel, options);
  if (r.kind === "none") {
    if (options & WNOHANG) {
      if (infop !== 0) t.copyOut(infop, new Uint8Array(128));
      return 0;
    }
    // A non-blocking pidfd makes the wait WNOHANG, reported as EAGAIN (Linux's kernel_waitid).
    if (pidfd !== null && (pidfd.flags & O_NONBLOCK)) throw EAGAIN;
    return block([t.tg.childWaitQueue], 1);
  }
  if (infop !== 0) t.copyOut(infop, waitidInfo(t, r));
  if (rusage !== 0) writeChildRusage(t, rusage, r);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  61: supported("wait4", sysWait4),
  247: supported("waitid", sysWaitid),
};
