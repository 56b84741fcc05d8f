/**
 * File attributes by path or descriptor: stat(2), fstat(2), lstat(2), newfstatat(2),
 * statx(2), access(2), faccessat(2), faccessat2(2), readlink(2), readlinkat(2).
 *
 * @module
 */

import { LOOP_MAJOR } from "../../../vfs/block/table.ts";
import { encodePath } from "../../../abi/path_bytes.ts";
import { UNMAPPED_HOST_ID } from "../../user_namespace.ts";
import { EINVAL, ENOENT } from "../../errno.ts";
import type { Task } from "../../task.ts";
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW,
  S_IFBLK, S_IFMT, STAT, STAT_SIZE, STATX, STATX_BASIC_STATS, STATX_BTIME, STATX_MNT_ID, STATX_MNT_ID_UNIQUE,
} from "../../../abi/linux/file.ts";
import type { Mount, Stat } from "../../../vfs/mod.ts";
import { checkPermission } from "../../../vfs/mod.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/** stx_attributes bits every statx reports in its mask (linux/stat.h). */
const STATX_ATTR_AUTOMOUNT = 0x1000, STATX_ATTR_MOUNT_ROOT = 0x2000, STATX_ATTR_DAX = 0x200000;

/** Bits of statx's mask that no kernel may be asked for. */
const STATX__RESERVED = 0x8000_0000;

/**
 * The common part of the stat family: the file at (dirfd, path), or with AT_EMPTY_PATH and
 * an empty path the file dirfd names, whatever it is (a pipe too).
 */
function statPath(t: Task, dirfd: number, path: string, flags: number): Stat {
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  if (path === "" && emptyPath && dirfd !== AT_FDCWD) return t.fdTable.get(dirfd).stat();
  return t.kernel.vfs.statAt(pathCtx(t), startDir(t, dirfd, path, emptyPath), path, {
    follow: (flags & AT_SYMLINK_NOFOLLOW) === 0,
    emptyPath,
  });
}

function setU64(v: DataView, o: number, n: number): void {
  v.setUint32(o, n >>> 0, true);
  v.setUint32(o + 4, Math.floor(n / 0x1_0000_0000) >>> 0, true);
}

/**
 * A file size (loff_t): one a double rounded up to 2^63 can only have been MAX_LFS_FILESIZE,
 * 2^63 - 1 (a memfd or tmpfs file truncated to it), which it is written as.
 */
function setSize(v: DataView, o: number, n: number): void {
  if (n >= 2 ** 63) v.setBigUint64(o, 0x7fff_ffff_ffff_ffffn, true);
  else setU64(v, o, n);
}

function splitNs(ns: bigint): [bigint, number] {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return [sec, Number(nsec)];
}

/** Lays out struct stat (x86-64). */
export function marshalStat(s: Stat): Uint8Array {
  const b = new Uint8Array(STAT_SIZE);
  const v = new DataView(b.buffer);
  setU64(v, STAT.dev, s.dev);
  setU64(v, STAT.ino, s.ino);
  setU64(v, STAT.nlink, s.nlink);
  v.setUint32(STAT.mode, s.mode, true);
  v.setUint32(STAT.uid, s.uid, true);
  v.setUint32(STAT.gid, s.gid, true);
  setU64(v, STAT.rdev, s.rdev);
  setSize(v, STAT.size, s.size);
  setU64(v, STAT.blksize, s.blksize);
  setU64(v, STAT.blocks, s.blocks);
  const times: [number, number, bigint][] = [
    [STAT.atime, STAT.atimeNsec, s.atimeNs], [STAT.mtime, STAT.mtimeNsec, s.mtimeNs],
    [STAT.ctime, STAT.ctimeNsec, s.ctimeNs],
  ];
  for (const [so, no, ns] of times) {
    const [sec, nsec] = splitNs(ns);
    v.setBigInt64(so, sec, true);
    v.setBigInt64(no, BigInt(nsec), true);
  }
  return b;
}

/** Major and minor numbers of a dev_t in the kernel's 64-bit encoding (as glibc's). */
export function devMajorMinor(dev: number): [number, number] {
  const lo = dev >>> 0;
  const hi = Math.floor(dev / 0x1_0000_0000) >>> 0;
  const major = ((lo >>> 8) & 0xfff) | (hi & ~0xfff);
  const minor = (lo & 0xff) | ((lo >>> 12) & ~0xff) | ((hi & 0xfff) << 20);
  return [major >>> 0, minor >>> 0];
}

/**
 * Lays out struct statx; every basic field is filled whatever was asked, as Linux may, and
 * the mount id when the file has a place in the tree (Linux's vfs_statx always reports it).
 */
export function marshalStatx(s: Stat, mnt: Mount | null = null, unique = false, mountRoot = false): Uint8Array {
  const b = new Uint8Array(256);
  const v = new DataView(b.buffer);
  let mask = STATX_BASIC_STATS;
  if (s.btimeNs !== undefined) mask |= STATX_BTIME;
  if (mnt !== null) {
    // vfs_statx: the unique 64-bit id when asked for (STATX_MNT_ID_UNIQUE), else the old one.
    mask |= unique ? STATX_MNT_ID_UNIQUE : STATX_MNT_ID;
    setU64(v, STATX.mntId, unique ? mnt.uniqueId : mnt.id);
  }
  v.setUint32(STATX.mask, mask, true);
  v.setUint32(STATX.blksize, s.blksize, true);
  // vfs_getattr_nosec and vfs_statx_path: automount and DAX are always in the mask (no file
  // here is either), and so is MOUNT_ROOT, set for the root of a mount (path_mounted).
  setU64(v, STATX.attributes, (s.attributes ?? 0) + (mountRoot ? STATX_ATTR_MOUNT_ROOT : 0));
  setU64(v, STATX.attributesMask, (s.attributesMask ?? 0) + STATX_ATTR_MOUNT_ROOT + STATX_ATTR_AUTOMOUNT + STATX_ATTR_DAX);
  v.setUint32(STATX.nlink, s.nlink, true);
  v.setUint32(STATX.uid, s.uid, true);
  v.setUint32(STATX.gid, s.gid, true);
  v.setUint16(STATX.mode, s.mode & 0xffff, true);
  setU64(v, STATX.ino, s.ino);
  setSize(v, STATX.size, s.size);
  setU64(v, STATX.blocks, s.blocks);
  const times: [number, bigint | undefined][] = [
    [STATX.atime, s.atimeNs], [STATX.btime, s.btimeNs], [STATX.ctime, s.ctimeNs], [STATX.mtime, s.mtimeNs],
  ];
  for (const [o, ns] of times) {
    if (ns === undefined) continue;
    const [sec, nsec] = splitNs(ns);
    v.setBigInt64(o, sec, true);
    v.setUint32(o + 8, nsec, true);
  }
  const [rdevMajor, rdevMinor] = devMajorMinor(s.rdev);
  const [devMajor, devMinor] = devMajorMinor(s.dev);
  v.setUint32(STATX.rdevMajor, rdevMajor, true);
  v.setUint32(STATX.rdevMinor, rdevMinor, true);
  v.setUint32(STATX.devMajor, devMajor, true);
  v.setUint32(STATX.devMinor, devMinor, true);
  return b;
}

/**
 * A file's attributes with its owner and group as the caller's user namespace shows them
 * (from_kuid_munged: 65534 for an id it does not map).
 */
function seenBy(t: Task, st: Stat): Stat {
  const ns = t.creds.userNs;
  // The initial namespace shows kernel ids as they are, but for a host owner a bundle's id
  // mapping leaves out (kernel/user_namespace.ts UNMAPPED_HOST_ID), which it does not map.
  if (ns.parent === null && st.uid !== UNMAPPED_HOST_ID && st.gid !== UNMAPPED_HOST_ID) return st;
  return { ...st, uid: ns.uidOf(st.uid), gid: ns.gidOf(st.gid) };
}

/** Implements stat(2). */
const sysStat: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  t.copyOut(a.pointer(1), marshalStat(seenBy(t, statPath(t, AT_FDCWD, path, 0))));
  return 0;
};

/** Implements lstat(2). */
const sysLstat: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  t.copyOut(a.pointer(1), marshalStat(seenBy(t, statPath(t, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW))));
  return 0;
};

/** Implements fstat(2). O_PATH descriptors may be stat'ed. */
const sysFstat: SyscallFn = (t, a) => {
  t.copyOut(a.pointer(1), marshalStat(seenBy(t, t.fdTable.get(a.fd(0)).stat())));
  return 0;
};

/** Implements newfstatat(2) (fstatat64 in glibc). */
const sysNewfstatat: SyscallFn = (t, a) => {
  const flags = a.int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH)) throw EINVAL;
  const path = copyInPath(t, a.pointer(1), (flags & AT_EMPTY_PATH) !== 0);
  t.copyOut(a.pointer(2), marshalStat(seenBy(t, statPath(t, a.fd(0), path, flags))));
  return 0;
};

/** Implements statx(2). The sync-type flags change nothing: the host is asked every time. */
const sysStatx: SyscallFn = (t, a) => {
  const flags = a.int(2), mask = a.uint(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) throw EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) throw EINVAL;
  if (mask & STATX__RESERVED) throw EINVAL;
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  const path = copyInPath(t, a.pointer(1), emptyPath);
  const dirfd = a.fd(0);
  let stat: Stat, mnt: Mount | null, mountRoot: boolean;
  if (path === "" && emptyPath && dirfd !== AT_FDCWD) {
    const file = t.fdTable.get(dirfd);
    stat = file.stat();
    const loc = file.location();
    mnt = loc?.mount ?? null;
    mountRoot = loc !== null && loc.dentry === loc.mount.root;
  } else {
    const loc = t.kernel.vfs.resolve(pathCtx(t), startDir(t, dirfd, path, emptyPath), path, {
      follow: (flags & AT_SYMLINK_NOFOLLOW) === 0,
      emptyPath,
    });
    stat = loc.dentry.stat();
    mnt = loc.mount;
    mountRoot = loc.dentry === loc.mount.root;
  }
  const out = marshalStatx(seenBy(t, stat), mnt, (mask & STATX_MNT_ID_UNIQUE) !== 0, mountRoot);
  if (mask & STATX_DIOALIGN) blockDioAlign(t, stat, out);
  t.copyOut(a.pointer(4), out);
  return 0;
};

/** STATX_DIOALIGN. */
const STATX_DIOALIGN = 0x2000;
/** stx_dio_mem_align and stx_dio_offset_align (after stx_mnt_id). */
const STATX_DIO_MEM_ALIGN = 152, STATX_DIO_OFFSET_ALIGN = 156;

/**
 * bdev_statx's STATX_DIOALIGN for a loop device node: buffers aligned to the DMA alignment
 * (512), offsets to the logical block size. Other files report none (their filesystems do not
 * answer it here).
 */
function blockDioAlign(t: Task, st: Stat, out: Uint8Array): void {
  if ((st.mode & S_IFMT) !== S_IFBLK) return;
  const [major, minor] = devMajorMinor(st.rdev);
  if (major !== LOOP_MAJOR) return;
  const view = t.kernel.vfs.blockDevices.loop(minor);
  if (view === null) return;
  const v = new DataView(out.buffer, out.byteOffset);
  v.setUint32(0, v.getUint32(0, true) | STATX_DIOALIGN, true);
  v.setUint32(STATX_DIO_MEM_ALIGN, 512, true);
  v.setUint32(STATX_DIO_OFFSET_ALIGN, view.logicalBlockSize, true);
}

/** The common part of access(2), faccessat(2), faccessat2(2). */
function accessAt(t: Task, dirfd: number, pathAddr: number, mode: number, flags: number): number {
  if (mode & ~7) throw EINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) throw EINVAL;
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  const path = copyInPath(t, pathAddr, emptyPath);
  if (path === "" && emptyPath && dirfd !== AT_FDCWD) {
    const file = t.fdTable.get(dirfd);
    const loc = file.location();
    if (loc === null) {
      // Not in the tree (a pipe, host stdio): its attributes decide.
      const st = file.stat();
      if (mode !== 0) checkPermission(t.creds, mode, st.mode, st.uid, st.gid);
      return 0;
    }
    t.kernel.vfs.accessAt(pathCtx(t), loc, "", mode, flags);
    return 0;
  }
  t.kernel.vfs.accessAt(pathCtx(t), startDir(t, dirfd, path, emptyPath), path, mode, flags);
  return 0;
}

/** Implements access(2). */
const sysAccess: SyscallFn = (t, a) => accessAt(t, AT_FDCWD, a.pointer(0), a.int(1), 0);

/** Implements faccessat(2) (the system call has no flags argument). */
const sysFaccessat: SyscallFn = (t, a) => accessAt(t, a.fd(0), a.pointer(1), a.int(2), 0);

/** Implements faccessat2(2). */
const sysFaccessat2: SyscallFn = (t, a) => accessAt(t, a.fd(0), a.pointer(1), a.int(2), a.int(3));

/** The common part of readlink(2) and readlinkat(2): the target, not NUL-terminated, cut at bufsiz. */
function readlinkAt(t: Task, dirfd: number, pathAddr: number, buf: number, bufsiz: number): number {
  if (bufsiz <= 0) throw EINVAL;
  const path = copyInPath(t, pathAddr);
  // readlinkat(2) treats an empty path as the dirfd itself (an O_PATH|O_NOFOLLOW symlink).
  let start;
  if (path === "" && dirfd !== AT_FDCWD) {
    start = t.fdTable.get(dirfd).location();
    if (start === null) throw ENOENT;
  } else {
    start = startDir(t, dirfd, path, true);
  }
  const target = encodePath(t.kernel.vfs.readlinkAt(pathCtx(t), start, path));
  const n = Math.min(target.length, bufsiz);
  t.copyOut(buf, target.subarray(0, n));
  return n;
}

/** Implements readlink(2). */
const sysReadlink: SyscallFn = (t, a) => readlinkAt(t, AT_FDCWD, a.pointer(0), a.pointer(1), a.int(2));

/** Implements readlinkat(2). */
const sysReadlinkat: SyscallFn = (t, a) => readlinkAt(t, a.fd(0), a.pointer(1), a.pointer(2), a.int(3));

export const table: Record<number, SyscallEntry> = {
  4: supported("stat", sysStat),
  5: supported("fstat", sysFstat),
  6: supported("lstat", sysLstat),
  21: supported("access", sysAccess),
  89: supported("readlink", sysReadlink),
  262: supported("newfstatat", sysNewfstatat),
  267: supported("readlinkat", sysReadlinkat),
  269: supported("faccessat", sysFaccessat),
  332: supported("statx", sysStatx),
  439: supported("faccessat2", sysFaccessat2),
};
