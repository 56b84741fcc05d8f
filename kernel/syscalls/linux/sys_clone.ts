/** New threads and processes: clone(2), clone3(2), fork(2), vfork(2). */

import { E2BIG, EEXIST, EFAULT, EINVAL, EPERM, ESRCH, EUSERS } from "../../errno.ts";
import { INIT_TIME_NS, type TimeNamespace } from "../../time_namespace.ts";
import { CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SYS_PTRACE } from "../../../abi/linux/capability.ts";
import { PidFd } from "../../pidfd.ts";
import { mayAttach } from "./sys_process_vm.ts";
import {
  type CloneArgs, CLONE_DETACHED, CLONE_FILES, CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS,
  CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS, CLONE_PARENT, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_VFORK,
  CLONE_VM, checkNamespaceCounts, cloneTask, enterTimeNs, newPidNamespace, recordNamespaces, userNamespaceCreds, vforkWaitDone,
} from "../../task_clone.ts";
import { MAX_PID_NS_LEVEL, PID_MAX_LIMIT, PidNamespace, ROOT_PID_NS } from "../../pid_namespace.ts";
import type { Task } from "../../task.ts";
import { joinMountNs, mayMount, mountNsOwner, unshareMountNs } from "../../fs_context.ts";
import { MountNamespace } from "../../../vfs/mod.ts";
import { nsfsTarget } from "../../nsfs.ts";
import { IPC_LIMITS, IpcNamespace } from "../../ipc.ts";
import { UtsNamespace } from "../../uts.ts";
import { INIT_USER_NS, UserNamespace } from "../../user_namespace.ts";
import { Net } from "../../net.ts";
import { type CgroupDir, type CgroupNamespace } from "../../../vfs/cgroupfs/cgroupfs.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const SIGCHLD = 17;
/** clone3's flags beyond the legacy 32 bits. */
const CLONE_CLEAR_SIGHAND = 1n << 32n;
const CLONE_INTO_CGROUP = 1n << 33n;

/** Clones, then (for CLONE_VFORK) waits until the child execs or exits; re-runs only wait. */
function doClone(t: Task, args: CloneArgs): SyscallResult {
  if (t.syscallState !== null) {
    const w = vforkWaitDone(t, null);
    return w.wait ? block([w.wait.vforkDone], 1, null, "killable") : t.vnr(w.tid);
  }
  const child = cloneTask(t, args);
  // The child's id as the caller's PID namespace numbers it.
  if (!(args.flags & CLONE_VFORK)) return t.vnr(child.tid);
  // Linux's wait_for_vfork_done is killable only: a signal waits until the child lets go.
  const w = vforkWaitDone(t, child);
  return w.wait ? block([w.wait.vforkDone], 1, null, "killable") : t.vnr(w.tid);
}

/** Implements clone(2) (x86-64 argument order: flags, stack, parent_tid, child_tid, tls). */
const sysClone: SyscallFn = (t, a) => {
  const flags = a.u64(0);
  return doClone(t, {
    flags: Number(flags & 0xffffff00n),
    exitSignal: Number(flags & 0xffn),
    stack: a.u64(1),
    parentTid: a.pointer(2),
    childTid: a.pointer(3),
    tls: a.u64(4),
    pidfdSamePointer: true,
    pidfd: a.pointer(2),
  });
};

/** Implements fork(2). */
const sysFork: SyscallFn = (t) =>
  doClone(t, { flags: 0, exitSignal: SIGCHLD, stack: 0n, parentTid: 0, childTid: 0, tls: 0n });

/** Implements vfork(2). */
const sysVfork: SyscallFn = (t) =>
  doClone(t, { flags: CLONE_VM | CLONE_VFORK, exitSignal: SIGCHLD, stack: 0n, parentTid: 0, childTid: 0, tls: 0n });

/** Implements clone3(2): struct clone_args, at least CLONE_ARGS_SIZE_VER0 (64) bytes. */
const sysClone3: SyscallFn = (t, a) => {
  if (t.syscallState !== null) return doClone(t, null as unknown as CloneArgs);
  const size = a.sizeT(1);
  if (size < 64) throw EINVAL;
  if (size > 4096) throw E2BIG;
  const b = t.copyIn(a.pointer(0), Math.min(size, 88));
  // copy_struct_from_user: a larger struct than ours must be zero beyond it (E2BIG; EFAULT
  // when that part cannot be read).
  if (size > 88 && t.copyIn(a.pointer(0) + 88, size - 88).some((x) => x !== 0)) throw E2BIG;
  const v = new DataView(b.buffer);
  const flags = v.getBigUint64(0, true);
  const pidfd = v.getBigUint64(8, true);
  const exitSignal = v.getBigUint64(32, true);
  const stack = v.getBigUint64(40, true), stackSize = v.getBigUint64(48, true);
  // clone3_args_valid and copy_clone_args_from_user: known flags only, CSIGNAL's bits and
  // CLONE_DETACHED reused (refused), no exit signal for a thread or a sibling.
  if (flags & ~(0xffff_ffffn | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP)) throw EINVAL;
  if (flags & (BigInt(CLONE_DETACHED) | 0x7fn)) throw EINVAL;
  if ((flags & CLONE_CLEAR_SIGHAND) && (flags & BigInt(CLONE_SIGHAND))) throw EINVAL;
  if ((flags & BigInt(CLONE_THREAD | CLONE_PARENT)) && exitSignal !== 0n) throw EINVAL;
  // set_tid (clone_args_size_ver1): at most one pid per namespace level, both or neither.
  const setTid = size >= 80 ? v.getBigUint64(64, true) : 0n, setTidSize = size >= 80 ? v.getBigUint64(72, true) : 0n;
  if (setTidSize > BigInt(MAX_PID_NS_LEVEL) || (setTid === 0n) !== (setTidSize === 0n)) throw EINVAL;
  if (exitSignal > 64n) throw EINVAL;
  if ((stack === 0n) !== (stackSize === 0n)) throw EINVAL;
  if (setTid !== 0n) checkSetTid(t, flags, setTid, Number(setTidSize));
  let cgroup: CgroupDir | undefined;
  if (flags & CLONE_INTO_CGROUP) {
    // copy_clone_args_from_user: a descriptor number, in a struct that has the field.
    const fd = size >= 88 ? v.getBigUint64(80, true) : 0n;
    if (size < 88 || fd > 0x7fff_ffffn) throw EINVAL;
    if (t.syscallState === null) {
      const target = t.fdTable.get(Number(fd)).location()?.dentry ?? null;
      cgroup = t.kernel.cgroups.cloneTarget(target, t.tg, t.creds, t.cgroupNs, (flags & BigInt(CLONE_THREAD)) !== 0n);
    }
  }
  return doClone(t, {
    ...(cgroup !== undefined ? { cgroup } : {}),
    flags: Number(flags & 0xffff_ffffn),
    clearSighand: (flags & CLONE_CLEAR_SIGHAND) !== 0n,
    pidfd: pidfd > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(pidfd),
    exitSignal: Number(exitSignal),
    stack: stack === 0n ? 0n : BigInt.asUintN(64, stack + stackSize),
    childTid: Number(v.getBigUint64(16, true)),
    parentTid: Number(v.getBigUint64(24, true)),
    tls: v.getBigUint64(56, true),
  });
};

/**
 * clone3's set_tid, as alloc_pid checks it level by level from the child's namespace outwards:
 * no more entries than levels (EINVAL), each a valid pid (EINVAL; not 1 only where the
 * namespace has its init), CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over the namespace's owner
 * (EPERM), and free there (EEXIST). A free pid is not honoured yet: the child gets the next one.
 */
function checkSetTid(t: Task, flags: bigint, addr: bigint, n: number): void {
  if (addr > BigInt(Number.MAX_SAFE_INTEGER)) throw EFAULT;
  const raw = t.copyIn(Number(addr), n * 4);
  const tids = new DataView(raw.buffer);
  const newNs = (flags & BigInt(CLONE_NEWPID)) !== 0n;
  const parentNs = t.pidNsForChildren;
  if (n > parentNs.level + 1 + (newNs ? 1 : 0)) throw EINVAL;
  let ns: PidNamespace | null = parentNs;
  for (let i = 0; i < n; i++) {
    const tid = tids.getInt32(i * 4, true);
    if (tid < 1 || tid >= PID_MAX_LIMIT) throw EINVAL;
    if (i === 0 && newNs) {
      // The new namespace has no init yet: its first pid must be 1; its owner is the caller's.
      if (tid !== 1) throw EINVAL;
      const c = t.creds;
      if (!c.capableIn(c.userNs, CAP_SYS_ADMIN) && !c.capableIn(c.userNs, CAP_CHECKPOINT_RESTORE)) throw EPERM;
      continue;
    }
    const cur: PidNamespace = ns!;
    const c = t.creds;
    if (!c.capableIn(cur.owner, CAP_SYS_ADMIN) && !c.capableIn(cur.owner, CAP_CHECKPOINT_RESTORE)) throw EPERM;
    const g = cur.global(tid);
    if (g !== undefined && (t.kernel.tasks.has(g) || t.kernel.threadGroups.has(g))) throw EEXIST;
    ns = cur.parent;
  }
}

/**
 * Implements unshare(2), in the order of Linux's ksys_unshare: the implied flags, then
 * CLONE_THREAD/CLONE_SIGHAND/CLONE_VM (nothing to do for a process alone in its thread group
 * and address space, EINVAL otherwise), a private descriptor table (CLONE_FILES) or filesystem
 * context (CLONE_FS), a user namespace of its own (CLONE_NEWUSER: the caller gets every
 * capability there and none outside), then a UTS, IPC or cgroup namespace of its own
 * (CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP; CAP_SYS_ADMIN in the user namespace that will
 * own it, the new one when both are asked), a network namespace of its own (CLONE_NEWNET, the
 * same: a stack with only loopback, down), a PID namespace for the caller's children
 * (CLONE_NEWPID, the same; the caller stays in its own, its next child is the new one's init)
 * and a copy of the mount namespace (CLONE_NEWNS; CAP_SYS_ADMIN in the first user namespace,
 * which owns every mount namespace here), and a time namespace for the caller's children
 * (CLONE_NEWTIME, the same).
 */
const sysUnshare: SyscallFn = (t, a) => {
  let f = a.u64(0);
  const known = BigInt(
    CLONE_THREAD | CLONE_FS | CLONE_NEWNS | CLONE_SIGHAND | CLONE_VM | CLONE_FILES | CLONE_SYSVSEM | CLONE_NEWUTS |
      CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWCGROUP | CLONE_NEWTIME,
  );
  if (f & ~known) throw EINVAL;
  if (f & BigInt(CLONE_NEWUSER)) f |= BigInt(CLONE_THREAD | CLONE_FS);
  if (f & BigInt(CLONE_VM)) f |= BigInt(CLONE_SIGHAND);
  if (f & BigInt(CLONE_SIGHAND)) f |= BigInt(CLONE_THREAD);
  if (f & BigInt(CLONE_NEWNS)) f |= BigInt(CLONE_FS);
  const flags = Number(f);
  if ((flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) && t.tg.tasks.size > 1) throw EINVAL;
  if ((flags & CLONE_VM) && t.mm.users > 1) throw EINVAL;
  // unshare_fd comes before the namespaces' checks (ksys_unshare).
  if ((flags & CLONE_FILES) && t.fdTable.users > 1) t.fdTable.checkCopyable(t.kernel.nrOpen);
  const creds = (flags & CLONE_NEWUSER) ? userNamespaceCreds(t) : t.creds;
  if ((flags & (CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWTIME)) && !creds.hasOwnCap(CAP_SYS_ADMIN)) throw EPERM;
  // unshare_nsproxy_namespaces: CAP_SYS_ADMIN over the user namespace the new one belongs to.
  if ((flags & CLONE_NEWNS) && !creds.hasOwnCap(CAP_SYS_ADMIN)) throw EPERM;
  checkNamespaceCounts(t, flags, creds);
  // copy_pid_ns: EINVAL when the caller's children already go to another namespace (a second
  // unshare, or setns), ENOSPC past 32 levels; made before anything changes.
  const pidNs = (flags & CLONE_NEWPID) ? newPidNamespace(t, creds) : null;
  if (flags & CLONE_FS) t.fs = t.fs.fork();
  if (flags & CLONE_NEWNS) unshareMountNs(t.kernel.vfs, t.fs, mountNsOwner(creds));
  if ((flags & CLONE_FILES) && t.fdTable.users > 1) {
    t.fdTable.users--;
    t.fdTable = t.fdTable.fork();
  }
  if (creds !== t.creds) t.commitCreds(creds);
  const k = t.kernel;
  if (flags & CLONE_NEWUTS) t.uts = t.uts.copy(creds.userNs, k.nsInodes.next());
  if (flags & CLONE_NEWIPC) t.ipc = new IpcNamespace(IPC_LIMITS, creds.userNs, k.nsInodes.next());
  if (flags & CLONE_NEWNET) t.net = k.newNetNamespace(creds.userNs);
  if (pidNs !== null) t.pidNsForChildren = pidNs;
  // A time namespace for the caller's children (and the caller after its next execve), with
  // the offsets of the one they would have had (copy_time_ns).
  if (flags & CLONE_NEWTIME) t.timeNsForChildren = t.timeNsForChildren.copy(creds.userNs, k.nsInodes.next());
  // A new cgroup namespace is rooted at the caller's cgroup (copy_cgroup_ns).
  if (flags & CLONE_NEWCGROUP) t.cgroupNs = k.cgroups.newNamespace(k.cgroups.cgroupOf(t.tg));
  recordNamespaces(t, flags, creds);
  return 0;
};

/** The namespace types setns(2) takes with a pidfd (Linux's check_setns_flags). */
const SETNS_FLAGS = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP |
  CLONE_NEWUSER | CLONE_NEWTIME;

/**
 * Implements setns(2). With a pidfd: the caller joins the namespaces of the given types of the
 * pidfd's process (EINVAL for no type or another flag; ESRCH once it has exited, even as a
 * zombie; EPERM without ptrace read access). With a /proc/PID/ns descriptor (flags 0 or its
 * type): the namespace it names. User, UTS, IPC, network, cgroup and mount namespaces are each
 * task's own (joining a mount namespace moves the caller's root and cwd to its root, as Linux);
 * joining a PID namespace sets the one the caller's children go to; joining a time namespace
 * moves the caller and its future children into it. The checks are each type's install's
 * (joinNamespaces).
 */
const sysSetns: SyscallFn = (t, a) => {
  let flags = a.int(1);
  const f = t.fdTable.get(a.fd(0));
  const loc = f.location();
  const k = t.kernel;
  const n = f instanceof PidFd || loc === null ? null : nsfsTarget(k, loc);
  if (n !== null) {
    // A /proc/PID/ns file: flags must be 0 or its type.
    if (flags !== 0 && flags !== n.type) throw EINVAL;
    flags = n.type;
    return joinNamespaces(t, flags, {
      user: n.name === "user" ? n.ns : INIT_USER_NS,
      uts: n.name === "uts" ? n.ns : k.rootUts,
      ipc: n.name === "ipc" ? n.ns : k.ipc,
      cgroupNs: n.name === "cgroup" ? n.ns : null,
      net: n.name === "net" ? n.ns : k.net,
      pid: n.name === "pid" ? n.ns : ROOT_PID_NS,
      mnt: n.name === "mnt" ? n.ns : null,
      time: n.name === "time" ? n.ns : INIT_TIME_NS,
    });
  }
  if (!(f instanceof PidFd)) throw EINVAL;
  if (flags === 0 || (flags & ~SETNS_FLAGS)) throw EINVAL;
  const tg = f.tg;
  const target = tg.leader ?? [...tg.tasks][0];
  if (tg.zombie || target === undefined || target.state === "dead") throw ESRCH;
  if (!mayAttach(t, target) && !t.creds.hasCap(CAP_SYS_PTRACE)) throw EPERM;
  return joinNamespaces(t, flags, {
    user: target.creds.userNs, uts: target.uts, ipc: target.ipc, cgroupNs: target.cgroupNs, net: target.net,
    pid: target.tg.pidNs, mnt: target.fs.mntns, time: target.timeNs,
  });
};


/** The namespaces setns joins, one per type. */
interface SetnsTargets {
  user: UserNamespace;
  uts: UtsNamespace;
  ipc: IpcNamespace;
  cgroupNs: CgroupNamespace | null;
  net: Net;
  /** The PID namespace (a process's own, for its children to be made in). */
  pid: PidNamespace;
  /** The mount namespace (null: none to join). */
  mnt: MountNamespace | null;
  /** The time namespace (the task's own, and its children's). */
  time: TimeNamespace;
}

/** Whether another task shares the caller's filesystem context (CLONE_FS: fs->users > 1). */
function fsShared(t: Task): boolean {
  for (const x of t.kernel.tasks.values()) if (x !== t && x.fs === t.fs) return true;
  return false;
}

/**
 * setns's installation of the namespaces of `flags`: every check first, in Linux's order
 * (validate_nsset), then the changes. The user namespace comes first (userns_install: not the
 * caller's own, a process alone in its thread group and filesystem context, CAP_SYS_ADMIN in
 * the namespace joined; the caller then holds every capability there and none outside), and the
 * others are checked with the credentials it gives: CAP_SYS_ADMIN in the user namespace owning
 * the one joined and in the caller's own (plus CAP_SYS_CHROOT for the mount namespace, which a
 * shared filesystem context may not join, EINVAL).
 */
function joinNamespaces(t: Task, flags: number, to: SetnsTargets): number {
  let creds = t.creds;
  if (flags & CLONE_NEWUSER) {
    if (to.user === creds.userNs) throw EINVAL;
    if (t.tg.tasks.size > 1 || fsShared(t)) throw EINVAL;
    if (!creds.capableIn(to.user, CAP_SYS_ADMIN)) throw EPERM;
    creds = creds.inNamespace(to.user);
  }
  const admin = creds.hasOwnCap(CAP_SYS_ADMIN);
  if (flags & CLONE_NEWNS) {
    if (fsShared(t)) throw EINVAL;
    // mntns_install: CAP_SYS_ADMIN over the namespace's owner, CAP_SYS_CHROOT and CAP_SYS_ADMIN in one's own.
    if (!mayMount(creds, to.mnt ?? t.kernel.vfs.initNs) || !creds.hasOwnCap(CAP_SYS_CHROOT) || !admin) throw EPERM;
  }
  if ((flags & CLONE_NEWUTS) && !(creds.capableIn(to.uts.owner, CAP_SYS_ADMIN) && admin)) throw EPERM;
  if ((flags & CLONE_NEWIPC) && !(creds.capableIn(to.ipc.owner, CAP_SYS_ADMIN) && admin)) throw EPERM;
  if (flags & CLONE_NEWPID) {
    // pidns_install: CAP_SYS_ADMIN over its owner and in one's own; only the caller's own
    // namespace or one nested in it (EINVAL).
    if (!(creds.capableIn(to.pid.owner, CAP_SYS_ADMIN) && admin)) throw EPERM;
    if (!t.pidNs.contains(to.pid)) throw EINVAL;
  }
  if ((flags & CLONE_NEWNET) && !(creds.capableIn(to.net.owner, CAP_SYS_ADMIN) && admin)) throw EPERM;
  // Every cgroup namespace belongs to the initial user namespace.
  if ((flags & CLONE_NEWCGROUP) && !(creds.hasCap(CAP_SYS_ADMIN) && admin)) throw EPERM;
  if (flags & CLONE_NEWTIME) {
    // timens_install: a task alone in its memory (its vDSO page changes), EUSERS otherwise;
    // CAP_SYS_ADMIN over the namespace's owner and in one's own.
    if (t.tg.tasks.size > 1 || t.mm.users > 1) throw EUSERS;
    if (!(creds.capableIn(to.time.owner, CAP_SYS_ADMIN) && admin)) throw EPERM;
  }
  if (creds !== t.creds) t.commitCreds(creds);
  if (flags & CLONE_NEWUTS) t.uts = to.uts;
  if (flags & CLONE_NEWIPC) t.ipc = to.ipc;
  if (flags & CLONE_NEWCGROUP) t.cgroupNs = to.cgroupNs;
  if (flags & CLONE_NEWNET) t.net = to.net;
  if (flags & CLONE_NEWPID) t.pidNsForChildren = to.pid;
  if ((flags & CLONE_NEWNS) && to.mnt !== null) joinMountNs(t.fs, to.mnt);
  if (flags & CLONE_NEWTIME) {
    const was = t.timeNs;
    t.timeNs = t.timeNsForChildren = to.time;
    if (was !== to.time) enterTimeNs(t);
    else to.time.frozen = true;
  }
  return 0;
}

export const table: Record<number, SyscallEntry> = {
  272: supported("unshare", sysUnshare),
  308: supported("setns", sysSetns),
  56: supported("clone", sysClone),
  57: supported("fork", sysFork),
  58: supported("vfork", sysVfork),
  435: supported("clone3", sysClone3),
};
