/**
 * File sizes and durability: truncate(2), ftruncate(2), fallocate(2), fsync(2),
 * fdatasync(2), sync(2), syncfs(2), sync_file_range(2). fsync and fdatasync reach the host
 * for files of a writable host directory (rw bind mounts, the overlay's host upper); the
 * other writable filesystems are in memory, so the other sync calls only validate.
 *
 * @module
 */

import { EACCES, EBADF, EFBIG, EINVAL, EISDIR, ENODEV, EOPNOTSUPP, EPERM, ESPIPE } from "../../errno.ts";
import { RLIMIT_FSIZE } from "../../../abi/linux/limits.ts";
import type { Location } from "../../../vfs/mod.ts";
import { raiseSigxfsz } from "./_file_io.ts";
import { FS_TRUNCATE } from "../../landlock.ts";
import {
  AT_FDCWD, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FS_APPEND_FL, FS_IMMUTABLE_FL, O_APPEND, O_PATH, S_IFBLK, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
} from "../../../abi/linux/file.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { MemFd } from "../../../vfs/memfd.ts";
import { fsnotifyModify } from "../../../vfs/fsnotify.ts";
import { endLeaseWait, LeaseWait, leaseBreaker } from "./sys_lease.ts";

/** Implements truncate(2). */
const sysTruncate: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  const len = a.long(1);
  const ctx = pathCtx(t);
  ctx.breakLease = leaseBreaker(t, 0);
  try {
    const loc = t.kernel.vfs.resolve(ctx, startDir(t, AT_FDCWD, path), path, { follow: true });
    t.kernel.vfs.truncate(ctx, loc, len, true, () => checkNewSize(t, loc, len));
  } catch (e) {
    if (e instanceof LeaseWait) return e.control;
    endLeaseWait(t);
    throw e;
  }
  endLeaseWait(t);
  return 0;
};

/**
 * RLIMIT_FSIZE for a size change (Linux's inode_newsize_ok): growing a regular file past the
 * soft limit raises SIGXFSZ and fails with EFBIG.
 */
function checkNewSize(t: Parameters<SyscallFn>[0], loc: Location, len: number): void {
  const limit = t.tg.limits.soft(RLIMIT_FSIZE);
  if (limit === Infinity || len <= limit || !loc.dentry.isRegular) return;
  if (loc.dentry.stat().size >= len) return;
  raiseSigxfsz(t);
  throw EFBIG;
}

/** Implements ftruncate(2): the descriptor must be open for writing (EINVAL otherwise). */
const sysFtruncate: SyscallFn = (t, a) => {
  const file = t.fdTable.get(a.fd(0));
  const len = a.long(1);
  if (file.flags & O_PATH) throw EBADF;
  if (len < 0) throw EINVAL;
  if (file instanceof MemFd) {
    // A memfd is in no directory; its host file applies the seals.
    if (!file.writable) throw EINVAL;
    file.truncate(BigInt.asIntN(64, a.u64(1)));
    return 0;
  }
  const loc = file.location();
  if (loc === null && file.writable && file.truncateOutsideTree(BigInt.asIntN(64, a.u64(1)))) return 0;
  if (loc === null || !file.writable || !loc.dentry.isRegular) throw EINVAL;
  // Landlock judged the file when it was opened (the rights it was opened with).
  if (file.landlockDenied & FS_TRUNCATE) throw EACCES;
  t.kernel.vfs.truncate({ ...pathCtx(t), landlock: null }, loc, len, false, () => checkNewSize(t, loc, len));
  return 0;
};

/** Implements fallocate(2): mode 0 and KEEP_SIZE reserve; PUNCH_HOLE|KEEP_SIZE zeroes a range. */
const sysFallocate: SyscallFn = (t, a) => {
  const file = t.fdTable.get(a.fd(0));
  const mode = a.int(1), off = a.long(2), len = a.long(3);
  if (off < 0 || len <= 0) throw EINVAL;
  if (!file.writable) throw EBADF;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) throw EOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) throw EOPNOTSUPP;
  // An append-only file takes only preallocation; an immutable one nothing (vfs_fallocate).
  const inodeFlags = file.location()?.dentry.inodeFlags ?? 0;
  if ((mode & ~FALLOC_FL_KEEP_SIZE) && (inodeFlags & FS_APPEND_FL)) throw EPERM;
  if (inodeFlags & FS_IMMUTABLE_FL) throw EPERM;
  // vfs_fallocate's order: a FIFO is ESPIPE, a directory EISDIR, anything but a regular file
  // (a socket, a character device) ENODEV.
  const type = file.stat().mode & S_IFMT;
  if (type === S_IFIFO) throw ESPIPE;
  if (type === S_IFDIR) throw EISDIR;
  if (type !== S_IFREG) throw ENODEV;
  const loc = file.location();
  // Secret memory is a regular file without a fallocate operation: file.allocate's EOPNOTSUPP.
  if (loc === null && !(file instanceof MemFd) && !file.secretMemory) throw ENODEV;
  if ((file.flags & O_APPEND) && (mode & FALLOC_FL_PUNCH_HOLE)) throw EBADF;
  // "Check for wrap through zero too": beyond the file system's largest size (2^53 - 1 here,
  // tmpfs's MAX_FILE_SIZE) or past 2^63 is EFBIG. Summed as 64-bit integers: doubles round.
  const end = BigInt(a.long(2)) + BigInt(a.long(3));
  if (end > BigInt(Number.MAX_SAFE_INTEGER)) throw EFBIG;
  // Growing the file is a size change: RLIMIT_FSIZE applies (inode_newsize_ok).
  if (loc !== null && !(mode & FALLOC_FL_KEEP_SIZE)) checkNewSize(t, loc, off + len);
  file.allocate(mode, off, len);
  fsnotifyModify(file); // vfs_fallocate's fsnotify_modify: inotify hears IN_MODIFY
  return 0;
};

/**
 * The common part of fsync(2) and fdatasync(2): EINVAL for a file without an fsync operation
 * (vfs_fsync_range): only regular files, directories and block devices have one (a memfd's is
 * shmem's), and nothing in /proc does; pipes, FIFOs, sockets, character devices and the
 * anonymous files do not.
 */
function syncFd(t: Parameters<SyscallFn>[0], fd: number): number {
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw EBADF;
  const loc = file.location();
  if (loc === null && !(file instanceof MemFd)) throw EINVAL;
  const type = file.stat().mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFDIR && type !== S_IFBLK) throw EINVAL;
  if (loc !== null && loc.mount.fs.name === "proc") throw EINVAL;
  file.sync();
  return 0;
}

/** Implements fsync(2). */
const sysFsync: SyscallFn = (t, a) => syncFd(t, a.fd(0));

/** Implements fdatasync(2). */
const sysFdatasync: SyscallFn = (t, a) => syncFd(t, a.fd(0));

/** Implements syncfs(2). */
const sysSyncfs: SyscallFn = (t, a) => {
  const file = t.fdTable.get(a.fd(0));
  if (file.flags & O_PATH) throw EBADF;
  // A filesystem on a block device flushes it (the others have nothing to write back).
  const fs = file.location()?.mount.fs;
  if (fs !== undefined && t.kernel.vfs.blockDevices.supers.size > 0) syncFsOf(fs);
  return 0;
};

/** Implements sync(2). */
const sysSync: SyscallFn = (t) => {
  for (const sb of t.kernel.vfs.blockDevices.supers.values()) syncFsOf(sb.fs);
  return 0;
};

/** A filesystem's sync (Ext2Filesystem.syncFs), where it has one. */
function syncFsOf(fs: object): void {
  (fs as { syncFs?(): void }).syncFs?.();
}

/** Implements sync_file_range(2): validation only. */
const sysSyncFileRange: SyscallFn = (t, a) => {
  const off = BigInt.asIntN(64, a.u64(1)), len = BigInt.asIntN(64, a.u64(2)), flags = a.uint(3);
  if (flags & ~7) throw EINVAL;
  // ksys_sync_file_range: a negative offset or length, or a range whose end wraps past 2^63.
  if (off < 0n || len < 0n || BigInt.asIntN(64, off + len) < 0n) throw EINVAL;
  const file = t.fdTable.get(a.fd(0));
  // Only regular files, block devices, directories and symlinks have pages to write: pipes,
  // sockets and character devices (/dev/null) are ESPIPE.
  const type = file.stat().mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFBLK && type !== S_IFDIR && type !== S_IFLNK) throw ESPIPE;
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  74: supported("fsync", sysFsync),
  75: supported("fdatasync", sysFdatasync),
  76: supported("truncate", sysTruncate),
  77: supported("ftruncate", sysFtruncate),
  162: supported("sync", sysSync),
  277: supported("sync_file_range", sysSyncFileRange),
  285: partial("fallocate", sysFallocate, "modes 0, KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE, on tmpfs, overlay and writable host files"),
  306: supported("syncfs", sysSyncfs),
};
