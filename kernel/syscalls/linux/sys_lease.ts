/**
 * File leases as the syscalls see them: fcntl(2)'s F_SETLEASE and F_GETLEASE (sys_file.ts hands
 * them over), and the lease break of open(2) and truncate(2) (the PathContext's breakLease
 * hook). The leases themselves are vfs/lease.ts.
 *
 * A break that must wait sleeps on the file's lease queue until the holder gives the lease up
 * or downgrades it, or until the break time passes, and the syscall then runs again from the
 * start (restarted after an SA_RESTART handler, as Linux's ERESTARTSYS). Meanwhile the opener
 * counts as the file's reader or writer (Linux's opener has its struct file already), so the
 * holder cannot take the lease back: a {@linkcode PendingOpen} in t.syscallState, whose
 * decRef() the kernel calls if the sleep is abandoned (Kernel's cancelSleep, as for a FIFO's
 * pending end).
 *
 * @module
 */

import { EACCES, EINVAL } from "../../errno.ts";
import type { Kernel } from "../../kernel.ts";
import type { Task } from "../../task.ts";
import { CAP_LEASE } from "../../../abi/linux/capability.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import type { Dentry } from "../../../vfs/dentry.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { dropIfIdle, type InodeUse, inodeUseOf } from "../../../vfs/inode_use.ts";
import type { Lease } from "../../../vfs/lease.ts";
import { F_RDLCK, F_UNLCK, F_WRLCK } from "../../../vfs/lock.ts";
import { EVENT_IN } from "../../../waiter/mod.ts";
import { sendLeaseBreak, setLeaseOwner } from "../../file_async.ts";
import { monotonicNs } from "../../time.ts";
import { block, type SyscallControl } from "./support.ts";

export const F_SETLEASE = 1024;
export const F_GETLEASE = 1025;

/** Implements fcntl(F_SETLEASE) (fcntl_setlease, vfs_setlease). */
export function fcntlSetLease(t: Task, f: FileDescription, fd: number, arg: number): number {
  // lease_alloc's type check comes first, then the owner and the file type.
  if (arg !== F_RDLCK && arg !== F_WRLCK && arg !== F_UNLCK) throw EINVAL;
  const d = f.location()?.dentry ?? null;
  const uid = d !== null ? d.uid : f.stat().uid;
  if (uid !== t.creds.fsuid && !t.creds.hasCap(CAP_LEASE)) throw EACCES;
  if (d === null || !d.isRegular || f.inodeUse === null) throw EINVAL;
  const k = t.kernel;
  if (arg === F_UNLCK) {
    k.leases.remove(f);
    return 0;
  }
  k.leases.set(f, fd, arg, monotonicNs());
  // lease_setup: the lease's holder hears the break unless the file has an owner already.
  setLeaseOwner(t, f);
  return 0;
}

/** Implements fcntl(F_GETLEASE). */
export function fcntlGetLease(t: Task, f: FileDescription): number {
  return t.kernel.leases.get(f, monotonicNs());
}

/** The lease's holder hears its break: SIGIO, or the F_SETSIG signal with POLL_MSG. */
function notify(k: Kernel): (l: Lease) => void {
  return (l) => sendLeaseBreak(k, l.file, l.fd);
}

/**
 * @savable What an opener waiting for a lease break holds: its place in the file's counts.
 * The `decRef` name is the one Kernel's cancelSleep calls on a sleeping syscall's pendingFile.
 */
export class PendingOpen {
  #held = true;

  constructor(readonly use: InodeUse, readonly write: boolean) {
    if (write) use.writers++;
    else use.readers++;
  }

  decRef(): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.write) this.use.writers--;
    else this.use.readers--;
    dropIfIdle(this.use);
  }
}

/** Thrown by the breakLease hook when the caller must wait: the syscall returns this block. */
export class LeaseWait {
  constructor(readonly control: SyscallControl) {}
}

/**
 * The breakLease hook of t's path operations while leases are held (null otherwise, the common
 * case): opens for writing and truncates break every lease of the file, other opens its write
 * leases. `flags`: the open's (O_NONBLOCK: EWOULDBLOCK instead of a wait).
 */
export function leaseBreaker(t: Task, flags: number): ((d: Dentry, write: boolean) => void) | null {
  const k = t.kernel;
  if (k.leases.held === 0 && !(t.syscallState as { pendingFile?: unknown } | null)?.pendingFile) return null;
  return (d, write) => {
    const u = inodeUseOf(d);
    if (u === null) return;
    const r = k.leases.breakFor(u, write, (flags & O_NONBLOCK) !== 0, monotonicNs(), notify(k));
    if (r === null) return;
    const st = t.syscallState as { pendingFile?: unknown } | null;
    if (!(st?.pendingFile instanceof PendingOpen)) t.syscallState = { pendingFile: new PendingOpen(u, write) };
    throw new LeaseWait(block([k.leases.queueOf(u)], EVENT_IN, r.untilNs));
  };
}

/** After a run of an open or truncate that may have waited: its pending place goes (the open counts for itself). */
export function endLeaseWait(t: Task): void {
  const p = (t.syscallState as { pendingFile?: unknown } | null)?.pendingFile;
  if (p instanceof PendingOpen) {
    p.decRef();
    t.syscallState = null;
  }
}
