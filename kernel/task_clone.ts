/**
 * clone(2) and its relatives: new threads and processes. Analogous to Linux's kernel/fork.c and
 * gVisor's task_clone.go.
 *
 * Host side: a process clone forks the stub (the host copies pages on write; the kernel copies
 * the VMA list), a CLONE_VM clone adds a host thread to the same stub.
 *
 * @module
 */

import type { CgroupDir } from "../vfs/cgroupfs/cgroupfs.ts";
import { onClone as ptraceOnClone } from "./ptrace.ts";
import { EAGAIN, EINVAL, ENOMEM, ENOSPC, EPERM, ERESTARTNOINTR } from "./errno.ts";
import { MAX_PID_NS_LEVEL, PidNamespace } from "./pid_namespace.ts";
import type { Task } from "./task.ts";
import { Task as TaskClass } from "./task.ts";
import { ThreadGroup } from "./thread_group.ts";
import { IPC_LIMITS, IpcNamespace } from "./ipc.ts";
import { PidFd } from "./pidfd.ts";
import { mountNsOwner, unshareMountNs } from "./fs_context.ts";
import type { SignalHandlers } from "./signals.ts";
import { RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NPROC, RLIMIT_SIGPENDING } from "../abi/linux/limits.ts";
import { TASK_SIZE } from "../abi/linux/mm.ts";
import { CAP_SETFCAP, CAP_SYS_ADMIN, CAP_SYS_RESOURCE } from "../abi/linux/capability.ts";
import type { Credentials } from "./creds.ts";
import { INIT_USER_NS, MAX_LEVEL, UserNamespace } from "./user_namespace.ts";
import {
  UCOUNT_CGROUP_NAMESPACES, UCOUNT_IPC_NAMESPACES, UCOUNT_MNT_NAMESPACES, UCOUNT_NET_NAMESPACES, UCOUNT_PID_NAMESPACES, UCOUNT_TIME_NAMESPACES,
  UCOUNT_RLIMIT_NPROC, UCOUNT_UTS_NAMESPACES, type RlimitCharge, rlimitOverlimit,
} from "./ucounts.ts";

export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_SIGHAND = 0x800;
export const CLONE_PIDFD = 0x1000;
export const CLONE_PTRACE = 0x2000;
export const CLONE_VFORK = 0x4000;
export const CLONE_PARENT = 0x8000;
export const CLONE_THREAD = 0x10000;
export const CLONE_NEWNS = 0x20000;
export const CLONE_SYSVSEM = 0x40000;
export const CLONE_SETTLS = 0x80000;
export const CLONE_PARENT_SETTID = 0x100000;
export const CLONE_CHILD_CLEARTID = 0x200000;
export const CLONE_DETACHED = 0x400000;
export const CLONE_UNTRACED = 0x800000;
export const CLONE_CHILD_SETTID = 0x1000000;
export const CLONE_NEWCGROUP = 0x2000000;
export const CLONE_NEWUTS = 0x4000000;
export const CLONE_NEWIPC = 0x8000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_IO = 0x80000000;
/** A time namespace: a setns/unshare flag (clone takes it only in clone3's upper bits). */
export const CLONE_NEWTIME = 0x80;

/** The namespace flags of clone(2) (CLONE_NEWTIME is clone3's and unshare's only: clone's 0x80 is CSIGNAL's). */
export const NAMESPACE_FLAGS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
  CLONE_NEWNET;

/** Arguments of clone, decoded from clone(2) or clone3(2). */
export interface CloneArgs {
  flags: number;
  /** clone(2) (not clone3): CLONE_PIDFD's pointer is parent_tid's. */
  pidfdSamePointer?: boolean;
  /** Where CLONE_PIDFD writes the new pidfd's number (clone3's pidfd; clone's parent_tid). */
  pidfd?: number;
  /** The child's stack pointer, or 0 to keep the parent's: any 64-bit value (a bad one faults in the child). */
  stack: bigint;
  parentTid: number;
  childTid: number;
  tls: bigint;
  /** Signal sent to the parent at exit (low byte of clone's flags). */
  exitSignal: number;
  /**
   * clone3's CLONE_CLEAR_SIGHAND (bit 32, beyond what `flags` holds as a 32-bit mask): the
   * child's handled signals go back to SIG_DFL, ignored ones stay ignored.
   */
  clearSighand?: boolean;
  /** clone3's CLONE_INTO_CGROUP: the cgroup the child starts in (checked by the caller). */
  cgroup?: CgroupDir;
}

/** State kept across re-runs of a CLONE_VFORK clone while the parent waits. */
interface VforkWait {
  vforkChild: number;
}

/**
 * Refuses an FS or GS base outside the user address space, as Linux's arch_prctl and
 * CLONE_SETTLS do (EPERM): the host would refuse the register (ptrace EIO) or the CPU fault.
 */
export function checkTlsBase(v: bigint): void {
  if (v >= BigInt(TASK_SIZE)) throw EPERM;
}

/** A copy of the caller's signal handlers for a new process, flushed for CLONE_CLEAR_SIGHAND. */
function clonedHandlers(t: Task, clear: boolean): SignalHandlers {
  const h = t.tg.handlers.clone();
  if (clear) h.resetForExec();
  return h;
}

/**
 * Creates the child task and returns its tid. With CLONE_VFORK the caller then waits (see
 * {@linkcode vforkWaitDone}).
 */
export function cloneTask(t: Task, a: CloneArgs): Task {
  const f = a.flags;
  if ((f & CLONE_THREAD) && !(f & CLONE_SIGHAND)) throw EINVAL;
  if ((f & CLONE_SIGHAND) && !(f & CLONE_VM)) throw EINVAL;
  if ((f & CLONE_FS) && (f & CLONE_NEWNS)) throw EINVAL;
  // Legacy clone returns the pidfd through parent_tid: both flags on one pointer (kernel_clone).
  if ((f & CLONE_PIDFD) && (f & CLONE_PARENT_SETTID) && a.pidfdSamePointer === true) throw EINVAL;
  // A pidfd names a process here: not a thread (Linux 6.9 made thread pidfds, PIDFD_THREAD;
  // this is the earlier EINVAL), nor a child that is never waited for (copy_process).
  if ((f & CLONE_PIDFD) && (f & (CLONE_THREAD | CLONE_DETACHED))) throw EINVAL;
  // A new user namespace is the child's alone: not with the creator's filesystem context nor
  // in its thread group (copy_process).
  if ((f & CLONE_NEWUSER) && (f & (CLONE_FS | CLONE_THREAD))) throw EINVAL;
  // A thread shares its creator's PID namespace: not a new one, nor one unshare or setns chose
  // for the creator's children (copy_process).
  if ((f & CLONE_THREAD) && ((f & CLONE_NEWPID) || t.pidNsForChildren !== t.pidNs)) throw EINVAL;
  // sched_fork: a SCHED_DEADLINE task cannot fork unless the child resets to SCHED_NORMAL.
  if (t.schedDl !== null && !t.schedResetOnFork) throw EAGAIN;
  // copy_files before anything is made: a table too big for fs.nr_open cannot be copied.
  if (!(f & CLONE_FILES)) t.fdTable.checkCopyable(t.kernel.nrOpen);
  // The child's credentials: in a user namespace of its own with CLONE_NEWUSER (copy_creds).
  const creds = (f & CLONE_NEWUSER) ? userNamespaceCreds(t) : (f & CLONE_THREAD) ? t.creds : t.creds.copy();
  // A new UTS, IPC, cgroup, network or mount namespace needs CAP_SYS_ADMIN in the user namespace
  // that will own it, the child's (copy_namespaces): a new user namespace's creator holds it there.
  if (
    (f & (CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWTIME)) &&
    !creds.hasOwnCap(CAP_SYS_ADMIN)
  ) {
    throw EPERM;
  }
  checkNamespaceCounts(t, f, creds);
  // Init, the sandbox's or a PID namespace's, may not make siblings: they would have no parent
  // in the namespace to reap them (copy_process, SIGNAL_UNKILLABLE).
  if ((f & CLONE_PARENT) && (t.tg.parent === null || t.pidNs.init === t.tg)) throw EINVAL;
  const childNs = (f & CLONE_NEWPID) ? newPidNamespace(t, creds) : t.pidNsForChildren;
  if (f & CLONE_SETTLS) checkTlsBase(a.tls);
  const k = t.kernel;
  const thread = (f & CLONE_THREAD) !== 0;
  // A kill of this process is pending (held until its sender's next stop): the call is made
  // again, and the kill ends the process first (Linux's copy_process and fatal_signal_pending).
  if (k.fatalHeld(t.tg)) throw ERESTARTNOINTR;
  // dup_task_struct copied the flags before copy_process cleared the caller's PF_NPROC_EXCEEDED.
  const nprocExceeded = t.nprocExceeded;
  checkNproc(t, creds);
  if (!k.resources.mayAddTask()) throw EAGAIN; // --pids, as the pids cgroup
  const fs = (f & CLONE_FS) ? t.fs : t.fs.fork();
  if (f & CLONE_NEWNS) unshareMountNs(k.vfs, fs, mountNsOwner(creds)); // before anything is made: it may fail
  k.cgroups.chargeFork(a.cgroup ?? k.cgroups.cgroupOf(t.tg)); // pids.max (EAGAIN)
  // CLONE_PIDFD: the descriptor's number is chosen and written before anything is created, so
  // that a bad pointer (EFAULT) or a full table (EMFILE) fails the clone (copy_process); the
  // pidfd is installed, at that number, once the child exists.
  let pidfdNumber = -1;
  if (f & CLONE_PIDFD) {
    pidfdNumber = t.fdTable.lowestFree();
    t.copyOutU32(a.pidfd ?? 0, pidfdNumber);
  }

  // A namespace whose init exited takes no process (alloc_pid without PIDNS_ADDING).
  if (!childNs.mayAdd()) throw ENOMEM;
  // The host side first: nothing in the kernel changes if it fails.
  const parentRegs = t.ctx.regs.clone();
  const ctx = (f & CLONE_VM) ? t.ctx.addressSpace.newThread(t.ctx) : t.ctx.addressSpace.fork(t.ctx);

  const tid = k.allocIds(childNs);
  let tg: ThreadGroup;
  if (thread) {
    tg = t.tg;
  } else {
    let mm = t.mm;
    if (f & CLONE_VM) mm.users++;
    else {
      mm = t.mm.fork(ctx.addressSpace);
      mm.dropUncopied(ctx);
    }
    const parent = (f & CLONE_PARENT) ? t.tg.parent : t.tg;
    tg = new ThreadGroup({
      tgid: tid,
      mm,
      parent,
      limits: t.tg.limits.clone(),
      handlers: (f & CLONE_SIGHAND) ? t.tg.handlers : clonedHandlers(t, a.clearSighand === true),
      pgid: t.tg.pgid,
      sid: t.tg.sid,
      pidNs: childNs,
    });
    // The first process of a PID namespace is its init (copy_process's is_child_reaper).
    if (childNs.parent !== null && childNs.init === null) childNs.init = tg;
    tg.tty = t.tg.tty;
    // A CLONE_PARENT child is its parent's sibling and signals their parent as its creator
    // would at exit (copy_process: the group leader's exit_signal, not the argument).
    tg.exitSignal = (f & CLONE_PARENT) ? t.tg.exitSignal : a.exitSignal;
    tg.parentThread = (f & CLONE_PARENT) ? t.tg.parentThread : t.tid;
    tg.oomScoreAdj = t.tg.oomScoreAdj; // inherited, as Linux's signal_struct copy
    tg.coredumpFilter = t.tg.coredumpFilter; // the mm's flags, copied by dup_mm
    tg.thpDisable = t.tg.thpDisable;
    tg.cgroup = t.tg.cgroup; // cgroup_fork: the parent's
    parent?.children.add(tg);
  }
  let fdTable = t.fdTable;
  if (f & CLONE_FILES) fdTable.users++;
  else fdTable = fdTable.fork();
  const child = new TaskClass({
    kernel: k,
    tid,
    tg,
    ctx,
    fdTable,
    fs,
    // A new process gets its own copy of the credentials (Linux's prepare_creds in
    // copy_creds): linkat(AT_EMPTY_PATH) tells its files from the parent's by that identity.
    creds,
    name: t.name,
    uts: (f & CLONE_NEWUTS) ? t.uts.copy(creds.userNs, k.nsInodes.next()) : t.uts,
    ipc: (f & CLONE_NEWIPC) ? new IpcNamespace(IPC_LIMITS, creds.userNs, k.nsInodes.next()) : t.ipc,
    net: (f & CLONE_NEWNET) ? k.newNetNamespace(creds.userNs) : t.net,
  });
  child.pidNsForChildren = childNs;
  // copy_namespaces: a new time namespace (clone3 only: clone(2)'s 0x80 is CSIGNAL's, masked off) for the child's children is a copy of the creator's;
  // the child enters it unless it shares the creator's memory, and so its vDSO page
  // (timens_on_fork).
  child.timeNsForChildren = (f & CLONE_NEWTIME) ? t.timeNsForChildren.copy(creds.userNs, k.nsInodes.next()) : t.timeNsForChildren;
  child.timeNs = (f & CLONE_VM) ? t.timeNs : child.timeNsForChildren;
  child.sigmask = t.sigmask;
  child.sessionKeyring = t.sessionKeyring; // copy_creds: the session keyring comes along
  child.reqkeyDefault = t.reqkeyDefault; // and request_key's default keyring
  child.landlock = t.landlock; // and the Landlock domain
  // The alternate signal stack is inherited, except by a thread that shares the memory but
  // not as vfork's child (it cannot use the same stack): Linux's copy_process.
  if ((f & (CLONE_VM | CLONE_VFORK)) !== CLONE_VM) child.altStack = { ...t.altStack };
  child.memPolicy = t.memPolicy; // mpol_dup: every clone inherits the NUMA policy
  // Scheduling attributes are inherited, unless SCHED_RESET_ON_FORK asks for the defaults.
  child.affinity = t.affinity;
  child.ioprio = t.ioprio;
  child.noNewPrivs = t.noNewPrivs; // a task flag: threads and children inherit it, exec keeps it
  child.nprocExceeded = nprocExceeded;
  child.seccomp = t.seccomp; // the filters too (an immutable list, shared)
  child.personality = t.personality; // dup_task_struct copies it
  child.tscSigsegv = t.tscSigsegv; // TIF_NOTSC too (the host thread's clone inherits it)
  child.timerSlackNs = child.defaultTimerSlackNs = t.timerSlackNs; // copy_process
  // rseq_fork: a new thread (or vfork's child) registers its own area; a fork's child keeps the
  // registration in its copy of the memory, and its first return to user mode rewrites the
  // CPU fields (wake_up_new_task's rseq_migrate).
  if (!(f & CLONE_VM) && t.rseq !== null) {
    child.rseq = { ...t.rseq, cpu: -1 };
    child.rseqResume = true;
  }
  if (!t.schedResetOnFork) {
    child.schedPolicy = t.schedPolicy;
    child.schedPriority = t.schedPriority;
    child.nice = t.nice;
    child.schedSliceNs = t.schedSliceNs;
  } else if (t.nice > 0) {
    child.nice = t.nice;
  }

  const r = ctx.regs;
  r.copyFrom(parentRegs);
  r.set("rax", 0);
  r.set("orig_rax", -1);
  if (a.stack !== 0n) r.set64("rsp", a.stack);
  if (f & CLONE_SETTLS) r.set64("fs_base", a.tls);
  ctx.markRegsDirty();

  // Linux ignores a fault here (kernel_clone's put_user, schedule_tail's): the child exists by
  // now. Throwing instead left a child registered with its parent that never ran, which a
  // wait() of the parent (or of init, after reparenting) waited on for ever (the fuzzer).
  try {
    if (f & CLONE_PARENT_SETTID) t.copyOutU32(a.parentTid, t.vnr(tid));
  } catch { /* ignored, as Linux */ }
  try {
    if (f & CLONE_CHILD_SETTID) child.copyOutU32(a.childTid, child.vnr(tid));
  } catch { /* ignored, as Linux */ }
  if (f & CLONE_CHILD_CLEARTID) child.clearChildTid = a.childTid;
  if (f & CLONE_VFORK) tg.vforkPending = true;
  // A new cgroup namespace is rooted at the creator's cgroup (copy_cgroup_ns).
  child.cgroupNs = (f & CLONE_NEWCGROUP) ? k.cgroups.newNamespace(k.cgroups.cgroupOf(t.tg)) : t.cgroupNs;
  recordNamespaces(child, f, creds);
  if (child.timeNs !== t.timeNs) enterTimeNs(child);
  tg.tasks.add(child);
  k.addTask(child);
  if (a.cgroup !== undefined && !thread) k.cgroups.bornInto(tg, a.cgroup);
  if (!thread) k.armCpuLimit(tg);
  // After the child's table was copied: the child does not get its own pidfd (unless it shares
  // the table, CLONE_FILES).
  if (f & CLONE_PIDFD) t.fdTable.install(new PidFd(k, tg, 0), true, pidfdNumber);
  ptraceOnClone(t, child, a.exitSignal, (f & CLONE_VFORK) !== 0, thread);
  return child;
}

/**
 * A task has just entered its `timeNs` (a fork's child, setns): the namespace's offsets are
 * fixed from now on (timens_commit), and the task's [vvar] shows them to its vDSO.
 */
export function enterTimeNs(t: Task): void {
  t.timeNs.frozen = true;
  t.kernel.vdso()?.joinTimeNs(t.mm, t.ctx, t.timeNs);
}

/**
 * A new PID namespace for clone(CLONE_NEWPID) or unshare(CLONE_NEWPID), child of the caller's
 * namespace for children, owned by `creds`' user namespace (Linux's copy_pid_ns and
 * create_pid_namespace): EINVAL when unshare or setns already chose another namespace for the
 * caller's children, ENOSPC past 32 levels of nesting.
 */
export function newPidNamespace(t: Task, creds: Credentials): PidNamespace {
  const parent = t.pidNsForChildren;
  if (parent !== t.pidNs) throw EINVAL;
  if (parent.level + 1 > MAX_PID_NS_LEVEL) throw ENOSPC;
  return new PidNamespace(parent, creds.userNs, t.kernel.nsInodes.next());
}

/**
 * The caller's credentials in a new user namespace, child of its own (Linux's create_user_ns
 * and set_cred_user_ns), owned by its effective ids, with every capability there and none
 * inherited. ENOSPC past 32 levels of nesting or past max_user_namespaces (kernel/ucounts.ts);
 * EPERM for a chrooted caller (a new namespace's root could undo the chroot) or one whose
 * effective ids its namespace does not map.
 */
export function userNamespaceCreds(t: Task): Credentials {
  const c = t.creds, parent = c.userNs;
  if (parent.level > MAX_LEVEL) throw ENOSPC;
  if (!t.kernel.ucounts.userNamespaceFits(liveUserNamespaces(t.kernel), parent, c.euid)) throw ENOSPC;
  // current_chrooted: the root is not its mount namespace's.
  const nsRoot = (t.fs.mntns ?? t.kernel.vfs.initNs).root;
  if (t.fs.root.mount !== nsRoot || t.fs.root.dentry !== nsRoot.root) throw EPERM;
  if (parent.fromKuid(c.euid) < 0 || parent.fromKgid(c.egid) < 0) throw EPERM;
  const ns = new UserNamespace(parent, c.euid, c.egid, t.kernel.nsInodes.next(), c.hasOwnCap(CAP_SETFCAP));
  // set_userns_rlimit_max: what the namespace's users may hold for its owner outside, the
  // creator's limits (for tasks: none when the creator is the initial namespace's root,
  // enforced_nproc_rlimit).
  const l = t.tg.limits;
  ns.rlimitMax = [
    c.uid === 0 && parent === INIT_USER_NS ? Infinity : l.soft(RLIMIT_NPROC),
    l.soft(RLIMIT_MSGQUEUE),
    l.soft(RLIMIT_SIGPENDING),
    l.soft(RLIMIT_MEMLOCK),
  ];
  return c.inNamespace(ns);
}

/** Each kind of namespace a CLONE_NEW* flag makes: its ucounts kind, and a task's of that kind. */
const NS_KINDS: readonly [flag: number, kind: number, of: (t: Task) => object | null][] = [
  [CLONE_NEWNS, UCOUNT_MNT_NAMESPACES, (t) => t.fs.mntns],
  [CLONE_NEWUTS, UCOUNT_UTS_NAMESPACES, (t) => t.uts],
  [CLONE_NEWIPC, UCOUNT_IPC_NAMESPACES, (t) => t.ipc],
  [CLONE_NEWPID, UCOUNT_PID_NAMESPACES, (t) => t.pidNsForChildren],
  [CLONE_NEWCGROUP, UCOUNT_CGROUP_NAMESPACES, (t) => t.cgroupNs],
  [CLONE_NEWNET, UCOUNT_NET_NAMESPACES, (t) => t.net],
  [CLONE_NEWTIME, UCOUNT_TIME_NAMESPACES, (t) => t.timeNsForChildren],
];

/**
 * inc_mnt_namespaces, inc_uts_namespaces and the like for the namespaces `flags` make, owned by
 * `creds`' user namespace: ENOSPC past a limit there or above (kernel/ucounts.ts). A namespace
 * counts while a task holds it (a PID namespace also while one below it lives).
 */
export function checkNamespaceCounts(t: Task, flags: number, creds: Credentials): void {
  for (const [flag, kind, of] of NS_KINDS) {
    if (!(flags & flag)) continue;
    const live = new Set<object>();
    for (const task of t.kernel.tasks.values()) {
      const n = of(task);
      if (n !== null) live.add(n);
      if (kind === UCOUNT_PID_NAMESPACES) {
        for (let p: PidNamespace | null = task.pidNs; p !== null; p = p.parent) live.add(p);
        for (let p: PidNamespace | null = task.pidNsForChildren.parent; p !== null; p = p.parent) live.add(p);
      }
    }
    if (!t.kernel.ucounts.namespaceFits(kind, live, creds.userNs, creds.euid)) throw ENOSPC;
  }
}

/** Records the namespaces of `flags` that `holder` now holds as made by `creds` (what they count against). */
export function recordNamespaces(holder: Task, flags: number, creds: Credentials): void {
  for (const [flag, , of] of NS_KINDS) {
    const n = flags & flag ? of(holder) : null;
    if (n !== null) holder.kernel.ucounts.made(n, creds.userNs, creds.euid);
  }
}

/** The user namespaces other than the initial one that some task's credentials are in or below. */
function liveUserNamespaces(k: Task["kernel"]): Set<UserNamespace> {
  const live = new Set<UserNamespace>();
  for (const task of k.tasks.values()) {
    for (let n: UserNamespace = task.creds.userNs; n.parent !== null && !live.has(n); n = n.parent) live.add(n);
  }
  return live;
}

/**
 * RLIMIT_NPROC, as Linux's copy_process checks it: the child counts for its real uid in its
 * user namespace (and for each namespace's owner above, kernel/ucounts.ts), where the tasks
 * (threads included, and zombies not yet reaped) may not pass the caller's soft limit. Real uid
 * 0 (INIT_USER) and holders of CAP_SYS_RESOURCE or CAP_SYS_ADMIN are exempt. A fork allowed
 * clears PF_NPROC_EXCEEDED.
 */
function checkNproc(t: Task, child: Credentials): void {
  if (child.uid !== 0 && !t.creds.hasCap(CAP_SYS_RESOURCE) && !t.creds.hasCap(CAP_SYS_ADMIN)) {
    const limit = t.tg.limits.soft(RLIMIT_NPROC);
    if (limit !== Infinity && nprocOverlimit(t.kernel, child.userNs, child.uid, 1, limit)) throw EAGAIN;
  }
  t.nprocExceeded = false;
}

/** What every task holds of RLIMIT_NPROC: one for its real uid, as a zombie its last one's. */
function* nprocCharges(k: Task["kernel"]): Generator<RlimitCharge> {
  for (const task of k.tasks.values()) yield [task.creds.userNs, task.creds.uid, 1];
  for (const g of k.threadGroups.values()) if (g.zombie) yield [g.exitUserNs, g.exitUid, 1];
}

/** is_rlimit_overlimit for RLIMIT_NPROC: (ns, uid) with `amount` more tasks, under `limit`. */
export function nprocOverlimit(k: Task["kernel"], ns: UserNamespace, uid: number, amount: number, limit: number): boolean {
  return rlimitOverlimit(nprocCharges(k), ns, uid, amount, limit, UCOUNT_RLIMIT_NPROC);
}

/**
 * set*uid's flag_nproc_exceeded, for credentials `next` about to replace t's: when the real uid
 * or the user namespace changes, whether the new user is over RLIMIT_NPROC already (t itself
 * still counting for the old one) decides whether t's next execve re-checks it (EAGAIN then):
 * set*uid itself never fails for it, as programs that do not check it expect.
 */
export function flagNprocExceeded(t: Task, next: Credentials): void {
  const c = t.creds;
  if (next.uid === c.uid && next.userNs === c.userNs) return;
  t.nprocExceeded = next.uid !== 0 && nprocOverlimit(t.kernel, next.userNs, next.uid, 0, t.tg.limits.soft(RLIMIT_NPROC));
}

/**
 * For the parent of a CLONE_VFORK clone: null when it may go on, or the queue to wait on.
 * Keeps the child's tid in t.syscallState across re-runs.
 */
export function vforkWaitDone(t: Task, child: Task | null): { tid: number; wait: ThreadGroup | null } {
  let st = t.syscallState as VforkWait | null;
  if (st === null) {
    st = { vforkChild: child!.tid };
    t.syscallState = st;
  }
  const tg = t.kernel.threadGroups.get(st.vforkChild);
  if (tg === undefined) {
    // CLONE_VFORK with CLONE_THREAD: the child is a thread of ours, released when it exits
    // (Kernel.#exitTask wakes the group's vforkDone queue).
    const child = t.kernel.tasks.get(st.vforkChild);
    const waiting = child !== undefined && child.tg === t.tg && child.state !== "dead";
    return { tid: st.vforkChild, wait: waiting ? t.tg : null };
  }
  const waiting = tg.vforkPending && !tg.zombie;
  return { tid: st.vforkChild, wait: waiting ? tg : null };
}
