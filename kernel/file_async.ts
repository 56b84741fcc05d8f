/**
 * Signal-driven I/O: O_ASYNC (F_SETFL or FIOASYNC), F_SETOWN/F_SETOWN_EX (FIOSETOWN, SIOCSPGRP
 * on sockets) and F_SETSIG, as Linux's fs/fcntl.c. A file with O_ASYNC whose type supports it
 * (FileDescription.supportsAsync: pipes, FIFOs, sockets, terminals) registers an
 * {@linkcode AsyncNotifier} on its wait queue; an event there sends its owner SIGIO, or the
 * F_SETSIG signal with si_code POLL_IN/POLL_OUT/..., si_band and si_fd (the descriptor that
 * turned O_ASYNC on, as Linux's fasync entry keeps it).
 *
 * Events map to reasons as Linux's callers raise them: input (or the other end's hang-up) on a
 * readable file is POLL_IN; on a writable file, room that appears after the file was found
 * full is POLL_OUT (Linux signals writers when a full pipe or socket buffer drains, not after
 * every read); errors are POLL_ERR.
 *
 * @module
 */

import { EINVAL, ENOTTY, ESRCH } from "./errno.ts";
import type { Kernel } from "./kernel.ts";
import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { FileDescription, FileOwner } from "../vfs/file_description.ts";
import { EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_OUT, EVENT_PRI, EVENT_RDNORM, type Waker } from "../waiter/mod.ts";
import { O_ASYNC } from "../abi/linux/file.ts";

const SIGIO = 29;
/** si_code of a F_SETSIG signal: the reason (POLL_IN ...), or SI_SIGIO for signals with codes of their own. */
const POLL_IN = 1, POLL_OUT = 2, POLL_MSG = 3, POLL_ERR = 4, POLL_PRI = 5;
const SI_SIGIO = -5, SI_KERNEL = 0x80;
/** Linux's band_table: si_band per reason. */
const BAND: Record<number, number> = {
  [POLL_IN]: 0x041, // EPOLLIN | EPOLLRDNORM
  [POLL_OUT]: 0x304, // EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
  [POLL_MSG]: 0x441, // EPOLLIN | EPOLLRDNORM | EPOLLMSG
  [POLL_ERR]: 0x008, // EPOLLERR
  [POLL_PRI]: 0x082, // EPOLLPRI | EPOLLRDBAND
};
/** Signals whose si_code values have meanings of their own (sig_specific_sicodes), SIGIO aside. */
const SPECIFIC_CODES = new Set([4, 5, 7, 8, 11, 17, 31]);

/** @savable Sends a file's owner its O_ASYNC signal when the file's wait queue fires. */
export class AsyncNotifier implements Waker {
  /** The file was found without room: the next room is POLL_OUT. */
  #full: boolean;

  constructor(readonly kernel: Kernel, readonly file: FileDescription, readonly fd: number) {
    this.#full = file.writable && (file.readiness(EVENT_OUT) & EVENT_OUT) === 0;
  }

  wake(events: number): void {
    const f = this.file;
    let reason = 0;
    if (f.writable) {
      const room = (f.readiness(EVENT_OUT) & EVENT_OUT) !== 0;
      if (room && this.#full && (events & (EVENT_OUT | EVENT_HUP))) reason = POLL_OUT;
      this.#full = !room;
    }
    if (f.readable && (events & (EVENT_IN | EVENT_RDNORM | EVENT_HUP))) reason = POLL_IN;
    else if (reason === 0 && (events & EVENT_PRI)) reason = POLL_PRI;
    else if (reason === 0 && (events & EVENT_ERR)) reason = POLL_ERR;
    if (reason !== 0) sendSigio(this.kernel, f, this.fd, reason);
  }
}

/** Linux's sigio_perm: the setter's ids against the target's real and saved uids. */
function mayReceive(owner: FileOwner, target: Task | undefined): boolean {
  if (target === undefined) return false;
  const c = target.creds;
  return owner.euid === 0 || owner.euid === c.suid || owner.euid === c.uid || owner.uid === c.suid || owner.uid === c.uid;
}

function sendSigio(k: Kernel, f: FileDescription, fd: number, reason: number): void {
  const owner = f.owner;
  if (owner === null || owner.id === 0) return;
  const signo = f.sigioSignal;
  const info = signo === 0
    ? { code: SI_KERNEL }
    : { code: signo !== SIGIO && SPECIFIC_CODES.has(signo) ? SI_SIGIO : reason, band: BAND[reason] ?? 0, fd };
  const sig = signo === 0 ? SIGIO : signo;
  if (owner.type === "tid") {
    const task = k.tasks.get(owner.id);
    if (task !== undefined && mayReceive(owner, task)) k.sendSignal(task.tg, sig, info, task);
    return;
  }
  const groups: ThreadGroup[] = owner.type === "pid"
    ? [k.threadGroups.get(owner.id)].filter((g): g is ThreadGroup => g !== undefined && g.leader !== undefined)
    : [...k.threadGroups.values()].filter((g) => !g.zombie && g.pgid === owner.id);
  for (const g of groups) {
    if (!g.zombie && mayReceive(owner, g.leader)) k.sendSignal(g, sig, info);
  }
}

/**
 * Turns O_ASYNC on or off for `file` as F_SETFL and FIOASYNC do: on a file that supports it the
 * notifier is registered (remembering `fd`) or dropped; the flag itself changes in any case
 * (F_SETFL) or only where supported (FIOASYNC, ENOTTY elsewhere).
 */
export function setAsync(k: Kernel, file: FileDescription, fd: number, on: boolean, strict: boolean): void {
  const was = (file.flags & O_ASYNC) !== 0;
  if (was === on) return;
  if (file.supportsAsync) {
    if (on) {
      file.asyncWaker = new AsyncNotifier(k, file, fd);
      file.waitQueue.register(file.asyncWaker, EVENT_IN | EVENT_OUT | EVENT_PRI | EVENT_RDNORM);
    } else if (file.asyncWaker !== null) {
      file.waitQueue.unregister(file.asyncWaker);
      file.asyncWaker = null;
    }
  } else if (strict) {
    throw ENOTTY;
  }
  file.flags = on ? file.flags | O_ASYNC : file.flags & ~O_ASYNC;
}

/** Whether `id` names a live thread or process, or (pgrp) a process group. */
function exists(k: Kernel, type: FileOwner["type"], id: number): boolean {
  if (type === "pgrp") return [...k.threadGroups.values()].some((g) => !g.zombie && g.pgid === id);
  return k.tasks.has(id) || k.threadGroups.has(id);
}

/**
 * A lease on f is broken (lease_break_callback's kill_fasync with POLL_MSG): its owner gets
 * SIGIO, or the F_SETSIG signal with si_fd the descriptor F_SETLEASE named.
 */
export function sendLeaseBreak(k: Kernel, f: FileDescription, fd: number): void {
  sendSigio(k, f, fd, POLL_MSG);
}

/** A dnotify event (dnotify_handle_event's send_sigio with POLL_MSG), si_fd the descriptor. */
export function sendDirNotify(k: Kernel, f: FileDescription, fd: number): void {
  sendSigio(k, f, fd, POLL_MSG);
}

/**
 * lease_setup's __f_setown without force: a lease makes the caller's process the file's owner,
 * unless it has one.
 */
export function setLeaseOwner(t: Task, f: FileDescription): void {
  if (f.owner !== null && f.owner.id !== 0) return;
  f.owner = { type: "pid", id: t.tg.tgid, uid: t.creds.uid, euid: t.creds.euid };
}

/** Linux's f_setown (F_SETOWN, FIOSETOWN, SIOCSPGRP): a pid, -pgid, or 0 for nobody. */
export function setOwner(t: Task, file: FileDescription, who: number): void {
  if (who === -0x80000000) throw EINVAL;
  const type = who < 0 ? "pgrp" : "pid";
  // Kept as a global id; the caller's PID namespace numbers `who`.
  const id = who === 0 ? 0 : t.pidNs.global(Math.abs(who)) ?? -1;
  if (id !== 0 && (id < 0 || !exists(t.kernel, type, id))) throw ESRCH;
  file.owner = { type, id, uid: t.creds.uid, euid: t.creds.euid };
}

/** Linux's F_SETOWN_EX: struct f_owner_ex's type (F_OWNER_TID, _PID, _PGRP) and pid. */
export function setOwnerEx(t: Task, file: FileDescription, type: FileOwner["type"], id: number): void {
  if (id !== 0) id = id < 0 ? -1 : t.pidNs.global(id) ?? -1;
  if (id !== 0 && (id < 0 || !exists(t.kernel, type, id))) throw ESRCH;
  file.owner = { type, id, uid: t.creds.uid, euid: t.creds.euid };
}

/** The owner's id while it lives (Linux's pid_task check), else 0. */
export function ownerId(k: Kernel, file: FileDescription): number {
  const o = file.owner;
  if (o === null || o.id === 0 || !exists(k, o.type, o.id)) return 0;
  if (o.type === "pid" && k.threadGroups.get(o.id)?.zombie !== false) return 0;
  return o.id;
}
