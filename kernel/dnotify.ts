/**
 * Directory notification: fcntl(fd, F_NOTIFY, DN_*) (Linux's fs/notify/dnotify/dnotify.c).
 *
 * Each (open description, descriptor table) pair that asked is one {@linkcode DnotifyEntry}: a
 * watch on the directory's inode in the fsnotify lists (vfs/fsnotify.ts, beside inotify's), with
 * the DN_* events it wants translated to inotify's bits. An event on the directory or on a file
 * in it sends the description's owner (set to the caller's process by F_NOTIFY unless it has
 * one) SIGIO, or the F_SETSIG signal with si_code POLL_MSG and si_fd the descriptor that asked
 * last; without DN_MULTISHOT the entry goes after one signal. A later F_NOTIFY through the same
 * description and table adds events (and takes its descriptor); one with no events, and any close
 * of a descriptor of the description in that table, removes it (dnotify_flush).
 *
 * DN_RENAME is a rename within the directory (Linux's FS_RENAME, delivered to dnotify only
 * when the old and new parents are one), a signal of its own beside DN_DELETE for the old name
 * and DN_CREATE for the new; a move out of the directory is DN_DELETE, a move in DN_CREATE.
 *
 * Not saved by a checkpoint: a sandbox with an entry is refused (kernel/checkpoint/save.ts).
 *
 * @module
 */

import { ENOTDIR } from "./errno.ts";
import type { Kernel } from "./kernel.ts";
import type { Task } from "./task.ts";
import type { FdTable } from "./fd_table.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import {
  attachWatch, detachWatch, FS_DN_RENAME, IN_ACCESS, IN_ATTRIB, IN_CREATE, IN_DELETE, IN_IGNORED, IN_MODIFY,
  IN_MOVED_FROM, IN_MOVED_TO, InotifyWatch, type WatchOwner,
} from "../vfs/fsnotify.ts";
import { sendDirNotify, setLeaseOwner } from "./file_async.ts";

export const F_NOTIFY = 1026;
const DN_ACCESS = 0x1, DN_MODIFY = 0x2, DN_CREATE = 0x4, DN_DELETE = 0x8, DN_RENAME = 0x10, DN_ATTRIB = 0x20;
const DN_MULTISHOT = 0x80000000;

/** The inotify bits (and FS_DN_RENAME) a DN_* mask listens to (convert_arg). */
function watchMask(dn: number): number {
  let m = 0;
  if (dn & DN_DELETE) m |= IN_DELETE | IN_MOVED_FROM;
  if (dn & DN_MODIFY) m |= IN_MODIFY;
  if (dn & DN_ACCESS) m |= IN_ACCESS;
  if (dn & DN_ATTRIB) m |= IN_ATTRIB;
  if (dn & DN_RENAME) m |= FS_DN_RENAME;
  if (dn & DN_CREATE) m |= IN_CREATE | IN_MOVED_TO;
  return m;
}

/** The entries of each description that has any. */
const entries = new Map<FileDescription, DnotifyEntry[]>();

/** How many entries exist (a checkpoint refuses any). */
export function dnotifyEntries(): number {
  let n = 0;
  for (const list of entries.values()) n += list.length;
  return n;
}

/** One description's request in one descriptor table (Linux's dnotify_struct). */
class DnotifyEntry implements WatchOwner {
  readonly watch: InotifyWatch;
  /** DN_* bits, DN_MULTISHOT included. */
  dnMask: number;

  constructor(
    readonly kernel: Kernel,
    readonly file: FileDescription,
    readonly table: FdTable,
    /** The descriptor the signal names (the last F_NOTIFY's). */
    public fd: number,
    dnMask: number,
  ) {
    this.dnMask = dnMask;
    this.watch = new InotifyWatch(this, 0, watchMask(dnMask), file.location()!.dentry);
  }

  queueEvent(_wd: number, mask: number, _cookie: number, _name: string): void {
    if (mask & IN_IGNORED) return;
    if ((this.watch.mask & mask) === 0) return;
    sendDirNotify(this.kernel, this.file, this.fd);
    if (!(this.dnMask & DN_MULTISHOT)) remove(this);
  }

  watchGone(_w: InotifyWatch): void {
    // The directory is gone: no event will come; the entry stays until its descriptor closes.
  }
}

function remove(e: DnotifyEntry): void {
  const list = entries.get(e.file);
  if (list === undefined) return;
  const i = list.indexOf(e);
  if (i < 0) return;
  list.splice(i, 1);
  if (list.length === 0) entries.delete(e.file);
  detachWatch(e.watch, false);
}

/** Implements fcntl(F_NOTIFY) (fcntl_dirnotify). */
export function fcntlNotify(t: Task, file: FileDescription, fd: number, arg: number): number {
  arg >>>= 0;
  if ((arg & ~DN_MULTISHOT) === 0) {
    dnotifyFlush(file, t.fdTable);
    return 0;
  }
  const loc = file.location();
  if (loc === null || !loc.isDir) throw ENOTDIR;
  setLeaseOwner(t, file);
  const list = entries.get(file);
  const old = list?.find((e) => e.table === t.fdTable);
  if (old !== undefined) {
    old.fd = fd;
    old.dnMask = (old.dnMask | arg) >>> 0;
    old.watch.mask = watchMask(old.dnMask);
    return 0;
  }
  const e = new DnotifyEntry(t.kernel, file, t.fdTable, fd, arg);
  if (list === undefined) entries.set(file, [e]);
  else list.push(e);
  attachWatch(e.watch);
  return 0;
}

/** A descriptor of `file` in `table` closed (dnotify_flush): that table's entry for it goes. */
export function dnotifyFlush(file: FileDescription, table: FdTable): void {
  const list = entries.get(file);
  if (list === undefined) return;
  for (const e of list.slice()) if (e.table === table) remove(e);
}

/** Whether any description has an entry (a close need not look otherwise). */
export function dnotifyActive(): boolean {
  return entries.size > 0;
}
