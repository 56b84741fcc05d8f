/**
 * Who has a regular file open, per inode: Linux's i_readcount (descriptions open read-only),
 * i_writecount (open for writing) and its negative side, deny_write_access (a running
 * executable). Leases (vfs/lease.ts) read the counts to refuse a lease that a conflicting open
 * already breaks (check_conflicting_open); open(2), truncate(2) and execve(2) refuse each other
 * with ETXTBSY through them (get_write_access, exe_file_deny_write_access).
 *
 * Identity: one record per (filesystem, inode number), so every hard link and every dentry of
 * an inode shares it. A description keeps its record ({@linkcode FileDescription.inodeUse})
 * from its open to its release, so a rename or an overlay copy-up in between changes nothing.
 * A record goes when nothing counts in it any more.
 *
 * Not in a checkpoint image: the restore opens every description again through the VFS and
 * execs nothing, so the counts are rebuilt as it opens (and as it restores executables, see
 * kernel/mm/mm.ts's exeUse).
 *
 * @module
 */

import { ETXTBSY } from "../kernel/errno.ts";
import { O_ACCMODE, O_PATH, O_RDONLY } from "../abi/linux/file.ts";
import type { Dentry, Filesystem } from "./dentry.ts";
import type { FileDescription } from "./file_description.ts";
import type { Lease } from "./lease.ts";
import type { WaitQueue } from "../waiter/mod.ts";

/** The open counts of one regular file, and its leases. */
export class InodeUse {
  /** Descriptions open read-only (i_readcount). */
  readers = 0;
  /** Descriptions open for writing, and openers blocked on a lease that will write (i_writecount > 0). */
  writers = 0;
  /** Address spaces executing the file (i_writecount < 0): no writer may come. */
  denyWrite = 0;
  /** The leases held on the file (vfs/lease.ts), in the order they were taken. */
  leases: Lease[] = [];
  /** Where openers that broke a lease wait (vfs/lease.ts); made by the first of them. */
  queue: WaitQueue | null = null;

  constructor(readonly fs: Filesystem, readonly ino: number) {}

  get idle(): boolean {
    return this.readers === 0 && this.writers === 0 && this.denyWrite === 0 && this.leases.length === 0 &&
      (this.queue === null || this.queue.size === 0);
  }
}

const uses = new WeakMap<Filesystem, Map<number, InodeUse>>();

/** d's record, if anything counts in it. */
export function inodeUseOf(d: Dentry): InodeUse | null {
  return uses.get(d.fs)?.get(d.ino) ?? null;
}

/** d's record, made if needed. */
export function inodeUseFor(d: Dentry): InodeUse {
  const fs = d.fs;
  let m = uses.get(fs);
  if (m === undefined) uses.set(fs, m = new Map());
  let u = m.get(d.ino);
  if (u === undefined) m.set(d.ino, u = new InodeUse(fs, d.ino));
  return u;
}

/** Forgets u once nothing counts in it. */
export function dropIfIdle(u: InodeUse): void {
  if (!u.idle) return;
  const m = uses.get(u.fs);
  if (m?.get(u.ino) === u) m.delete(u.ino);
}

/** Whether a description with these flags counts as a reader (FMODE_READ without FMODE_WRITE). */
function isReader(flags: number): boolean {
  return (flags & O_ACCMODE) === O_RDONLY;
}

/**
 * Linux's get_write_access before a write to d: ETXTBSY while it runs as a program. Only
 * regular files are counted (the others cannot be executed).
 */
export function checkWriteAccess(d: Dentry): void {
  if (!d.isRegular) return;
  const u = inodeUseOf(d);
  if (u !== null && u.denyWrite > 0) throw ETXTBSY;
}

/** A description of a regular file in the tree was opened (not O_PATH): it counts until released. */
export function countOpen(f: FileDescription, d: Dentry): void {
  if ((f.flags & O_PATH) || !d.isRegular) return;
  const u = inodeUseFor(d);
  if (isReader(f.flags)) u.readers++;
  else u.writers++;
  f.inodeUse = u;
}

/** The last reference to f went. */
export function countClose(f: FileDescription): void {
  const u = f.inodeUse;
  if (u === null) return;
  f.inodeUse = null;
  if (isReader(f.flags)) u.readers--;
  else u.writers--;
  dropIfIdle(u);
}

/**
 * Linux's deny_write_access in execve's open of the program and of its interpreter: ETXTBSY
 * while d is open for writing.
 */
export function checkNotWritten(d: Dentry): void {
  const u = inodeUseOf(d);
  if (u !== null && u.writers > 0) throw ETXTBSY;
}

/** An address space runs the file (exec, a fork's copy, a restored process): no writer may come. */
export function addDenyWrite(u: InodeUse): void {
  u.denyWrite++;
}

/** An address space stopped running the file. */
export function allowWrite(u: InodeUse): void {
  u.denyWrite--;
  dropIfIdle(u);
}
