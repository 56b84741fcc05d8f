/**
 * File attributes: chmod(2), fchmod(2), fchmodat(2), fchmodat2(2), chown(2), fchown(2),
 * lchown(2), fchownat(2), utime(2), utimes(2), futimesat(2), utimensat(2), and the inode flags
 * by path: file_getattr(2), file_setattr(2) (Linux 6.17). The permission rules (owner,
 * CAP_FOWNER, CAP_CHOWN, CAP_LINUX_IMMUTABLE) are in vfs/vfs.ts.
 *
 * @module
 */

import { E2BIG, EBADF, EFAULT, EINVAL, EOPNOTSUPP } from "../../errno.ts";
import { INIT_USER_NS } from "../../user_namespace.ts";
import type { Task } from "../../task.ts";
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, FS_APPEND_FL, FS_IMMUTABLE_FL, FS_NOATIME_FL, FS_NODUMP_FL, O_PATH, S_IFDIR, S_IFMT,
  S_IFREG, UTIME_NOW, UTIME_OMIT,
} from "../../../abi/linux/file.ts";
import type { Location, TimeSpec } from "../../../vfs/mod.ts";
import { FileDescription } from "../../../vfs/file_description.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/**
 * The file an attribute call names: (dirfd, path), or with an empty path and AT_EMPTY_PATH
 * the file dirfd refers to: a location, or the description of a file outside the tree (a
 * socket, a pipe, an anonymous inode), whose own inode the change goes to.
 */
type Target = Location | FileDescription;

function target(t: Task, dirfd: number, pathAddr: number, flags: number): Target {
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  const path = copyInPath(t, pathAddr, emptyPath);
  if (path === "" && emptyPath && dirfd !== AT_FDCWD) return fileTarget(t.fdTable.get(dirfd));
  return t.kernel.vfs.resolve(pathCtx(t), startDir(t, dirfd, path, emptyPath), path, {
    follow: (flags & AT_SYMLINK_NOFOLLOW) === 0,
    emptyPath,
  });
}

function fileTarget(file: FileDescription): Target {
  return file.location() ?? file;
}

/** The file of fd for f*(2) calls: O_PATH descriptors are EBADF. */
function fdTarget(t: Task, fd: number): Target {
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw EBADF;
  return fileTarget(file);
}

/** The location of fd for f*(2) calls: O_PATH descriptors are EBADF. */
export function fdLocation(t: Task, fd: number): Location | null {
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw EBADF;
  return file.location();
}

function chmod(t: Task, to: Target, mode: number): number {
  if (to instanceof FileDescription) to.chmodOutsideTree(t.creds, mode);
  else t.kernel.vfs.chmod(pathCtx(t), to, mode);
  return 0;
}

/** Implements chmod(2). */
const sysChmod: SyscallFn = (t, a) => chmod(t, target(t, AT_FDCWD, a.pointer(0), 0), a.uint(1));

/** Implements fchmod(2). */
const sysFchmod: SyscallFn = (t, a) => chmod(t, fdTarget(t, a.fd(0)), a.uint(1));

/** Implements fchmodat(2) (no flags argument in the system call). */
const sysFchmodat: SyscallFn = (t, a) => chmod(t, target(t, a.fd(0), a.pointer(1), 0), a.uint(2));

/** Implements fchmodat2(2): AT_SYMLINK_NOFOLLOW on a symlink is EOPNOTSUPP. */
const sysFchmodat2: SyscallFn = (t, a) => {
  const flags = a.int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw EINVAL;
  return chmod(t, target(t, a.fd(0), a.pointer(1), flags), a.uint(2));
};

/**
 * chown's ids are the caller's user namespace's: each one but -1 must map to a kernel id
 * (EINVAL, after the path is resolved, as Linux's chown_common).
 */
function chown(t: Task, to: Target, uid: number, gid: number): number {
  const ns = t.creds.userNs;
  const kuid = uid === -1 ? -1 : ns.kuid(uid >>> 0), kgid = gid === -1 ? -1 : ns.kgid(gid >>> 0);
  if ((uid !== -1 && kuid < 0) || (gid !== -1 && kgid < 0)) throw EINVAL;
  if (to instanceof FileDescription) to.chownOutsideTree(t.creds, kuid, kgid);
  else t.kernel.vfs.chown(pathCtx(t), to, kuid, kgid);
  return 0;
}

/** Implements chown(2). */
const sysChown: SyscallFn = (t, a) => chown(t, target(t, AT_FDCWD, a.pointer(0), 0), a.int(1), a.int(2));

/** Implements lchown(2). */
const sysLchown: SyscallFn = (t, a) =>
  chown(t, target(t, AT_FDCWD, a.pointer(0), AT_SYMLINK_NOFOLLOW), a.int(1), a.int(2));

/** Implements fchown(2). */
const sysFchown: SyscallFn = (t, a) => chown(t, fdTarget(t, a.fd(0)), a.int(1), a.int(2));

/** Implements fchownat(2). */
const sysFchownat: SyscallFn = (t, a) => {
  const flags = a.int(4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw EINVAL;
  return chown(t, target(t, a.fd(0), a.pointer(1), flags), a.int(2), a.int(3));
};

function utimes(t: Task, to: Target, atime: TimeSpec, mtime: TimeSpec): number {
  if (to instanceof FileDescription) {
    if (atime !== "omit" || mtime !== "omit") to.touchOutsideTree(t.creds, atime, mtime);
  }
  else t.kernel.vfs.utimes(pathCtx(t), to, atime, mtime);
  return 0;
}

/** struct timespec[2] as copied in, unchecked: [sec, nsec] twice; null for a null pointer. */
function copyInTimespecs(t: Task, addr: number): [bigint, bigint][] | null {
  if (addr === 0) return null;
  const v = new DataView(t.copyIn(addr, 32).buffer);
  return [[v.getBigInt64(0, true), v.getBigInt64(8, true)], [v.getBigInt64(16, true), v.getBigInt64(24, true)]];
}

/** The times of copyInTimespecs (with UTIME_NOW/UTIME_OMIT; EINVAL out of range), or both "now". */
function checkTimespecs(ts: [bigint, bigint][] | null): [TimeSpec, TimeSpec] {
  if (ts === null) return ["now", "now"];
  const one = ([sec, nsec]: [bigint, bigint]): TimeSpec => {
    if (nsec === BigInt(UTIME_NOW)) return "now";
    if (nsec === BigInt(UTIME_OMIT)) return "omit";
    if (nsec < 0n || nsec >= 1_000_000_000n) throw EINVAL;
    return sec * 1_000_000_000n + nsec;
  };
  return [one(ts[0]!), one(ts[1]!)];
}

/** Reads struct timeval[2], or both "now" for a null pointer. */
function readTimevals(t: Task, addr: number): [TimeSpec, TimeSpec] {
  if (addr === 0) return ["now", "now"];
  const v = new DataView(t.copyIn(addr, 32).buffer);
  const one = (o: number): TimeSpec => {
    const sec = v.getBigInt64(o, true), usec = v.getBigInt64(o + 8, true);
    if (usec < 0n || usec >= 1_000_000n) throw EINVAL;
    return sec * 1_000_000_000n + usec * 1000n;
  };
  return [one(0), one(16)];
}

/** Implements utimensat(2); a null path with a dirfd is futimens(3). */
const sysUtimensat: SyscallFn = (t, a) => {
  const dirfd = a.fd(0), pathAddr = a.pointer(1), flags = a.int(3);
  // Linux's order: both times UTIME_OMIT do nothing, not even look at the path; then the
  // flags; then the times' ranges.
  const raw = copyInTimespecs(t, a.pointer(2));
  if (raw !== null && raw[0]![1] === BigInt(UTIME_OMIT) && raw[1]![1] === BigInt(UTIME_OMIT)) return 0;
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw EINVAL;
  const [atime, mtime] = checkTimespecs(raw);
  if (pathAddr === 0) {
    // futimens(3) (do_utimes_fd: no flags; an O_PATH descriptor is EBADF);
    // utimensat(AT_FDCWD, NULL, ...) is EFAULT, as Linux.
    if (dirfd === AT_FDCWD) throw EFAULT;
    if (flags) throw EINVAL;
    return utimes(t, fdTarget(t, dirfd), atime, mtime);
  }
  return utimes(t, target(t, dirfd, pathAddr, flags), atime, mtime);
};

/** Implements futimesat(2); a null path with a dirfd acts on the descriptor (O_PATH: EBADF). */
const sysFutimesat: SyscallFn = (t, a) => {
  const [atime, mtime] = readTimevals(t, a.pointer(2));
  const dirfd = a.fd(0), pathAddr = a.pointer(1);
  if (pathAddr === 0 && dirfd !== AT_FDCWD) return utimes(t, fdTarget(t, dirfd), atime, mtime);
  return utimes(t, target(t, dirfd, pathAddr, 0), atime, mtime);
};

/** Implements utimes(2). */
const sysUtimes: SyscallFn = (t, a) => {
  const [atime, mtime] = readTimevals(t, a.pointer(1));
  return utimes(t, target(t, AT_FDCWD, a.pointer(0), 0), atime, mtime);
};

/** Implements utime(2): struct utimbuf {actime, modtime} in seconds. */
const sysUtime: SyscallFn = (t, a) => {
  const addr = a.pointer(1);
  let times: [TimeSpec, TimeSpec] = ["now", "now"];
  if (addr !== 0) {
    const v = new DataView(t.copyIn(addr, 16).buffer);
    times = [v.getBigInt64(0, true) * 1_000_000_000n, v.getBigInt64(8, true) * 1_000_000_000n];
  }
  return utimes(t, target(t, AT_FDCWD, a.pointer(0), 0), times[0], times[1]);
};

// ---- file_getattr(2), file_setattr(2) (fs/file_attr.c) ----

/** struct file_attr: fa_xflags (u64), fa_extsize, fa_nextents, fa_projid, fa_cowextsize (u32). */
const FILE_ATTR_SIZE_VER0 = 24;
const PAGE_SIZE = 4096;
const FS_SYNC_FL = 0x8, FS_DAX_FL = 0x02000000, FS_PROJINHERIT_FL = 0x20000000;
const FS_XFLAG_PREALLOC = 0x2, FS_XFLAG_IMMUTABLE = 0x8, FS_XFLAG_APPEND = 0x10, FS_XFLAG_SYNC = 0x20, FS_XFLAG_NOATIME = 0x40,
  FS_XFLAG_NODUMP = 0x80, FS_XFLAG_PROJINHERIT = 0x200, FS_XFLAG_EXTSIZE = 0x800, FS_XFLAG_EXTSZINHERIT = 0x1000, FS_XFLAG_DAX = 0x8000,
  FS_XFLAG_COWEXTSIZE = 0x10000, FS_XFLAG_HASATTR = 0x80000000;
/** FS_XFLAGS_MASK: the flags file_setattr takes (others EINVAL). */
const FS_XFLAGS_MASK = 0x1fffb | FS_XFLAG_HASATTR;
/** FS_XFLAG_COMMON: what an inode flag says too (fileattr_has_fsx ignores them). */
const FS_XFLAG_COMMON = FS_XFLAG_SYNC | FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND | FS_XFLAG_NODUMP | FS_XFLAG_NOATIME | FS_XFLAG_DAX |
  FS_XFLAG_PROJINHERIT;
/** Inode flag and extended flag pairs (fileattr_fill_flags, fileattr_fill_xflags). */
const FLAG_PAIRS: [number, number][] = [
  [FS_SYNC_FL, FS_XFLAG_SYNC], [FS_IMMUTABLE_FL, FS_XFLAG_IMMUTABLE], [FS_APPEND_FL, FS_XFLAG_APPEND], [FS_NODUMP_FL, FS_XFLAG_NODUMP],
  [FS_NOATIME_FL, FS_XFLAG_NOATIME], [FS_DAX_FL, FS_XFLAG_DAX], [FS_PROJINHERIT_FL, FS_XFLAG_PROJINHERIT],
];

/**
 * The file file_getattr/file_setattr name: with AT_EMPTY_PATH and an empty (or null) path, the
 * descriptor itself (fdget: an O_PATH one is EBADF), else the path from dirfd.
 */
function attrTarget(t: Task, dirfd: number, pathAddr: number, flags: number): Target {
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  const path = copyInPath(t, pathAddr, emptyPath);
  if (path === "" && emptyPath && dirfd >= 0) return fdTarget(t, dirfd);
  return t.kernel.vfs.resolve(pathCtx(t), startDir(t, dirfd, path, emptyPath), path, {
    follow: (flags & AT_SYMLINK_NOFOLLOW) === 0,
    emptyPath,
  });
}

/** usize as both calls check it: more than a page E2BIG, less than the first version EINVAL. */
function attrSize(a: { sizeT(i: number): number }): number {
  const usize = a.sizeT(3);
  if (usize > PAGE_SIZE) throw E2BIG;
  if (usize < FILE_ATTR_SIZE_VER0) throw EINVAL;
  return usize;
}

/** Implements file_getattr(2): the inode flags as FS_XFLAG_* (vfs_fileattr_get); none kept: EOPNOTSUPP. */
const sysFileGetattr: SyscallFn = (t, a) => {
  const uattr = a.pointer(2), flags = a.uint(4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw EINVAL;
  const usize = attrSize(a);
  const to = attrTarget(t, a.int(0), a.pointer(1), flags);
  // A symlink has no fileattr_get (tmpfs's symlink inode operations).
  const inodeFlags = to instanceof FileDescription || to.dentry.isSymlink ? null : to.dentry.inodeFlags;
  if (inodeFlags === null) throw EOPNOTSUPP;
  let xflags = 0;
  for (const [fl, xf] of FLAG_PAIRS) if (inodeFlags & fl) xflags |= xf;
  // copy_struct_to_user: the struct, then zeros for the rest of a bigger buffer.
  const out = new Uint8Array(usize);
  new DataView(out.buffer).setUint32(0, xflags >>> 0, true);
  t.copyOut(uattr, out);
  return 0;
};

/**
 * Implements file_setattr(2) (vfs_fileattr_set): the extended flags become inode flags; the
 * rest (extent sizes, project ids, flags without an inode flag) are what no filesystem here
 * keeps (shmem_fileattr_set's EOPNOTSUPP), after fileattr_set_prepare's checks.
 */
const sysFileSetattr: SyscallFn = (t, a) => {
  const uattr = a.pointer(2), flags = a.uint(4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw EINVAL;
  const usize = attrSize(a);
  // copy_struct_from_user: bytes past the struct must be zero.
  const raw = t.copyIn(uattr, usize);
  if (raw.subarray(FILE_ATTR_SIZE_VER0).some((b) => b !== 0)) throw E2BIG;
  const v = new DataView(raw.buffer, raw.byteOffset);
  const xflagsIn = v.getBigUint64(0, true);
  const extsize = v.getUint32(8, true), projid = v.getUint32(16, true), cowextsize = v.getUint32(20, true);
  if (xflagsIn & ~BigInt(FS_XFLAGS_MASK >>> 0)) throw EINVAL;
  let xflags = Number(xflagsIn) & ~(FS_XFLAG_PREALLOC | FS_XFLAG_HASATTR);
  let want = 0;
  for (const [fl, xf] of FLAG_PAIRS) if (xflags & xf) want |= fl;
  const to = attrTarget(t, a.int(0), a.pointer(1), flags);
  if (to instanceof FileDescription) throw EOPNOTSUPP; // sockfs, pipefs, anon inodes: no fileattr_set
  t.kernel.vfs.setInodeFlags(pathCtx(t), to, want, (d) => {
    // fileattr_set_prepare: project ids only from the initial user namespace, and valid there.
    if (t.creds.userNs !== INIT_USER_NS) {
      if (projid !== 0 || (xflags & FS_XFLAG_PROJINHERIT)) throw EINVAL;
    } else if (projid === 0xffffffff) {
      throw EINVAL;
    }
    const type = d.stat().mode & S_IFMT;
    if ((xflags & FS_XFLAG_EXTSIZE) && type !== S_IFREG) throw EINVAL;
    if ((xflags & FS_XFLAG_EXTSZINHERIT) && type !== S_IFDIR) throw EINVAL;
    if ((xflags & FS_XFLAG_COWEXTSIZE) && type !== S_IFREG && type !== S_IFDIR) throw EINVAL;
    if ((xflags & FS_XFLAG_DAX) && type !== S_IFREG && type !== S_IFDIR) throw EINVAL;
    if (extsize === 0) xflags &= ~(FS_XFLAG_EXTSIZE | FS_XFLAG_EXTSZINHERIT);
    if (cowextsize === 0) xflags &= ~FS_XFLAG_COWEXTSIZE;
    // shmem_fileattr_set: nothing beyond the inode flags is kept.
    if ((xflags & ~FS_XFLAG_COMMON) || extsize !== 0 || projid !== 0 || cowextsize !== 0) throw EOPNOTSUPP;
  });
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  468: supported("file_getattr", sysFileGetattr),
  469: supported("file_setattr", sysFileSetattr),
  90: supported("chmod", sysChmod),
  91: supported("fchmod", sysFchmod),
  92: supported("chown", sysChown),
  93: supported("fchown", sysFchown),
  94: supported("lchown", sysLchown),
  132: supported("utime", sysUtime),
  235: supported("utimes", sysUtimes),
  260: supported("fchownat", sysFchownat),
  261: supported("futimesat", sysFutimesat),
  268: supported("fchmodat", sysFchmodat),
  280: supported("utimensat", sysUtimensat),
  452: supported("fchmodat2", sysFchmodat2),
};
