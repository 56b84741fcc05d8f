/**
 * Extended attributes and filesystem statistics: statfs(2), fstatfs(2), ustat(2), sysfs(2),
 * getxattr(2), setxattr(2), listxattr(2), removexattr(2) and their l* (no follow) and f*
 * (descriptor) variants. The namespace and permission rules are in vfs/vfs.ts; tmpfs and the overlay keep
 * attributes, the read-only host tree has none.
 *
 * @module
 */

import { encodePath, encodedPathLength } from "../../../abi/path_bytes.ts";
import { fsidOf } from "../../../vfs/fhandle.ts";
import { E2BIG, EBADF, EINVAL, ENODATA, ENOENT, EOPNOTSUPP, EPERM, ERANGE, type LinuxError } from "../../errno.ts";
import { CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import {
  AT_FDCWD, O_PATH, XATTR_CREATE, XATTR_LIST_MAX, XATTR_NAME_MAX, XATTR_REPLACE, XATTR_SIZE_MAX,
} from "../../../abi/linux/file.ts";
import type { Task } from "../../task.ts";
import { MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_NOSYMFOLLOW, MS_STRICTATIME } from "../../../abi/linux/mount.ts";
import { Location } from "../../../vfs/mount.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { PIPEFS_MAGIC } from "../../../abi/linux/file.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { devMajorMinor } from "./sys_stat.ts";
import { FILESYSTEM_TYPES } from "../../../vfs/fs_types.ts";
import { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX, SOCK_RAW, SOCK_STREAM } from "../../../abi/linux/socket.ts";
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from "../../socket/inet/constants.ts";
import { SocketFile } from "../../socket/socket.ts";

const ST_RDONLY = 0x1;
const ST_VALID = 0x20;
const ST_RELATIME = 0x1000;
const ST_NOSYMFOLLOW = 0x2000;

/** The file a path-based call names (following a final symlink or not). */
function byPath(t: Task, pathAddr: number, follow: boolean): Location {
  const path = copyInPath(t, pathAddr);
  return t.kernel.vfs.resolve(pathCtx(t), startDir(t, AT_FDCWD, path), path, { follow });
}

/**
 * The file an f*(2) call names; O_PATH descriptors are EBADF. A description outside the tree (a
 * socket, pipe, anonymous inode) stands for its own inode.
 */
function byFd(t: Task, fd: number): Location | FileDescription {
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw EBADF;
  return file.location() ?? file;
}

/** sockfs's one attribute: the protocol's name (the socket dentry's, sk_prot_creator->name). */
const XATTR_SOCKPROTONAME = "system.sockprotoname";

/** The name of a socket's struct proto, as sock_alloc_file names its dentry. */
function sockProtoName(s: SocketFile): string {
  const v6 = s.family === AF_INET6 ? "v6" : "";
  switch (s.family) {
    case AF_UNIX:
      return s.type === SOCK_STREAM ? "UNIX-STREAM" : "UNIX";
    case AF_INET:
    case AF_INET6:
      if (s.type === SOCK_STREAM) return `TCP${v6}`;
      if (s.type === SOCK_RAW) return `RAW${v6}`;
      if (s.protocol === IPPROTO_ICMP || s.protocol === IPPROTO_ICMPV6) return `PING${v6}`;
      return `UDP${v6}`;
    case AF_PACKET:
      return "PACKET";
    case AF_NETLINK:
      return "NETLINK";
    default:
      return "";
  }
}

/**
 * getxattr of a file outside the tree: xattr_permission's ENODATA for user.* (and trusted.*
 * without CAP_SYS_ADMIN), then sockfs's system.sockprotoname on a socket; no other handler
 * (EOPNOTSUPP).
 */
function anonGetxattr(t: Task, file: FileDescription, name: string): Uint8Array {
  if (name.startsWith("user.")) throw ENODATA;
  if (name.startsWith("trusted.") && !t.creds.hasCap(CAP_SYS_ADMIN)) throw ENODATA;
  if (file instanceof SocketFile && name === XATTR_SOCKPROTONAME) return encodePath(sockProtoName(file) + "\0");
  throw EOPNOTSUPP;
}

/**
 * f_flags from the mount's flags, as Linux's flags_by_mnt: ST_NOSUID, ST_NODEV, ST_NOEXEC,
 * ST_NOATIME, ST_NODIRATIME are the MS_ values; ST_RELATIME unless noatime or strictatime.
 */
function mountStFlags(loc: Location | null): number {
  if (loc === null) return ST_RELATIME;
  const f = loc.mount.flags;
  return (f & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)) |
    (f & (MS_NOATIME | MS_STRICTATIME) ? 0 : ST_RELATIME) | (f & MS_NOSYMFOLLOW ? ST_NOSYMFOLLOW : 0);
}

/** Lays out struct statfs (x86-64, 120 bytes). */
function statfsBytes(t: Task, loc: Location | null, file: FileDescription | null = null): Uint8Array {
  const st = loc !== null ? t.kernel.vfs.statfs(loc) : {
    type: file?.pseudoFsType ?? PIPEFS_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0,
    namelen: 255, readonly: false,
  };
  const b = new Uint8Array(120);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, BigInt(st.type), true);
  v.setBigInt64(8, BigInt(st.bsize), true);
  v.setBigUint64(16, BigInt(st.blocks), true);
  v.setBigUint64(24, BigInt(st.bfree), true);
  v.setBigUint64(32, BigInt(st.bavail), true);
  v.setBigUint64(40, BigInt(st.files), true);
  v.setBigUint64(48, BigInt(st.ffree), true);
  if (loc !== null) {
    // f_fsid, as fanotify's records report it (vfs/fhandle.ts).
    const [lo, hi] = fsidOf(loc.mount.fs);
    v.setUint32(56, lo, true);
    v.setUint32(60, hi, true);
  }
  v.setBigInt64(64, BigInt(st.namelen), true);
  v.setBigInt64(72, BigInt(st.bsize), true); // f_frsize
  v.setBigInt64(80, BigInt(ST_VALID | (st.readonly ? ST_RDONLY : 0) | mountStFlags(loc)), true);
  return b;
}

/** Implements statfs(2). */
const sysStatfs: SyscallFn = (t, a) => {
  const loc = byPath(t, a.pointer(0), true);
  t.copyOut(a.pointer(1), statfsBytes(t, loc));
  return 0;
};

/** Implements fstatfs(2) (O_PATH descriptors too, as Linux). */
const sysFstatfs: SyscallFn = (t, a) => {
  const file = t.fdTable.get(a.fd(0));
  t.copyOut(a.pointer(1), statfsBytes(t, file.location(), file));
  return 0;
};

/**
 * Implements ustat(2): the free blocks and inodes of the mounted filesystem whose device is
 * dev (a 32-bit dev_t, new_decode_dev), over every mount as Linux's user_get_super walks every
 * superblock. No such filesystem: EINVAL, before the buffer is looked at.
 */
const sysUstat: SyscallFn = (t, a) => {
  const [major, minor] = devMajorMinor(a.uint(0));
  const mount = t.kernel.vfs.mounts().find((m) => {
    let dev: number;
    try {
      dev = m.fs.root.stat().dev;
    } catch {
      return false;
    }
    const [ma, mi] = devMajorMinor(dev);
    return ma === major && mi === minor;
  });
  if (mount === undefined) throw EINVAL;
  const st = t.kernel.vfs.statfs(new Location(mount, mount.fs.root));
  // struct ustat (x86-64, 32 bytes): int f_tfree, unsigned long f_tinode, f_fname[6], f_fpack[6].
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setInt32(0, Number(BigInt.asIntN(32, BigInt(st.bfree))), true);
  v.setBigUint64(8, BigInt(st.ffree), true);
  t.copyOut(a.pointer(1), b);
  return 0;
};

/**
 * Implements sysfs(2) over the sandbox's filesystem types (vfs/fs_types.ts): 1 names a type's
 * index, 2 copies out the name at an index, 3 counts them; any other option is EINVAL.
 */
const sysSysfs: SyscallFn = (t, a) => {
  switch (a.int(0)) {
    case 1: {
      const name = copyInPath(t, a.pointer(1)); // getname: EFAULT, ENAMETOOLONG, then ENOENT for ""
      if (name === "") throw ENOENT;
      const index = FILESYSTEM_TYPES.indexOf(name);
      if (index < 0) throw EINVAL;
      return index;
    }
    case 2: {
      const name = FILESYSTEM_TYPES[a.uint(1)];
      if (name === undefined) throw EINVAL;
      t.copyOut(a.pointer(2), encodePath(name + "\0"));
      return 0;
    }
    case 3:
      return FILESYSTEM_TYPES.length;
    default:
      throw EINVAL;
  }
};

/** Copies an attribute name in: ERANGE when empty or longer than XATTR_NAME_MAX. */
function xattrName(t: Task, addr: number): string {
  const name = t.copyInString(addr, XATTR_NAME_MAX + 1);
  if (name.length === 0 || encodedPathLength(name) > XATTR_NAME_MAX) throw ERANGE;
  return name;
}

function getx(t: Task, loc: Location | FileDescription, nameAddr: number, buf: number, size: number): number {
  const name = xattrName(t, nameAddr);
  const value = loc instanceof Location ? t.kernel.vfs.getxattr(pathCtx(t), loc, name) : anonGetxattr(t, loc, name);
  if (size === 0) return value.length;
  if (size < value.length) throw ERANGE;
  t.copyOut(buf, value);
  return value.length;
}

/**
 * setxattr/removexattr of a file outside the tree (a socket, pipe, anonymous inode): Linux's
 * xattr_permission refuses user.* (not a regular file or directory) and, without
 * CAP_SYS_ADMIN, trusted.* with EPERM before finding no handler to write with (EOPNOTSUPP).
 */
function anonWriteRefused(t: Task, name: string): LinuxError {
  if (name.startsWith("user.")) return EPERM;
  if (name.startsWith("trusted.") && !t.creds.hasCap(CAP_SYS_ADMIN)) return EPERM;
  return EOPNOTSUPP;
}

function setx(t: Task, loc: Location | FileDescription, nameAddr: number, valueAddr: number, size: number, flags: number): number {
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) throw EINVAL;
  const name = xattrName(t, nameAddr);
  if (size > XATTR_SIZE_MAX) throw E2BIG;
  const value = size === 0 ? new Uint8Array(0) : t.copyIn(valueAddr, size);
  if (!(loc instanceof Location)) throw anonWriteRefused(t, name);
  t.kernel.vfs.setxattr(pathCtx(t), loc, name, value, flags);
  return 0;
}

function listx(t: Task, loc: Location | FileDescription, buf: number, size: number): number {
  const names = loc instanceof Location
    ? t.kernel.vfs.listxattr(pathCtx(t), loc)
    : loc instanceof SocketFile
    ? [XATTR_SOCKPROTONAME]
    : [];
  const bytes = encodePath(names.map((n) => n + "\0").join(""));
  if (bytes.length > XATTR_LIST_MAX) throw E2BIG;
  if (size === 0) return bytes.length;
  if (size < bytes.length) throw ERANGE;
  t.copyOut(buf, bytes);
  return bytes.length;
}

function removex(t: Task, loc: Location | FileDescription, nameAddr: number): number {
  const name = xattrName(t, nameAddr);
  if (!(loc instanceof Location)) throw anonWriteRefused(t, name);
  t.kernel.vfs.removexattr(pathCtx(t), loc, name);
  return 0;
}

const sysGetxattr: SyscallFn = (t, a) => getx(t, byPath(t, a.pointer(0), true), a.pointer(1), a.pointer(2), a.sizeT(3));
const sysLgetxattr: SyscallFn = (t, a) => getx(t, byPath(t, a.pointer(0), false), a.pointer(1), a.pointer(2), a.sizeT(3));
const sysFgetxattr: SyscallFn = (t, a) => getx(t, byFd(t, a.fd(0)), a.pointer(1), a.pointer(2), a.sizeT(3));
const sysSetxattr: SyscallFn = (t, a) =>
  setx(t, byPath(t, a.pointer(0), true), a.pointer(1), a.pointer(2), a.sizeT(3), a.int(4));
const sysLsetxattr: SyscallFn = (t, a) =>
  setx(t, byPath(t, a.pointer(0), false), a.pointer(1), a.pointer(2), a.sizeT(3), a.int(4));
const sysFsetxattr: SyscallFn = (t, a) => setx(t, byFd(t, a.fd(0)), a.pointer(1), a.pointer(2), a.sizeT(3), a.int(4));
const sysListxattr: SyscallFn = (t, a) => listx(t, byPath(t, a.pointer(0), true), a.pointer(1), a.sizeT(2));
const sysLlistxattr: SyscallFn = (t, a) => listx(t, byPath(t, a.pointer(0), false), a.pointer(1), a.sizeT(2));
const sysFlistxattr: SyscallFn = (t, a) => listx(t, byFd(t, a.fd(0)), a.pointer(1), a.sizeT(2));
const sysRemovexattr: SyscallFn = (t, a) => removex(t, byPath(t, a.pointer(0), true), a.pointer(1));
const sysLremovexattr: SyscallFn = (t, a) => removex(t, byPath(t, a.pointer(0), false), a.pointer(1));
const sysFremovexattr: SyscallFn = (t, a) => removex(t, byFd(t, a.fd(0)), a.pointer(1));

export const table: Record<number, SyscallEntry> = {
  136: supported("ustat", sysUstat),
  137: supported("statfs", sysStatfs),
  138: supported("fstatfs", sysFstatfs),
  139: supported("sysfs", sysSysfs),
  188: supported("setxattr", sysSetxattr),
  189: supported("lsetxattr", sysLsetxattr),
  190: supported("fsetxattr", sysFsetxattr),
  191: supported("getxattr", sysGetxattr),
  192: supported("lgetxattr", sysLgetxattr),
  193: supported("fgetxattr", sysFgetxattr),
  194: supported("listxattr", sysListxattr),
  195: supported("llistxattr", sysLlistxattr),
  196: supported("flistxattr", sysFlistxattr),
  197: supported("removexattr", sysRemovexattr),
  198: supported("lremovexattr", sysLremovexattr),
  199: supported("fremovexattr", sysFremovexattr),
};
