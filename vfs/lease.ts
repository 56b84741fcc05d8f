/**
 * File leases, Linux's fs/locks.c (fcntl(2) F_SETLEASE, F_GETLEASE): a read lease lets its
 * holder learn that someone opens the file for writing (or truncates it), a write lease that
 * someone opens it at all. The opener's open (or truncate(2)) "breaks" the lease: the holder
 * is signalled once (kernel/syscalls/linux/sys_lease.ts sends it) and the opener waits until
 * the holder downgrades (a read opener against a write lease) or releases it, or until
 * /proc/sys/fs/lease-break-time seconds pass, when the lease is downgraded or removed by force.
 * An O_NONBLOCK opener breaks the lease and fails with EWOULDBLOCK.
 *
 * Leases live on the inode's {@linkcode InodeUse} record (vfs/inode_use.ts), whose counts say
 * whether an open already conflicts with a new lease (check_conflicting_open); a lease belongs
 * to the open file description that took it and goes with it.
 *
 * Time is passed in (the kernel's monotonic nanoseconds): this module reads no clock. Expired
 * breaks are found lazily, as Linux's time_out_leases, whenever the file's leases are looked at.
 *
 * Not in a checkpoint image: a held lease makes the checkpoint refuse (kernel/checkpoint).
 *
 * @module
 */

import { EAGAIN, EINVAL } from "../kernel/errno.ts";
import { WaitQueue, EVENT_IN } from "../waiter/mod.ts";
import type { FileDescription, FileWatcher } from "./file_description.ts";
import { dropIfIdle, type InodeUse } from "./inode_use.ts";
import { F_RDLCK, F_UNLCK, F_WRLCK } from "./lock.ts";

/** One lease (Linux's struct file_lease with FL_LEASE). */
export interface Lease {
  readonly file: FileDescription;
  /** The file's record (the description forgets it as it closes, before the lease goes). */
  readonly use: InodeUse;
  /** F_RDLCK or F_WRLCK. */
  type: number;
  /** The descriptor F_SETLEASE named: the si_fd of the break signal (the lease's fasync entry). */
  fd: number;
  /** A writer broke it (FL_UNLOCK_PENDING): it must go by unlockAtNs (null: never forced). */
  unlockPending: boolean;
  unlockAtNs: number | null;
  /** A reader broke a write lease (FL_DOWNGRADE_PENDING): it must become a read lease. */
  downgradePending: boolean;
  downgradeAtNs: number | null;
}

/** Sends a lease's holder its break signal (lease_break_callback). */
export type LeaseBreakNotifier = (l: Lease) => void;

/** Called when a lease goes (F_UNLCK, a forced break): the file forgets its owner and F_SETSIG signal. */
export type LeaseReleaseHook = (f: FileDescription) => void;

/** Every lease of the sandbox: the sysctls and the count that lets opens skip the check. */
export class LeaseTable implements FileWatcher {
  /** /proc/sys/fs/lease-break-time: seconds an opener waits for the holder (0: forever). */
  breakTimeSec = 45;
  /** /proc/sys/fs/leases-enable: 0 refuses new leases (EINVAL); held ones stay. */
  enabled = 1;
  /** Leases held in the sandbox; while 0, open(2) and truncate(2) look no further. */
  held = 0;
  /** Each lease by the description that holds it (one at most: a description has one inode). */
  readonly #byFile = new Map<FileDescription, Lease>();

  constructor(readonly onRelease: LeaseReleaseHook = () => {}) {}

  /** Implements F_GETLEASE (fcntl_getlease): the type f holds, or the one a break asks for. */
  get(f: FileDescription, nowNs: number): number {
    const held = this.#byFile.get(f);
    if (held === undefined) return F_UNLCK;
    this.#timeOut(held.use, nowNs);
    const l = this.#byFile.get(f);
    if (l === undefined) return F_UNLCK;
    return l.unlockPending ? F_UNLCK : l.downgradePending ? F_RDLCK : l.type;
  }

  /**
   * Implements F_SETLEASE with F_RDLCK or F_WRLCK (generic_add_lease): a new lease, or f's
   * lease changed. EAGAIN when an open conflicts (a writer for a read lease; any other open for
   * a write lease), when another description holds a lease and a write lease is asked for, or
   * when another lease is being broken by a writer; EINVAL for a new lease while leases are
   * disabled. Preconditions: f is a regular file the caller may lease, with an inode record.
   */
  set(f: FileDescription, fd: number, type: number, nowNs: number): Lease {
    const u = f.inodeUse!;
    this.#timeOut(u, nowNs);
    // check_conflicting_open: only f itself may count.
    if (type === F_RDLCK) {
      if (u.writers > 0) throw EAGAIN;
    } else {
      const selfW = f.writable ? 1 : 0, selfR = !f.writable && f.readable ? 1 : 0;
      if (u.writers !== selfW || u.readers !== selfR || u.denyWrite > 0) throw EAGAIN;
    }
    let mine: Lease | null = null;
    for (const l of u.leases) {
      if (l.file === f) {
        mine = l;
        continue;
      }
      if (type === F_WRLCK || l.unlockPending) throw EAGAIN;
    }
    if (mine !== null) {
      this.#modify(u, mine, type);
      mine.fd = fd;
      return mine;
    }
    if (!this.enabled) throw EINVAL;
    const l: Lease = { file: f, use: u, type, fd, unlockPending: false, unlockAtNs: null, downgradePending: false, downgradeAtNs: null };
    u.leases.push(l);
    this.#byFile.set(f, l);
    this.held++;
    f.addWatcher(this);
    return l;
  }

  /** Implements F_SETLEASE with F_UNLCK (generic_delete_lease): EAGAIN when f holds none. */
  remove(f: FileDescription): void {
    const l = this.#byFile.get(f);
    if (l === undefined) throw EAGAIN;
    this.#modify(l.use, l, F_UNLCK);
  }

  /**
   * Linux's __break_lease for an open (write: for writing, or a truncate): marks each
   * conflicting lease broken (once) and signals its holder through notify. Returns null when
   * the caller may go on; else the time by which the wait ends at the latest (null inside:
   * no limit), for the caller to sleep on {@linkcode queueOf} and try again. EWOULDBLOCK
   * instead of waiting for an O_NONBLOCK open (after the signals).
   */
  breakFor(u: InodeUse, write: boolean, nonblock: boolean, nowNs: number, notify: LeaseBreakNotifier): { untilNs: number | null } | null {
    if (u.leases.length === 0) return null;
    this.#timeOut(u, nowNs);
    const conflicts = (l: Lease) => write || l.type === F_WRLCK;
    if (!u.leases.some(conflicts)) return null;
    const at = this.breakTimeSec > 0 ? nowNs + this.breakTimeSec * 1e9 : null;
    for (const l of u.leases.slice()) {
      if (!conflicts(l)) continue;
      if (write) {
        if (l.unlockPending) continue;
        l.unlockPending = true;
        l.unlockAtNs = at;
      } else {
        if (l.unlockPending || l.downgradePending) continue;
        l.downgradePending = true;
        l.downgradeAtNs = at;
      }
      notify(l);
    }
    if (nonblock) throw EAGAIN; // EWOULDBLOCK
    let untilNs: number | null = null;
    for (const l of u.leases) {
      if (!conflicts(l)) continue;
      const t = l.unlockPending ? l.unlockAtNs : l.downgradeAtNs;
      if (t !== null && (untilNs === null || t < untilNs)) untilNs = t;
    }
    return { untilNs };
  }

  /** Where openers of u's file wait for its leases to change. */
  queueOf(u: InodeUse): WaitQueue {
    return u.queue ??= new WaitQueue();
  }

  /** Implements FileWatcher: a description's lease goes with it (locks_remove_lease). */
  fileReleased(f: FileDescription): void {
    const l = this.#byFile.get(f);
    if (l !== undefined) this.#modify(l.use, l, F_UNLCK);
  }

  /** time_out_leases: breaks whose time is up are carried out. */
  #timeOut(u: InodeUse, nowNs: number): void {
    for (const l of u.leases.slice()) {
      if (l.downgradePending && l.downgradeAtNs !== null && nowNs >= l.downgradeAtNs) this.#modify(u, l, F_RDLCK);
      if (l.unlockPending && l.unlockAtNs !== null && nowNs >= l.unlockAtNs) this.#modify(u, l, F_UNLCK);
    }
  }

  /** lease_modify: the new type; a pending break it satisfies is over; F_UNLCK removes it. */
  #modify(u: InodeUse, l: Lease, type: number): void {
    l.type = type === F_UNLCK ? l.type : type;
    if (type === F_UNLCK) {
      l.unlockPending = false;
      l.unlockAtNs = null;
    }
    if (type === F_UNLCK || type === F_RDLCK) {
      l.downgradePending = false;
      l.downgradeAtNs = null;
    }
    u.queue?.notify(EVENT_IN);
    if (type !== F_UNLCK) return;
    u.leases.splice(u.leases.indexOf(l), 1);
    this.#byFile.delete(l.file);
    this.held--;
    l.file.removeWatcher(this);
    this.onRelease(l.file);
    dropIfIdle(u);
  }
}
