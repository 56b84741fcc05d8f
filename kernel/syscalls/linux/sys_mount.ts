/**
 * The mount table from inside the sandbox: mount(2), umount2(2), chroot(2), pivot_root(2).
 * Analogous to Linux's fs/namespace.c and fs/open.c (chroot).
 *
 * One mount namespace: every process sees the same tree. Privilege: mount, umount2 and
 * pivot_root need CAP_SYS_ADMIN, chroot CAP_SYS_CHROOT (EPERM without).
 *
 * mount(2) supports: new proc, sysfs, devtmpfs and tmpfs (size=, mode=, uid=, gid=) instances,
 * overlays of the sandbox's directories (one lowerdir, upperdir, workdir); bind mounts
 * of directories on directories and of files on files (MS_BIND; MS_REC is accepted, submounts
 * are not copied); MS_REMOUNT (with or without MS_BIND) changing ro, nosuid, nodev, noexec;
 * propagation changes (accepted, no effect). Not supported: MS_MOVE (EINVAL).
 *
 * @module
 */

import { EAGAIN, EBUSY, EINVAL, ENODEV, ENOTDIR, EPERM } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { AT_FDCWD } from "../../../abi/linux/file.ts";
import { CAP_SYS_ADMIN, CAP_SYS_CHROOT } from "../../../abi/linux/capability.ts";
import {
  MNT_DETACH, MNT_EXPIRE, MNT_FORCE, MS_BIND, MS_MGC_MSK, MS_MGC_VAL, MS_MOUNT_FLAGS, MS_MOVE,
  MS_NOATIME, MS_PROPAGATION, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SILENT, MS_STRICTATIME, UMOUNT_NOFOLLOW,
} from "../../../abi/linux/mount.ts";
import { type Filesystem, Location, type Mount, walk } from "../../../vfs/mod.ts";
import { ProcFilesystem } from "../../../vfs/procfs/procfs.ts";
import { SysFilesystem } from "../../../vfs/sysfs/sysfs.ts";
import { DevFilesystem } from "../../../vfs/devfs/devfs.ts";
import { TmpfsFilesystem } from "../../../vfs/tmpfs/tmpfs.ts";
import { OverlayFilesystem } from "../../../vfs/overlay/overlay.ts";
import { KernelProcSource } from "../../proc_source.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { sandboxCpus } from "./sys_sched.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/** EPERM unless the effective set holds `cap` (CAP_SYS_ADMIN unless said). */
function checkCapable(t: Task, cap = CAP_SYS_ADMIN): void {
  if (!t.creds.hasCap(cap)) throw EPERM;
}

function lookup(t: Task, path: string, follow = true): Location {
  return walk(pathCtx(t), startDir(t, AT_FDCWD, path), path, follow);
}

/** A number with Linux's memparse suffixes (k, m, g, t, p, e), or null. */
function memparse(value: string): number | null {
  const m = /^([0-9]+)([kmgtpeKMGTPE]?)$/.exec(value);
  if (m === null) return null;
  const shift = " kmgtpe".indexOf((m[2] || " ").toLowerCase()) * 10;
  return Number(m[1]) * 2 ** shift;
}

/**
 * tmpfs's data options, as Linux's shmem_parse_one: size= (bytes with k, m, g... suffixes, or
 * N% of memory; rounded up to pages; 0 is no limit), nr_blocks= (pages), mode= (octal), uid=,
 * gid=; nr_inodes=, huge=, inode64 are accepted; EINVAL otherwise.
 */
function tmpfsOptions(t: Task, data: string): { sizeLimit: number; mode: number; uid: number; gid: number } {
  const o = { sizeLimit: Infinity, mode: 0o1777, uid: 0, gid: 0 };
  for (const opt of data.split(",")) {
    if (opt === "") continue;
    const eq = opt.indexOf("=");
    const key = eq < 0 ? opt : opt.slice(0, eq), value = eq < 0 ? "" : opt.slice(eq + 1);
    let m: RegExpExecArray | null;
    let n: number | null;
    if (key === "size" && (m = /^([0-9]+)%$/.exec(value)) !== null) {
      o.sizeLimit = Math.ceil(new KernelProcSource(t.kernel).system().memTotal * Number(m[1]) / 100 / 4096) * 4096;
      if (o.sizeLimit === 0) o.sizeLimit = Infinity;
    } else if (key === "size" && (n = memparse(value)) !== null) {
      o.sizeLimit = n === 0 ? Infinity : n;
    } else if (key === "nr_blocks" && (n = memparse(value)) !== null) {
      o.sizeLimit = n === 0 ? Infinity : n * 4096;
    } else if (key === "mode" && /^[0-7]{1,4}$/.test(value)) o.mode = parseInt(value, 8);
    else if ((key === "uid" || key === "gid") && /^[0-9]{1,10}$/.test(value)) o[key] = Number(value);
    else if (!((key === "nr_inodes" || key === "huge") && value !== "") && opt !== "inode64" && opt !== "inode32") throw EINVAL;
  }
  return o;
}

/**
 * An overlay of the sandbox's own directories (Linux's ovl_fill_super): lowerdir= (one
 * directory; several, colon-separated, are EINVAL here), upperdir= with workdir= (both, on one
 * writable mount, neither inside the other; Linux makes an overlay without them only of two
 * lower layers or more, so it is EINVAL here). Other
 * options (index=, xino=, redirect_dir=, metacopy=, userxattr...) are accepted. Commas and
 * colons in paths are escaped with a backslash.
 */
function newOverlay(t: Task, data: string): Filesystem {
  const o = new Map<string, string>();
  for (const opt of data.split(/(?<!\\),/)) {
    if (opt === "") continue;
    const eq = opt.indexOf("=");
    o.set(eq < 0 ? opt : opt.slice(0, eq), eq < 0 ? "" : opt.slice(eq + 1));
  }
  const unescape = (p: string) => p.replace(/\\(.)/g, "$1");
  const dir = (p: string): Location => {
    const loc = lookup(t, unescape(p));
    if (!loc.isDir) throw ENOTDIR;
    return loc;
  };
  const lowerdir = o.get("lowerdir");
  if (lowerdir === undefined || lowerdir === "" || /(?<!\\):/.test(lowerdir)) throw EINVAL;
  const lower = dir(lowerdir);
  // Without an upper layer Linux wants two lower ones, which are not supported here.
  const upperdir = o.get("upperdir"), workdir = o.get("workdir");
  if (upperdir === undefined || workdir === undefined) throw EINVAL;
  const upper = dir(upperdir);
  const work = dir(workdir);
  if (upper.mount.isReadonly || work.mount !== upper.mount) throw EINVAL;
  if (work.pathFrom(upper) !== null || upper.pathFrom(work) !== null) throw EINVAL;
  return new OverlayFilesystem(null, null, { lower, upper });
}

/** A new instance of a filesystem type, or ENODEV. */
function newFilesystem(t: Task, type: string, data: string): Filesystem {
  switch (type) {
    case "tmpfs":
      return new TmpfsFilesystem(tmpfsOptions(t, data));
    case "proc":
      return new ProcFilesystem(new KernelProcSource(t.kernel));
    case "sysfs":
      return new SysFilesystem(sandboxCpus());
    case "devtmpfs":
      return new DevFilesystem();
    case "overlay":
      return newOverlay(t, data);
    default:
      throw ENODEV;
  }
}

/** Implements mount(2). */
const sysMount: SyscallFn = (t, a) => {
  const srcAddr = a.pointer(0), targetAddr = a.pointer(1), typeAddr = a.pointer(2);
  let flags = a.u64(3);
  checkCapable(t);
  if ((flags & BigInt(MS_MGC_MSK)) === BigInt(MS_MGC_VAL)) flags &= ~BigInt(MS_MGC_MSK);
  const f = Number(flags & 0xffff_ffffn);
  const target = copyInPath(t, targetAddr);
  const at = lookup(t, target);
  let perMount = f & MS_MOUNT_FLAGS;
  if (perMount & MS_STRICTATIME) perMount &= ~MS_NOATIME;

  if (f & MS_REMOUNT) {
    if (at.dentry !== at.mount.root) throw EINVAL;
    at.mount.readonly = (f & MS_RDONLY) !== 0;
    at.mount.flags = perMount;
    return 0;
  }
  if (f & MS_BIND) {
    const src = lookup(t, copyInPath(t, srcAddr));
    // A directory on a directory or a file on a file: vfs.mount checks (ENOTDIR).
    void MS_REC; // submounts of the source are not copied
    t.kernel.vfs.mount(at, src.mount.fs, {
      readonly: src.mount.readonly, root: src.dentry, flags: src.mount.flags, source: src.mount.source,
    });
    return 0;
  }
  if (f & MS_PROPAGATION) return 0; // one namespace: nothing propagates anyway
  if (f & MS_MOVE) throw EINVAL;
  if (typeAddr === 0) throw EINVAL;
  const type = t.copyInString(typeAddr, 4095);
  const dataAddr = a.pointer(4);
  const fs = newFilesystem(t, type, dataAddr === 0 ? "" : t.copyInString(dataAddr, 4095));
  if (!at.isDir) throw ENOTDIR;
  const source = srcAddr === 0 ? type : t.copyInString(srcAddr, 4095);
  t.kernel.vfs.mount(at, fs, { readonly: (f & MS_RDONLY) !== 0, flags: perMount, source });
  void MS_SILENT;
  return 0;
};

/** True if something still uses m: an open file, a mapping, a cwd or root, a mount on it. */
function mountBusy(t: Task, m: Mount): boolean {
  if (m.children.size > 0) return true;
  for (const task of t.kernel.tasks.values()) {
    if (task.fs.cwd.mount === m || task.fs.root.mount === m) return true;
    for (const fd of task.fdTable.fds()) {
      if (task.fdTable.get(fd).location()?.mount === m) return true;
    }
    for (const v of task.mm.vmas) if (v.file?.location()?.mount === m) return true;
  }
  return false;
}

/** Implements umount2(2) (and umount via glibc). */
const sysUmount2: SyscallFn = (t, a) => {
  const flags = a.int(1);
  checkCapable(t);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) throw EINVAL;
  if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH))) throw EINVAL;
  let loc = lookup(t, copyInPath(t, a.pointer(0)), (flags & UMOUNT_NOFOLLOW) === 0);
  // LOOKUP_MOUNTPOINT: a path that ends where mounts are stacked ("." in a directory mounted
  // over after it became the cwd) names the topmost of them.
  for (let over = loc.mount.children.get(loc.dentry); over !== undefined; over = loc.mount.children.get(loc.dentry)) {
    loc = new Location(over, over.root);
  }
  const m = loc.mount;
  if (loc.dentry !== m.root) throw EINVAL;
  if (m.parent === null || m.mountpoint === null) throw EBUSY;
  if (flags & MNT_EXPIRE) throw EAGAIN; // Linux's first MNT_EXPIRE only marks the mount
  if (!(flags & MNT_DETACH) && mountBusy(t, m)) throw EBUSY;
  m.parent.children.delete(m.mountpoint);
  return 0;
};

/** Implements chroot(2). */
const sysChroot: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  const loc = t.kernel.vfs.lookupDir(pathCtx(t), startDir(t, AT_FDCWD, path), path);
  checkCapable(t, CAP_SYS_CHROOT);
  t.fs.root = loc;
  return 0;
};

/**
 * Implements pivot_root(2), minimally: new_root becomes the root (and cwd, where it was the
 * old root) of every task whose root was the caller's, and the old root is bind-mounted at
 * put_old, from where `umount -l` can drop it.
 */
const sysPivotRoot: SyscallFn = (t, a) => {
  checkCapable(t);
  const newRoot = lookup(t, copyInPath(t, a.pointer(0)));
  const putOld = lookup(t, copyInPath(t, a.pointer(1)));
  if (!newRoot.isDir || !putOld.isDir) throw ENOTDIR;
  const oldRoot = t.fs.root;
  if (newRoot.dentry !== newRoot.mount.root || newRoot.equals(oldRoot)) throw EINVAL;
  // put_old must be at or under new_root.
  if (putOld.pathFrom(newRoot) === null) throw EINVAL;
  t.kernel.vfs.mount(putOld, oldRoot.mount.fs, {
    readonly: oldRoot.mount.readonly, root: oldRoot.dentry, flags: oldRoot.mount.flags, source: oldRoot.mount.source,
  });
  for (const task of t.kernel.tasks.values()) {
    const fs = task.fs;
    if (fs.root.equals(oldRoot)) fs.root = newRoot;
    if (fs.cwd.equals(oldRoot)) fs.cwd = newRoot;
  }
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  155: partial("pivot_root", sysPivotRoot, "the old root is bind-mounted at put_old"),
  161: supported("chroot", sysChroot),
  165: partial("mount", sysMount, "proc, sysfs, devtmpfs, tmpfs, overlay (one lower layer), bind, remount; no MS_MOVE"),
  166: partial("umount2", sysUmount2, "MNT_EXPIRE always fails with EAGAIN"),
};
