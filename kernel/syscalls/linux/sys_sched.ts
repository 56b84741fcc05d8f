/**
 * Scheduling calls programs probe: affinity, policy and parameters, nice values, getcpu. The
 * host schedules the stubs; these record what the application asked for and report it back
 * with Linux's checks (CAP_SYS_NICE is euid 0 in the sandbox), without passing it to the host.
 */

import { EACCES, EINVAL, EPERM, ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { RLIMIT_NICE, RLIMIT_RTPRIO } from "../../../abi/linux/limits.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/** CPUs the sandbox reports: as many as the host gives the sentry. */
export function sandboxCpus(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

const SCHED_OTHER = 0, SCHED_FIFO = 1, SCHED_RR = 2, SCHED_BATCH = 3, SCHED_IDLE = 5;
const SCHED_RESET_ON_FORK = 0x40000000;
const PRIO_PROCESS = 0, PRIO_PGRP = 1, PRIO_USER = 2;
/** sched_rr_get_interval: SCHED_RR's quantum (RR_TIMESLICE) and a tick for the others. */
const RR_INTERVAL_NS = 100_000_000, TICK_NS = 4_000_000;

/** The task a sched_* pid names: 0 is the caller; negative is EINVAL; unknown is ESRCH. */
function taskOf(t: Task, pid: number): Task {
  if (pid < 0) throw EINVAL;
  if (pid === 0) return t;
  const target = t.kernel.tasks.get(pid);
  if (!target) throw ESRCH;
  return target;
}

/** Linux's check_same_owner: root, or the caller's euid is the target's real or effective uid. */
function mayChange(t: Task, target: Task): boolean {
  const c = t.creds, d = target.creds;
  return c.isRoot || c.euid === d.uid || c.euid === d.euid;
}

/** The mask size in bytes Linux uses: whole 64-bit words covering the CPUs. */
function maskBytes(): number {
  return Math.ceil(sandboxCpus() / 64) * 8;
}

/** Implements sched_getaffinity(2): the task's mask (every CPU unless set); returns its size. */
const sysSchedGetaffinity: SyscallFn = (t, a) => {
  const target = taskOf(t, a.int(0));
  const len = a.uint(1);
  const size = maskBytes();
  if (len * 8 < sandboxCpus() || len % 8 !== 0) throw EINVAL;
  const b = new Uint8Array(size);
  if (target.affinity) b.set(target.affinity.subarray(0, size));
  else for (let c = 0; c < sandboxCpus(); c++) b[c >> 3]! |= 1 << (c & 7);
  t.copyOut(a.pointer(2), b);
  return size;
};

/** Implements sched_setaffinity(2): kept on the task (the host's placement is the sentry's). */
const sysSchedSetaffinity: SyscallFn = (t, a) => {
  const target = taskOf(t, a.int(0));
  const len = Math.min(a.uint(1), 1024);
  const user = t.copyIn(a.pointer(2), len);
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

/** Sets policy and priority with Linux's checks (sched_setscheduler's __sched_setscheduler). */
function setScheduler(t: Task, target: Task, policy: number, priority: number): void {
  const range = priorityRange(policy);
  if (!range || priority < range[0] || priority > range[1]) throw EINVAL;
  if (!mayChange(t, target)) throw EPERM;
  if ((policy === SCHED_FIFO || policy === SCHED_RR) && !t.creds.isRoot) {
    const rtprio = t.tg.limits.soft(RLIMIT_RTPRIO);
    if (priority > rtprio && priority > target.schedPriority) throw EPERM;
  }
  target.schedPolicy = policy;
  target.schedPriority = priority;
}

function readParam(t: Task, addr: number): number {
  if (addr === 0) throw EINVAL;
  return t.copyInU32(addr) | 0;
}

const sysSchedSetscheduler: SyscallFn = (t, a) => {
  const target = taskOf(t, a.int(0));
  const policy = a.int(1);
  if (policy < 0) throw EINVAL;
  const priority = readParam(t, a.pointer(2));
  setScheduler(t, target, policy & ~SCHED_RESET_ON_FORK, priority);
  target.schedResetOnFork = (policy & SCHED_RESET_ON_FORK) !== 0;
  return 0;
};

const sysSchedGetscheduler: SyscallFn = (t, a) => {
  const target = taskOf(t, a.int(0));
  return target.schedPolicy | (target.schedResetOnFork ? SCHED_RESET_ON_FORK : 0);
};

const sysSchedSetparam: SyscallFn = (t, a) => {
  const target = taskOf(t, a.int(0));
  setScheduler(t, target, target.schedPolicy, readParam(t, a.pointer(1)));
  return 0;
};

const sysSchedGetparam: SyscallFn = (t, a) => {
  if (a.pointer(1) === 0) throw EINVAL;
  const target = taskOf(t, a.int(0));
  t.copyOutU32(a.pointer(1), target.schedPriority);
  return 0;
};

/** SCHED_DEADLINE: only through sched_setattr (not supported); its priority range is [0, 0]. */
const SCHED_DEADLINE = 6;

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

/** Whom a (which, who) pair of getpriority/setpriority or ioprio_get/ioprio_set names. */
export type WhoKind = "process" | "pgrp" | "user";

/**
 * The tasks (kind, who) names, who 0 meaning the caller's own pid, process group or uid, as
 * Linux's getpriority(2) and ioprio_get(2) share them; ESRCH when none.
 */
export function tasksNamedBy(t: Task, kind: WhoKind, who: number): Task[] {
  const k = t.kernel;
  let out: Task[];
  switch (kind) {
    case "process":
      out = who === 0 ? [t] : [k.tasks.get(who)].filter((x): x is Task => x !== undefined);
      break;
    case "pgrp": {
      const pgid = who === 0 ? t.tg.pgid : who;
      out = [...k.tasks.values()].filter((x) => x.tg.pgid === pgid);
      break;
    }
    case "user": {
      const uid = who === 0 ? t.creds.uid : who;
      out = [...k.tasks.values()].filter((x) => x.creds.uid === uid);
      break;
    }
  }
  if (out.length === 0) throw ESRCH;
  return out;
}

/** The tasks getpriority/setpriority address; EINVAL for an unknown which, ESRCH when none. */
function priorityTargets(t: Task, which: number, who: number): Task[] {
  const kind: WhoKind | undefined = ({ [PRIO_PROCESS]: "process", [PRIO_PGRP]: "pgrp", [PRIO_USER]: "user" } as const)[which];
  if (kind === undefined) throw EINVAL;
  return tasksNamedBy(t, kind, who);
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
    if (!mayChange(t, x)) {
      error = EPERM;
      continue;
    }
    if (nice < x.nice && !t.creds.isRoot && 20 - nice > t.tg.limits.soft(RLIMIT_NICE)) {
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
};
