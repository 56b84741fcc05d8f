/** Sending signals: kill(2), tkill(2), tgkill(2). */

import { EAGAIN, EINVAL, EPERM, ESRCH } from "../../errno.ts";
import { rtQueueFull } from "../../task_signals.ts";
import type { Task } from "../../task.ts";
import type { ThreadGroup } from "../../thread_group.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { checkSignalPermission, maySignal } from "../../signal_permission.ts";

function checkSig(sig: number): void {
  if (sig < 0 || sig > 64) throw EINVAL;
}

/**
 * Implements kill(2): a process, a process group (0, -pgid), or every process (-1). A zombie
 * (exited, not yet reaped) still owns its pid as on Linux: it counts as a target, passes the
 * permission check with the ids it died with, and ignores the signal.
 */
const sysKill: SyscallFn = (t, a) => {
  const pid = a.int(0), sig = a.int(1);
  checkSig(sig);
  const k = t.kernel;
  const ns = t.pidNs;
  let targets: ThreadGroup[];
  if (pid > 0) {
    // Any thread's id names its process (Linux's kill_pid_info looks the id up as a thread).
    const id = ns.global(pid);
    const tg = id === undefined ? undefined : k.threadGroups.get(id) ?? k.tasks.get(id)?.tg;
    if (!tg) throw ESRCH;
    targets = [tg];
  } else if (pid === -1) {
    // Every process the caller's namespace numbers, but its init (1) and the caller.
    targets = [...k.threadGroups.values()].filter((g) => ns.local(g.tgid) > 1 && g !== t.tg);
  } else {
    const pgid = pid === 0 ? t.tg.pgid : ns.global(-pid);
    targets = pgid === undefined ? [] : [...k.threadGroups.values()].filter((g) => g.pgid === pgid);
  }
  if (targets.length === 0) throw ESRCH;
  const allowed = targets.filter((g) => maySignal(t, g, sig));
  if (allowed.length === 0) throw EPERM;
  for (const g of allowed) {
    if (sig !== 0 && !g.zombie) k.sendSignal(g, sig, { code: 0 /* SI_USER */, pid: t.tg.tgid, uid: t.creds.uid });
  }
  return 0;
};

/** tkill and tgkill; `tgid` null for tkill (any thread group). */
function signalThread(t: Task, tgid: number | null, tid: number, sig: number): number {
  checkSig(sig);
  // do_tkill: tgkill's tgid must be positive (-1 is EINVAL too, not "any": that is tkill).
  if (tid <= 0 || (tgid !== null && tgid <= 0)) throw EINVAL;
  // The ids as the caller's PID namespace numbers them.
  const ns = t.pidNs;
  const id = ns.global(tid) ?? 0;
  if (tgid !== null) tgid = ns.global(tgid) ?? -1;
  const target = t.kernel.tasks.get(id);
  if (!target) {
    // A zombie process's leader still owns its id: checked, and the signal ignored.
    const z = t.kernel.threadGroups.get(id);
    if (!z?.zombie || (tgid !== null && tgid !== id)) throw ESRCH;
    checkSignalPermission(t, z, sig);
    return 0;
  }
  if (tgid !== null && target.tg.tgid !== tgid) throw ESRCH;
  checkSignalPermission(t, target.tg, sig, target);
  if (rtQueueFull(target.tg, target, sig, -6)) throw EAGAIN;
  t.kernel.sendSignal(target.tg, sig, { code: -6 /* SI_TKILL */, pid: t.tg.tgid, uid: t.creds.uid }, target);
  return 0;
}

/** Implements tgkill(2): the signal is pending for that thread. */
const sysTgkill: SyscallFn = (t, a) => signalThread(t, a.int(0), a.int(1), a.int(2));

/** Implements tkill(2). */
const sysTkill: SyscallFn = (t, a) => signalThread(t, null, a.int(0), a.int(1));

export const table: Record<number, SyscallEntry> = {
  62: supported("kill", sysKill),
  200: supported("tkill", sysTkill),
  234: supported("tgkill", sysTgkill),
};
