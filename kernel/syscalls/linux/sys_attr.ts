/**
 * File attributes: chmod(2), fchmod(2), fchmodat(2), fchmodat2(2), chown(2), fchown(2),
 * lchown(2), fchownat(2), utime(2), utimes(2), futimesat(2), utimensat(2). The permission
 * rules (owner, CAP_FOWNER, CAP_CHOWN) are in vfs/vfs.ts.
 *
 * @module
 */

import { EBADF, EFAULT, EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_PATH, UTIME_NOW, UTIME_OMIT,
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

export const table: Record<number, SyscallEntry> = {
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
