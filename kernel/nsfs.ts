/**
 * The kernel's side of nsfs (Linux's fs/nsfs.c): which namespace a /proc/PID/ns descriptor
 * stands for, shared by setns(2) (kernel/syscalls/linux/sys_clone.ts) and the NS_GET_* ioctls
 * that walk the namespace tree (lsns, container tools): a namespace's owning user namespace, a
 * PID or user namespace's parent, its type, a user namespace's owner uid.
 *
 * @module
 */

import { EINVAL, ENOTTY, EPERM } from "./errno.ts";
import type { Kernel } from "./kernel.ts";
import type { Task } from "./task.ts";
import { INIT_USER_NS, UserNamespace } from "./user_namespace.ts";
import { UtsNamespace } from "./uts.ts";
import { INIT_TIME_NS, TimeNamespace } from "./time_namespace.ts";
import { IpcNamespace } from "./ipc.ts";
import { Net } from "./net.ts";
import { PidNamespace, ROOT_PID_NS } from "./pid_namespace.ts";
import { type Location, MountNamespace } from "../vfs/mod.ts";
import { nsfsLocation, nsfsNamespace } from "../vfs/procfs/procfs.ts";
import { CGROUP_NS_INIT_INO, type CgroupNamespace } from "../vfs/cgroupfs/cgroupfs.ts";
import {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS,
} from "./task_clone.ts";
import { O_RDONLY } from "../abi/linux/file.ts";

/** The CLONE_NEW* flag of each nsfs type name. */
const NS_TYPES: Record<string, number> = {
  mnt: CLONE_NEWNS, uts: CLONE_NEWUTS, ipc: CLONE_NEWIPC, net: CLONE_NEWNET, pid: CLONE_NEWPID,
  cgroup: CLONE_NEWCGROUP, user: CLONE_NEWUSER, time: CLONE_NEWTIME,
};

/** One namespace, as an nsfs inode names it. */
export type NsfsTarget =
  | { type: typeof CLONE_NEWUSER; name: "user"; ns: UserNamespace }
  | { type: typeof CLONE_NEWUTS; name: "uts"; ns: UtsNamespace }
  | { type: typeof CLONE_NEWIPC; name: "ipc"; ns: IpcNamespace }
  | { type: typeof CLONE_NEWNET; name: "net"; ns: Net }
  | { type: typeof CLONE_NEWPID; name: "pid"; ns: PidNamespace }
  | { type: typeof CLONE_NEWNS; name: "mnt"; ns: MountNamespace }
  | { type: typeof CLONE_NEWCGROUP; name: "cgroup"; ns: CgroupNamespace | null }
  | { type: typeof CLONE_NEWTIME; name: "time"; ns: TimeNamespace };

/**
 * The namespace an nsfs location stands for, or null when `loc` is not on nsfs. A namespace made
 * after the sandbox's first of its type is held by its inode; the first ones are the kernel's.
 * A cgroup namespace is named by its inode number (null: the first); EINVAL for one gone.
 */
export function nsfsTarget(k: Kernel, loc: Location): NsfsTarget | null {
  if (loc.mount.fs.name !== "nsfs") return null;
  const name = loc.dentry.name.split(":")[0]!;
  const held = nsfsNamespace(loc.dentry);
  switch (name) {
    case "user":
      return { type: CLONE_NEWUSER, name, ns: held instanceof UserNamespace ? held : INIT_USER_NS };
    case "uts":
      return { type: CLONE_NEWUTS, name, ns: held instanceof UtsNamespace ? held : k.rootUts };
    case "ipc":
      return { type: CLONE_NEWIPC, name, ns: held instanceof IpcNamespace ? held : k.ipc };
    case "net":
      return { type: CLONE_NEWNET, name, ns: held instanceof Net ? held : k.net };
    case "pid":
      return { type: CLONE_NEWPID, name, ns: held instanceof PidNamespace ? held : ROOT_PID_NS };
    case "mnt":
      return { type: CLONE_NEWNS, name, ns: held instanceof MountNamespace ? held : k.vfs.initNs };
    case "cgroup": {
      const ino = Number(/\[(\d+)\]/.exec(loc.dentry.name)?.[1] ?? CGROUP_NS_INIT_INO);
      if (ino === CGROUP_NS_INIT_INO) return { type: CLONE_NEWCGROUP, name, ns: null };
      const ns = k.cgroups.namespaces.get(ino);
      if (ns === undefined) throw EINVAL;
      return { type: CLONE_NEWCGROUP, name, ns };
    }
    case "time":
      return { type: CLONE_NEWTIME, name, ns: held instanceof TimeNamespace ? held : INIT_TIME_NS };
  }
  return null;
}

/** The CLONE_NEW* flag of an nsfs type name, or undefined. */
export function nsfsType(name: string): number | undefined {
  return NS_TYPES[name];
}

/** The user namespace that owns a namespace (Linux's ns->ops->owner: a user namespace's parent). */
function ownerOf(n: NsfsTarget): UserNamespace | null {
  switch (n.name) {
    case "user":
      return n.ns.parent;
    case "uts":
    case "ipc":
    case "net":
    case "pid":
    case "time":
      return n.ns.owner;
    case "mnt":
      return (n.ns.owner as UserNamespace | null) ?? INIT_USER_NS;
    default:
      // The cgroup namespaces belong to the initial user namespace.
      return INIT_USER_NS;
  }
}

/** The nsfs inode number of a namespace. */
function inoOf(n: NsfsTarget): number {
  if (n.name === "cgroup") return n.ns?.ino ?? CGROUP_NS_INIT_INO;
  return n.ns.ino;
}

/** Whether a namespace is the sandbox's first of its type (its inode is listed, not held). */
function isFirst(k: Kernel, n: NsfsTarget): boolean {
  switch (n.name) {
    case "user": return n.ns === INIT_USER_NS;
    case "uts": return n.ns === k.rootUts;
    case "ipc": return n.ns === k.ipc;
    case "net": return n.ns === k.net;
    case "pid": return n.ns === ROOT_PID_NS;
    case "mnt": return n.ns === k.vfs.initNs;
    case "time": return n.ns === INIT_TIME_NS;
    default: return true;
  }
}

/** The NS_GET_* ioctl numbers (linux/nsfs.h: _IO(0xb7, n)). */
const NS_GET_USERNS = 0xb701;
const NS_GET_PARENT = 0xb702;
const NS_GET_NSTYPE = 0xb703;
const NS_GET_OWNER_UID = 0xb704;
/** _IOR(0xb7, 5, __u64) (v6.11). */
const NS_GET_MNTNS_ID = 0x8008b705;

/**
 * The ioctls of an nsfs descriptor (Linux's ns_ioctl). NS_GET_USERNS and NS_GET_PARENT open the
 * related namespace as a new descriptor (O_RDONLY, close-on-exec), EPERM when it lies outside
 * what the caller may see (ns_get_owner: the owner must be the caller's user namespace or below
 * it; pidns_get_parent: the parent must be the caller's active PID namespace or below it; the
 * initial namespaces have none); NS_GET_PARENT is EINVAL but for PID and user namespaces.
 * NS_GET_NSTYPE returns the CLONE_NEW* flag; NS_GET_OWNER_UID writes a user namespace's creator's
 * uid as the caller's namespace sees it; NS_GET_MNTNS_ID writes a mount namespace's id (EINVAL for
 * another type). Anything else is ENOTTY.
 */
export function nsfsIoctl(t: Task, file: Location, n: NsfsTarget, cmd: number, arg: number): number {
  switch (cmd) {
    case NS_GET_USERNS:
      return openRelated(t, file, visibleOwner(t, ownerOf(n)));
    case NS_GET_PARENT: {
      if (n.name === "user") return openRelated(t, file, visibleOwner(t, n.ns.parent));
      if (n.name !== "pid") throw EINVAL;
      const active = t.tg.pidNs;
      for (let p = n.ns.parent; ; p = p.parent) {
        if (p === null) throw EPERM;
        if (p === active) break;
      }
      return openRelated(t, file, { type: CLONE_NEWPID, name: "pid", ns: n.ns.parent! });
    }
    case NS_GET_NSTYPE:
      return n.type;
    case NS_GET_OWNER_UID: {
      if (n.name !== "user") throw EINVAL;
      t.copyOutU32(arg, t.creds.userNs.uidOf(n.ns.owner));
      return 0;
    }
    case NS_GET_MNTNS_ID: {
      if (n.type !== CLONE_NEWNS) throw EINVAL;
      // The id statmount's mnt_ns_id and listmount's/statmount's mnt_ns_id requests use.
      t.copyOutU64(arg, (n.ns as MountNamespace).ino);
      return 0;
    }
    default:
      throw ENOTTY;
  }
}

/** ns_get_owner's check: the owner, if it is the caller's user namespace or one below it. */
function visibleOwner(t: Task, owner: UserNamespace | null): NsfsTarget {
  const mine = t.creds.userNs;
  for (let p = owner; ; p = p.parent) {
    if (p === null) throw EPERM;
    if (p === mine) break;
  }
  return { type: CLONE_NEWUSER, name: "user", ns: owner! };
}

/** open_related_ns: a new O_RDONLY, close-on-exec descriptor of namespace `n`'s nsfs inode. */
function openRelated(t: Task, file: Location, n: NsfsTarget): number {
  const loc = nsfsLocation(file, n.name, inoOf(n), isFirst(t.kernel, n) ? null : n.ns);
  const f = loc.dentry.open(loc, O_RDONLY);
  return t.fdTable.install(f, true);
}
