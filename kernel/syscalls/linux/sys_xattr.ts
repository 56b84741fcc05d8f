/**
 * Extended attributes and filesystem statistics for the read-only host root: statfs(2),
 * fstatfs(2), getxattr(2) and friends. The host root reports no attributes (ENODATA, an empty
 * list) and refuses changes (EROFS); user.* attributes on writable filesystems come with the
 * overlay and tmpfs.
 */

import { EINVAL, ENODATA, ERANGE, EROFS } from "../../errno.ts";
import { AT_FDCWD } from "../../../abi/linux/file.ts";
import type { Task } from "../../task.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";

/** What statfs reports: an overlay over the host root, as runsc's default --overlay does. */
const OVERLAYFS_SUPER_MAGIC = 0x794c7630;
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;

function resolve(t: Task, pathAddr: number, follow: boolean): void {
  const path = copyInPath(t, pathAddr);
  t.kernel.vfs.statAt(pathCtx(t), startDir(t, AT_FDCWD, path), path, { follow, emptyPath: false });
}

function statfsBytes(): Uint8Array {
  const b = new Uint8Array(120);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, BigInt(OVERLAYFS_SUPER_MAGIC), true); // f_type
  v.setBigInt64(8, 4096n, true); // f_bsize
  v.setBigUint64(16, 1n << 24n, true); // f_blocks
  v.setBigUint64(24, 1n << 23n, true); // f_bfree
  v.setBigUint64(32, 1n << 23n, true); // f_bavail
  v.setBigUint64(40, 1n << 20n, true); // f_files
  v.setBigUint64(48, 1n << 19n, true); // f_ffree
  v.setBigInt64(64, 255n, true); // f_namelen
  v.setBigInt64(72, 4096n, true); // f_frsize
  v.setBigInt64(80, 0x1n | 0x20n, true); // f_flags: ST_RDONLY | ST_RELATIME
  return b;
}

/** Implements statfs(2). */
const sysStatfs: SyscallFn = (t, a) => {
  resolve(t, a.pointer(0), true);
  t.copyOut(a.pointer(1), statfsBytes());
  return 0;
};

/** Implements fstatfs(2). */
const sysFstatfs: SyscallFn = (t, a) => {
  t.fdTable.get(a.fd(0));
  t.copyOut(a.pointer(1), statfsBytes());
  return 0;
};

function checkName(t: Task, addr: number): void {
  const name = t.copyInString(addr, XATTR_NAME_MAX + 1);
  if (name.length === 0 || name.length > XATTR_NAME_MAX) throw ERANGE;
}

function getx(t: Task, nameAddr: number, size: number): number {
  checkName(t, nameAddr);
  if (size > XATTR_SIZE_MAX) throw EINVAL;
  throw ENODATA;
}

const sysGetxattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), true), getx(t, a.pointer(1), a.sizeT(3)));
const sysLgetxattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), false), getx(t, a.pointer(1), a.sizeT(3)));
const sysFgetxattr: SyscallFn = (t, a) => (t.fdTable.get(a.fd(0)), getx(t, a.pointer(1), a.sizeT(3)));
const sysListxattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), true), 0);
const sysLlistxattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), false), 0);
const sysFlistxattr: SyscallFn = (t, a) => (t.fdTable.get(a.fd(0)), 0);

function refuse(t: Task, nameAddr: number): number {
  checkName(t, nameAddr);
  throw EROFS;
}

const sysSetxattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), true), refuse(t, a.pointer(1)));
const sysLsetxattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), false), refuse(t, a.pointer(1)));
const sysFsetxattr: SyscallFn = (t, a) => (t.fdTable.get(a.fd(0)), refuse(t, a.pointer(1)));
const sysRemovexattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), true), refuse(t, a.pointer(1)));
const sysLremovexattr: SyscallFn = (t, a) => (resolve(t, a.pointer(0), false), refuse(t, a.pointer(1)));
const sysFremovexattr: SyscallFn = (t, a) => (t.fdTable.get(a.fd(0)), refuse(t, a.pointer(1)));

const NOTE = "the host root holds no attributes and is read-only";

export const table: Record<number, SyscallEntry> = {
  137: partial("statfs", sysStatfs, "fixed figures for an overlay root"),
  138: partial("fstatfs", sysFstatfs, "fixed figures for an overlay root"),
  188: partial("setxattr", sysSetxattr, NOTE),
  189: partial("lsetxattr", sysLsetxattr, NOTE),
  190: partial("fsetxattr", sysFsetxattr, NOTE),
  191: partial("getxattr", sysGetxattr, NOTE),
  192: partial("lgetxattr", sysLgetxattr, NOTE),
  193: partial("fgetxattr", sysFgetxattr, NOTE),
  194: partial("listxattr", sysListxattr, NOTE),
  195: partial("llistxattr", sysLlistxattr, NOTE),
  196: partial("flistxattr", sysFlistxattr, NOTE),
  197: partial("removexattr", sysRemovexattr, NOTE),
  198: partial("lremovexattr", sysLremovexattr, NOTE),
  199: partial("fremovexattr", sysFremovexattr, NOTE),
};
