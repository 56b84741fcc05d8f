/**
 * statmount(2) and listmount(2) (Linux 6.8+, fs/namespace.c as of 6.18): a mount's attributes by
 * its unique 64-bit id (statx's STATX_MNT_ID_UNIQUE, vfs/mount.ts uniqueId), and the ids of the
 * mounts below one, in a mount namespace the caller is in, names by descriptor (mnt_ns_fd) or by
 * id (mnt_ns_id, STATMOUNT_MNT_NS_ID's). A mount the caller's root cannot reach is EPERM without
 * CAP_SYS_ADMIN over the namespace's owner, as Linux's is_path_reachable check.
 */

import { encodePath } from "../../../abi/path_bytes.ts";
import { E2BIG, EFAULT, EINVAL, ENOENT, EOVERFLOW, EPERM } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { CLONE_NEWNS } from "../../task_clone.ts";
import { nsfsTarget } from "../../nsfs.ts";
import { mayMount } from "../../fs_context.ts";
import { Location, type Mount, type MountNamespace } from "../../../vfs/mod.ts";
import { MNT_UNIQUE_ID_OFFSET } from "../../../vfs/mount.ts";
import {
  MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_NOSYMFOLLOW, MS_PRIVATE, MS_SHARED, MS_SLAVE,
  MS_STRICTATIME, MS_UNBINDABLE,
} from "../../../abi/linux/mount.ts";
import { TASK_SIZE } from "../../../abi/linux/mm.ts";
import { devMajorMinor } from "./sys_stat.ts";
import { subtreePath } from "../../../vfs/procfs/render.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const MNT_ID_REQ_SIZE_VER0 = 24, MNT_ID_REQ_SIZE_VER1 = 32;
const LSMT_ROOT = 0xffff_ffff_ffff_ffffn;
const LISTMOUNT_REVERSE = 1;

const STATMOUNT_SB_BASIC = 0x1, STATMOUNT_MNT_BASIC = 0x2, STATMOUNT_PROPAGATE_FROM = 0x4, STATMOUNT_MNT_ROOT = 0x8,
  STATMOUNT_MNT_POINT = 0x10, STATMOUNT_FS_TYPE = 0x20, STATMOUNT_MNT_NS_ID = 0x40, STATMOUNT_MNT_OPTS = 0x80,
  STATMOUNT_FS_SUBTYPE = 0x100, STATMOUNT_SB_SOURCE = 0x200, STATMOUNT_OPT_ARRAY = 0x400,
  STATMOUNT_OPT_SEC_ARRAY = 0x800, STATMOUNT_SUPPORTED_MASK = 0x1000, STATMOUNT_MNT_UIDMAP = 0x2000,
  STATMOUNT_MNT_GIDMAP = 0x4000;
const STATMOUNT_SUPPORTED = 0x7fff;
/** The requests that write strings after the struct (STATMOUNT_STRING_REQ). */
const STATMOUNT_STRING_REQ = STATMOUNT_MNT_ROOT | STATMOUNT_MNT_POINT | STATMOUNT_FS_TYPE | STATMOUNT_MNT_OPTS |
  STATMOUNT_FS_SUBTYPE | STATMOUNT_SB_SOURCE | STATMOUNT_OPT_ARRAY | STATMOUNT_OPT_SEC_ARRAY | STATMOUNT_MNT_UIDMAP |
  STATMOUNT_MNT_GIDMAP;

const MOUNT_ATTR_RDONLY = 0x1, MOUNT_ATTR_NOSUID = 0x2, MOUNT_ATTR_NODEV = 0x4, MOUNT_ATTR_NOEXEC = 0x8,
  MOUNT_ATTR_NOATIME = 0x10, MOUNT_ATTR_STRICTATIME = 0x20, MOUNT_ATTR_NODIRATIME = 0x80,
  MOUNT_ATTR_NOSYMFOLLOW = 0x200000;
const SB_RDONLY = 1;

/** struct statmount: 512 bytes, then the strings. */
const SM_SIZE = 512;
const SM = {
  size: 0, mntOpts: 4, mask: 8, sbDevMajor: 16, sbDevMinor: 20, sbMagic: 24, sbFlags: 32, fsType: 36, mntId: 40,
  mntParentId: 48, mntIdOld: 56, mntParentIdOld: 60, mntAttr: 64, mntPropagation: 72, mntPeerGroup: 80, mntMaster: 88,
  propagateFrom: 96, mntRoot: 104, mntPoint: 108, mntNsId: 112, fsSubtype: 120, sbSource: 124, optNum: 128,
  optArray: 132, optSecNum: 136, optSecArray: 140, supportedMask: 144, mntUidmapNum: 152, mntUidmap: 156,
  mntGidmapNum: 160, mntGidmap: 164,
} as const;

/** struct mnt_id_req, as copy_mnt_id_req reads it. */
interface MntIdReq {
  mntNsFd: number;
  mntId: bigint;
  param: bigint;
  mntNsId: bigint;
}

/**
 * copy_mnt_id_req: the size first (EFAULT unreadable, E2BIG past a page, EINVAL below VER0),
 * then copy_struct_from_user (bytes past VER1 must be zero: E2BIG), then the mount id (EINVAL
 * at or below MNT_UNIQUE_ID_OFFSET: not a unique id).
 */
function copyMntIdReq(t: Task, addr: number): MntIdReq {
  if (addr === 0) throw EFAULT;
  const size = new DataView(t.copyIn(addr, 4).buffer).getUint32(0, true);
  if (size > 4096) throw E2BIG;
  if (size < MNT_ID_REQ_SIZE_VER0) throw EINVAL;
  const raw = t.copyIn(addr, size);
  if (size > MNT_ID_REQ_SIZE_VER1 && raw.subarray(MNT_ID_REQ_SIZE_VER1).some((b) => b !== 0)) throw E2BIG;
  const b = new Uint8Array(MNT_ID_REQ_SIZE_VER1);
  b.set(raw.subarray(0, MNT_ID_REQ_SIZE_VER1));
  const v = new DataView(b.buffer);
  const req = { mntNsFd: v.getUint32(4, true), mntId: v.getBigUint64(8, true), param: v.getBigUint64(16, true), mntNsId: v.getBigUint64(24, true) };
  if (req.mntId <= BigInt(MNT_UNIQUE_ID_OFFSET)) throw EINVAL;
  return req;
}

/** The caller's mount namespace. */
function ownNs(t: Task): MountNamespace {
  return t.fs.mntns ?? t.kernel.vfs.initNs;
}

/** The mount namespace of id `id` (STATMOUNT_MNT_NS_ID's number: its nsfs inode) some task is in, or null. */
function namespaceById(t: Task, id: bigint): MountNamespace | null {
  const own = ownNs(t);
  if (BigInt(own.ino) === id) return own;
  for (const x of t.kernel.tasks.values()) {
    const ns = x.fs.mntns ?? t.kernel.vfs.initNs;
    if (BigInt(ns.ino) === id) return ns;
  }
  return null;
}

/**
 * grab_requested_mnt_ns: the namespace by id (ENOENT when there is none; EINVAL with a
 * descriptor too), by a /proc/PID/ns/mnt descriptor (EBADF, EINVAL for another file or type),
 * or the caller's; then ENOENT for another namespace by id without CAP_SYS_ADMIN over it.
 */
function requestedNs(t: Task, req: MntIdReq): MountNamespace {
  if (req.mntNsId !== 0n && req.mntNsFd !== 0) throw EINVAL;
  let ns: MountNamespace;
  if (req.mntNsId !== 0n) {
    const found = namespaceById(t, req.mntNsId);
    if (found === null) throw ENOENT;
    ns = found;
  } else if (req.mntNsFd !== 0) {
    const f = t.fdTable.get(req.mntNsFd | 0);
    const loc = f.location();
    const n = loc === null ? null : nsfsTarget(t.kernel, loc);
    if (n === null || n.type !== CLONE_NEWNS) throw EINVAL;
    ns = n.ns as MountNamespace;
  } else {
    ns = ownNs(t);
  }
  if (req.mntNsId !== 0n && ns !== ownNs(t) && !mayMount(t.creds, ns)) throw ENOENT;
  return ns;
}

/** lookup_mnt_in_ns: the mount of unique id `id` in ns's tree, or null. */
function mountById(ns: MountNamespace, id: bigint): Mount | null {
  for (const m of ns.mounts()) if (BigInt(m.uniqueId) === id) return m;
  return null;
}

/**
 * grab_requested_root: the caller's root for its own namespace; for another, the first mount
 * on that namespace's root (ENOENT when it has none).
 */
function requestedRoot(t: Task, ns: MountNamespace): Location {
  if (ns === ownNs(t)) return t.fs.root;
  const first = [...ns.root.children.values()].sort((a, b) => a.uniqueId - b.uniqueId)[0];
  if (first === undefined) throw ENOENT;
  return new Location(first, first.root);
}

/** is_path_reachable: whether loc lies under root (through the mount tree). */
function reachable(loc: Location, root: Location): boolean {
  return loc.pathFrom(root) !== null;
}

/** mnt_to_attr_flags. */
function attrFlags(m: Mount): number {
  let a = 0;
  if (m.readonly) a |= MOUNT_ATTR_RDONLY;
  if (m.flags & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (m.flags & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (m.flags & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (m.flags & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  if (m.flags & MS_NOSYMFOLLOW) a |= MOUNT_ATTR_NOSYMFOLLOW;
  // MOUNT_ATTR_RELATIME is 0: the default.
  if (m.flags & MS_NOATIME) a |= MOUNT_ATTR_NOATIME;
  else if (m.flags & MS_STRICTATIME) a |= MOUNT_ATTR_STRICTATIME;
  return a;
}

/** mnt_to_propagation_flags. */
function propagationFlags(m: Mount): number {
  let p = 0;
  if (m.shared) p |= MS_SHARED;
  if (m.master !== null) p |= MS_SLAVE;
  if (m.unbindable) p |= MS_UNBINDABLE;
  return p === 0 ? MS_PRIVATE : p;
}

/**
 * get_dominating_id: the peer group of the closest master (up the chain) with a member in m's
 * namespace that root reaches; 0 for none.
 */
function dominatingId(m: Mount, root: Location): number {
  for (let x = m.master; x !== null; x = x.master) {
    for (const member of x.group?.members ?? [x]) {
      if (member.ns === m.ns && reachable(new Location(member, member.root), root)) return x.peerGroup;
    }
  }
  return 0;
}

/** The device number a mount's files show (mountinfo's major:minor). */
function mountDev(m: Mount): number {
  try {
    return m.root.stat().dev;
  } catch {
    return 0;
  }
}


/** Implements statmount(2). */
const sysStatmount: SyscallFn = (t, a) => {
  const buf = a.pointer(1), bufsize = a.sizeT(2), flags = a.uint(3);
  if (flags !== 0) throw EINVAL;
  const req = copyMntIdReq(t, a.pointer(0));
  const ns = requestedNs(t, req);
  // prepare_kstatmount: access_ok, and room for strings past the struct.
  if (buf + bufsize > TASK_SIZE || buf + bufsize < buf) throw EFAULT;
  // Bits past the known requests ask for nothing.
  const mask = Number(req.param & BigInt(STATMOUNT_SUPPORTED));
  if ((mask & STATMOUNT_STRING_REQ) && bufsize === SM_SIZE) throw EOVERFLOW;
  const m = mountById(ns, req.mntId);
  if (m === null) throw ENOENT;
  const root = requestedRoot(t, ns);
  if (!reachable(new Location(m, m.root), root) && !mayMount(t.creds, ns)) throw EPERM;

  const sm = new Uint8Array(SM_SIZE);
  const v = new DataView(sm.buffer);
  let smMask = 0n;
  const set64 = (off: number, x: number | bigint) => v.setBigUint64(off, BigInt(x), true);
  if (mask & STATMOUNT_MNT_BASIC) {
    smMask |= BigInt(STATMOUNT_MNT_BASIC);
    const parent = m.parent ?? m;
    set64(SM.mntId, m.uniqueId);
    set64(SM.mntParentId, parent.uniqueId);
    v.setUint32(SM.mntIdOld, m.id, true);
    v.setUint32(SM.mntParentIdOld, parent.id, true);
    set64(SM.mntAttr, attrFlags(m));
    set64(SM.mntPropagation, propagationFlags(m));
    set64(SM.mntPeerGroup, m.peerGroup);
    set64(SM.mntMaster, m.master?.peerGroup ?? 0);
  }
  if (mask & STATMOUNT_SB_BASIC) {
    smMask |= BigInt(STATMOUNT_SB_BASIC);
    const [major, minor] = devMajorMinor(mountDev(m));
    v.setUint32(SM.sbDevMajor, major, true);
    v.setUint32(SM.sbDevMinor, minor, true);
    set64(SM.sbMagic, t.kernel.vfs.statfs(new Location(m, m.root)).type);
    v.setUint32(SM.sbFlags, m.fs.readonly || m.fs.superReadonly ? SB_RDONLY : 0, true);
  }
  if (mask & STATMOUNT_PROPAGATE_FROM) {
    smMask |= BigInt(STATMOUNT_PROPAGATE_FROM);
    if (m.master !== null) set64(SM.propagateFrom, dominatingId(m, t.fs.root));
  }

  // The strings (statmount_string): an empty one first for offsets left unset, then each
  // requested one that is not empty, NUL-terminated, at the offset its field records.
  const seq: number[] = [];
  const opts = m.fs.showOptions?.() ?? "";
  const emit = (flag: number, field: number | null, bytes: Uint8Array | null): void => {
    if (seq.length === 0) seq.push(0);
    const start = seq.length;
    if (flag === STATMOUNT_MNT_UIDMAP || flag === STATMOUNT_MNT_GIDMAP) v.setUint32(field!, start, true);
    if (bytes === null || bytes.length === 0) return;
    if (SM_SIZE + seq.length + bytes.length >= bufsize) throw EOVERFLOW;
    for (const x of bytes) seq.push(x);
    seq.push(0);
    smMask |= BigInt(flag);
    if (field !== null) v.setUint32(field, start, true);
  };
  const str = (s: string | null) => s === null ? null : encodePath(s);
  if (mask & STATMOUNT_FS_TYPE) emit(STATMOUNT_FS_TYPE, SM.fsType, str(m.fs.name));
  if (mask & STATMOUNT_SB_SOURCE) emit(STATMOUNT_SB_SOURCE, SM.sbSource, str(m.source));
  if (mask & STATMOUNT_MNT_ROOT) emit(STATMOUNT_MNT_ROOT, SM.mntRoot, str(subtreePath(m)));
  if (mask & STATMOUNT_MNT_POINT) emit(STATMOUNT_MNT_POINT, SM.mntPoint, str(new Location(m, m.root).pathFrom(root)));
  if (mask & STATMOUNT_MNT_OPTS) emit(STATMOUNT_MNT_OPTS, SM.mntOpts, str(opts));
  if (mask & STATMOUNT_OPT_ARRAY) {
    // Each option NUL-terminated; the last one's NUL is the string's own.
    const list = opts === "" ? [] : opts.split(",");
    if (list.length > 0) v.setUint32(SM.optNum, list.length, true);
    emit(STATMOUNT_OPT_ARRAY, SM.optArray, list.length === 0 ? null : str(list.join("\0")));
  }
  if (mask & STATMOUNT_OPT_SEC_ARRAY) emit(STATMOUNT_OPT_SEC_ARRAY, SM.optSecArray, null);
  if (mask & STATMOUNT_FS_SUBTYPE) emit(STATMOUNT_FS_SUBTYPE, SM.fsSubtype, null);
  if (mask & STATMOUNT_MNT_UIDMAP) emit(STATMOUNT_MNT_UIDMAP, SM.mntUidmap, null);
  if (mask & STATMOUNT_MNT_GIDMAP) emit(STATMOUNT_MNT_GIDMAP, SM.mntGidmap, null);
  if (mask & STATMOUNT_MNT_NS_ID) {
    smMask |= BigInt(STATMOUNT_MNT_NS_ID);
    set64(SM.mntNsId, ns.ino);
  }
  if (mask & STATMOUNT_SUPPORTED_MASK) {
    smMask |= BigInt(STATMOUNT_SUPPORTED_MASK);
    set64(SM.supportedMask, STATMOUNT_SUPPORTED);
  }
  set64(SM.mask, smMask);
  // copy_statmount_to_user: the strings, then as much of the struct as fits, its size the bytes written.
  if (seq.length > 0) t.copyOut(buf + SM_SIZE, new Uint8Array(seq));
  const copy = Math.min(bufsize, SM_SIZE);
  v.setUint32(SM.size, copy + seq.length, true);
  if (copy > 0) t.copyOut(buf, sm.subarray(0, copy));
  return 0;
};

/** Implements listmount(2). */
const sysListmount: SyscallFn = (t, a) => {
  const ids = a.pointer(1), nr = a.sizeT(2), flags = a.uint(3);
  if (flags & ~LISTMOUNT_REVERSE) throw EINVAL;
  // More than a million mounts must be listed piece by piece.
  if (nr > 1_000_000) throw EOVERFLOW;
  if (ids + nr * 8 > TASK_SIZE) throw EFAULT;
  const req = copyMntIdReq(t, a.pointer(0));
  const last = req.param;
  // The first valid unique mount id is MNT_UNIQUE_ID_OFFSET + 1.
  if (last !== 0n && last <= BigInt(MNT_UNIQUE_ID_OFFSET)) throw EINVAL;
  const ns = requestedNs(t, req);
  // do_listmount
  const root = requestedRoot(t, ns);
  let orig: Location;
  if (req.mntId === LSMT_ROOT) {
    orig = root;
  } else {
    const m = mountById(ns, req.mntId);
    if (m === null) throw ENOENT;
    orig = new Location(m, m.root);
  }
  if (!reachable(orig, root) && !mayMount(t.creds, ns)) throw EPERM;
  const reverse = (flags & LISTMOUNT_REVERSE) !== 0;
  const all = ns.mounts().sort((x, y) => reverse ? y.uniqueId - x.uniqueId : x.uniqueId - y.uniqueId);
  const out: bigint[] = [];
  for (const m of all) {
    if (out.length >= nr) break;
    const id = BigInt(m.uniqueId);
    if (last !== 0n && (reverse ? id >= last : id <= last)) continue;
    if (id === req.mntId) continue;
    if (!reachable(new Location(m, m.root), orig)) continue;
    out.push(id);
  }
  if (out.length === 0) return 0;
  const b = new Uint8Array(out.length * 8);
  const v = new DataView(b.buffer);
  out.forEach((x, i) => v.setBigUint64(i * 8, x, true));
  t.copyOut(ids, b);
  return out.length;
};

export const table: Record<number, SyscallEntry> = {
  457: supported("statmount", sysStatmount),
  458: supported("listmount", sysListmount),
};
