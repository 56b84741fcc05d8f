/** Process groups and sessions: setpgid(2), getpgid(2), setsid(2), getsid(2). */

import { EACCES, EINVAL, EPERM, ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";
import type { ThreadGroup } from "../../thread_group.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/**
 * The process the caller's PID namespace numbers pid (0: the caller's); ESRCH. A zombie is
 * still found until it is reaped, as Linux's find_task_by_vpid finds it: getpgid and getsid
 * read its ids, setpgid moves it (gVisor's SetPGIDOfZombie).
 */
function findGroup(t: Task, pid: number): ThreadGroup {
  if (pid === 0) return t.tg;
  const id = t.pidNs.global(pid);
  const tg = id === undefined ? undefined : t.kernel.threadGroups.get(id);
  if (!tg) throw ESRCH;
  return tg;
}

/** Implements setpgid(2) with Linux's checks. */
const sysSetpgid: SyscallFn = (t, a) => {
  const pid = a.int(0), pgid = a.int(1);
  if (pgid < 0) throw EINVAL;
  const target = findGroup(t, pid);
  if (target !== t.tg && target.parent !== t.tg) throw ESRCH;
  if (target.parent === t.tg && target.execed) throw EACCES;
  if (target.sid !== t.tg.sid) throw EPERM;
  if (target.tgid === target.sid) throw EPERM; // a session leader cannot move
  // A group the caller's namespace has no number for does not exist for it (EPERM below).
  const newPgid = pgid === 0 ? target.tgid : t.pidNs.global(pgid) ?? -1;
  if (newPgid !== target.tgid) {
    let exists = false;
    for (const g of t.kernel.threadGroups.values()) {
      if (!g.zombie && g.pgid === newPgid && g.sid === t.tg.sid) exists = true;
    }
    if (!exists) throw EPERM;
  }
  target.pgid = newPgid;
  return 0;
};

const sysGetpgid: SyscallFn = (t, a) => t.vnr(findGroup(t, a.int(0)).pgid);

/** Implements setsid(2): EPERM for a process group leader. */
const sysSetsid: SyscallFn = (t) => {
  const tg = t.tg;
  for (const g of t.kernel.threadGroups.values()) if (!g.zombie && g.pgid === tg.tgid) throw EPERM;
  tg.sid = tg.tgid;
  tg.pgid = tg.tgid;
  tg.tty = null; // a new session has no controlling terminal
  return t.vnr(tg.tgid);
};

const sysGetsid: SyscallFn = (t, a) => t.vnr(findGroup(t, a.int(0)).sid);

export const table: Record<number, SyscallEntry> = {
  109: supported("setpgid", sysSetpgid),
  112: supported("setsid", sysSetsid),
  121: supported("getpgid", sysGetpgid),
  124: supported("getsid", sysGetsid),
};
