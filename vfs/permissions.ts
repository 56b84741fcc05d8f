/**
 * Discretionary access control for files, as Linux's generic_permission() and gVisor's
 * vfs.GenericCheckPermissions: owner, group or other bits chosen by the caller's fsuid and
 * groups, then the overrides of CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH. The overrides count
 * in the caller's user namespace, over files whose owner and group it maps
 * (capable_wrt_inode_uidgid).
 *
 * @module
 */

import type { TimeSpec } from "./vfs.ts";
import { EACCES, EPERM } from "../kernel/errno.ts";
import type { Credentials } from "../kernel/creds.ts";
import { FS_APPEND_FL, FS_IMMUTABLE_FL, S_IFDIR, S_IFMT, S_IFREG, S_ISGID, S_ISUID, S_ISVTX, S_IXGRP } from "../abi/linux/file.ts";
import { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID } from "../abi/linux/capability.ts";
import type { Dentry } from "./dentry.ts";
import { type Acl, aclPermits } from "./posix_acl.ts";

/** Access wanted, as Linux's MAY_* bits (the same values as X_OK, W_OK, R_OK). */
export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;

/**
 * Whether creds may access a file with the given mode (type and permission bits), owner, group
 * and access ACL (Linux's acl_permission_check: the owner bits for the owner; the ACL for others
 * when it exists and the group bits are not all clear; else the group or other bits). `want` is
 * a mask of MAY_* bits.
 */
export function mayAccess(creds: Credentials, want: number, mode: number, uid: number, gid: number, acl: Acl | null = null): boolean {
  let granted: boolean;
  if (creds.fsuid === uid) granted = (want & ~(mode >> 6) & 7) === 0;
  else if (acl !== null && (mode & 0o070)) granted = aclPermits(creds, acl, want & 7, uid, gid);
  else granted = (want & ~(creds.inGroup(gid) ? mode >> 3 : mode) & 7) === 0;
  if (granted) return true;
  if ((mode & S_IFMT) === S_IFDIR) {
    // Directories: CAP_DAC_READ_SEARCH reads and searches, CAP_DAC_OVERRIDE does everything.
    if ((want & MAY_WRITE) === 0 && creds.hasCapOver(CAP_DAC_READ_SEARCH, uid, gid)) return true;
    return creds.hasCapOver(CAP_DAC_OVERRIDE, uid, gid);
  }
  if ((want & 7) === MAY_READ && creds.hasCapOver(CAP_DAC_READ_SEARCH, uid, gid)) return true;
  // CAP_DAC_OVERRIDE: read and write, and execute when at least one execute bit is set.
  if ((want & MAY_EXEC) === 0 || (mode & 0o111) !== 0) return creds.hasCapOver(CAP_DAC_OVERRIDE, uid, gid);
  return false;
}

/** Throws EACCES unless {@linkcode mayAccess}. */
export function checkPermission(creds: Credentials, want: number, mode: number, uid: number, gid: number, acl: Acl | null = null): void {
  if (!mayAccess(creds, want, mode, uid, gid, acl)) throw EACCES;
}

/**
 * Whether creds own a file with owner uid, or hold CAP_FOWNER in their user namespace and it
 * maps the owner (Linux's inode_owner_or_capable).
 */
export function isOwnerOrRoot(creds: Credentials, uid: number): boolean {
  return creds.fsuid === uid || (creds.userNs.fromKuid(uid) >= 0 && creds.hasOwnCap(CAP_FOWNER));
}

/**
 * Whether a utimensat sets times (owner-only, refused on append-only files): anything but
 * both "now" (a NULL times, which vfs_utimes makes of UTIME_NOW twice: ATTR_TOUCH). One "now"
 * beside an "omit" is ATTR_TIMES_SET as Linux has it, as an explicit time is.
 */
export function explicitTimes(atime: TimeSpec, mtime: TimeSpec): boolean {
  return !(atime === "now" && mtime === "now");
}

/** An inode's three times, for files outside the tree that keep their own (pipes, sockets). */
export interface InodeTimes {
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * The times after a permitted utimensat: each asked-for time set ("now" is nowNs), ctime to
 * now as every attribute change.
 */
export function utimesApplied(prev: InodeTimes, atime: TimeSpec, mtime: TimeSpec, nowNs: bigint): InodeTimes {
  return {
    atimeNs: atime === "omit" ? prev.atimeNs : atime === "now" ? nowNs : atime,
    mtimeNs: mtime === "omit" ? prev.mtimeNs : mtime === "now" ? nowNs : mtime,
    ctimeNs: nowNs,
  };
}

/**
 * Whether creds may set a file's times (utimensat): explicit times need its owner or
 * CAP_FOWNER; "now" (or UTIME_NOW) also write access (Linux's vfs_utimes and setattr_prepare).
 * Throws EPERM or EACCES.
 */
export function checkUtimes(creds: Credentials, f: AttrOwner, explicit: boolean, acl: Acl | null = null): void {
  if (isOwnerOrRoot(creds, f.uid)) return;
  if (explicit) throw EPERM;
  checkPermission(creds, MAY_WRITE, f.mode, f.uid, f.gid, acl);
}

/** The owner and mode an attribute change starts from. */
export interface AttrOwner {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/**
 * The permission bits chmod(2) sets on a file: EPERM unless the caller owns it (or has
 * CAP_FOWNER); set-group-ID is dropped when the caller is not in the file's group and lacks
 * CAP_FSETID (Linux's setattr_prepare and setattr_should_drop_sgid).
 */
export function chmodBits(creds: Credentials, f: AttrOwner, mode: number): number {
  if (!isOwnerOrRoot(creds, f.uid)) throw EPERM;
  let m = mode & 0o7777;
  if ((m & S_ISGID) && !creds.inGroup(f.gid) && !creds.hasCapOver(CAP_FSETID, f.uid, f.gid)) m &= ~S_ISGID;
  return m;
}

/**
 * What chown(2) changes (-1 leaves an id): EPERM unless CAP_CHOWN, or the caller owns the file
 * and keeps its owner and gives it one of its own groups. For a non-directory, even to (-1, -1),
 * set-user-ID goes, and set-group-ID when it means "setgid" (group execute set) or the caller
 * is neither in the file's group nor holds CAP_FSETID (Linux's chown_common: ATTR_KILL_SUID,
 * ATTR_KILL_SGID).
 */
export function chownChange(
  creds: Credentials, f: AttrOwner, uid: number, gid: number, isDir: boolean,
): { uid?: number; gid?: number; mode?: number } {
  if (uid !== -1 && !(creds.fsuid === f.uid && uid === f.uid) && !creds.hasCapOver(CAP_CHOWN, f.uid, f.gid)) throw EPERM;
  if (gid !== -1 && !(creds.fsuid === f.uid && (creds.inGroup(gid) || gid === f.gid)) && !creds.hasCapOver(CAP_CHOWN, f.uid, f.gid)) {
    throw EPERM;
  }
  const attr: { uid?: number; gid?: number; mode?: number } = {};
  if (uid !== -1) attr.uid = uid;
  if (gid !== -1) attr.gid = gid;
  if (!isDir) {
    let m = f.mode & 0o7777 & ~S_ISUID;
    if ((f.mode & S_IXGRP) || !(creds.inGroup(f.gid) || creds.hasCapOver(CAP_FSETID, f.uid, f.gid))) m &= ~S_ISGID;
    if (m !== (f.mode & 0o7777)) attr.mode = m;
  }
  return attr;
}

/**
 * Linux's may_linkat with fs.protected_hardlinks = 1 (the default of most distributions and of
 * our hosts): the owner (or CAP_FOWNER) links anything; others only regular files that are not
 * set-user-ID nor executable set-group-ID and that they may read and write.
 */
export function mayHardlink(creds: Credentials, d: Dentry): boolean {
  if (isOwnerOrRoot(creds, d.uid)) return true;
  const m = d.mode;
  if ((m & S_IFMT) !== S_IFREG || (m & S_ISUID) || (m & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) return false;
  return mayAccess(creds, MAY_READ | MAY_WRITE, m, d.uid, d.gid, d.acl);
}

/**
 * Linux's may_delete() permission part: write and search on the directory, then the sticky
 * bit (EPERM unless the caller owns the file or the directory, or holds CAP_FOWNER).
 */
export function checkMayDelete(creds: Credentials, dir: Dentry, child: Dentry): void {
  checkNotImmutable(dir, MAY_WRITE);
  checkPermission(creds, MAY_WRITE | MAY_EXEC, dir.mode, dir.uid, dir.gid, dir.acl);
  // may_delete: nothing leaves an append-only directory; an immutable or append-only file stays.
  if (inodeFlagsOf(dir) & FS_APPEND_FL) throw EPERM;
  if ((dir.mode & S_ISVTX) && creds.fsuid !== dir.uid && !isOwnerOrRoot(creds, child.uid)) {
    throw EPERM;
  }
  if (inodeFlagsOf(child) & (FS_APPEND_FL | FS_IMMUTABLE_FL)) throw EPERM;
}

/** chattr(1)'s flags of d's inode (0 where the filesystem keeps none). */
export function inodeFlagsOf(d: Dentry): number {
  return d.inodeFlags ?? 0;
}

/**
 * inode_permission's first refusal after EROFS: no write access at all to an immutable file
 * (EPERM, before the mode bits' EACCES).
 */
export function checkNotImmutable(d: Dentry, want: number): void {
  if ((want & MAY_WRITE) && (inodeFlagsOf(d) & FS_IMMUTABLE_FL)) throw EPERM;
}

/** notify_change: an immutable or append-only file's mode, owner and explicit times stay (EPERM). */
export function checkAttrsChangeable(d: Dentry): void {
  if (inodeFlagsOf(d) & (FS_APPEND_FL | FS_IMMUTABLE_FL)) throw EPERM;
}
