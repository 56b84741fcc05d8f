/**
 * The mount table from inside the sandbox: mount(2), umount2(2), chroot(2), pivot_root(2).
 * Analogous to Linux's fs/namespace.c and fs/open.c (chroot).
 *
 * The caller's mount namespace's tree (kernel/fs_context.ts); propagation between mounts is
 * vfs/propagation.ts's. Privilege: mount, umount2 and pivot_root need CAP_SYS_ADMIN, chroot
 * CAP_SYS_CHROOT (EPERM without).
 *
 * mount(2) supports: new proc, sysfs, devtmpfs, devpts and tmpfs (size=, mode=, uid=, gid=) instances, cgroup2,
 * overlays of the sandbox's directories (one lowerdir, upperdir, workdir); bind mounts
 * of directories on directories and of files on files (MS_BIND, with MS_REC its submounts);
 * MS_REMOUNT (with or without MS_BIND) changing ro, nosuid, nodev, noexec; propagation changes
 * (one type, on a mount's root, with MS_REC on its subtree); MS_MOVE. The mount API (fsopen, fsconfig, fsmount, move_mount,
 * open_tree) is below.
 *
 * @module
 */

import { E2BIG, EAGAIN, EBUSY, EINVAL, ELOOP, ENODATA, ENODEV, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM } from "../../errno.ts";
import type { Task } from "../../task.ts";
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_PATH, O_RDWR,
} from "../../../abi/linux/file.ts";
import { CAP_SYS_ADMIN, CAP_SYS_CHROOT } from "../../../abi/linux/capability.ts";
import {
  MNT_DETACH, MNT_EXPIRE, MNT_FORCE, MS_BIND, MS_MGC_MSK, MS_MGC_VAL, MS_MOUNT_FLAGS, MS_MOVE,
  MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_PROPAGATION, MS_RDONLY, MS_REC, MS_REMOUNT,
  MS_NOSYMFOLLOW, MS_PRIVATE, MS_SHARED, MS_SILENT, MS_SLAVE, MS_STRICTATIME, UMOUNT_NOFOLLOW,
} from "../../../abi/linux/mount.ts";
import { type Filesystem, Location, type Mount, walk } from "../../../vfs/mod.ts";
import { AnonInodeFile } from "../../../vfs/anon_file.ts";
import { OPathFile } from "../../../vfs/opath_file.ts";
import { ProcFilesystem } from "../../../vfs/procfs/procfs.ts";
import { SysFilesystem } from "../../../vfs/sysfs/sysfs.ts";
import { DevFilesystem } from "../../../vfs/devfs/devfs.ts";
import { TmpfsFilesystem } from "../../../vfs/tmpfs/tmpfs.ts";
import { OverlayFilesystem } from "../../../vfs/overlay/overlay.ts";
import { KernelProcSource } from "../../proc_source.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { mayMount } from "../../fs_context.ts";
import { hasLockedChildren, mayChangeLockedFlags } from "../../../vfs/vfs.ts";
import { sandboxCpus } from "./sys_sched.ts";
import { chargeQueue } from "../../mqueue_charge.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { blockSuper, isBlockFilesystem, releaseUnmounted, remountBlockSuper } from "../../block_mount.ts";
import type { Kernel } from "../../kernel.ts";

/**
 * EPERM unless the caller may change its mount namespace's tree: CAP_SYS_ADMIN over the user
 * namespace that owns it (Linux's may_mount).
 */
function checkCapable(t: Task): void {
  if (!mayMount(t.creds, t.fs.mntns)) throw EPERM;
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
 * N% of memory; rounded up to pages; 0 is no limit), nr_blocks= (pages), nr_inodes= (0: no
 * limit), mode= (octal), uid=, gid= (the root's owner: the mounter's fsuid and fsgid by default);
 * huge=, inode64, inode32 are accepted; EINVAL otherwise.
 */
function tmpfsOptions(
  t: Task,
  data: string,
): { sizeLimit: number; maxInodes: number; mode: number; uid: number; gid: number } {
  // The root belongs to the mounter's fsuid and fsgid unless uid= or gid= say otherwise, those
  // being ids of the mounter's user namespace (shmem_fill_super, shmem_parse_one).
  const o = { sizeLimit: Infinity, maxInodes: Infinity, mode: 0o1777, uid: t.creds.fsuid, gid: t.creds.fsgid };
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
    } else if (key === "nr_inodes" && (n = memparse(value)) !== null) {
      o.maxInodes = n === 0 ? Infinity : n;
    } else if (key === "mode" && /^[0-7]{1,4}$/.test(value)) o.mode = parseInt(value, 8);
    else if ((key === "uid" || key === "gid") && /^[0-9]{1,10}$/.test(value)) {
      const id = key === "uid" ? t.creds.userNs.kuid(Number(value)) : t.creds.userNs.kgid(Number(value));
      if (id < 0) throw EINVAL;
      o[key] = id;
    }
    else if (!(key === "huge" && value !== "") && opt !== "inode64" && opt !== "inode32") throw EINVAL;
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
      return new ProcFilesystem(new KernelProcSource(t.kernel, t.pidNs)); // the mounter's PID namespace
    case "sysfs":
      return new SysFilesystem(sandboxCpus(), t.kernel.vfs.blockDevices);
    case "devtmpfs":
      // Not mountable from a user namespace (no FS_USERNS_MOUNT): CAP_SYS_ADMIN in the first.
      if (!t.creds.hasCap(CAP_SYS_ADMIN)) throw EPERM;
      return new DevFilesystem(t.kernel.vfs.blockDevices);
    case "overlay":
      return newOverlay(t, data);
    case "devpts":
      devptsOptions(data);
      return t.kernel.tty.newInstance();
    case "mqueue": {
      // The caller's IPC namespace's queues, whichever mount shows them (Linux's mqueue_get_tree).
      // A queue creat(2) makes there counts for the creating task's RLIMIT_MSGQUEUE.
      const k = t.kernel;
      t.ipc.mqueue.chargeNew ??= (q) => {
        if (k.current !== null) chargeQueue(k.current, q);
      };
      return t.ipc.mqueue;
    }
    case "cgroup2":
      cgroup2Options(t, data);
      return t.kernel.cgroups;
    case "cgroup": {
      // cgroup v1 hierarchies are not supported; a controller in use on the v2 hierarchy
      // (enabled for cgroups that exist) is EBUSY first, as rebind_subsystems.
      const cg = t.kernel.cgroups;
      const inV2 = data.split(",").some((o) => cg.root.subtreeControl.has(o) && cg.root.kids.size > 0);
      if (inV2) throw EBUSY;
      t.kernel.log.once("cgroup-v1", "mount -t cgroup (v1) is not supported");
      throw ENODEV;
    }
    default:
      throw ENODEV;
  }
}

/**
 * devpts's options (devpts_parse_param): uid=, gid=, mode=, ptmxmode=, max=, newinstance;
 * EINVAL otherwise. The values are checked, not applied yet: the ptys' nodes keep their modes
 * and owners, ptmx its 000, and the instance PTY_MAX ptys.
 */
function devptsOptions(data: string): void {
  for (const opt of data.split(",")) {
    if (opt === "" || opt === "newinstance" || SB_FLAGS.has(opt)) continue;
    const eq = opt.indexOf("=");
    const key = eq < 0 ? opt : opt.slice(0, eq), value = eq < 0 ? null : opt.slice(eq + 1);
    if (value === null) throw EINVAL;
    if ((key === "mode" || key === "ptmxmode") && /^[0-7]{1,4}$/.test(value)) continue;
    if ((key === "uid" || key === "gid" || key === "max") && /^[0-9]{1,10}$/.test(value)) continue;
    throw EINVAL;
  }
}

/**
 * cgroup2's options (cgroup2_parse_param, then apply_cgroup_root_flags): unknown ones are
 * EINVAL; nsdelegate is system-wide and set or cleared by each mount from the initial cgroup
 * namespace (ignored from another).
 */
function cgroup2Options(t: Task, data: string): void {
  const known = ["nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot", "memory_hugetlb_accounting", "pids_localevents"];
  const opts = data.split(",").filter((o) => o !== "");
  for (const o of opts) if (!known.includes(o) && !SB_FLAGS.has(o)) throw EINVAL;
  if (t.cgroupNs === null) t.kernel.cgroups.nsdelegate = opts.includes("nsdelegate");
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
    // Flags locked by a copy into a less privileged namespace stay (can_change_locked_flags).
    if (!mayChangeLockedFlags(at.mount, (f & MS_RDONLY) !== 0, perMount)) throw EPERM;
    const ro = (f & MS_RDONLY) !== 0;
    // Read-only while a file of it is open for writing: EBUSY (sb_prepare_remount_readonly for
    // the superblock, mnt_make_readonly for a bind remount's one mount).
    if (ro && !at.mount.readonly && openForWrite(t, at.mount, (f & MS_BIND) === 0)) throw EBUSY;
    if (!(f & MS_BIND)) {
      remountBlockSuper(t.kernel, at.mount.fs, ro);
      at.mount.fs.superReadonly = ro;
    }
    at.mount.readonly = (f & MS_RDONLY) !== 0;
    at.mount.flags = perMount;
    at.mount.ns?.changed();
    return 0;
  }
  const vfs = t.kernel.vfs;
  // The target is in the caller's namespace's tree, not in a detached one (Linux's check_mnt).
  if (!inCallerNs(t, at.mount)) throw EINVAL;
  if (f & MS_BIND) {
    const src = lookup(t, copyInPath(t, srcAddr));
    // From the caller's namespace or a detached tree (fsmount, open_tree); not from an
    // unmounted one or another namespace (do_loopback's check_mnt).
    if (unmounted(src.mount)) throw EINVAL;
    if (src.mount.ns !== null && !inCallerNs(t, src.mount)) throw EINVAL;
    // A directory on a directory or a file on a file: vfs.bind checks (ENOTDIR).
    vfs.bind(at, src, (f & MS_REC) !== 0);
    return 0;
  }
  if (f & MS_PROPAGATION) {
    // Exactly one type (Linux's flags_to_propagation_type), on a mount's root.
    const type = f & ~(MS_REC | MS_SILENT);
    if ((type & ~MS_PROPAGATION) !== 0 || (type & (type - 1)) !== 0) throw EINVAL;
    if (at.dentry !== at.mount.root) throw EINVAL;
    const kind = type === MS_SHARED ? "shared" : type === MS_SLAVE ? "slave" : type === MS_PRIVATE ? "private" : "unbindable";
    vfs.setPropagation(at.mount, kind, (f & MS_REC) !== 0);
    return 0;
  }
  if (f & MS_MOVE) {
    moveMount(t, lookup(t, copyInPath(t, srcAddr)), at);
    return 0;
  }
  if (typeAddr === 0) throw EINVAL;
  const type = t.copyInString(typeAddr, 4095);
  const dataAddr = a.pointer(4);
  const data = dataAddr === 0 ? "" : t.copyInString(dataAddr, 4095);
  let fs: Filesystem, fresh = false;
  if (isBlockFilesystem(type)) {
    // get_tree_bdev: the source names a block device (lookup_bdev follows symlinks).
    const src = srcAddr === 0 ? null : lookup(t, copyInPath(t, srcAddr));
    ({ fs, fresh } = blockSuper(t, src, type, { readonly: (f & MS_RDONLY) !== 0, data, silent: (f & MS_SILENT) !== 0 }));
  } else {
    fs = newFilesystem(t, type, data);
    // A filesystem this mount made has the mount's read-only flag as its superblock's.
    if (fs instanceof TmpfsFilesystem || fs instanceof OverlayFilesystem) (fs as Filesystem).superReadonly = (f & MS_RDONLY) !== 0;
  }
  try {
    if (!at.isDir) throw ENOTDIR;
    // A cgroup2 mount shows the hierarchy from the caller's cgroup namespace root.
    const root = fs === t.kernel.cgroups ? t.kernel.cgroups.nsRootOf(t) : fs.root;
    // do_add_mount: the same superblock at the same place on top of itself is EBUSY.
    if (at.mount.fs === fs && at.dentry === at.mount.root) throw EBUSY;
    // No source: "none", as Linux shows a NULL fc->source.
    const source = srcAddr === 0 ? "none" : t.copyInString(srcAddr, 4095);
    t.kernel.vfs.mount(at, fs, { readonly: (f & MS_RDONLY) !== 0, flags: perMount, source, root });
  } catch (e) {
    // A new superblock nothing mounted goes again (deactivate_locked_super).
    if (fresh) releaseUnmounted(t.kernel);
    throw e;
  }
  return 0;
};

/** Whether a file open for writing is on mount m (with `wholeFs`, on any mount of its filesystem). */
function openForWrite(t: Task, m: Mount, wholeFs: boolean): boolean {
  for (const task of t.kernel.tasks.values()) {
    for (const fd of task.fdTable.fds()) {
      const file = task.fdTable.get(fd);
      const at = file.location()?.mount;
      if (at === undefined || !file.writable) continue;
      if (at === m || (wholeFs && at.fs === m.fs)) return true;
    }
  }
  return false;
}

/** Whether m is in the tree of the caller's mount namespace (Linux's check_mnt). */
function inCallerNs(t: Task, m: Mount): boolean {
  return t.fs.mntns !== null && t.kernel.vfs.isAttached(m, t.fs.mntns);
}

/** Whether m or a mount it hangs from was unmounted (a descriptor still reaching it). */
function unmounted(m: Mount): boolean {
  for (let x: Mount | null = m; x !== null; x = x.parent) if (x.umounted) return true;
  return false;
}

/** True if something still uses m: an open file, a mapping, a cwd or root, a mount on it. */
function mountBusy(t: Task, m: Mount): boolean {
  if (m.children.size > 0) return true;
  return mountInUse(t, m);
}

/** True if an open file, a mapping, a cwd or a root is on m. */
function mountInUse(t: Task, m: Mount): boolean {
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
  // umount2's own walk leaves the expiry marks alone (path_umount's mntput_no_expire).
  const marked = (flags & MNT_EXPIRE) && t.fs.mntns !== null ? t.fs.mntns.mounts().filter((x) => x.expiryMark) : [];
  let loc = lookup(t, copyInPath(t, a.pointer(0)), (flags & UMOUNT_NOFOLLOW) === 0);
  for (const x of marked) x.expiryMark = true;
  // LOOKUP_MOUNTPOINT: a path that ends where mounts are stacked ("." in a directory mounted
  // over after it became the cwd) names the topmost of them.
  for (let over = loc.mount.children.get(loc.dentry); over !== undefined; over = loc.mount.children.get(loc.dentry)) {
    loc = new Location(over, over.root);
  }
  const m = loc.mount;
  if (loc.dentry !== m.root) throw EINVAL;
  if (!inCallerNs(t, m)) throw EINVAL;
  if (m.locked) throw EINVAL; // it goes only with what it sits on
  if (flags & MNT_EXPIRE) {
    // do_umount: the caller's root is EINVAL, a mount in use EBUSY; the first call marks it
    // (EAGAIN), a second one with no use in between unmounts it.
    if (m === t.fs.root.mount) throw EINVAL;
    if (mountBusy(t, m)) throw EBUSY;
    if (!m.expiryMark) {
      m.expiryMark = true;
      throw EAGAIN;
    }
  }
  // do_umount: "unmounting" the caller's root remounts its superblock read-only instead
  // (do_umount_root; EBUSY while a file of it is open for writing, sb_prepare_remount_readonly).
  if (m === t.fs.root.mount && !(flags & MNT_DETACH)) {
    if (!m.fs.superReadonly) {
      if (openForWrite(t, m, true)) throw EBUSY;
      remountBlockSuper(t.kernel, m.fs, true);
      m.fs.superReadonly = true;
      m.ns?.changed();
    }
    return 0;
  }
  if (m.parent === null || m.mountpoint === null) throw EBUSY;
  if (!(flags & MNT_DETACH) && mountBusy(t, m)) throw EBUSY;
  // What the unmount propagates to must not be in use either (propagate_mount_busy).
  t.kernel.vfs.umount(m, (flags & MNT_DETACH) !== 0, (x) => mountInUse(t, x));
  // A filesystem on a block device whose last mount went lets the device go.
  releaseUnmounted(t.kernel);
  return 0;
};

/** Implements chroot(2). */
const sysChroot: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  const loc = t.kernel.vfs.lookupDir(pathCtx(t), startDir(t, AT_FDCWD, path), path);
  // CAP_SYS_CHROOT in the caller's own user namespace (ns_capable(current_user_ns())).
  if (!t.creds.hasOwnCap(CAP_SYS_CHROOT)) throw EPERM;
  t.fs.root = loc;
  return 0;
};

/**
 * Implements pivot_root(2), checked in Linux's order (fs/namespace.c): new_root's mount takes
 * the root mount's place and the root mount goes onto put_old (the topmost mount there, as
 * lock_mount: with pivot_root(".", ".") the old root is stacked on the new one, for
 * umount2(".", MNT_DETACH) to drop); every task whose root or cwd was the old root moves to
 * new_root (chroot_fs_refs).
 *
 * Linux refuses a root mount without a parent (rootfs, which holds nothing but the initramfs).
 * A namespace's root mount here has none either, but it is the sandbox's root filesystem, as
 * the mount a container's root is on natively, whose parent (rootfs) is out of sight: a pivot
 * from it is allowed, and new_root becomes the namespace's root. Nothing escapes the sandbox
 * root by it: the tree only holds the sandbox's own mounts, the old root among them.
 */
const sysPivotRoot: SyscallFn = (t, a) => {
  checkCapable(t);
  const newRoot = lookup(t, copyInPath(t, a.pointer(0)));
  if (!newRoot.isDir) throw ENOTDIR;
  let putOld = lookup(t, copyInPath(t, a.pointer(1)));
  if (!putOld.isDir) throw ENOTDIR;
  for (let over = putOld.mount.children.get(putOld.dentry); over !== undefined; over = putOld.mount.children.get(putOld.dentry)) {
    putOld = new Location(over, over.root);
  }
  const root = t.fs.root;
  const newMnt = newRoot.mount, rootMnt = root.mount, oldMnt = putOld.mount;
  if (oldMnt.shared || newMnt.parent?.shared || rootMnt.parent?.shared) throw EINVAL;
  if (!inCallerNs(t, rootMnt) || !inCallerNs(t, newMnt)) throw EINVAL;
  if (newMnt.locked) throw EINVAL;
  if (newRoot.dentry.unlinked) throw ENOENT;
  if (newMnt === rootMnt || oldMnt === rootMnt) throw EBUSY; // a loop on one filesystem
  if (root.dentry !== rootMnt.root) throw EINVAL; // the root is not a mount point
  if (newRoot.dentry !== newMnt.root || newMnt.parent === null) throw EINVAL; // new_root: not a mount point
  if (putOld.pathFrom(newRoot) === null) throw EINVAL; // put_old must be at or under new_root
  if (newRoot.pathFrom(root) === null) throw EINVAL; // new_root must be under the root
  const oldRoot = root;
  t.kernel.vfs.pivotRoot(t.fs.mntns!, newMnt, rootMnt, putOld);
  for (const task of t.kernel.tasks.values()) {
    const fs = task.fs;
    if (fs.root.equals(oldRoot)) fs.root = newRoot;
    if (fs.cwd.equals(oldRoot)) fs.cwd = newRoot;
  }
  return 0;
};

// ---- The mount API: fsopen, fsconfig, fsmount, move_mount, open_tree (fs/fsopen.c, namespace.c)

const FSOPEN_CLOEXEC = 0x1;
const FSCONFIG_SET_FLAG = 0, FSCONFIG_SET_STRING = 1, FSCONFIG_SET_BINARY = 2, FSCONFIG_SET_PATH = 3,
  FSCONFIG_SET_PATH_EMPTY = 4, FSCONFIG_SET_FD = 5, FSCONFIG_CMD_CREATE = 6, FSCONFIG_CMD_RECONFIGURE = 7,
  FSCONFIG_CMD_CREATE_EXCL = 8;
const FSMOUNT_CLOEXEC = 0x1;
const MOUNT_ATTR_RDONLY = 0x1, MOUNT_ATTR_NOSUID = 0x2, MOUNT_ATTR_NODEV = 0x4, MOUNT_ATTR_NOEXEC = 0x8;
const MOUNT_ATTR__ATIME = 0x70, MOUNT_ATTR_NOATIME = 0x10, MOUNT_ATTR_STRICTATIME = 0x20;
const MOUNT_ATTR_NODIRATIME = 0x80, MOUNT_ATTR_IDMAP = 0x100000, MOUNT_ATTR_NOSYMFOLLOW = 0x200000;
const MOVE_MOUNT_F_SYMLINKS = 0x1, MOVE_MOUNT_F_AUTOMOUNTS = 0x2, MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOVE_MOUNT_T_SYMLINKS = 0x10, MOVE_MOUNT_T_AUTOMOUNTS = 0x20, MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const MOVE_MOUNT_BENEATH = 0x200;
const OPEN_TREE_CLONE = 0x1, AT_RECURSIVE = 0x8000;
/** The types fsopen(2) knows (what mount(2) makes). */
const FS_TYPES = new Set(["tmpfs", "proc", "sysfs", "devtmpfs", "overlay", "mqueue", "cgroup2"]);
/** Superblock flags any filesystem takes through fsconfig (Linux's vfs_parse_sb_flag). */
const SB_FLAGS = new Set(["ro", "rw", "dirsync", "lazytime", "nolazytime", "mand", "nomand", "sync", "async", "silent"]);

/**
 * @savable (refused: not saved yet) A filesystem context from fsopen(2): its type and
 * parameters, then (FSCONFIG_CMD_CREATE) the filesystem, then (fsmount) its mount.
 */
export class FsContextFile extends AnonInodeFile {
  /** Immutable. */
  readonly fsType: string;
  /** Parameters in the order given, as mount(2)'s data ("key" or "key=value"). */
  readonly params: string[] = [];
  source: string | null = null;
  /** Superblock read-only ("ro"; "rw" clears it). */
  readonly_ = false;
  /** params: being configured; created: the filesystem exists; mounted: fsmount made its mount. */
  phase: "params" | "created" | "mounted" = "params";
  fs: Filesystem | null = null;
  mount: Mount | null = null;
  /** The kernel whose block device a created superblock holds (released with the context if never mounted). */
  readonly kernel: Kernel;

  constructor(fsType: string, flags: number, kernel: Kernel) {
    super("anon_inode:[fscontext]", flags);
    this.fsType = fsType;
    this.kernel = kernel;
  }

  /** A superblock created on a block device and never mounted lets the device go. */
  protected override release(): void {
    super.release();
    if (this.phase === "created" && isBlockFilesystem(this.fsType)) releaseUnmounted(this.kernel);
  }

  /** Nothing logged: reading the message log is ENODATA, as Linux with no messages. */
  override read(): number {
    throw ENODATA;
  }

  /** fscontext_fops has no poll operation: epoll_ctl is EPERM (LTP epoll_ctl06's fsopen and fspick). */
  override get epollable(): boolean {
    return false;
  }
}

/** Implements fsopen(2): a context for a new filesystem of a known type (ENODEV otherwise). */
const sysFsopen: SyscallFn = (t, a) => {
  const flags = a.uint(1);
  checkCapable(t);
  if (flags & ~FSOPEN_CLOEXEC) throw EINVAL;
  const type = t.copyInString(a.pointer(0), 4095);
  if (!FS_TYPES.has(type) && !isBlockFilesystem(type)) throw ENODEV;
  return t.fdTable.install(new FsContextFile(type, O_RDWR, t.kernel), (flags & FSOPEN_CLOEXEC) !== 0);
};

function fsContextOf(t: Task, fd: number): FsContextFile {
  const f = t.fdTable.get(fd);
  if (!(f instanceof FsContextFile)) throw EINVAL;
  return f;
}

/** A parameter the filesystem type refuses is EINVAL now, as Linux's parse_param. */
function checkParam(t: Task, ctx: FsContextFile, param: string): void {
  if (ctx.fsType === "tmpfs") tmpfsOptions(t, param);
}

/**
 * Implements fsconfig(2): SET_FLAG and SET_STRING of "source", the superblock flags and the
 * type's own parameters (checked as given); CMD_CREATE makes the filesystem (EBUSY a second
 * time); CMD_RECONFIGURE after fsmount applies ro/rw and tmpfs's nr_inodes. The binary, path and
 * fd kinds are EINVAL (no filesystem here takes them).
 */
const sysFsconfig: SyscallFn = (t, a) => {
  const fd = a.int(0);
  const cmd = a.uint(1), keyAddr = a.pointer(2), valueAddr = a.pointer(3), aux = a.int(4);
  // Linux checks the descriptor's sign, then each command's arguments, then the descriptor.
  if (fd < 0) throw EINVAL;
  const key = keyAddr !== 0, value = valueAddr !== 0;
  switch (cmd) {
    case FSCONFIG_SET_FLAG:
      if (!key || value || aux !== 0) throw EINVAL;
      break;
    case FSCONFIG_SET_STRING:
      if (!key || !value || aux !== 0) throw EINVAL;
      break;
    case FSCONFIG_SET_BINARY:
      if (!key || !value || aux <= 0 || aux > 1024 * 1024) throw EINVAL;
      break;
    case FSCONFIG_SET_PATH:
    case FSCONFIG_SET_PATH_EMPTY:
      if (!key || !value || (aux !== AT_FDCWD && aux < 0)) throw EINVAL;
      break;
    case FSCONFIG_SET_FD:
      if (!key || value || aux < 0) throw EINVAL;
      break;
    case FSCONFIG_CMD_CREATE:
    case FSCONFIG_CMD_RECONFIGURE:
    case FSCONFIG_CMD_CREATE_EXCL:
      if (key || value || aux !== 0) throw EINVAL;
      break;
    default:
      throw EOPNOTSUPP;
  }
  const ctx = fsContextOf(t, fd);
  switch (cmd === FSCONFIG_CMD_CREATE_EXCL ? FSCONFIG_CMD_CREATE : cmd) {
    case FSCONFIG_SET_FLAG:
    case FSCONFIG_SET_STRING: {
      if (keyAddr === 0 || aux !== 0) throw EINVAL;
      if ((cmd === FSCONFIG_SET_FLAG) !== (valueAddr === 0)) throw EINVAL;
      const key = t.copyInString(keyAddr, 255);
      const value = cmd === FSCONFIG_SET_STRING ? t.copyInString(valueAddr, 4095) : null;
      if (ctx.phase === "created") throw EBUSY;
      if (key === "source") {
        if (value === null || ctx.source !== null) throw EINVAL;
        ctx.source = value;
        return 0;
      }
      if (SB_FLAGS.has(key)) {
        // vfs_parse_sb_flag looks at the name only: a value given with it is ignored.
        if (key === "ro") ctx.readonly_ = true;
        else if (key === "rw") ctx.readonly_ = false;
        return 0;
      }
      // No filesystem takes an empty name (its parse_param's "Unknown parameter").
      if (key === "") throw EINVAL;
      const param = value === null ? key : `${key}=${value.replace(/,/g, "\\,")}`;
      checkParam(t, ctx, param);
      ctx.params.push(param);
      return 0;
    }
    case FSCONFIG_SET_BINARY:
    case FSCONFIG_SET_PATH:
    case FSCONFIG_SET_PATH_EMPTY:
    case FSCONFIG_SET_FD: {
      // The argument checks of fsconfig(2), then the value is taken (a path copied, a file
      // looked up) and handed to vfs_parse_fs_param: a superblock flag's name ("sync", "ro")
      // is one whatever the kind; "source" must be a string, and no filesystem here takes
      // another kind of value (EINVAL).
      if (keyAddr === 0) throw EINVAL;
      if (cmd === FSCONFIG_SET_BINARY) {
        if (valueAddr === 0 || aux <= 0 || aux > 1024 * 1024) throw EINVAL;
      } else if (cmd === FSCONFIG_SET_FD) {
        if (valueAddr !== 0 || aux < 0) throw EINVAL;
      } else if (valueAddr === 0 || (aux !== AT_FDCWD && aux < 0)) {
        throw EINVAL;
      }
      const key = t.copyInString(keyAddr, 255);
      if (cmd === FSCONFIG_SET_BINARY) t.copyIn(valueAddr, aux);
      else if (cmd === FSCONFIG_SET_FD) t.fdTable.get(aux);
      else if (copyInPath(t, valueAddr) === "" && cmd === FSCONFIG_SET_PATH) throw ENOENT; // getname without LOOKUP_EMPTY
      if (ctx.phase === "created") throw EBUSY;
      if (SB_FLAGS.has(key)) {
        if (key === "ro") ctx.readonly_ = true;
        else if (key === "rw") ctx.readonly_ = false;
        return 0;
      }
      throw EINVAL;
    }
    case FSCONFIG_CMD_CREATE: {
      if (keyAddr !== 0 || valueAddr !== 0 || aux !== 0) throw EINVAL;
      if (ctx.phase !== "params") throw EBUSY;
      checkCapable(t);
      if (isBlockFilesystem(ctx.fsType)) {
        const src = ctx.source === null ? null : lookup(t, ctx.source);
        ctx.fs = blockSuper(t, src, ctx.fsType, { readonly: ctx.readonly_, data: ctx.params.join(","), silent: false }).fs;
      } else {
        ctx.fs = newFilesystem(t, ctx.fsType, ctx.params.join(","));
      }
      ctx.phase = "created";
      return 0;
    }
    case FSCONFIG_CMD_RECONFIGURE: {
      if (keyAddr !== 0 || valueAddr !== 0 || aux !== 0) throw EINVAL;
      if (ctx.phase !== "mounted") throw EBUSY;
      checkCapable(t);
      const fs = ctx.fs!;
      if (fs instanceof TmpfsFilesystem) {
        const o = tmpfsOptions(t, ctx.params.join(","));
        if (ctx.params.some((p) => p.startsWith("nr_inodes="))) fs.maxInodes = o.maxInodes;
      }
      if (ctx.readonly_ && ctx.mount !== null && !ctx.mount.readonly && openForWrite(t, ctx.mount, true)) throw EBUSY;
      remountBlockSuper(t.kernel, fs, ctx.readonly_);
      if (ctx.mount !== null) ctx.mount.readonly = ctx.readonly_;
      return 0;
    }
    default:
      throw EINVAL;
  }
};

const FSPICK_CLOEXEC = 0x1, FSPICK_SYMLINK_NOFOLLOW = 0x2, FSPICK_NO_AUTOMOUNT = 0x4, FSPICK_EMPTY_PATH = 0x8;

/**
 * Implements fspick(2): a context for reconfiguring the superblock of the mount whose root the
 * path names (EINVAL for any other place or unknown flags), ready for CMD_RECONFIGURE.
 */
const sysFspick: SyscallFn = (t, a) => {
  const dirfd = a.int(0), flags = a.uint(2);
  checkCapable(t);
  if (flags & ~(FSPICK_CLOEXEC | FSPICK_SYMLINK_NOFOLLOW | FSPICK_NO_AUTOMOUNT | FSPICK_EMPTY_PATH)) throw EINVAL;
  const loc = mountPathArg(t, dirfd, a.pointer(1), (flags & FSPICK_EMPTY_PATH) !== 0, (flags & FSPICK_SYMLINK_NOFOLLOW) === 0);
  if (loc.dentry !== loc.mount.root) throw EINVAL;
  const ctx = new FsContextFile(loc.mount.fs.name, O_RDWR, t.kernel);
  ctx.fs = loc.mount.fs;
  ctx.mount = loc.mount;
  ctx.readonly_ = loc.mount.readonly;
  ctx.phase = "mounted";
  return t.fdTable.install(ctx, (flags & FSPICK_CLOEXEC) !== 0);
};

/** Mount flags (Mount.readonly aside) from MOUNT_ATTR_* bits. */
function attrMountFlags(attr: number): number {
  let f = 0;
  if (attr & MOUNT_ATTR_NOSUID) f |= MS_NOSUID;
  if (attr & MOUNT_ATTR_NODEV) f |= MS_NODEV;
  if (attr & MOUNT_ATTR_NOEXEC) f |= MS_NOEXEC;
  if (attr & MOUNT_ATTR_NODIRATIME) f |= MS_NODIRATIME;
  if (attr & MOUNT_ATTR_NOSYMFOLLOW) f |= MS_NOSYMFOLLOW;
  if ((attr & MOUNT_ATTR__ATIME) === MOUNT_ATTR_NOATIME) f |= MS_NOATIME;
  if ((attr & MOUNT_ATTR__ATIME) === MOUNT_ATTR_STRICTATIME) f |= MS_STRICTATIME;
  return f;
}

/**
 * Implements fsmount(2): a detached mount of the context's filesystem, as an O_PATH descriptor
 * of its root (usable as a dirfd, attached by move_mount). EINVAL before CMD_CREATE, EBUSY the
 * second time; MOUNT_ATTR_IDMAP is not supported (EINVAL).
 */
const sysFsmount: SyscallFn = (t, a) => {
  const flags = a.uint(1), attr = a.uint(2);
  checkCapable(t);
  if (flags & ~FSMOUNT_CLOEXEC) throw EINVAL;
  const known = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR__ATIME |
    MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW;
  if (attr & ~known) throw EINVAL;
  const atime = attr & MOUNT_ATTR__ATIME;
  if (atime !== 0 && atime !== MOUNT_ATTR_NOATIME && atime !== MOUNT_ATTR_STRICTATIME) throw EINVAL;
  void MOUNT_ATTR_IDMAP;
  const ctx = fsContextOf(t, a.fd(0));
  if (ctx.fs === null) throw EINVAL;
  if (ctx.phase !== "created") throw EBUSY;
  const m = t.kernel.vfs.detachedMount(ctx.fs, {
    readonly: ctx.readonly_ || (attr & MOUNT_ATTR_RDONLY) !== 0, flags: attrMountFlags(attr),
    source: ctx.source ?? "none",
  });
  ctx.mount = m;
  ctx.phase = "mounted";
  return t.fdTable.install(new OPathFile(new Location(m, m.root), O_PATH), (flags & FSMOUNT_CLOEXEC) !== 0);
};

/** The location a move_mount or open_tree path names: the fd's own with an empty path and the flag. */
function mountPathArg(t: Task, dirfd: number, pathAddr: number, emptyPath: boolean, follow: boolean): Location {
  const path = copyInPath(t, pathAddr, emptyPath);
  if (path === "" && emptyPath) {
    if (dirfd === AT_FDCWD) return t.fs.cwd;
    const loc = t.fdTable.get(dirfd).location();
    if (loc === null) throw EINVAL;
    return loc;
  }
  return t.kernel.vfs.resolve(pathCtx(t), startDir(t, dirfd, path), path, { follow });
}

/**
 * Moves the mount `from` (the root of a mount) onto `to`, as do_move_mount: a detached mount
 * must be the root of its tree; an attached one must be in the tree, not the root, not under a
 * shared parent; nothing moves under itself (ELOOP); a directory on a directory (EINVAL).
 */
function moveMount(t: Task, from: Location, to: Location): void {
  const m = from.mount;
  if (from.dentry !== m.root || m.umounted || m.locked) throw EINVAL;
  const vfs = t.kernel.vfs;
  const attached = vfs.isAttached(m);
  if (attached && !inCallerNs(t, m)) throw EINVAL;
  if (!attached && m.parent !== null) throw EINVAL;
  // An attached mount stays in the tree; a detached one may go onto another detached tree.
  if (attached && !inCallerNs(t, to.mount)) throw EINVAL;
  if (to.mount.ns !== null && !inCallerNs(t, to.mount)) throw EINVAL;
  // A directory on a directory, a file on a file: EINVAL otherwise (do_move_mount; not ENOTDIR).
  if (from.isDir !== to.isDir) throw EINVAL;
  if (attached && m.parent?.shared) throw EINVAL;
  // A tree holding an unbindable mount would be copied to a shared parent's peers (tree_contains_unbindable).
  if (to.mount.shared && vfs.treeHasUnbindable(m)) throw EINVAL;
  // Nothing moves under itself. The namespace's root (its parent, rootfs natively, out of
  // sight here) has everything under it: ELOOP, as for the root mount of a container natively.
  for (let x: Mount | null = to.mount; x !== null; x = x.parent) if (x === m) throw ELOOP;
  vfs.moveMount(m, to);
}

/** Implements move_mount(2). */
const sysMoveMount: SyscallFn = (t, a) => {
  const flags = a.uint(4);
  const known = MOVE_MOUNT_F_SYMLINKS | MOVE_MOUNT_F_AUTOMOUNTS | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS |
    MOVE_MOUNT_T_AUTOMOUNTS | MOVE_MOUNT_T_EMPTY_PATH | MOVE_MOUNT_BENEATH;
  if (flags & ~known) throw EINVAL;
  checkCapable(t);
  const from = mountPathArg(t, a.fd(0), a.pointer(1), (flags & MOVE_MOUNT_F_EMPTY_PATH) !== 0, (flags & MOVE_MOUNT_F_SYMLINKS) !== 0);
  const to = mountPathArg(t, a.fd(2), a.pointer(3), (flags & MOVE_MOUNT_T_EMPTY_PATH) !== 0, (flags & MOVE_MOUNT_T_SYMLINKS) !== 0);
  if (flags & MOVE_MOUNT_BENEATH) moveMountBeneath(t, from, to);
  else moveMount(t, from, to);
  return 0;
};

/**
 * MOVE_MOUNT_BENEATH: `from` goes between the mount at `to` (which must be a mount's root, the
 * top of its stack) and its parent: do_move_mount's checks, then can_move_mount_beneath's (EINVAL
 * for a target without a parent, locked, the caller's root mount, one `from` is under, or a
 * source something is mounted on). Propagation that would mount over the target is not checked.
 */
function moveMountBeneath(t: Task, from: Location, to: Location): void {
  const m = from.mount, top = to.mount;
  if (from.dentry !== m.root || m.umounted || m.locked) throw EINVAL;
  if (to.dentry !== top.root) throw EINVAL;
  const vfs = t.kernel.vfs;
  const attached = vfs.isAttached(m);
  if (attached && !inCallerNs(t, m)) throw EINVAL;
  if (!attached && m.parent !== null) throw EINVAL;
  if (!inCallerNs(t, top)) throw EINVAL;
  if (from.isDir !== to.isDir) throw EINVAL;
  if (attached && m.parent?.shared) throw EINVAL;
  if (top.parent === null || top.mountpoint === null || top.locked) throw EINVAL;
  if (m.children.has(m.root)) throw EINVAL;
  if (top === t.fs.root.mount) throw EINVAL;
  for (let x: Mount | null = m; x !== null; x = x.parent) if (x === top) throw EINVAL;
  for (let x: Mount | null = top.parent; x !== null; x = x.parent) if (x === m) throw ELOOP;
  vfs.moveMountBeneath(m, top);
}

/**
 * A detached copy of the mount at loc (a bind of loc's subtree, Linux's __do_loopback), with the
 * submounts under it when recursive. EINVAL for an unbindable mount.
 */
function cloneTree(t: Task, loc: Location, recursive: boolean): Mount {
  if (loc.mount.unbindable) throw EINVAL;
  if (!recursive && hasLockedChildren(loc)) throw EINVAL;
  return t.kernel.vfs.cloneDetached(loc, recursive);
}

/**
 * Implements open_tree(2): an O_PATH descriptor of the path, or with OPEN_TREE_CLONE (which
 * needs CAP_SYS_ADMIN) of a detached copy of its mount from there (and with AT_RECURSIVE of
 * the submounts under it). EINVAL for a mount already unmounted.
 */
const sysOpenTree: SyscallFn = (t, a) => {
  const flags = a.uint(2);
  const known = OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW;
  if (flags & ~known) throw EINVAL;
  if ((flags & AT_RECURSIVE) && !(flags & OPEN_TREE_CLONE)) throw EINVAL;
  if (flags & OPEN_TREE_CLONE) checkCapable(t);
  const loc = mountPathArg(t, a.fd(0), a.pointer(1), (flags & AT_EMPTY_PATH) !== 0, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  let at = loc;
  if (flags & OPEN_TREE_CLONE) {
    if (loc.mount.umounted) throw EINVAL;
    const m = cloneTree(t, loc, (flags & AT_RECURSIVE) !== 0);
    at = new Location(m, m.root);
  }
  return t.fdTable.install(new OPathFile(at, O_PATH), (flags & O_CLOEXEC) !== 0);
};

/** struct mount_attr's size (MOUNT_ATTR_SIZE_VER0): attr_set, attr_clr, propagation, userns_fd. */
const MOUNT_ATTR_SIZE_VER0 = 32;
const MOUNT_ATTR_RELATIME = 0;
const MOUNT_SETATTR_VALID_FLAGS = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
  MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSYMFOLLOW;

/**
 * Implements mount_setattr(2), in Linux's order: the flags (EINVAL), the size (E2BIG past a
 * page, EINVAL below VER0), CAP_SYS_ADMIN over the caller's mount namespace (EPERM), the struct
 * (copy_struct_from_user: E2BIG for non-zero bytes past it); a request that changes nothing
 * returns 0 without even looking the path up; then the propagation (one type at most) and
 * attributes (an atime mode only with all of MOUNT_ATTR__ATIME cleared) are checked (EINVAL),
 * the path looked up, which must be a mount's root (EINVAL) in the caller's namespace or the
 * root of a detached tree; flags locked by a copy into a less privileged namespace are EPERM.
 * The attributes change on the mount (with AT_RECURSIVE, on every mount under it too), then
 * the propagation. MOUNT_ATTR_IDMAP is not supported (EINVAL).
 */
const sysMountSetattr: SyscallFn = (t, a) => {
  const dirfd = a.int(0), pathAddr = a.pointer(1), flags = a.uint(2), attrAddr = a.pointer(3), size = a.sizeT(4);
  if (flags & ~(AT_EMPTY_PATH | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) throw EINVAL;
  if (size > 4096) throw E2BIG;
  if (size < MOUNT_ATTR_SIZE_VER0) throw EINVAL;
  checkCapable(t);
  const raw = t.copyIn(attrAddr, size);
  if (raw.subarray(MOUNT_ATTR_SIZE_VER0).some((b) => b !== 0)) throw E2BIG;
  const v = new DataView(raw.buffer, raw.byteOffset);
  const set = Number(v.getBigUint64(0, true) & 0xffff_ffffn), clr = Number(v.getBigUint64(8, true) & 0xffff_ffffn);
  const setHigh = v.getBigUint64(0, true) >> 32n, clrHigh = v.getBigUint64(8, true) >> 32n;
  const propagation = v.getBigUint64(16, true);
  if (set === 0 && clr === 0 && setHigh === 0n && clrHigh === 0n && propagation === 0n) return 0;
  // build_mount_kattr
  if (propagation & ~BigInt(MS_PROPAGATION)) throw EINVAL;
  const prop = Number(propagation);
  if ((prop & (prop - 1)) !== 0) throw EINVAL;
  if (setHigh !== 0n || clrHigh !== 0n || ((set | clr) & ~MOUNT_SETATTR_VALID_FLAGS)) throw EINVAL;
  let setFlags = attrMountFlags(set & ~MOUNT_ATTR__ATIME), clrFlags = attrMountFlags(clr & ~MOUNT_ATTR__ATIME);
  if (clr & MOUNT_ATTR__ATIME) {
    if ((clr & MOUNT_ATTR__ATIME) !== MOUNT_ATTR__ATIME) throw EINVAL;
    clrFlags |= MS_NOATIME | MS_STRICTATIME;
    const atime = set & MOUNT_ATTR__ATIME;
    if (atime === MOUNT_ATTR_NOATIME) setFlags |= MS_NOATIME;
    else if (atime === MOUNT_ATTR_STRICTATIME) setFlags |= MS_STRICTATIME;
    else if (atime !== MOUNT_ATTR_RELATIME) throw EINVAL;
  } else if (set & MOUNT_ATTR__ATIME) {
    throw EINVAL;
  }
  if (set & MOUNT_ATTR_IDMAP) throw EINVAL;
  const loc = mountPathArg(t, dirfd, pathAddr, (flags & AT_EMPTY_PATH) !== 0, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  const m = loc.mount;
  if (loc.dentry !== m.root) throw EINVAL;
  const vfs = t.kernel.vfs;
  const detachedRoot = !vfs.isAttached(m) && m.parent === null && !m.umounted;
  if (!detachedRoot && !inCallerNs(t, m)) throw EINVAL;
  const targets = (flags & AT_RECURSIVE) ? vfs.subtreeOf(m) : [m];
  const next = targets.map((x) => ({
    x,
    readonly: (x.readonly && !(clr & MOUNT_ATTR_RDONLY)) || (set & MOUNT_ATTR_RDONLY) !== 0,
    flags: (x.flags & ~clrFlags) | setFlags,
  }));
  // mount_setattr_prepare: every mount may change before any does.
  for (const n of next) if (!mayChangeLockedFlags(n.x, n.readonly, n.flags)) throw EPERM;
  for (const n of next) {
    n.x.readonly = n.readonly;
    n.x.flags = n.flags;
  }
  if (prop !== 0) {
    const kind = prop === MS_SHARED ? "shared" : prop === MS_SLAVE ? "slave" : prop === MS_PRIVATE ? "private" : "unbindable";
    vfs.setPropagation(m, kind, (flags & AT_RECURSIVE) !== 0);
  }
  m.ns?.changed();
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  442: partial("mount_setattr", sysMountSetattr, "no MOUNT_ATTR_IDMAP"),
  428: supported("open_tree", sysOpenTree),
  433: partial("fspick", sysFspick, "CMD_RECONFIGURE changes ro/rw"),
  429: partial("move_mount", sysMoveMount, "no MOVE_MOUNT_SET_GROUP"),
  430: supported("fsopen", sysFsopen),
  431: partial("fsconfig", sysFsconfig, "flags and strings; no binary, path or fd parameters"),
  432: partial("fsmount", sysFsmount, "no MOUNT_ATTR_IDMAP"),
  155: supported("pivot_root", sysPivotRoot),
  161: supported("chroot", sysChroot),
  165: partial("mount", sysMount, "proc, sysfs, devtmpfs, devpts (its mode and owner options not applied), tmpfs, cgroup2, overlay (one lower layer), bind, remount, move, propagation"),
  166: partial("umount2", sysUmount2, "MNT_EXPIRE always fails with EAGAIN"),
};
