/**
 * Scheduling calls programs probe: affinity, policy and parameters, nice values, getcpu. The
 * host schedules the stubs; these record what the application asked for and report it back
 * with Linux's checks (CAP_SYS_NICE is euid 0 in the sandbox), without passing it to the host.
 * Loaded at the first call of one of them (table_amd64.ts LAZY_FAMILIES): ld.so and libc's
 * start make none.
 */

import { E2BIG, EACCES, EBUSY, EINVAL, EOPNOTSUPP, EPERM, ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";
import type { ThreadGroup } from "../../thread_group.ts";
import { RLIMIT_NICE, RLIMIT_RTPRIO } from "../../../abi/linux/limits.ts";
import { PAGE_SIZE } from "../../../abi/linux/mm.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { CAP_SYS_NICE } from "../../../abi/linux/capability.ts";
import { maskBytes, sandboxCpus } from "../../cpus.ts";
import { tasksNamedBy, type WhoKind } from "./_who.ts";

// Where they were, for their older importers (kernel/checkpoint/task_policies.ts, tests).
export { maskBytes, sandboxCpus, tasksNamedBy, type WhoKind };


const SCHED_OTHER = 0, SCHED_FIFO = 1, SCHED_RR = 2, SCHED_BATCH = 3, SCHED_IDLE = 5;
const SCHED_DEADLINE = 6;
const SCHED_RESET_ON_FORK = 0x40000000;
const PRIO_PROCESS = 0, PRIO_PGRP = 1, PRIO_USER = 2;
/** sched_rr_get_interval: SCHED_RR's quantum (RR_TIMESLICE) and a tick for the others. */
const RR_INTERVAL_NS = 100_000_000, TICK_NS = 4_000_000;

/** The task a sched_* pid names: 0 is the caller; negative is EINVAL; unknown is ESRCH. */
function taskOf(t: Task, pid: number): Task {
  if (pid < 0) throw EINVAL;
  if (pid === 0) return t;
  const target = t.findTask(pid);
  if (!target) throw ESRCH;
  return target;
}

/**
 * The task an affinity call names: Linux's find_process_by_pid, with no sign check (unlike the
 * policy calls), so a negative pid is simply not found (ESRCH).
 */
function affinityTaskOf(t: Task, pid: number): Task {
  if (pid === 0) return t;
  const target = pid < 0 ? undefined : t.findTask(pid);
  if (!target) throw ESRCH;
  return target;
}

/** Linux's check_same_owner: CAP_SYS_NICE, or the caller's euid is the target's real or effective uid. */
function mayChange(t: Task, target: Task): boolean {
  return mayChangeIds(t, target.creds);
}

function mayChangeIds(t: Task, d: { readonly uid: number; readonly euid: number }): boolean {
  const c = t.creds;
  return c.hasCap(CAP_SYS_NICE) || c.euid === d.uid || c.euid === d.euid;
}


/** Implements sched_getaffinity(2): the task's mask (every CPU unless set); returns its size. */
const sysSchedGetaffinity: SyscallFn = (t, a) => {
  const len = a.uint(1);
  const size = maskBytes();
  if (len * 8 < sandboxCpus() || len % 8 !== 0) throw EINVAL;
  const target = affinityTaskOf(t, a.int(0));
  const b = new Uint8Array(size);
  if (target.affinity) b.set(target.affinity.subarray(0, size));
  else for (let c = 0; c < sandboxCpus(); c++) b[c >> 3]! |= 1 << (c & 7);
  t.copyOut(a.pointer(2), b);
  return size;
};

/** Implements sched_setaffinity(2): kept on the task (the host's placement is the sentry's). */
const sysSchedSetaffinity: SyscallFn = (t, a) => {
  // The mask is copied in before the pid is looked up (get_user_cpu_mask, then sched_setaffinity).
  const len = Math.min(a.uint(1), 1024);
  const user = t.copyIn(a.pointer(2), len);
  const target = affinityTaskOf(t, a.int(0));
  if (!mayChange(t, target)) throw EPERM;
  const mask = new Uint8Array(maskBytes());
  let any = false;
  for (let c = 0; c < sandboxCpus(); c++) {
    if ((c >> 3) < user.length && (user[c >> 3]! & (1 << (c & 7)))) {
      mask[c >> 3]! |= 1 << (c & 7);
      any = true;
    }
  }
  if (!any) throw EINVAL;
  target.affinity = mask;
  if (target.rseq !== null) target.rseqResume = true; // migrated: its rseq CPU fields follow
  return 0;
};

/** Valid priorities of a policy: [min, max], or null for an unknown policy. */
function priorityRange(policy: number): [number, number] | null {
  switch (policy) {
    case SCHED_FIFO:
    case SCHED_RR:
      return [1, 99];
    case SCHED_OTHER:
    case SCHED_BATCH:
    case SCHED_IDLE:
      return [0, 0];
    default:
      return null;
  }
}

/**
 * What sched_setattr(2) asks for (Linux's struct sched_attr after sched_copy_attr): policy -1
 * keeps the task's policy and SCHED_RESET_ON_FORK (SETPARAM_POLICY).
 */
interface SchedAttr {
  policy: number;
  flags: bigint;
  nice: number;
  priority: number;
  runtime: bigint;
  deadline: bigint;
  period: bigint;
}

const SETPARAM_POLICY = -1;
const SCHED_FLAG_RESET_ON_FORK = 0x01n, SCHED_FLAG_KEEP_POLICY = 0x08n, SCHED_FLAG_KEEP_PARAMS = 0x10n;
const SCHED_FLAG_UTIL_CLAMP = 0x60n, SCHED_FLAG_ALL = 0x7fn, SCHED_FLAG_SUGOV = 0x10000000n;
const SCHED_ATTR_SIZE_VER0 = 48, SCHED_ATTR_SIZE = 56;
/** Linux's sysctl_sched_dl_period_min and _max, in ns (100 µs and 2^22 µs). */
const DL_PERIOD_MIN_NS = 100_000n, DL_PERIOD_MAX_NS = (1n << 22n) * 1000n;
/** A fair task's custom slice (sched_runtime) is clamped to [0.1 ms, 100 ms], as Linux's. */
const SLICE_MIN_NS = 100_000, SLICE_MAX_NS = 100_000_000;

function isRtPolicy(policy: number): boolean {
  return policy === SCHED_FIFO || policy === SCHED_RR;
}

function isFairPolicy(policy: number): boolean {
  return policy === SCHED_OTHER || policy === SCHED_BATCH;
}

/**
 * A fair task's slice in ns, which sched_getattr reports as sched_runtime (Linux 6.12 and
 * later): its custom one, else Linux's default sysctl_sched_base_slice, 0.7 ms scaled by
 * 1 + log2 of the CPUs (at most 8), as for the CPUs the sandbox reports.
 */
function sliceNs(t: Task): number {
  if (t.schedSliceNs !== 0) return t.schedSliceNs;
  return 700_000 * (1 + Math.floor(Math.log2(Math.min(sandboxCpus(), 8))));
}

/** Linux's __checkparam_dl: runtime <= deadline <= period, within the period bounds. */
function validDeadline(a: SchedAttr): boolean {
  if (a.deadline === 0n || a.runtime < 1024n) return false;
  if ((a.deadline | a.period) & (1n << 63n)) return false;
  const period = a.period === 0n ? a.deadline : a.period;
  if (period < a.deadline || a.deadline < a.runtime) return false;
  return period >= DL_PERIOD_MIN_NS && period <= DL_PERIOD_MAX_NS;
}

/** Linux's is_nice_reduction: nice may be lowered to this value within RLIMIT_NICE. */
function niceAllowed(t: Task, nice: number): boolean {
  return 20 - nice <= t.tg.limits.soft(RLIMIT_NICE);
}

/** Linux's user_check_sched_setscheduler: what an unprivileged caller may not do is EPERM. */
function checkUnprivileged(t: Task, target: Task, a: SchedAttr, policy: number, resetOnFork: boolean): void {
  if (t.creds.hasCap(CAP_SYS_NICE)) return;
  let denied = false;
  if (isFairPolicy(policy) && a.nice < target.nice && !niceAllowed(target, a.nice)) denied = true;
  if (isRtPolicy(policy)) {
    const rtprio = target.tg.limits.soft(RLIMIT_RTPRIO);
    if (policy !== target.schedPolicy && rtprio === 0) denied = true;
    if (a.priority > target.schedPriority && a.priority > rtprio) denied = true;
  }
  if (policy === SCHED_DEADLINE) denied = true;
  if (target.schedPolicy === SCHED_IDLE && policy !== SCHED_IDLE && !niceAllowed(target, target.nice)) denied = true;
  if (!mayChange(t, target)) denied = true;
  if (target.schedResetOnFork && !resetOnFork) denied = true;
  if (denied) throw EPERM;
}

/**
 * Linux's __sched_setscheduler, the one path of sched_setscheduler, sched_setparam and
 * sched_setattr: checks in Linux's order, then records policy, priority, nice, the custom slice
 * and SCHED_RESET_ON_FORK on the task. SCHED_DEADLINE's parameters are checked, then pass
 * admission control (admitDeadline), which keeps the books of the bandwidth the host never
 * reserves. There is no utilization clamping (EOPNOTSUPP, as without CONFIG_UCLAMP_TASK).
 */
function setSchedAttr(t: Task, target: Task, a: SchedAttr): void {
  let policy = a.policy, resetOnFork: boolean;
  if (policy < 0) {
    policy = target.schedPolicy;
    resetOnFork = target.schedResetOnFork;
  } else {
    resetOnFork = (a.flags & SCHED_FLAG_RESET_ON_FORK) !== 0n;
    if (priorityRange(policy) === null && policy !== SCHED_DEADLINE) throw EINVAL;
  }
  if (a.flags & ~(SCHED_FLAG_ALL | SCHED_FLAG_SUGOV)) throw EINVAL;
  if (a.priority > 99) throw EINVAL;
  if ((policy === SCHED_DEADLINE && !validDeadline(a)) || isRtPolicy(policy) !== (a.priority !== 0)) throw EINVAL;
  checkUnprivileged(t, target, a, policy, resetOnFork);
  if (a.flags & SCHED_FLAG_SUGOV) throw EINVAL;
  if (a.flags & SCHED_FLAG_UTIL_CLAMP) throw EOPNOTSUPP;
  if (policy === SCHED_DEADLINE && !(a.flags & SCHED_FLAG_KEEP_PARAMS && target.schedPolicy === SCHED_DEADLINE)) {
    admitDeadline(t, target, a);
  }
  target.schedResetOnFork = resetOnFork;
  if (a.flags & SCHED_FLAG_KEEP_PARAMS) return;
  target.schedPolicy = policy;
  target.schedPriority = a.priority;
  target.schedDl = policy === SCHED_DEADLINE
    ? { runtime: Number(a.runtime), deadline: Number(a.deadline), period: Number(a.period === 0n ? a.deadline : a.period) }
    : null;
  if (isFairPolicy(policy)) {
    target.nice = a.nice;
    const runtime = Number(a.runtime > BigInt(SLICE_MAX_NS) ? SLICE_MAX_NS : a.runtime);
    target.schedSliceNs = runtime === 0 ? 0 : Math.max(SLICE_MIN_NS, runtime);
  }
}

/** Linux's BW_SHIFT: bandwidths are runtime/period in 20-bit fixed point (to_ratio). */
const BW_SHIFT = 20n;

/**
 * SCHED_DEADLINE's admission control, as Linux's __sched_setscheduler and sched_dl_overflow
 * with the default root domain: the task must be allowed on every CPU (EPERM), and the
 * deadline tasks' bandwidth, this one's new in place of its old, may not pass 95% of each CPU
 * (sched_rt_runtime_us/sched_rt_period_us) over them all (EBUSY). The sandbox's scheduler is
 * the host's: the reservation is bookkeeping, as the deadlines are not enforced.
 */
function admitDeadline(t: Task, target: Task, a: SchedAttr): void {
  const cpus = sandboxCpus();
  if (target.affinity !== null) {
    for (let c = 0; c < cpus; c++) if (!(target.affinity[c >> 3]! & (1 << (c & 7)))) throw EPERM;
  }
  const ratio = (runtime: bigint, period: bigint) => (runtime << BW_SHIFT) / period;
  let total = 0n;
  for (const x of t.kernel.tasks.values()) {
    if (x === target || x.schedDl === null || x.state === "dead") continue;
    total += ratio(BigInt(x.schedDl.runtime), BigInt(x.schedDl.period));
  }
  const limit = ratio(950_000n, 1_000_000n) * BigInt(cpus);
  if (total + ratio(a.runtime, a.period === 0n ? a.deadline : a.period) > limit) throw EBUSY;
}

/** sched_setscheduler and sched_setparam as Linux's _sched_setscheduler builds their attr. */
function setPolicyAndPriority(t: Task, target: Task, policy: number, priority: number): void {
  let flags = 0n;
  if (policy !== SETPARAM_POLICY && (policy & SCHED_RESET_ON_FORK)) {
    flags = SCHED_FLAG_RESET_ON_FORK;
    policy &= ~SCHED_RESET_ON_FORK;
  }
  const runtime = BigInt(target.schedSliceNs);
  setSchedAttr(t, target, { policy, flags, nice: target.nice, priority, runtime, deadline: 0n, period: 0n });
}

/** sched_setscheduler/sched_setparam's struct sched_param: EINVAL for NULL, EFAULT if unreadable. */
function readParam(t: Task, addr: number): number {
  if (addr === 0) throw EINVAL;
  return t.copyInU32(addr) | 0;
}

const sysSchedSetscheduler: SyscallFn = (t, a) => {
  const pid = a.int(0), policy = a.int(1);
  if (policy < 0 || pid < 0) throw EINVAL;
  const priority = readParam(t, a.pointer(2));
  setPolicyAndPriority(t, taskOf(t, pid), policy, priority);
  return 0;
};

const sysSchedSetparam: SyscallFn = (t, a) => {
  const pid = a.int(0);
  if (pid < 0) throw EINVAL;
  const priority = readParam(t, a.pointer(1));
  setPolicyAndPriority(t, taskOf(t, pid), SETPARAM_POLICY, priority);
  return 0;
};

/**
 * Reads a struct sched_attr as Linux's sched_copy_attr: size 0 means the first version's 48
 * bytes; a size under that, over a page, or with non-zero bytes past the 56 Linux knows is
 * E2BIG, and the size Linux knows is written back for the caller to retry with.
 */
function readSchedAttr(t: Task, addr: number): SchedAttr {
  let size = t.copyInU32(addr);
  if (size === 0) size = SCHED_ATTR_SIZE_VER0;
  const tooBig = () => {
    t.copyOutU32(addr, SCHED_ATTR_SIZE);
    return E2BIG;
  };
  if (size < SCHED_ATTR_SIZE_VER0 || size > PAGE_SIZE) throw tooBig();
  const b = t.copyIn(addr, size);
  if (b.subarray(SCHED_ATTR_SIZE).some((x) => x !== 0)) throw tooBig();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = v.getBigUint64(8, true);
  if ((flags & SCHED_FLAG_UTIL_CLAMP) && size < SCHED_ATTR_SIZE) throw EINVAL;
  return {
    policy: v.getInt32(4, true),
    flags,
    nice: Math.max(-20, Math.min(19, v.getInt32(16, true))),
    priority: v.getUint32(20, true),
    runtime: v.getBigUint64(24, true),
    deadline: v.getBigUint64(32, true),
    period: v.getBigUint64(40, true),
  };
}

/** Implements sched_setattr(2); see {@linkcode setSchedAttr}. */
const sysSchedSetattr: SyscallFn = (t, a) => {
  const pid = a.int(0), addr = a.pointer(1);
  if (addr === 0 || pid < 0 || a.uint(2) !== 0) throw EINVAL;
  const attr = readSchedAttr(t, addr);
  if (attr.policy < 0) throw EINVAL;
  if (attr.flags & SCHED_FLAG_KEEP_POLICY) attr.policy = SETPARAM_POLICY;
  const target = taskOf(t, pid);
  if (attr.flags & SCHED_FLAG_KEEP_PARAMS) {
    // Linux's get_params: the task's own parameters replace the caller's.
    if (isRtPolicy(target.schedPolicy)) attr.priority = target.schedPriority;
    else {
      attr.nice = target.nice;
      attr.runtime = BigInt(sliceNs(target));
    }
  }
  setSchedAttr(t, target, attr);
  return 0;
};

/**
 * Implements sched_getattr(2): policy, SCHED_FLAG_RESET_ON_FORK, nice and slice for a fair
 * policy or the priority for a real-time one, and no utilization clamps; min(size, 56) bytes,
 * the rest of the caller's size zeroed (Linux's copy_struct_to_user).
 */
const sysSchedGetattr: SyscallFn = (t, a) => {
  const pid = a.int(0), addr = a.pointer(1), size = a.uint(2), flags = a.uint(3);
  if (addr === 0 || pid < 0 || size > PAGE_SIZE || size < SCHED_ATTR_SIZE_VER0 || flags !== 0) throw EINVAL;
  const target = taskOf(t, pid);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, Math.min(size, SCHED_ATTR_SIZE), true);
  v.setUint32(4, target.schedPolicy, true);
  v.setBigUint64(8, target.schedResetOnFork ? SCHED_FLAG_RESET_ON_FORK : 0n, true);
  if (isRtPolicy(target.schedPolicy)) v.setUint32(20, target.schedPriority, true);
  else if (target.schedDl !== null) {
    v.setBigUint64(24, BigInt(target.schedDl.runtime), true);
    v.setBigUint64(32, BigInt(target.schedDl.deadline), true);
    v.setBigUint64(40, BigInt(target.schedDl.period), true);
  } else {
    v.setInt32(16, target.nice, true);
    v.setBigUint64(24, BigInt(sliceNs(target)), true);
  }
  t.copyOut(addr, b);
  return 0;
};

/**
 * A task's policy (with SCHED_RESET_ON_FORK) and priority as the get calls read them; a zombie
 * process, until it is reaped, by what its last task had (Linux still finds its task).
 */
function schedOf(t: Task, pid: number): { policy: number; priority: number } {
  try {
    const target = taskOf(t, pid);
    return { policy: target.schedPolicy | (target.schedResetOnFork ? SCHED_RESET_ON_FORK : 0), priority: target.schedPriority };
  } catch (e) {
    if (e !== ESRCH) throw e;
    const tg = t.kernel.threadGroups.get(t.pidNs.global(pid) ?? 0);
    if (tg === undefined || !tg.zombie) throw e;
    return tg.exitSched;
  }
}

const sysSchedGetscheduler: SyscallFn = (t, a) => schedOf(t, a.int(0)).policy;

const sysSchedGetparam: SyscallFn = (t, a) => {
  if (a.pointer(1) === 0) throw EINVAL;
  t.copyOutU32(a.pointer(1), schedOf(t, a.int(0)).priority);
  return 0;
};

const sysSchedGetPriorityMax: SyscallFn = (_t, a) => {
  const r: [number, number] | null = a.int(0) === SCHED_DEADLINE ? [0, 0] : priorityRange(a.int(0));
  if (!r) throw EINVAL;
  return r[1];
};

const sysSchedGetPriorityMin: SyscallFn = (_t, a) => {
  const r: [number, number] | null = a.int(0) === SCHED_DEADLINE ? [0, 0] : priorityRange(a.int(0));
  if (!r) throw EINVAL;
  return r[0];
};

/** Implements sched_rr_get_interval(2): 100 ms under SCHED_RR, 0 under FIFO, a tick otherwise. */
const sysSchedRrGetInterval: SyscallFn = (t, a) => {
  const target = taskOf(t, a.int(0));
  const ns = target.schedPolicy === SCHED_RR ? RR_INTERVAL_NS : target.schedPolicy === SCHED_FIFO ? 0 : TICK_NS;
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, BigInt(Math.floor(ns / 1e9)), true);
  v.setBigInt64(8, BigInt(ns % 1e9), true);
  t.copyOut(a.pointer(1), b);
  return 0;
};


/**
 * What getpriority/setpriority see of a task: its ids and nice value. A zombie process counts
 * until it is reaped (Linux still finds its task): by the ids and nice it died with.
 */
interface PrioTarget {
  readonly creds: { readonly uid: number; readonly euid: number };
  nice: number;
}

/** A zombie process as a priority target (its nice value lives on its thread group). */
function zombieTarget(tg: ThreadGroup): PrioTarget {
  return {
    creds: { uid: tg.exitUid, euid: tg.exitEuid },
    get nice() {
      return tg.exitNice;
    },
    set nice(v: number) {
      tg.exitNice = v;
    },
  };
}

/** The tasks getpriority/setpriority address, zombies too; EINVAL for an unknown which, ESRCH when none. */
function priorityTargets(t: Task, which: number, who: number): PrioTarget[] {
  const kind: WhoKind | undefined = ({ [PRIO_PROCESS]: "process", [PRIO_PGRP]: "pgrp", [PRIO_USER]: "user" } as const)[which];
  if (kind === undefined) throw EINVAL;
  const k = t.kernel;
  const zombies = [...k.threadGroups.values()].filter((g) => g.zombie);
  let dead: ThreadGroup[];
  switch (kind) {
    case "process":
      dead = who === 0 ? [] : zombies.filter((g) => g.tgid === (t.pidNs.global(who) ?? -1));
      break;
    case "pgrp": {
      const pgid = who === 0 ? t.tg.pgid : t.pidNs.global(who) ?? -1;
      dead = zombies.filter((g) => g.pgid === pgid);
      break;
    }
    case "user": {
      const uid = who === 0 ? t.creds.uid : who;
      dead = zombies.filter((g) => g.exitUid === uid);
      break;
    }
  }
  let live: PrioTarget[];
  try {
    live = tasksNamedBy(t, kind, who);
  } catch (e) {
    if (e !== ESRCH || dead.length === 0) throw e;
    live = [];
  }
  return [...live, ...dead.map(zombieTarget)];
}

/** Implements getpriority(2): 20 - nice of the highest-priority target (glibc converts back). */
const sysGetpriority: SyscallFn = (t, a) => {
  const targets = priorityTargets(t, a.int(0), a.int(1));
  return 20 - Math.min(...targets.map((x) => x.nice));
};

/** Implements setpriority(2): nice clamped to [-20, 19]; lowering it needs root or RLIMIT_NICE. */
const sysSetpriority: SyscallFn = (t, a) => {
  const targets = priorityTargets(t, a.int(0), a.int(1));
  const nice = Math.max(-20, Math.min(19, a.int(2)));
  let error: Error | null = null;
  for (const x of targets) {
    if (!mayChangeIds(t, x.creds)) {
      error = EPERM;
      continue;
    }
    if (nice < x.nice && !t.creds.hasCap(CAP_SYS_NICE) && 20 - nice > t.tg.limits.soft(RLIMIT_NICE)) {
      error = EACCES;
      continue;
    }
    x.nice = nice;
  }
  if (error) throw error;
  return 0;
};

/** Implements getcpu(2): the first CPU the task may run on; NUMA node 0. */
const sysGetcpu: SyscallFn = (t, a) => {
  let cpu = 0;
  if (t.affinity) while (!(t.affinity[cpu >> 3]! & (1 << (cpu & 7)))) cpu++;
  if (a.pointer(0) !== 0) t.copyOutU32(a.pointer(0), cpu);
  if (a.pointer(1) !== 0) t.copyOutU32(a.pointer(1), 0);
  return 0;
};

const sysSchedYield: SyscallFn = () => 0;

export const table: Record<number, SyscallEntry> = {
  24: supported("sched_yield", sysSchedYield),
  140: supported("getpriority", sysGetpriority),
  141: supported("setpriority", sysSetpriority),
  142: supported("sched_setparam", sysSchedSetparam),
  143: supported("sched_getparam", sysSchedGetparam),
  144: supported("sched_setscheduler", sysSchedSetscheduler),
  145: supported("sched_getscheduler", sysSchedGetscheduler),
  146: supported("sched_get_priority_max", sysSchedGetPriorityMax),
  147: supported("sched_get_priority_min", sysSchedGetPriorityMin),
  148: supported("sched_rr_get_interval", sysSchedRrGetInterval),
  203: supported("sched_setaffinity", sysSchedSetaffinity),
  204: supported("sched_getaffinity", sysSchedGetaffinity),
  309: supported("getcpu", sysGetcpu),
  314: partial("sched_setattr", sysSchedSetattr, "SCHED_DEADLINE is admitted but not enforced; no utilization clamps"),
  315: supported("sched_getattr", sysSchedGetattr),
};
