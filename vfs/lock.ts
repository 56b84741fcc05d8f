/**
 * Advisory file locks, Linux's fs/locks.c: flock(2) locks, POSIX record locks (F_SETLK) and
 * open-file-description record locks (F_OFD_SETLK). Keyed by file identity (dev, ino), so every
 * description of a file sees the same locks.
 *
 * Owners, as Linux:
 * - flock and OFD locks belong to an open file description; they go when its last reference
 *   is dropped (the table watches those descriptions: FileWatcher.fileReleased).
 * - POSIX locks belong to a descriptor table (Linux's files_struct: a process, or threads
 *   sharing descriptors); they go when that table closes any descriptor of the file, whichever
 *   description it refers to (the table's closeWatcher points here while it owns locks).
 * - POSIX and OFD locks conflict with each other; flock locks are a separate world.
 *
 * Record locks of one owner never overlap: setting a lock splits or trims the owner's locks it
 * overlaps and merges it with adjacent or overlapping locks of the same type (posix_lock_inode).
 *
 * Blocking: a request that conflicts throws EAGAIN; the syscall layer then sleeps on the file's
 * {@linkcode InodeLocks.queue}, notified at every unlock, and tries again. A POSIX F_SETLKW that
 * would wait on an owner that (transitively) waits on the caller is EDEADLK, found through the
 * waiters recorded by {@linkcode LockTable.noteWaiting}.
 *
 * @module
 */

import { EAGAIN, EDEADLK } from "../kernel/errno.ts";
import { WaitQueue } from "../waiter/mod.ts";
import type { FileDescription, FileWatcher } from "./file_description.ts";

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
/** Linux's OFFSET_MAX: the end of a lock "to end of file". */
export const OFFSET_MAX = (1n << 63n) - 1n;
/** Linux's MAX_DEADLK_ITERATIONS. */
const MAX_DEADLK_ITERATIONS = 10;

/** A descriptor table as the lock table sees it (kernel/fd_table.ts). */
export interface LockOwnerTable {
  closeWatcher: CloseWatcher | null;
}

/** Told by a descriptor table of each descriptor it closes. */
export interface CloseWatcher {
  fileClosed(f: FileDescription, owner: LockOwnerTable): void;
}

/** A task as deadlock detection sees it: a record is live while the task sleeps in that call. */
export interface LockWaiterTask {
  readonly state: string;
  readonly syscallState: unknown;
}

/** @savable One record lock: [start, end] inclusive, end OFFSET_MAX for "to end of file". */
export interface RecordLock {
  type: number;
  start: bigint;
  end: bigint;
  /** A descriptor table (POSIX) or a description (OFD). */
  owner: object;
  ofd: boolean;
  /** The locking process, for F_GETLK (-1 for OFD locks). */
  pid: number;
}

/** @savable */
interface FlockLock {
  owner: FileDescription;
  exclusive: boolean;
}

/** @savable The locks of one file. */
export class InodeLocks {
  readonly records: RecordLock[] = [];
  readonly flocks: FlockLock[] = [];
  /** Notified (EVENT_IN) whenever a lock is released or weakened. */
  readonly queue = new WaitQueue();

  get empty(): boolean {
    return this.records.length === 0 && this.flocks.length === 0;
  }
}

/** @savable A POSIX F_SETLKW that sleeps: whose lock it waits for. */
interface Waiting {
  blockedBy: object;
  task: LockWaiterTask;
  token: unknown;
}

/** @savable Every file lock of the sandbox. */
export class LockTable implements FileWatcher, CloseWatcher {
  readonly #inodes = new Map<string, InodeLocks>();
  /** The identity of descriptions the table has seen, so that a close needs no stat. */
  readonly #keys = new Map<FileDescription, string>();
  /** POSIX locks held per descriptor table. */
  readonly #posixCount = new Map<LockOwnerTable, number>();
  /** POSIX owners sleeping in F_SETLKW. */
  readonly #waiting = new Map<object, Waiting>();

  /** Whether any flock, POSIX or OFD lock is held in the sandbox. */
  get anyHeld(): boolean {
    for (const i of this.#inodes.values()) if (!i.empty) return true;
    return false;
  }

  /**
   * For the checkpoint (kernel/checkpoint/locks.ts): each file's locks, with the descriptions
   * of that file the table knows (every lock's description, and each description a POSIX
   * owner locked through).
   */
  held(): { records: readonly RecordLock[]; flocks: readonly { owner: FileDescription; exclusive: boolean }[]; files: FileDescription[] }[] {
    const out = [];
    for (const [k, ino] of this.#inodes) {
      if (ino.empty) continue;
      const files = [...this.#keys].filter(([, key]) => key === k).map(([f]) => f);
      out.push({ records: ino.records, flocks: ino.flocks, files });
    }
    return out;
  }

  /**
   * For the restore: installs the saved locks of f's file, which holds none yet. Returns why
   * not, when they could not have been held together (a description of another file, two
   * owners' locks that conflict, one owner's records that overlap, one description's flock
   * twice), having installed those before; null once all are.
   */
  restore(f: FileDescription, records: readonly RecordLock[], flocks: readonly { owner: FileDescription; exclusive: boolean }[]): string | null {
    const k = this.#track(f);
    const ino = this.#inode(k);
    if (!ino.empty) return "a file's locks twice";
    for (const l of flocks) {
      if (this.#track(l.owner) !== k) return "a flock lock through a description of another file";
      if (ino.flocks.some((o) => o.owner === l.owner || o.exclusive || l.exclusive)) return "flock locks that conflict";
      ino.flocks.push({ owner: l.owner, exclusive: l.exclusive });
    }
    for (const l of records) {
      if (l.start > l.end || l.end > OFFSET_MAX || (l.type !== F_RDLCK && l.type !== F_WRLCK)) return "a record lock's range or type";
      if (l.ofd && this.#track(l.owner as FileDescription) !== k) return "an OFD lock through a description of another file";
      if (ino.records.some((o) => o.owner === l.owner ? !(o.end < l.start || o.start > l.end) : conflicts(o, l.owner, l.type, l.start, l.end))) {
        return "record locks that overlap or conflict";
      }
      ino.records.push({ ...l });
      if (!l.ofd) this.#countPosix(l.owner as LockOwnerTable, 1);
    }
    return null;
  }

  #key(f: FileDescription): string {
    let k = this.#keys.get(f);
    if (k === undefined) {
      const st = f.stat();
      k = `${st.dev}:${st.ino}`;
    }
    return k;
  }

  /** Remembers f's identity while it may hold locks. */
  #track(f: FileDescription): string {
    const k = this.#key(f);
    if (!this.#keys.has(f)) {
      this.#keys.set(f, k);
      f.addWatcher(this);
    }
    return k;
  }

  #inode(k: string): InodeLocks {
    let i = this.#inodes.get(k);
    if (!i) {
      i = new InodeLocks();
      this.#inodes.set(k, i);
    }
    return i;
  }

  /** The queue a blocked locker of f sleeps on. */
  queueFor(f: FileDescription): WaitQueue {
    return this.#inode(this.#track(f)).queue;
  }

  // ---- flock(2) ---------------------------------------------------------------------------

  /**
   * flock(2) LOCK_SH/LOCK_EX (exclusive) or LOCK_UN (null). A conversion drops the old lock
   * first, as Linux does (so a failed LOCK_NB conversion leaves none). Throws EAGAIN on conflict.
   */
  flock(f: FileDescription, exclusive: boolean | null): void {
    const k = this.#track(f);
    const ino = this.#inode(k);
    const i = ino.flocks.findIndex((l) => l.owner === f);
    if (i >= 0) {
      if (ino.flocks[i]!.exclusive === exclusive) return;
      ino.flocks.splice(i, 1);
      ino.queue.notify(1);
    }
    if (exclusive === null) return;
    if (ino.flocks.some((l) => l.owner !== f && (exclusive || l.exclusive))) throw EAGAIN;
    ino.flocks.push({ owner: f, exclusive });
  }

  // ---- record locks -------------------------------------------------------------------------

  /** The first lock of another owner that conflicts with a `type` lock on [start, end], or null. */
  test(f: FileDescription, owner: object, type: number, start: bigint, end: bigint): RecordLock | null {
    const ino = this.#inodes.get(this.#key(f));
    if (!ino) return null;
    return ino.records.find((l) => conflicts(l, owner, type, start, end)) ?? null;
  }

  /**
   * Sets (or with F_UNLCK removes) a record lock of `owner` on [start, end]. Throws EAGAIN when
   * another owner's lock conflicts, and EDEADLK when `waiter` (a POSIX F_SETLKW) would wait in
   * a cycle. For a POSIX owner, `owner` is its descriptor table.
   */
  setRecord(
    f: FileDescription,
    lock: { owner: object; ofd: boolean; pid: number; type: number; start: bigint; end: bigint },
    waiter: LockWaiterTask | null = null,
  ): void {
    const k = this.#track(f);
    const ino = this.#inode(k);
    const { owner, type } = lock;
    if (type !== F_UNLCK) {
      const c = ino.records.find((l) => conflicts(l, owner, type, lock.start, lock.end));
      if (c) {
        if (waiter && !lock.ofd && this.#deadlock(owner, c.owner)) throw EDEADLK;
        throw EAGAIN;
      }
    }
    this.#waiting.delete(owner);
    let { start, end } = lock;
    const kept: RecordLock[] = [];
    const mine: RecordLock[] = [];
    for (const l of ino.records) {
      if (l.owner !== owner) {
        kept.push(l);
        continue;
      }
      const adjacent = l.end + 1n >= start && l.start <= (end === OFFSET_MAX ? end : end + 1n);
      if (type !== F_UNLCK && l.type === type && adjacent) {
        if (l.start < start) start = l.start;
        if (l.end > end) end = l.end;
        continue;
      }
      if (l.end < start || l.start > end) {
        mine.push(l);
        continue;
      }
      if (l.start < start) mine.push({ ...l, end: start - 1n });
      if (l.end > end) mine.push({ ...l, start: end + 1n });
    }
    if (type !== F_UNLCK) mine.push({ ...lock, start, end });
    mine.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const before = ino.records.filter((l) => l.owner === owner).length;
    ino.records.length = 0;
    ino.records.push(...kept, ...mine);
    if (!lock.ofd) this.#countPosix(owner as LockOwnerTable, mine.length - before);
    // Waiters re-check on any change (a downgrade or split may let them in).
    ino.queue.notify(1);
    this.#dropIfEmpty(k, ino);
  }

  /** Records that a POSIX owner sleeps waiting for blockedBy's lock, for deadlock detection. */
  noteWaiting(owner: object, f: FileDescription, type: number, start: bigint, end: bigint, task: LockWaiterTask): void {
    const c = this.test(f, owner, type, start, end);
    if (c) this.#waiting.set(owner, { blockedBy: c.owner, task, token: task.syscallState });
  }

  /** Who owner waits for, if it still sleeps in that F_SETLKW. */
  #waitsFor(owner: object): object | null {
    const w = this.#waiting.get(owner);
    if (!w) return null;
    if (w.task.state !== "blocked" || w.task.syscallState !== w.token) {
      this.#waiting.delete(owner);
      return null;
    }
    return w.blockedBy;
  }

  /** Linux's posix_locks_deadlock: does the chain of waiters from blocker lead back to caller? */
  #deadlock(caller: object, blocker: object): boolean {
    let o: object | null = blocker;
    for (let i = 0; o !== null && i <= MAX_DEADLK_ITERATIONS; i++) {
      if (o === caller) return true;
      o = this.#waitsFor(o);
    }
    return false;
  }

  #countPosix(owner: LockOwnerTable, delta: number): void {
    const n = (this.#posixCount.get(owner) ?? 0) + delta;
    if (n > 0) {
      this.#posixCount.set(owner, n);
      owner.closeWatcher = this;
    } else {
      this.#posixCount.delete(owner);
      if (owner.closeWatcher === this) owner.closeWatcher = null;
    }
  }

  #dropIfEmpty(k: string, ino: InodeLocks): void {
    if (ino.empty && ino.queue.size === 0) this.#inodes.delete(k);
  }

  /** Removes every record lock of owner on file k (and wakes waiters if there were any). */
  #removeRecords(k: string, owner: object): number {
    const ino = this.#inodes.get(k);
    if (!ino) return 0;
    const before = ino.records.length;
    const rest = ino.records.filter((l) => l.owner !== owner);
    const removed = before - rest.length;
    if (removed > 0) {
      ino.records.length = 0;
      ino.records.push(...rest);
      ino.queue.notify(1);
      this.#dropIfEmpty(k, ino);
    }
    return removed;
  }

  /** Implements CloseWatcher: a close by a descriptor table drops its POSIX locks on that file. */
  fileClosed(f: FileDescription, owner: LockOwnerTable): void {
    if (!this.#posixCount.has(owner)) return;
    let k: string;
    try {
      k = this.#key(f);
    } catch {
      return; // a file that cannot be stat'ed never had locks
    }
    const removed = this.#removeRecords(k, owner);
    if (removed > 0) this.#countPosix(owner, -removed);
  }

  /** Implements FileWatcher: the description's flock and OFD locks go with it. */
  fileReleased(f: FileDescription): void {
    const k = this.#keys.get(f);
    this.#keys.delete(f);
    if (k === undefined) return;
    this.#removeRecords(k, f);
    const ino = this.#inodes.get(k);
    if (!ino) return;
    const i = ino.flocks.findIndex((l) => l.owner === f);
    if (i >= 0) {
      ino.flocks.splice(i, 1);
      ino.queue.notify(1);
    }
    this.#dropIfEmpty(k, ino);
  }
}

/** Does l (held) conflict with a `type` request by owner on [start, end]? */
function conflicts(l: RecordLock, owner: object, type: number, start: bigint, end: bigint): boolean {
  if (l.owner === owner) return false;
  if (l.end < start || l.start > end) return false;
  return type === F_WRLCK || l.type === F_WRLCK;
}
