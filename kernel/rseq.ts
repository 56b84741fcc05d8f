/**
 * Restartable sequences (rseq(2)), as Linux's kernel/rseq.c: a thread registers a `struct rseq`
 * in its own memory; the kernel keeps its CPU fields current and, when the thread is preempted
 * or takes a signal inside a critical section that `rseq->rseq_cs` describes, moves it to the
 * section's abort handler.
 *
 * What "preempted" means here: the sentry cannot see the host scheduler deschedule a stub's
 * thread, so it acts at the points it does see (Task.rseqResume, Linux's TIF_NOTIFY_RESUME):
 * a registration, a sleep in a syscall, a stop out of user mode that was not a syscall
 * (PTRACE_INTERRUPT, a fault), a job-control stop, a fork's child, an affinity change, a
 * membarrier RSEQ fence, a restore; signal delivery acts at once. A thread that spins in user
 * mode with `rseq_cs` set is interrupted by the kernel's loop every RSEQ_TICK_NS
 * (Kernel.#rseqTick), as Linux's scheduler tick would eventually preempt it. Each of these
 * costs a read of the 8-byte `rseq_cs` word; the registers are read only when it is set, and
 * the CPU fields are written only when the number changed (the sentry's CPU number is the
 * first one of the task's affinity, as getcpu(2) reports it). glibc registers every thread and
 * never sets `rseq_cs`, so an ordinary program pays nothing on a syscall that does not sleep.
 *
 * Known difference: two threads of a sandbox may run on two host CPUs at once under the same
 * CPU number, and the host may deschedule a thread in a critical section without the sentry
 * knowing, so per-CPU data kept with rseq is not protected against a concurrent thread as on
 * Linux (gVisor's ptrace and systrap platforms have the same gap).
 *
 * @module
 */

import { EBUSY, EFAULT, EINVAL, EPERM } from "./errno.ts";
import { forceSignal } from "./task_signals.ts";
import { SIGSEGV } from "../abi/linux/signal.ts";
import type { Task } from "./task.ts";

/** The original struct rseq's size and alignment (ORIG_RSEQ_SIZE, __alignof__(struct rseq)). */
export const RSEQ_ORIG_SIZE = 32;
/** offsetof(struct rseq, end): AT_RSEQ_FEATURE_SIZE (node_id and mm_cid included). */
export const RSEQ_FEATURE_SIZE = 28;
export const RSEQ_ALIGN = 32;
const RSEQ_FLAG_UNREGISTER = 1;
const RSEQ_CPU_ID_UNINITIALIZED = -1;
/** TASK_SIZE on x86-64 (4-level paging): addresses at or above it are never the user's. */
const TASK_SIZE = 0x7fff_ffff_f000n;
/** How often a thread spinning in user mode with `rseq_cs` set is interrupted (Linux's tick). */
export const RSEQ_TICK_NS = 10_000_000;

/** A thread's registration: what rseq(2) was given, and the CPU number last written there. */
export interface RseqRegistration {
  readonly addr: number;
  readonly len: number;
  readonly sig: number;
  /** The CPU number the area holds (-1: to be written at the next return to user mode). */
  cpu: number;
}

/** The CPU the sentry says t runs on: the first of its affinity, as getcpu(2). */
export function taskCpu(t: Task): number {
  const aff = t.affinity;
  if (aff === null) return 0;
  let cpu = 0;
  while (cpu < aff.length * 8 && !(aff[cpu >> 3]! & (1 << (cpu & 7)))) cpu++;
  return cpu < aff.length * 8 ? cpu : 0;
}

/** rseq(2): registers or (RSEQ_FLAG_UNREGISTER) unregisters t's area, with Linux's checks in its order. */
export function rseqSyscall(t: Task, addr64: bigint, len: number, flags: number, sig: number): number {
  const cur = t.rseq;
  // Compared as the 64-bit value: an address past 2^53 is no Number's.
  const addr = addr64 < TASK_SIZE ? Number(addr64) : -1;
  if (flags & RSEQ_FLAG_UNREGISTER) {
    if (flags & ~RSEQ_FLAG_UNREGISTER) throw EINVAL;
    if (cur === null || cur.addr !== addr) throw EINVAL;
    if (len !== cur.len) throw EINVAL;
    if (sig !== cur.sig) throw EPERM;
    // rseq_reset_rseq_cpu_node_id: cpu_id_start 0, cpu_id UNINITIALIZED, node_id and mm_cid 0.
    writeCpuFields(t, cur.addr, 0, RSEQ_CPU_ID_UNINITIALIZED, 0);
    t.rseq = null;
    t.rseqResume = false;
    return 0;
  }
  if (flags !== 0) throw EINVAL;
  if (cur !== null) {
    if (cur.addr !== addr || cur.len !== len) throw EINVAL;
    if (cur.sig !== sig) throw EPERM;
    throw EBUSY;
  }
  const misaligned = (n: number) => (addr64 & BigInt(n - 1)) !== 0n;
  if (
    len < RSEQ_ORIG_SIZE || (len === RSEQ_ORIG_SIZE && misaligned(RSEQ_ORIG_SIZE)) ||
    (len !== RSEQ_ORIG_SIZE && (misaligned(RSEQ_ALIGN) || len < RSEQ_FEATURE_SIZE))
  ) {
    throw EINVAL;
  }
  if (addr64 + BigInt(len) > TASK_SIZE) throw EFAULT; // access_ok
  // A non-NULL rseq_cs left by an earlier user of the area is cleared (Linux keeps older libcs
  // that reuse it working this way).
  if (t.copyInU64(addr + 8) !== 0n) t.copyOutU64(addr + 8, 0);
  t.rseq = { addr, len, sig, cpu: -1 };
  t.rseqResume = true;
  return 0;
}

function writeCpuFields(t: Task, addr: number, cpuStart: number, cpu: number, mmCid: number): boolean {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, cpuStart >>> 0, true);
  v.setUint32(4, cpu >>> 0, true);
  if (t.writeUser(addr, b) !== 8) return false;
  // node_id (offset 20) and mm_cid (24): inside the original 32 bytes, written for every size.
  v.setUint32(0, 0, true);
  v.setUint32(4, mmCid >>> 0, true);
  return t.writeUser(addr + 20, b) === 8;
}

/**
 * Linux's rseq_ip_fixup with t's registers as they are: a critical section t is inside is
 * aborted (rip = abort_ip, rseq_cs cleared); outside one, rseq_cs is cleared. False when the
 * descriptor is bad (the caller forces SIGSEGV).
 */
function ipFixup(t: Task, reg: RseqRegistration): boolean {
  const word = new Uint8Array(8);
  if (t.readUser(reg.addr + 8, word) !== 8) return false;
  const ptr = new DataView(word.buffer).getBigUint64(0, true);
  if (ptr === 0n) return true; // nothing to clear (Linux writes the 0 again)
  if (ptr >= TASK_SIZE) return false;
  const csBytes = new Uint8Array(32);
  if (t.readUser(Number(ptr), csBytes) !== 32) return false;
  const cs = new DataView(csBytes.buffer);
  const version = cs.getUint32(0, true), csFlags = cs.getUint32(4, true);
  const start = cs.getBigUint64(8, true), postCommit = cs.getBigUint64(16, true), abort = cs.getBigUint64(24, true);
  const end = start + postCommit;
  if (start >= TASK_SIZE || end >= TASK_SIZE || abort >= TASK_SIZE || version > 0) return false;
  // abort_ip must lie outside [start_ip, start_ip + post_commit_offset).
  if (BigInt.asUintN(64, abort - start) < postCommit) return false;
  const sigWord = new Uint8Array(4);
  if (abort < 4n || t.readUser(Number(abort) - 4, sigWord) !== 4) return false;
  if (new DataView(sigWord.buffer).getUint32(0, true) !== reg.sig) return false;
  const regs = t.ctx.regs;
  const ip = BigInt(regs.get("rip"));
  const clear = (): boolean => t.writeUser(reg.addr + 8, new Uint8Array(8)) === 8;
  if (BigInt.asUintN(64, ip - start) >= postCommit) return clear();
  // rseq_need_restart: flags in rseq_cs or the area (the deprecated NO_RESTART ones too) are
  // EINVAL; the event that brought us here (preemption, signal) always restarts.
  if (csFlags !== 0) return false;
  const f = new Uint8Array(4);
  if (t.readUser(reg.addr + 16, f) !== 4) return false;
  if (new DataView(f.buffer).getUint32(0, true) !== 0) return false;
  if (!clear()) return false;
  regs.set("rip", Number(abort));
  t.ctx.markRegsDirty();
  return true;
}

/** Linux's force_sigsegv(sig): a SIGSEGV that could not be delivered is fatal. */
function forceSigsegv(t: Task, signo: number): void {
  if (signo === SIGSEGV) t.tg.handlers.set(SIGSEGV, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
  forceSignal(t, SIGSEGV);
}

/**
 * Linux's __rseq_handle_notify_resume on t's way back to user mode (Task.rseqResume set):
 * the critical-section fixup, then the CPU fields when the number changed. A bad descriptor or
 * area forces SIGSEGV (delivered by the caller before the task runs).
 */
export function rseqNotifyResume(t: Task): void {
  t.rseqResume = false;
  const reg = t.rseq;
  if (reg === null) return;
  if (!ipFixup(t, reg) || !updateCpu(t, reg)) forceSigsegv(t, 0);
}

/** As rseqNotifyResume, for a signal about to get a handler (rseq_signal_deliver). */
export function rseqSignalDeliver(t: Task, signo: number): void {
  const reg = t.rseq;
  if (reg === null) return;
  t.rseqResume = false;
  if (!ipFixup(t, reg) || !updateCpu(t, reg)) forceSigsegv(t, signo);
}

function updateCpu(t: Task, reg: RseqRegistration): boolean {
  const cpu = taskCpu(t);
  if (cpu === reg.cpu) return true;
  if (!writeCpuFields(t, reg.addr, cpu, cpu, cpu)) return false;
  reg.cpu = cpu;
  return true;
}

/**
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ's effect on another thread x of the caller's memory:
 * its CPU fields are written now (Linux's IPI has the thread rewrite them before the fence
 * returns), and a critical section it is in is aborted at its next return to user mode; a
 * thread running in user mode is interrupted for that.
 */
export function rseqFence(x: Task): void {
  const reg = x.rseq;
  if (reg === null) return;
  const cpu = taskCpu(x);
  if (writeCpuFields(x, reg.addr, cpu, cpu, cpu)) reg.cpu = cpu;
  else reg.cpu = -1;
  x.rseqResume = true;
  if (x.state === "user") x.ctx.interrupt();
}

/**
 * The kernel's tick (every RSEQ_TICK_NS while tasks run in user mode): a thread in user mode
 * whose `rseq_cs` is set is interrupted, so that a critical section it spins in is aborted, or
 * the word cleared, as Linux's preemption would.
 */
export function rseqTick(tasks: Iterable<Task>): void {
  const word = new Uint8Array(8);
  for (const t of tasks) {
    if (t.state !== "user" || t.rseq === null || t.rseqResume) continue;
    if (t.readUser(t.rseq.addr + 8, word) !== 8) continue;
    if (word.some((b) => b !== 0)) {
      t.rseqResume = true;
      t.ctx.interrupt();
    }
  }
}
