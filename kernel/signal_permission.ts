/**
 * Who may send a signal to whom: Linux's check_kill_permission for signals a process sends
 * (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal). Signals the
 * kernel raises itself (SIGCHLD, SIGPIPE, timers, the terminal's job control) do not pass here.
 *
 * @module
 */

import { EPERM } from "./errno.ts";
import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";
import { SIGCONT } from "../abi/linux/signal.ts";
import { CAP_KILL } from "../abi/linux/capability.ts";
import { landlockScoped, SCOPE_SIGNAL } from "./landlock.ts";
import { INIT_USER_NS } from "./user_namespace.ts";

/**
 * Linux's kill_ok_by_cred and the Landlock signal scope: CAP_KILL over the target's user
 * namespace, or the sender's real or effective
 * uid equals the target's real or saved uid; SIGCONT may also go to any process of the
 * sender's session (job control across users). `target` is the thread whose credentials count
 * (the group's first live one for a process-directed signal).
 */
export function maySignal(t: Task, tg: ThreadGroup, sig: number, target: Task | null = null): boolean {
  if (tg === t.tg) return true;
  const to = target ?? tg.leader;
  // Then Linux's security_task_kill: a Landlock domain that scopes signals reaches only
  // processes inside it (a zombie by the domain it died in).
  if (t.landlock !== null && landlockScoped(t.landlock, to === undefined ? tg.exitLandlock : to.landlock, SCOPE_SIGNAL)) {
    return false;
  }
  const c = t.creds;
  const d = to?.creds;
  // CAP_KILL counts in the target's user namespace (ns_capable(tcred->user_ns, CAP_KILL)).
  if (c.capableIn(d?.userNs ?? INIT_USER_NS, CAP_KILL)) return true;
  if (sig === SIGCONT && tg.sid === t.tg.sid) return true;
  // A zombie is checked against the real uid it died with (its saved uid is not kept).
  if (d === undefined) return c.euid === tg.exitUid || c.uid === tg.exitUid;
  return c.euid === d.uid || c.euid === d.suid || c.uid === d.uid || c.uid === d.suid;
}

/** Throws EPERM unless t may signal tg (see maySignal). */
export function checkSignalPermission(t: Task, tg: ThreadGroup, sig: number, target: Task | null = null): void {
  if (!maySignal(t, tg, sig, target)) throw EPERM;
}
