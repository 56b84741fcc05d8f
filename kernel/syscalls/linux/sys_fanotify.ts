/**
 * fanotify_init(2) and fanotify_mark(2), checked in Linux 6.x's order
 * (fs/notify/fanotify/fanotify_user.c). The group, its marks and its events are
 * kernel/fanotify.ts; reading, writing responses, poll and FIONREAD go through the generic file
 * paths.
 *
 * Not here: FAN_REPORT_MNT and mount-namespace marks (FAN_MARK_MNTNS), pre-content events
 * (FAN_PRE_ACCESS), FAN_FS_ERROR (no filesystem of the sandbox reports errors): EINVAL as
 * unknown bits.
 *
 * @module
 */

import { EBADF, EEXIST, EINVAL, EISDIR, EMFILE, ENOENT, ENOSPC, ENOTDIR, EPERM } from "../../errno.ts";
import { UCOUNT_FANOTIFY_GROUPS, UCOUNT_FANOTIFY_MARKS } from "../../ucounts.ts";
import type { Task } from "../../task.ts";
import { AT_FDCWD, O_ACCMODE, O_APPEND, O_CLOEXEC, O_DSYNC, O_LARGEFILE, O_NOATIME, O_NONBLOCK, O_SYNC } from "../../../abi/linux/file.ts";
import { CAP_AUDIT_WRITE, CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import { checkPermission, MAY_READ } from "../../../vfs/mod.ts";
import type { Location } from "../../../vfs/mount.ts";
import { inodeUseOf } from "../../../vfs/inode_use.ts";
import {
  addMark, FAN_ALL_EVENTS, FAN_CLASS_CONTENT, FAN_CLASS_NOTIF, FAN_CLASS_PRE_CONTENT, FAN_CLOEXEC, FAN_DIRENT_EVENTS,
  FAN_ENABLE_AUDIT, FAN_EVENT_FLAGS, FAN_EVENT_ON_CHILD, FAN_FID_BITS, FAN_FS_ERROR, FAN_MARK_ADD, FAN_MARK_DONT_FOLLOW,
  FAN_MARK_EVICTABLE, FAN_MARK_FILESYSTEM, FAN_MARK_FLUSH, FAN_MARK_IGNORE, FAN_MARK_IGNORED_MASK,
  FAN_MARK_IGNORED_SURV_MODIFY, FAN_MARK_MOUNT, FAN_MARK_ONLYDIR, FAN_MARK_REMOVE, FAN_NONBLOCK, FAN_ONDIR,
  FAN_PATH_EVENTS, FAN_PERM_EVENTS, FAN_RENAME, FAN_REPORT_DIR_FID, FAN_REPORT_FD_ERROR, FAN_REPORT_FID,
  FAN_REPORT_NAME, FAN_REPORT_PIDFD, FAN_REPORT_TARGET_FID, FAN_REPORT_TID, FAN_UNLIMITED_MARKS, FAN_UNLIMITED_QUEUE,
  type FanotifyCharge, FanotifyFile, FanMark, findMark, removeMark,
} from "../../fanotify.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/** FANOTIFY_ADMIN_INIT_FLAGS: what an unprivileged caller may not ask for. */
const ADMIN_INIT_FLAGS = FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT | FAN_REPORT_TID | FAN_REPORT_PIDFD | FAN_REPORT_FD_ERROR |
  FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS;
/** FANOTIFY_USER_INIT_FLAGS. */
const USER_INIT_FLAGS = FAN_CLASS_NOTIF | FAN_FID_BITS | FAN_CLOEXEC | FAN_NONBLOCK;
const INIT_FLAGS = ADMIN_INIT_FLAGS | USER_INIT_FLAGS;
/** FANOTIFY_INIT_ALL_EVENT_F_BITS. */
const EVENT_F_BITS = O_ACCMODE | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC | O_CLOEXEC | O_LARGEFILE | O_NOATIME;
const CLASS_BITS = FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT;

const MARK_TYPE_BITS = FAN_MARK_MOUNT | FAN_MARK_FILESYSTEM;
const MARK_CMD_BITS = FAN_MARK_ADD | FAN_MARK_REMOVE | FAN_MARK_FLUSH;
const MARK_IGNORE_BITS = FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORE;
/** FANOTIFY_MARK_FLAGS. */
const MARK_FLAGS = MARK_TYPE_BITS | MARK_CMD_BITS | FAN_MARK_DONT_FOLLOW | FAN_MARK_ONLYDIR | FAN_MARK_IGNORED_MASK |
  FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE | FAN_MARK_IGNORE;

/** Implements fanotify_init(2). */
const sysFanotifyInit: SyscallFn = (t, a) => {
  const flags = a.uint(0), eventFlags = a.uint(1);
  const fid = flags & FAN_FID_BITS;
  const cls = flags & CLASS_BITS;
  let unprivileged = false;
  if (!t.creds.hasCap(CAP_SYS_ADMIN)) {
    // An unprivileged group is limited to notification with file handles.
    if ((flags & ADMIN_INIT_FLAGS) || fid === 0) throw EPERM;
    unprivileged = true;
  }
  if (flags & ~(INIT_FLAGS | FAN_ENABLE_AUDIT)) throw EINVAL;
  // A pidfd is of a process: not with thread ids.
  if ((flags & FAN_REPORT_PIDFD) && (flags & FAN_REPORT_TID)) throw EINVAL;
  if (eventFlags & ~EVENT_F_BITS) throw EINVAL;
  if ((eventFlags & O_ACCMODE) === O_ACCMODE) throw EINVAL;
  if (fid !== 0 && cls !== FAN_CLASS_NOTIF) throw EINVAL;
  // A name is reported with its directory's handle.
  if ((fid & FAN_REPORT_NAME) && !(fid & FAN_REPORT_DIR_FID)) throw EINVAL;
  if ((fid & FAN_REPORT_TARGET_FID) && (!(fid & FAN_REPORT_NAME) || !(fid & FAN_REPORT_FID))) throw EINVAL;
  const u = t.kernel.ucounts, ns = t.creds.userNs, uid = t.creds.euid;
  if (!u.take(ns, uid, UCOUNT_FANOTIFY_GROUPS)) throw EMFILE;
  const charge: FanotifyCharge = {
    takeMark: () => u.take(ns, uid, UCOUNT_FANOTIFY_MARKS),
    give(group, marks) {
      if (group) u.give(ns, uid, UCOUNT_FANOTIFY_GROUPS);
      if (marks > 0) u.give(ns, uid, UCOUNT_FANOTIFY_MARKS, marks);
    },
  };
  // FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT together is no class.
  if (cls === CLASS_BITS || ((flags & FAN_ENABLE_AUDIT) && !t.creds.hasCap(CAP_AUDIT_WRITE))) {
    charge.give(true, 0);
    throw cls === CLASS_BITS ? EINVAL : EPERM;
  }
  // force_o_largefile(): always on 64-bit.
  const g = new FanotifyFile(t.kernel, flags, eventFlags | O_LARGEFILE, unprivileged, charge);
  return t.fdTable.install(g, (flags & FAN_CLOEXEC) !== 0);
};

/** fanotify_find_path: dirfd alone when pathname is NULL, else the path; readable by the caller. */
function findPath(t: Task, dirfd: number, pathAddr: number, flags: number): Location {
  let loc: Location;
  if (pathAddr === 0) {
    if (dirfd === AT_FDCWD) throw EBADF;
    const f = t.fdTable.get(dirfd);
    const l = f.location();
    if ((flags & FAN_MARK_ONLYDIR) && (l === null || !l.dentry.isDir)) throw ENOTDIR;
    // Linux would mark the inode of a pipe, socket or anon file: not here.
    if (l === null) throw EINVAL;
    loc = l;
  } else {
    const path = copyInPath(t, pathAddr);
    loc = t.kernel.vfs.resolve(pathCtx(t), startDir(t, dirfd, path), path, { follow: (flags & FAN_MARK_DONT_FOLLOW) === 0 });
    if ((flags & FAN_MARK_ONLYDIR) && !loc.dentry.isDir) throw ENOTDIR;
  }
  const d = loc.dentry;
  checkPermission(t.creds, MAY_READ, d.mode, d.uid, d.gid, d.acl);
  return loc;
}

/** Implements fanotify_mark(2). */
const sysFanotifyMark: SyscallFn = (t, a) => {
  const flags = a.uint(1);
  const mask64 = a.u64(2);
  if (mask64 >> 32n) throw EINVAL;
  let mask = Number(mask64);
  if (flags & ~MARK_FLAGS) throw EINVAL;
  const markType = flags & MARK_TYPE_BITS;
  if (markType === MARK_TYPE_BITS) throw EINVAL;
  const cmd = flags & MARK_CMD_BITS;
  const ignore = flags & MARK_IGNORE_BITS;
  switch (cmd) {
    case FAN_MARK_ADD:
    case FAN_MARK_REMOVE:
      if (mask === 0) throw EINVAL;
      break;
    case FAN_MARK_FLUSH:
      if (flags & ~(MARK_TYPE_BITS | FAN_MARK_FLUSH)) throw EINVAL;
      break;
    default:
      throw EINVAL;
  }
  if (mask & ~(FAN_ALL_EVENTS | FAN_EVENT_FLAGS)) throw EINVAL;
  if (ignore === MARK_IGNORE_BITS) throw EINVAL;
  let umask = 0;
  // The event flags mean nothing in a legacy ignore mask.
  if (ignore === FAN_MARK_IGNORED_MASK) {
    mask &= ~FAN_EVENT_FLAGS;
    umask = FAN_EVENT_FLAGS;
  }
  const f = t.fdTable.get(a.fd(0));
  if (!(f instanceof FanotifyFile)) throw EINVAL;
  const g = f;
  if ((!t.creds.hasCap(CAP_SYS_ADMIN) || g.unprivileged) && markType !== 0) throw EPERM;
  if ((mask & FAN_PERM_EVENTS) && !g.permClass) throw EINVAL;
  if ((mask & FAN_FS_ERROR) && markType !== FAN_MARK_FILESYSTEM) throw EINVAL;
  if ((flags & FAN_MARK_EVICTABLE) && markType !== 0) throw EINVAL;
  const fid = g.initFlags & FAN_FID_BITS;
  // Events without a path need FID reporting, and cannot be told apart by mount.
  if ((mask & ~(FAN_PATH_EVENTS | FAN_PERM_EVENTS | FAN_EVENT_FLAGS)) && (fid === 0 || markType === FAN_MARK_MOUNT)) throw EINVAL;
  if ((mask & FAN_RENAME) && !(fid & FAN_REPORT_NAME)) throw EINVAL;
  const type = markType === FAN_MARK_MOUNT ? "mount" : markType === FAN_MARK_FILESYSTEM ? "sb" : "inode";
  if (cmd === FAN_MARK_FLUSH) {
    for (const m of [...g.marks]) {
      if (m.type !== type) continue;
      removeMark(m);
      g.giveMark();
    }
    return 0;
  }
  const loc = findPath(t, a.int(3), a.pointer(4), flags);
  const d = loc.dentry;
  if (cmd === FAN_MARK_ADD) {
    // fanotify_events_supported: procfs takes no permission events; the v5.17+ APIs are strict
    // about directory-only bits on a file.
    if ((mask & FAN_PERM_EVENTS) && d.fs.name === "proc") throw EINVAL;
    const strict = (fid & FAN_REPORT_TARGET_FID) !== 0 || (mask & FAN_RENAME) !== 0 || (flags & FAN_MARK_IGNORE) !== 0;
    if (strict && type === "inode" && !d.isDir && (mask & (FAN_DIRENT_EVENTS | FAN_EVENT_ON_CHILD | FAN_ONDIR))) throw ENOTDIR;
    // do_fanotify_mark: a FAN_MARK_IGNORE mark on an sb, a mount or a directory must survive
    // modification (a modify on any file below would otherwise clear it); -EINVAL without an inode.
    if (ignore === FAN_MARK_IGNORE && (type !== "inode" || d.isDir) && !(flags & FAN_MARK_IGNORED_SURV_MODIFY)) {
      throw type === "inode" ? EISDIR : EINVAL;
    }
  }
  // FAN_EVENT_ON_CHILD only means something on a directory's inode mark; a DIR_FID group
  // gets parent and name with events on files all the same.
  if (type !== "inode" || !d.isDir) {
    mask &= ~FAN_EVENT_ON_CHILD;
    umask = FAN_EVENT_ON_CHILD;
    if ((fid & FAN_REPORT_DIR_FID) && cmd === FAN_MARK_ADD && !ignore) mask |= FAN_EVENT_ON_CHILD;
  }
  const existing = findMark(g, type, d, loc.mount);
  if (cmd === FAN_MARK_REMOVE) {
    if (existing === undefined) throw ENOENT;
    const rm = mask & ~umask;
    if (ignore) existing.ignore &= ~rm;
    else existing.mask &= ~rm;
    // The mark stays while anything but the flags it cannot drop is left.
    if (((existing.mask | existing.ignore) & ~umask) === 0) {
      removeMark(existing);
      g.giveMark();
    }
    return 0;
  }
  // An ignore mask that would not survive a modification is not added while the file is open for writing.
  if (type === "inode" && ignore && !(flags & FAN_MARK_IGNORED_SURV_MODIFY) && (inodeUseOf(d)?.writers ?? 0) > 0) return 0;
  let m = existing;
  if (m === undefined) {
    if (!g.takeMark()) throw ENOSPC;
    m = new FanMark(g, type, d.fs, type === "inode" ? d : null, type === "mount" ? loc.mount : null);
    m.evictable = (flags & FAN_MARK_EVICTABLE) !== 0;
    addMark(m);
  }
  // fanotify_may_update_existing_mark.
  if ((flags & FAN_MARK_EVICTABLE) && !m.evictable) throw EEXIST;
  if ((flags & FAN_MARK_IGNORED_MASK) && m.ignoreFlags) throw EEXIST;
  if ((flags & FAN_MARK_IGNORE) && !(flags & FAN_MARK_IGNORED_SURV_MODIFY) && m.survModify) throw EEXIST;
  if (ignore === FAN_MARK_IGNORE) m.ignoreFlags = true;
  if (ignore && (flags & FAN_MARK_IGNORED_SURV_MODIFY)) m.survModify = true;
  if (!ignore) m.mask = (m.mask | mask) >>> 0;
  else m.ignore = (m.ignore | mask) >>> 0;
  // A non-evictable mark made by this call stays non-evictable.
  if (existing !== undefined && !(flags & FAN_MARK_EVICTABLE)) m.evictable = false;
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  300: supported("fanotify_init", sysFanotifyInit),
  301: supported("fanotify_mark", sysFanotifyMark),
};
