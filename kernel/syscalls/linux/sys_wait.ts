/** Waiting for children: wait4(2), waitid(2). */

import { EINVAL } from "../../errno.ts";
import {
  checkWait4Options, checkWaitidOptions, P_ALL, P_PGID, P_PID, selectorFromPid, waitForChild,
  WEXITED, WNOHANG,
} from "../../task_wait.ts";
import { block, supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const SIGCHLD = 17;
const CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;

/** Implements wait4(2). rusage is reported as zeros until CPU accounting exists. */
const sysWait4: SyscallFn = (t, a) => {
  const pid = a.int(0), statusAddr = a.pointer(1), options = a.int(2), rusage = a.pointer(3);
  checkWait4Options(options);
  if (pid === -0x80000000) throw EINVAL;
  const r = waitForChild(t, selectorFromPid(t, pid), options);
  if (r.kind === "none") {
    if (options & WNOHANG) return 0;
    return block([t.tg.childWaitQueue], 1);
  }
  if (statusAddr !== 0) t.copyOutU32(statusAddr, r.status);
  if (rusage !== 0) t.copyOut(rusage, new Uint8Array(144));
  return r.child.tgid;
};

/** Implements waitid(2) for exited children. */
const sysWaitid: SyscallFn = (t, a) => {
  const idtype = a.int(0), id = a.int(1), infop = a.pointer(2), options = a.int(3), rusage = a.pointer(4);
  checkWaitidOptions(options);
  if (idtype !== P_ALL && idtype !== P_PID && idtype !== P_PGID) throw EINVAL;
  if ((idtype === P_PID && id <= 0) || (idtype === P_PGID && id < 0)) throw EINVAL;
  const sel = { type: idtype, id: idtype === P_PGID && id === 0 ? t.tg.pgid : id };
  const r = (options & WEXITED) ? waitForChild(t, sel, options) : ({ kind: "none" } as const);
  if (r.kind === "none") {
    if (options & WNOHANG) {
      if (infop !== 0) t.copyOut(infop, new Uint8Array(128));
      return 0;
    }
    return block([t.tg.childWaitQueue], 1);
  }
  if (infop !== 0) {
    const b = new Uint8Array(128);
    const v = new DataView(b.buffer);
    const st = r.status;
    const signalled = (st & 0x7f) !== 0;
    v.setInt32(0, SIGCHLD, true);
    v.setInt32(8, signalled ? ((st & 0x80) ? CLD_DUMPED : CLD_KILLED) : CLD_EXITED, true);
    v.setInt32(16, r.child.tgid, true);
    v.setUint32(20, r.child.leader?.creds.uid ?? 0, true);
    v.setInt32(24, signalled ? st & 0x7f : (st >> 8) & 0xff, true);
    t.copyOut(infop, b);
  }
  if (rusage !== 0) t.copyOut(rusage, new Uint8Array(144));
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  61: supported("wait4", sysWait4),
  247: supported("waitid", sysWaitid),
};
