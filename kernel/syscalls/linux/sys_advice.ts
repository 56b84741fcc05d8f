/**
 * Advice and probes that programs make about I/O and memory, and whose effect on the host is
 * nil under the sentry: posix_fadvise and readahead (cp, sort, git), I/O priorities (ionice),
 * NUMA policies (runtimes and libnuma probe set_mempolicy and get_mempolicy), memory locking,
 * mincore and msync.
 * Each validates its arguments with Linux's checks and error order, and reports what Linux
 * would for a machine with one NUMA node; none of them changes what the host does.
 *
 * What is kept: the I/O priority a task sets (Task.ioprio, for ioprio_get), and which ranges
 * are locked (Vma.locked: RLIMIT_MEMLOCK counts them, msync(MS_INVALIDATE) is EBUSY and
 * MADV_DONTNEED EINVAL on them); the host pages the stubs' memory as it likes.
 *
 * @module
 */

import { EBADF, EBUSY, EFAULT, EINVAL, ENOMEM, EPERM, ESPIPE } from "../../errno.ts";
import { O_PATH, S_IFIFO, S_IFMT, S_IFREG } from "../../../abi/linux/file.ts";
import {
  MAX_NUMNODES, MPOL_BIND, MPOL_DEFAULT, MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_INTERLEAVE, MPOL_LOCAL,
  MPOL_MAX, MPOL_MODE_FLAGS, MPOL_PREFERRED, MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE, PAGE_SIZE,
} from "../../../abi/linux/mm.ts";
import { RLIM_INFINITY, RLIMIT_MEMLOCK } from "../../../abi/linux/limits.ts";
import type { Task } from "../../task.ts";
import type { MemPolicy } from "../../mm/mm.ts";
import { tasksNamedBy, type WhoKind } from "./_who.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { CAP_IPC_LOCK, CAP_SYS_ADMIN, CAP_SYS_NICE } from "../../../abi/linux/capability.ts";

/** The descriptor fd, excluding O_PATH ones (Linux's fdget: EBADF). */
function fileOf(t: Task, fd: number): FileDescription {
  const f = t.fdTable.get(fd);
  if (f.flags & O_PATH) throw EBADF;
  return f;
}

const POSIX_FADV_NOREUSE = 5;

/**
 * Implements fadvise64(2) (posix_fadvise): the page cache is the host's, so every valid advice
 * is accepted and does nothing. Pipes and FIFOs are ESPIPE before the advice is looked at.
 */
const sysFadvise64: SyscallFn = (t, a) => {
  const f = fileOf(t, a.fd(0));
  const len = a.long(2), advice = a.int(3);
  if ((f.stat().mode & S_IFMT) === S_IFIFO) throw ESPIPE;
  if (len < 0 || advice < 0 || advice > POSIX_FADV_NOREUSE) throw EINVAL;
  return 0;
};

/** Implements readahead(2): regular files open for reading only; a no-op. */
const sysReadahead: SyscallFn = (t, a) => {
  const f = fileOf(t, a.fd(0));
  if (!f.readable) throw EBADF;
  if ((f.stat().mode & S_IFMT) !== S_IFREG) throw EINVAL;
  return 0;
};

const IOPRIO_WHO_PROCESS = 1, IOPRIO_WHO_PGRP = 2, IOPRIO_WHO_USER = 3;
const IOPRIO_CLASS_NONE = 0, IOPRIO_CLASS_RT = 1, IOPRIO_CLASS_BE = 2, IOPRIO_CLASS_IDLE = 3;
/** What a task that never set a priority has, when priorities are compared (best-effort, 4). */
const IOPRIO_DEFAULT = (IOPRIO_CLASS_BE << 13) | 4;

/** The tasks an ioprio_* (which, who) names; ESRCH when none, EINVAL for an unknown which. */
function ioprioTargets(t: Task, which: number, who: number): Task[] {
  const kind: WhoKind | undefined = (
    { [IOPRIO_WHO_PROCESS]: "process", [IOPRIO_WHO_PGRP]: "pgrp", [IOPRIO_WHO_USER]: "user" } as const
  )[which];
  if (kind === undefined) throw EINVAL;
  return tasksNamedBy(t, kind, who);
}

/** Linux's ioprio_check_cap: the class and level must be valid; realtime needs privilege. */
function checkIoprio(t: Task, ioprio: number): void {
  const cls = (ioprio >> 13) & 7, level = ioprio & 7;
  switch (cls) {
    case IOPRIO_CLASS_RT:
      if (!t.creds.hasCap(CAP_SYS_NICE) && !t.creds.hasCap(CAP_SYS_ADMIN)) throw EPERM;
      break;
    case IOPRIO_CLASS_BE:
    case IOPRIO_CLASS_IDLE:
      break;
    case IOPRIO_CLASS_NONE:
      if (level !== 0) throw EINVAL;
      break;
    default:
      throw EINVAL;
  }
}

/**
 * Implements ioprio_set(2): checked as Linux does (the target's real uid must be the caller's
 * real or effective uid, unless CAP_SYS_NICE), then kept for ioprio_get; the host schedules
 * the sentry's own I/O.
 */
const sysIoprioSet: SyscallFn = (t, a) => {
  const which = a.int(0), who = a.int(1), ioprio = a.int(2);
  checkIoprio(t, ioprio);
  for (const x of ioprioTargets(t, which, who)) {
    const c = t.creds;
    if (!c.hasCap(CAP_SYS_NICE) && x.creds.uid !== c.euid && x.creds.uid !== c.uid) throw EPERM;
  }
  for (const x of ioprioTargets(t, which, who)) x.ioprio = ioprio;
  return 0;
};

/**
 * Implements ioprio_get(2): a process reports what it set, IOPRIO_CLASS_NONE (0) if nothing, as
 * on Linux; a group or user reports the best (lowest) of its members, where "none" counts as
 * best-effort level 4.
 */
const sysIoprioGet: SyscallFn = (t, a) => {
  const which = a.int(0);
  const targets = ioprioTargets(t, which, a.int(1));
  if (which === IOPRIO_WHO_PROCESS) return targets[0]!.ioprio;
  return Math.min(...targets.map((x) => (x.ioprio >> 13) === IOPRIO_CLASS_NONE ? IOPRIO_DEFAULT : x.ioprio));
};

const MPOL_F_NODE = 1, MPOL_F_ADDR = 2, MPOL_F_MEMS_ALLOWED = 4;
/** The nodes the sandbox has: node 0. */
const ONLINE_NODES = 1n;

/**
 * Reads set_mempolicy's node mask as Linux's get_nodes: maxnode - 1 bits (none for a NULL mask
 * or maxnode 1), at most a page of them; bits past MAX_NUMNODES must be zero.
 */
function readNodes(t: Task, maskPtr: number, maxnode: number): bigint {
  const bits = maxnode - 1; // maxnode 0 wraps to a huge count on Linux: EINVAL below
  if (bits === 0 || maskPtr === 0) return 0n;
  if (bits < 0 || bits > PAGE_SIZE * 8) throw EINVAL;
  const b = t.copyIn(maskPtr, Math.ceil(bits / 64) * 8);
  let nodes = 0n;
  for (let i = b.length - 1; i >= 0; i--) nodes = (nodes << 8n) | BigInt(b[i]!);
  nodes &= (1n << BigInt(bits)) - 1n;
  if (nodes >> BigInt(MAX_NUMNODES)) throw EINVAL;
  return nodes;
}

/** sanitize_mpol_flags: a mode and its flags from set_mempolicy's or mbind's argument. */
function policyMode(arg: number): [mode: number, flags: number] {
  const flags = arg & MPOL_MODE_FLAGS;
  const mode = arg & ~MPOL_MODE_FLAGS;
  if (mode < 0 || mode >= MPOL_MAX) throw EINVAL;
  if ((flags & MPOL_F_STATIC_NODES) && (flags & MPOL_F_RELATIVE_NODES)) throw EINVAL;
  if ((flags & MPOL_F_NUMA_BALANCING) && mode !== MPOL_BIND && mode !== MPOL_PREFERRED_MANY) throw EINVAL;
  return [mode, flags];
}

/**
 * mpol_new and mpol_set_nodemask for a machine whose only node is 0: the policy of `mode`
 * with `flags` over the nodes `user` names (null: the default policy), or EINVAL.
 */
function newPolicy(mode: number, flags: number, user: bigint): MemPolicy | null {
  if (mode === MPOL_DEFAULT) {
    if (user !== 0n) throw EINVAL;
    return null;
  }
  const pinned = (flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)) !== 0;
  if (mode === MPOL_PREFERRED && user === 0n) {
    if (pinned) throw EINVAL;
    mode = MPOL_LOCAL;
  } else if (mode === MPOL_LOCAL) {
    if (user !== 0n || pinned) throw EINVAL;
  } else if (user === 0n) {
    throw EINVAL;
  }
  // The nodes usable: relative nodes fold onto the allowed ones (any bit is node 0 here).
  const usable = (flags & MPOL_F_RELATIVE_NODES) ? (user !== 0n ? ONLINE_NODES : 0n) : user & ONLINE_NODES;
  if (mode !== MPOL_LOCAL && usable === 0n) throw EINVAL;
  // get_mempolicy reports the mask as given under STATIC/RELATIVE, else the nodes in use.
  return { mode, flags, nodes: mode === MPOL_LOCAL ? 0n : pinned ? user : usable };
}

/**
 * Implements set_mempolicy(2) with Linux's checks (sanitize_mpol_flags, mpol_new), for a
 * machine whose only node is 0: the policy is kept on the task for get_mempolicy, fork and
 * threads; the host places the memory as it likes.
 */
const sysSetMempolicy: SyscallFn = (t, a) => {
  const [mode, flags] = policyMode(a.int(0));
  t.memPolicy = newPolicy(mode, flags, readNodes(t, a.pointer(1), a.sizeT(2)));
  return 0;
};

const MPOL_MF_STRICT = 1, MPOL_MF_MOVE = 2, MPOL_MF_MOVE_ALL = 4;

/**
 * Implements mbind(2) in Linux's order (kernel_mbind, do_mbind): the mode and node mask as
 * set_mempolicy's, flags (MPOL_MF_MOVE_ALL needs CAP_SYS_NICE), a page-aligned start, then a
 * range every page of which is mapped (EFAULT; any range for the default policy), whose
 * mappings take the policy (get_mempolicy's MPOL_F_ADDR reports it). Every page is on the one
 * node, so MPOL_MF_STRICT and the moves find nothing to do.
 */
const sysMbind: SyscallFn = (t, a) => {
  const start = a.u64(0), len = a.u64(1);
  const [mode, modeFlags] = policyMode(a.int(2));
  const user = readNodes(t, a.pointer(3), a.sizeT(4));
  const flags = a.u64(5);
  if (flags & ~BigInt(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) throw EINVAL;
  if ((flags & BigInt(MPOL_MF_MOVE_ALL)) && !t.creds.hasCap(CAP_SYS_NICE)) throw EPERM;
  if (start & BigInt(PAGE_SIZE - 1)) throw EINVAL;
  const end = start + ((len + BigInt(PAGE_SIZE - 1)) & ~BigInt(PAGE_SIZE - 1));
  if (end >= 1n << 64n) throw EINVAL;
  if (end === start) return 0;
  const policy = newPolicy(mode, modeFlags, user);
  const s = Number(start), e = Number(end);
  // queue_pages_range: a hole in the range is EFAULT, unless the policy is the default one.
  if (policy !== null) checkMapped(t, s, e, EFAULT);
  t.mm.setPolicy(s, e, policy ?? undefined);
  return 0;
};

/**
 * Implements get_mempolicy(2) for one NUMA node (node 0): the task's policy (set_mempolicy),
 * or the default one; a mapping's policy is always the default (no mbind).
 */
const sysGetMempolicy: SyscallFn = (t, a) => {
  const policyPtr = a.pointer(0), maskPtr = a.pointer(1), maxnode = a.sizeT(2);
  const addr = a.pointer(3), flags = a.sizeT(4);
  if (maskPtr !== 0 && maxnode < 1) throw EINVAL;
  if (flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED)) throw EINVAL;
  const pol = t.memPolicy;
  let policy = pol === null ? MPOL_DEFAULT : pol.mode | pol.flags;
  let nodes = pol === null ? 0n : pol.nodes;
  if (flags & MPOL_F_MEMS_ALLOWED) {
    if (flags & (MPOL_F_NODE | MPOL_F_ADDR)) throw EINVAL;
    policy = MPOL_DEFAULT;
    nodes = ONLINE_NODES;
  } else {
    if (flags & MPOL_F_ADDR) {
      const vma = t.mm.vmas.find((v) => v.start <= addr && addr < v.end);
      if (vma === undefined) throw EFAULT;
      // The mapping's own policy (mbind), else the default one.
      policy = vma.policy === undefined ? MPOL_DEFAULT : vma.policy.mode | vma.policy.flags;
      nodes = vma.policy?.nodes ?? 0n;
    } else if (addr !== 0) {
      throw EINVAL;
    }
    // MPOL_F_NODE: the node of the page at addr (always 0), or without MPOL_F_ADDR the next
    // node of an interleave policy (always 0), which only an interleave policy has.
    if (flags & MPOL_F_NODE) {
      const interleaved = pol !== null && (pol.mode === MPOL_INTERLEAVE || pol.mode === MPOL_WEIGHTED_INTERLEAVE);
      if (!(flags & MPOL_F_ADDR) && !interleaved) throw EINVAL;
      policy = 0;
    }
  }
  if (policyPtr !== 0) t.copyOutU32(policyPtr, policy);
  if (maskPtr !== 0) {
    // Linux's copy_nodes_to_user: ALIGN(maxnode - 1, 64) bits; past the first word (the
    // nr_node_ids bits of one node), zeros; more than a page of them is EINVAL.
    const bytes = Math.ceil((maxnode - 1) / 64) * 8;
    if (bytes > PAGE_SIZE) throw EINVAL;
    if (bytes > 0) {
      const b = new Uint8Array(bytes);
      new DataView(b.buffer).setBigUint64(0, nodes & 0xffff_ffff_ffff_ffffn, true);
      t.copyOut(maskPtr, b);
    }
  }
  return 0;
};

const U64 = 1n << 64n, PAGE_MASK64 = ~BigInt(PAGE_SIZE - 1);

/**
 * The page-aligned range [start, end) of an mlock-style (addr, len), computed as Linux does on
 * the raw 64-bit values: the length is rounded up with the page offset added and wraps modulo
 * 2^64 (so mlock(p, -1) locks nothing), a range that wraps past 2^64 is EINVAL. Ends beyond the
 * address space come back as large numbers, which checkMapped refuses (ENOMEM).
 */
function pageRange(addr: bigint, len: bigint): [number, number] {
  const alignedLen = (len + (addr & 0xfffn) + 0xfffn) % U64 & PAGE_MASK64;
  const start = addr & PAGE_MASK64;
  const end = start + alignedLen;
  if (end >= U64) throw EINVAL;
  return [Number(start), Number(end)];
}

/** Throws ENOMEM (or `err`) unless every page of [start, end) is mapped. */
function checkMapped(t: Task, start: number, end: number, err = ENOMEM): void {
  let cur = start;
  for (const v of t.mm.overlapping(start, end)) {
    if (v.start > cur) break;
    cur = v.end;
    if (cur >= end) break;
  }
  if (cur < end) throw err;
}

/**
 * Linux's can_do_mlock and lock limit: CAP_IPC_LOCK locks anything; others need a non-zero
 * RLIMIT_MEMLOCK (EPERM) at least as large as what would be locked (ENOMEM).
 */
function checkLockLimit(t: Task, bytes: number): void {
  if (t.creds.hasCap(CAP_IPC_LOCK)) return;
  const limit = t.tg.limits.get(RLIMIT_MEMLOCK).cur;
  if (limit === 0n) throw EPERM;
  if (limit !== RLIM_INFINITY && BigInt(bytes) > limit) throw ENOMEM;
}

/** RLIMIT_MEMLOCK in bytes for mmap(MAP_LOCKED) and mremap: Infinity with CAP_IPC_LOCK. */
export function lockLimitBytes(t: Task): number {
  if (t.creds.hasCap(CAP_IPC_LOCK)) return Infinity;
  const limit = t.tg.limits.get(RLIMIT_MEMLOCK).cur;
  return limit === RLIM_INFINITY ? Infinity : Number(limit);
}

const MLOCK_ONFAULT = 1;
const MCL_CURRENT = 1, MCL_FUTURE = 2, MCL_ONFAULT = 4;

/**
 * mlock(2) and mlock2(2): the VMAs are marked locked (kernel/mm/mm.ts), counted against
 * RLIMIT_MEMLOCK with what is locked already outside the range; nothing is pinned on the host.
 * Without MLOCK_ONFAULT a page that cannot be faulted in (PROT_NONE) is ENOMEM, the lock kept,
 * as Linux's populate failing.
 */
function doMlock(t: Task, addr: bigint, len: bigint, onFault: boolean): number {
  const [start, end] = pageRange(addr, len);
  checkLockLimit(t, end - start + t.mm.lockedBytes() - (end > start ? t.mm.lockedBytes(start, end) : 0));
  if (end > start) {
    t.mm.setLocked(start, end, true);
    if (!onFault) t.mm.populate(t.ctx, start, end);
    if (!onFault && t.mm.anyInaccessible(start, end)) throw ENOMEM;
  }
  return 0;
}

const sysMlock: SyscallFn = (t, a) => doMlock(t, a.u64(0), a.u64(1), false);

const sysMlock2: SyscallFn = (t, a) => {
  if (a.uint(2) & ~MLOCK_ONFAULT) throw EINVAL;
  return doMlock(t, a.u64(0), a.u64(1), (a.uint(2) & MLOCK_ONFAULT) !== 0);
};

const sysMunlock: SyscallFn = (t, a) => {
  const [start, end] = pageRange(a.u64(0), a.u64(1));
  if (end > start) t.mm.setLocked(start, end, false);
  return 0;
};

const sysMlockall: SyscallFn = (t, a) => {
  const flags = a.int(0);
  if (flags === 0 || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags === MCL_ONFAULT) {
    throw EINVAL;
  }
  checkLockLimit(t, (flags & MCL_CURRENT) ? t.mm.mappedBytes : 0);
  t.mm.lockFuture = (flags & MCL_FUTURE) !== 0;
  if (flags & MCL_CURRENT) t.mm.setAllLocked(true);
  if ((flags & MCL_CURRENT) && !(flags & MCL_ONFAULT)) t.mm.populate(t.ctx, 0, Number.MAX_SAFE_INTEGER);
  return 0;
};

const sysMunlockall: SyscallFn = (t) => {
  t.mm.lockFuture = false;
  t.mm.setAllLocked(false);
  return 0;
};

/**
 * Implements mincore(2): anonymous pages are resident once touched (by the program, the
 * sentry's copies, mlock or MAP_POPULATE), as the memory file and the host's page tables say;
 * file mappings are reported resident (MemoryManager.residency).
 */
const sysMincore: SyscallFn = (t, a) => {
  const addr = a.pointer(0), len = a.sizeT(1), vec = a.pointer(2);
  if (addr % PAGE_SIZE !== 0) throw EINVAL;
  if (len === 0) return 0;
  const end = Math.ceil((addr + len) / PAGE_SIZE) * PAGE_SIZE;
  checkMapped(t, addr, end);
  t.copyOut(vec, t.mm.residency(addr, end));
  return 0;
};

const MS_ASYNC = 1, MS_INVALIDATE = 2, MS_SYNC = 4;

/**
 * Implements msync(2): shared file mappings are the host file's own pages, coherent with
 * read and write already, so there is nothing to write back. An unmapped page in the range is
 * ENOMEM, as on Linux.
 */
const sysMsync: SyscallFn = (t, a) => {
  const addr = a.pointer(0), len = a.sizeT(1), flags = a.int(2);
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) throw EINVAL;
  if (addr % PAGE_SIZE !== 0) throw EINVAL;
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) throw EINVAL;
  const end = addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (end === addr) return 0;
  // Locked pages cannot be invalidated (Linux: EBUSY, before any ENOMEM for a hole).
  if ((flags & MS_INVALIDATE) && t.mm.anyLocked(addr, end)) throw EBUSY;
  checkMapped(t, addr, end);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  26: partial("msync", sysMsync, "nothing to write back; no EBUSY for locked pages"),
  27: partial("mincore", sysMincore, "file mappings are reported resident"),
  149: partial("mlock", sysMlock, "VMAs marked locked and counted against RLIMIT_MEMLOCK; nothing is pinned on the host"),
  150: supported("munlock", sysMunlock),
  151: partial("mlockall", sysMlockall, "VMAs marked locked (MCL_FUTURE: new ones too); nothing is pinned on the host"),
  152: supported("munlockall", sysMunlockall),
  187: supported("readahead", sysReadahead),
  221: supported("fadvise64", sysFadvise64),
  238: partial("set_mempolicy", sysSetMempolicy, "one NUMA node; kept, not applied"),
  239: partial("get_mempolicy", sysGetMempolicy, "one NUMA node"),
  237: partial("mbind", sysMbind, "one NUMA node; the policy is kept, not applied"),
  251: partial("ioprio_set", sysIoprioSet, "checked and kept for ioprio_get; no effect on the host's I/O scheduling"),
  252: supported("ioprio_get", sysIoprioGet),
  325: partial("mlock2", sysMlock2, "VMAs marked locked and counted against RLIMIT_MEMLOCK; nothing is pinned on the host"),
};
