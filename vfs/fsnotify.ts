/**
 * Filesystem change notification: the hooks the VFS and the syscall layer call where Linux
 * calls fsnotify (include/linux/fsnotify.h), and the watch lists they consult. The listeners are
 * inotify (vfs/inotify.ts) and dnotify (kernel/dnotify.ts).
 *
 * Watches belong to inodes, as Linux's inode marks: one list per (filesystem, inode number),
 * so a file's hard links share its watches (inotify_add_watch through either name gives the
 * same watch descriptor, and an event through any name reaches them). Each dentry caches its
 * inode's list in {@linkcode Dentry.inotify}, looked up again once watches were added or
 * removed anywhere (a generation count).
 *
 * Cost when nothing is watched: every hook first reads the size of the watch registry and
 * returns when it is empty, and reads one variable for fanotify ({@linkcode setFanotify}: null
 * while no fanotify mark exists); no allocation, no host call.
 *
 * fanotify (kernel/fanotify.ts) hears every hook through one {@linkcode FanotifyBackend} while
 * any of its marks exists, with what Linux passes fsnotify(): the file, the mount when the event
 * came through an open description (Linux's FSNOTIFY_EVENT_PATH: only those reach mount marks
 * and carry a file a listener can be given), and the directory and name. It chooses its marks
 * (inode, mount, filesystem) itself.
 *
 * Who hears what (Linux's rules):
 * - An event on a file goes to the watches of its parent directory, with the file's name, and
 *   then to the file's own watches, without a name (fsnotify_parent). IN_ISDIR is set when the
 *   file is a directory.
 * - Name events (IN_CREATE, IN_DELETE, IN_MOVED_FROM/TO) go only to the directory; self events
 *   (IN_DELETE_SELF, IN_MOVE_SELF) and link-count changes (IN_ATTRIB from link, unlink and a
 *   replacing rename) only to the file.
 * - Events on a file through a name that was unlinked (an open descriptor) still go to its old
 *   directory with its old name; a watch with IN_EXCL_UNLINK (on the directory or the file)
 *   hears none of the events made through such a descriptor (open, read, write, close: Linux's
 *   FSNOTIFY_EVENT_PATH), but still hears attribute and truncate changes.
 * - IN_DELETE_SELF is followed by IN_IGNORED and the watch goes; it comes when the last link
 *   goes, or, while the unlinked name is still open, when the last description of it closes
 *   (Linux sends it as the last user drops the dentry).
 *
 * @module
 */

import { O_PATH } from "../abi/linux/file.ts";
import type { Dentry, Filesystem } from "./dentry.ts";
import type { FileDescription } from "./file_description.ts";
import type { Mount } from "./mount.ts";
import { countClose, countOpen } from "./inode_use.ts";

export const IN_ACCESS = 0x1;
export const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_CLOSE_WRITE = 0x8;
export const IN_CLOSE_NOWRITE = 0x10;
export const IN_OPEN = 0x20;
export const IN_MOVED_FROM = 0x40;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_DELETE = 0x200;
export const IN_DELETE_SELF = 0x400;
export const IN_MOVE_SELF = 0x800;
export const IN_ALL_EVENTS = 0xfff;
export const IN_UNMOUNT = 0x2000;
export const IN_Q_OVERFLOW = 0x4000;
export const IN_IGNORED = 0x8000;
export const IN_ONLYDIR = 0x1000000;
export const IN_DONT_FOLLOW = 0x2000000;
export const IN_EXCL_UNLINK = 0x4000000;
export const IN_MASK_CREATE = 0x10000000;
export const IN_MASK_ADD = 0x20000000;
export const IN_ISDIR = 0x40000000;
export const IN_ONESHOT = 0x80000000;
/**
 * Not an inotify bit: a rename within one directory, an event of its own before IN_MOVED_FROM
 * (Linux's FS_RENAME as dnotify sees it), for DN_RENAME (kernel/dnotify.ts). No inotify watch
 * asks for it, so none hears it.
 */
export const FS_DN_RENAME = 0x08000000;

/** /proc/sys/fs/fanotify/max_queued_events: a group's queue without FAN_UNLIMITED_QUEUE. */
export const FANOTIFY_MAX_QUEUED_EVENTS = 16384;
/** FAN_OPEN_EXEC: an open for execve (Linux's FMODE_EXEC; inotify hears it as IN_OPEN). */
export const FAN_OPEN_EXEC = 0x1000;
/** FAN_RENAME: a rename, with both names, for fanotify only (Linux's FS_RENAME). */
export const FAN_RENAME = 0x10000000;

/**
 * How an event reaches marks (the shapes of Linux's fsnotify calls):
 * - "file": an event on `obj` (open, read, write, close, attribute changes): its own marks, its
 *   filesystem's, its mount's when it has one, and its parent's marks that watch children
 *   (fsnotify_parent).
 * - "self": on `obj`'s inode alone (a link count, DELETE_SELF, MOVE_SELF: fsnotify_inode).
 * - "dirent": a name event on directory `dir` about its child `obj` named `name`.
 * - "rename": FAN_RENAME, `obj` moved from `dir`/`name` to `newDir`/`newName`.
 */
export type FanotifyKind = "file" | "self" | "dirent" | "rename";

/** What fanotify (kernel/fanotify.ts) gives the hooks while any of its marks exists. */
export interface FanotifyBackend {
  /**
   * One event (FAN_* bits, which are inotify's for the shared ones, without FAN_ONDIR: the
   * backend tells directories itself). `mount`: the event came through an open description
   * `file` (or an exec) on that mount; null otherwise.
   */
  event(
    mask: number, kind: FanotifyKind, obj: Dentry, mount: Mount | null, file: FileDescription | null,
    dir: Dentry | null, name: string, newDir?: Dentry | null, newName?: string,
  ): void;
  /**
   * An open is about to count (before anything is counted or reported): true when a
   * permission event holds it back; the syscall then waits and calls
   * {@linkcode fsnotifyOpenAllowed} or drops the file.
   */
  openPerm(f: FileDescription, truncated: boolean, exec: boolean): boolean;
}

/** The fanotify backend, or null while no fanotify mark exists (the cheap check). */
let fan: FanotifyBackend | null = null;

/** Installs (or with null, removes) the fanotify backend; kernel/fanotify.ts calls it. */
export function setFanotify(b: FanotifyBackend | null): void {
  fan = b;
}

/** Who owns a watch: an inotify instance. */
export interface WatchOwner {
  /** Queues one event (coalescing and overflow are the owner's). */
  queueEvent(wd: number, mask: number, cookie: number, name: string): void;
  /** Forgets the watch (its dentry already dropped it). */
  watchGone(w: InotifyWatch): void;
}

/** @savable One inotify watch on one dentry. */
export class InotifyWatch {
  constructor(
    readonly owner: WatchOwner,
    readonly wd: number,
    /** Events (IN_ALL_EVENTS bits) plus IN_ONESHOT and IN_EXCL_UNLINK. */
    public mask: number,
    readonly dentry: Dentry,
  ) {}
}

/** The watched inodes: their watch lists by filesystem and inode number. */
const byInode = new Map<Filesystem, Map<number, InotifyWatch[]>>();
/** Changes whenever a list is made or dropped: dentries' cached lists are looked up again. */
let generation = 1;

/** The watches on d's inode, or null (the common case: nothing is watched). */
export function watchesOf(d: Dentry): InotifyWatch[] | null {
  if (byInode.size === 0) return null;
  if (d.inotifyGeneration !== generation) {
    d.inotify = byInode.get(d.fs)?.get(d.ino) ?? null;
    d.inotifyGeneration = generation;
  }
  return d.inotify;
}

/** Adds a watch to its inode's list. */
export function attachWatch(w: InotifyWatch): void {
  const d = w.dentry;
  let m = byInode.get(d.fs);
  if (m === undefined) byInode.set(d.fs, m = new Map());
  const list = m.get(d.ino);
  if (list !== undefined) {
    list.push(w);
  } else {
    m.set(d.ino, [w]);
    generation++;
  }
  watchesOf(d);
}

/** Removes a watch from its inode; with `ignored`, its owner gets IN_IGNORED and forgets it. */
export function detachWatch(w: InotifyWatch, ignored: boolean): void {
  const m = byInode.get(w.dentry.fs);
  const list = m?.get(w.dentry.ino);
  if (m !== undefined && list !== undefined) {
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) {
      m.delete(w.dentry.ino);
      if (m.size === 0) byInode.delete(w.dentry.fs);
      generation++;
      w.dentry.inotify = null;
    }
  }
  if (ignored) {
    w.owner.queueEvent(w.wd, IN_IGNORED, 0, "");
    w.owner.watchGone(w);
  }
}

/**
 * The superblock fs is going away (its last mount went): every inotify watch on it gets
 * IN_UNMOUNT, then IN_IGNORED, and goes (Linux's fsnotify_sb_delete / fsnotify_unmount_inodes).
 */
export function fsnotifyUnmount(fs: Filesystem): void {
  const m = byInode.get(fs);
  if (m === undefined) return;
  for (const list of [...m.values()]) {
    for (const w of list.slice()) {
      w.owner.queueEvent(w.wd, IN_UNMOUNT, 0, "");
      detachWatch(w, true);
    }
  }
}

/**
 * Delivers to one list of watches (a copy: IN_ONESHOT removes during the walk). `unlinkedPath`:
 * the event came through a descriptor of an unlinked name, which IN_EXCL_UNLINK watches skip.
 */
function deliver(list: InotifyWatch[], mask: number, cookie: number, name: string, unlinkedPath = false): void {
  for (const w of list.slice()) {
    if ((w.mask & mask & (IN_ALL_EVENTS | FS_DN_RENAME)) === 0) continue;
    if (unlinkedPath && (w.mask & IN_EXCL_UNLINK)) continue;
    w.owner.queueEvent(w.wd, mask, cookie, name);
    if (w.mask & IN_ONESHOT) detachWatch(w, true);
  }
}

/** d's link count; 0 when the filesystem can no longer stat it (it is gone). */
function linkCount(d: Dentry): number {
  try {
    return d.links();
  } catch {
    return 0;
  }
}

/**
 * An event on d: to its parent's watches with d's name, then to d's own. `viaFile`: made
 * through an open description (open, read, write, close), not on the inode.
 */
function notifyFile(d: Dentry, mask: number, viaFile = false): void {
  const p = d.parent;
  const dirWatches = p === null ? null : watchesOf(p);
  if (watchesOf(d) === null && dirWatches === null) return;
  if (d.isDir) mask |= IN_ISDIR;
  const unlinkedPath = viaFile && d.unlinked;
  if (dirWatches !== null) deliver(dirWatches, mask, 0, d.name, unlinkedPath);
  const own = watchesOf(d);
  if (own !== null) deliver(own, mask, 0, "", unlinkedPath);
}

/** An event on d alone (self events and link counts; Linux sets IN_ISDIR on neither *_SELF). */
function notifySelf(d: Dentry, mask: number): void {
  const own = watchesOf(d);
  if (own !== null) deliver(own, mask === IN_ATTRIB && d.isDir ? mask | IN_ISDIR : mask, 0, "");
}

/** A name event on directory dir about its child `name`. */
function notifyDir(dir: Dentry, mask: number, name: string, isDir: boolean, cookie = 0): void {
  const own = watchesOf(dir);
  if (own !== null) deliver(own, isDir ? mask | IN_ISDIR : mask, cookie, name);
}

/**
 * d is gone: IN_DELETE_SELF, then every watch on it ends with IN_IGNORED (fanotify's inode
 * marks on it go silently: kernel/fanotify.ts drops them as it hears DELETE_SELF).
 */
function deleteSelf(d: Dentry): void {
  if (fan !== null) fan.event(IN_DELETE_SELF, "self", d, null, null, null, "");
  if (watchesOf(d) === null) return;
  notifySelf(d, IN_DELETE_SELF);
  for (const w of watchesOf(d)?.slice() ?? []) detachWatch(w, true);
}

/** Where f's events go; null for O_PATH and for files not in the tree. */
function dentryOf(f: FileDescription): Dentry | null {
  if (f.flags & O_PATH) return null;
  return f.location()?.dentry ?? null;
}

// ---- Hooks ----------------------------------------------------------------------------------

/**
 * A description was opened by the VFS (O_PATH ones too; truncated: O_TRUNC emptied the file,
 * Linux's IN_MODIFY after IN_OPEN; exec: opened for execve, FAN_OPEN_EXEC). It counts as a user
 * of its dentry, and in its inode's open counts (vfs/inode_use.ts: leases and ETXTBSY read
 * them), until it closes. Returns f. A fanotify permission event may hold it back first: then
 * nothing is counted or reported until {@linkcode fsnotifyOpenAllowed}.
 */
export function fsnotifyOpen<F extends FileDescription>(f: F, truncated = false, exec = false): F {
  if (fan !== null && fan.openPerm(f, truncated, exec)) return f;
  return fsnotifyOpenAllowed(f, truncated, exec);
}

/** The rest of {@linkcode fsnotifyOpen}, once any permission event allowed the open. */
export function fsnotifyOpenAllowed<F extends FileDescription>(f: F, truncated = false, exec = false): F {
  f.notifies = true;
  const loc = f.location();
  if (loc !== null) {
    loc.dentry.users++;
    countOpen(f, loc.dentry);
  }
  const d = dentryOf(f);
  if (fan !== null && d !== null) {
    fan.event(exec ? IN_OPEN | FAN_OPEN_EXEC : IN_OPEN, "file", d, loc!.mount, f, d.parent, d.name);
    // handle_truncate's notify_change: a dentry event, which mount marks do not hear.
    if (truncated && d.isRegular) fan?.event(IN_MODIFY, "file", d, null, null, d.parent, d.name);
  }
  if (d === null || (watchesOf(d) === null && (d.parent === null || watchesOf(d.parent) === null))) return f;
  notifyFile(d, IN_OPEN, true);
  if (truncated && d.isRegular) notifyFile(d, IN_MODIFY, true);
  return f;
}

/**
 * The last reference to f went (before its release): IN_CLOSE_*, then, for the last user of
 * an unlinked file with no links left, the IN_DELETE_SELF its unlink put off.
 */
export function fsnotifyClose(f: FileDescription): void {
  if (!f.notifies) return;
  countClose(f);
  const d = dentryOf(f);
  if (d !== null) {
    const mask = f.writable ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE;
    if (fan !== null) fan.event(mask, "file", d, f.location()!.mount, f, d.parent, d.name);
    notifyFile(d, mask, true);
  }
  const u = f.location()?.dentry;
  if (u === undefined) return;
  u.users--;
  if (u.users === 0 && u.unlinked && (watchesOf(u) !== null || fan !== null) && (u.isDir || linkCount(u) === 0)) deleteSelf(u);
  if (u.users === 0 && u.unlinked) u.lastUserGone();
}

/** read(2) and friends moved bytes (or getdents listed a directory). */
export function fsnotifyAccess(f: FileDescription): void {
  const d = dentryOf(f);
  if (d === null) return;
  if (fan !== null) fan.event(IN_ACCESS, "file", d, f.location()!.mount, f, d.parent, d.name);
  notifyFile(d, IN_ACCESS, true);
}

/** write(2) and friends moved bytes. */
export function fsnotifyModify(f: FileDescription): void {
  const d = dentryOf(f);
  if (d === null) return;
  if (fan !== null) fan.event(IN_MODIFY, "file", d, f.location()!.mount, f, d.parent, d.name);
  notifyFile(d, IN_MODIFY, true);
}

/** d's attributes changed (chmod, chown, xattrs, both times): IN_ATTRIB; truncate: IN_MODIFY. */
export function fsnotifyChange(d: Dentry, mask: number): void {
  if (mask === 0) return;
  // notify_change's fsnotify_change: a dentry event (no mount; IN_MODIFY|IN_ATTRIB come as one).
  if (fan !== null) fan.event(mask, "file", d, null, null, d.parent, d.name);
  notifyFile(d, mask);
}

/** child was created in dir (open O_CREAT, mkdir, mknod, symlink, bind). Returns child. */
export function fsnotifyCreate(dir: Dentry, child: Dentry): Dentry {
  if (fan !== null) fan.event(IN_CREATE, "dirent", child, null, null, dir, child.name);
  if (watchesOf(dir) !== null) notifyDir(dir, IN_CREATE, child.name, child.isDir);
  return child;
}

/** link(2): the target's link count changed, then the new name appeared in dir. */
export function fsnotifyLink(target: Dentry, dir: Dentry, created: Dentry): void {
  if (fan !== null) fan.event(IN_ATTRIB, "self", target, null, null, null, "");
  notifySelf(target, IN_ATTRIB);
  fsnotifyCreate(dir, created);
}

/** unlink(2) or rmdir(2) of dir's child `name`. */
export function fsnotifyRemove(dir: Dentry, name: string, child: Dentry): void {
  const isDir = child.isDir;
  child.unlinked = true;
  if (watchesOf(child) !== null || fan !== null) {
    if (!isDir) {
      if (fan !== null) fan.event(IN_ATTRIB, "self", child, null, null, null, "");
      notifySelf(child, IN_ATTRIB);
    }
    // Still open: the last close sends it (fsnotifyClose).
    if ((isDir || linkCount(child) === 0) && child.users === 0) deleteSelf(child);
  }
  if (fan !== null) fan.event(IN_DELETE, "dirent", child, null, null, dir, name);
  notifyDir(dir, IN_DELETE, name, isDir);
}

/**
 * rename(2): `src` moved from oldDir/oldName to newDir/newName, replacing `replaced` (or,
 * with exchange, swapping with it). cookie: a fresh non-zero number per move.
 */
export function fsnotifyRename(
  nextCookie: () => number,
  oldDir: Dentry,
  oldName: string,
  newDir: Dentry,
  newName: string,
  src: Dentry,
  replaced: Dentry | null,
  exchange: boolean,
): void {
  if (replaced !== null && !exchange) replaced.unlinked = true;
  if (fan !== null) {
    fanMove(oldDir, oldName, newDir, newName, src, replaced, exchange);
    if (exchange && replaced !== null) fanMove(newDir, newName, oldDir, oldName, replaced, null, false);
  }
  if (watchesOf(oldDir) === null && watchesOf(newDir) === null && watchesOf(src) === null && (replaced === null || watchesOf(replaced) === null)) return;
  if (exchange && replaced !== null) {
    move(nextCookie(), oldDir, oldName, newDir, newName, src, null);
    move(nextCookie(), newDir, newName, oldDir, oldName, replaced, null);
    return;
  }
  move(nextCookie(), oldDir, oldName, newDir, newName, src, replaced);
  if (
    replaced !== null && (watchesOf(replaced) !== null || fan !== null) && (replaced.isDir || linkCount(replaced) === 0) && replaced.users === 0
  ) {
    deleteSelf(replaced);
  }
}

/** Linux's fsnotify_move: the two names, the replaced file's link count, the moved file. */
function move(cookie: number, from: Dentry, fromName: string, to: Dentry, toName: string, moved: Dentry, replaced: Dentry | null): void {
  const isDir = moved.isDir;
  // FS_RENAME, an event of its own, which only dnotify hears and only within one directory.
  if (from === to) notifyDir(from, FS_DN_RENAME, fromName, isDir);
  notifyDir(from, IN_MOVED_FROM, fromName, isDir, cookie);
  notifyDir(to, IN_MOVED_TO, toName, isDir, cookie);
  if (replaced !== null) notifySelf(replaced, IN_ATTRIB);
  notifySelf(moved, IN_MOVE_SELF);
}

/**
 * fsnotify_move as fanotify hears it: FAN_RENAME with both names, the two name events, the
 * replaced file's link count, then the moved file's MOVE_SELF (the DELETE_SELF of a replaced
 * file that is gone comes from fsnotifyRename after, as for inotify).
 */
function fanMove(from: Dentry, fromName: string, to: Dentry, toName: string, moved: Dentry, replaced: Dentry | null, exchange: boolean): void {
  const f = fan!;
  f.event(FAN_RENAME, "rename", moved, null, null, from, fromName, to, toName);
  f.event(IN_MOVED_FROM, "dirent", moved, null, null, from, fromName);
  f.event(IN_MOVED_TO, "dirent", moved, null, null, to, toName);
  if (replaced !== null && !exchange) f.event(IN_ATTRIB, "self", replaced, null, null, null, "");
  f.event(IN_MOVE_SELF, "self", moved, null, null, null, "");
}
