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

/**
 * Linux's kill_ok_by_cred: CAP_KILL (euid 0 in the sandbox), or the sender's real or effective
 * uid equals the target's real or saved uid; SIGCONT may also go to any process of the
 * sender's session (job control across users). `target` is the thread whose credentials count
 * (the group's first live one for a process-directed signal).
 */
export function maySignal(t: Task, tg: ThreadGroup, sig: number, target: Task | null = null): boolean {
  if (tg === t.tg) return true;
  const c = t.creds;
  if (c.isRoot) return true;
  if (sig === SIGCONT && tg.sid === t.tg.sid) return true;
  const d = (target ?? tg.leader)?.creds;
  // No live thread: nothing the signal could reach, and nothing to reveal.
  if (d === undefined) return true;
  return c.euid === d.uid || c.euid === d.suid || c.uid === d.uid || c.uid === d.suid;
}

/** Throws EPERM unless t may signal tg (see maySignal). */
export function checkSignalPermission(t: Task, tg: ThreadGroup, sig: number, target: Task | null = null): void {
  if (!maySignal(t, tg, sig, target)) throw EPERM;
}
