/** futex(2). */

import { EAGAIN, EDEADLK, EINVAL, ENOSYS, EPERM, ESRCH, ETIMEDOUT } from "../../errno.ts";
import {
  FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, futexKey, type FutexWaiter, futexWokenResult, piHandOver,
} from "../../futex.ts";
import { readTimespecNs } from "./_time.ts";
import type { Task } from "../../task.ts";
import { clockNs, monotonicNs } from "../../time.ts";
import { block, partial, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4, FUTEX_WAKE_OP = 5;
const FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10;
const FUTEX_LOCK_PI = 6, FUTEX_UNLOCK_PI = 7, FUTEX_TRYLOCK_PI = 8, FUTEX_LOCK_PI2 = 13;
const FUTEX_PRIVATE_FLAG = 128, FUTEX_CLOCK_REALTIME = 256;

interface WaitState {
  waiter: FutexWaiter;
  deadlineNs: number | null;
}

function futexWait(
  t: Task, addr: number, shared: boolean, val: number, deadline: () => number | null, bitset: number,
): SyscallResult {
  const st = t.syscallState as WaitState | null;
  if (st !== null) {
    if (st.waiter.woken) return 0;
    if (st.deadlineNs !== null && monotonicNs() >= st.deadlineNs) {
      t.kernel.futex.remove(st.waiter);
      throw ETIMEDOUT;
    }
    return block([], 0, st.deadlineNs, st.deadlineNs === null ? "sys" : "never");
  }
  if (addr % 4 !== 0) throw EINVAL;
  if (bitset === 0) throw EINVAL;
  const d = deadline();
  const k = futexKey(t, addr, shared);
  if (t.copyInU32(addr) !== val) throw EAGAIN;
  const waiter: FutexWaiter = { task: t, space: k.space, off: k.off, bitset, woken: false };
  t.kernel.futex.enqueue(waiter);
  t.syscallState = { waiter, deadlineNs: d } satisfies WaitState;
  return block([], 0, d, d === null ? "sys" : "never");
}

/**
 * FUTEX_LOCK_PI, FUTEX_LOCK_PI2 and FUTEX_TRYLOCK_PI: take the lock whose word holds the owner's
 * tid. A free word (owner 0) becomes the caller's tid (FUTEX_OWNER_DIED kept); the caller's own
 * is EDEADLK; a tid that names no task is ESRCH. Otherwise FUTEX_WAITERS is set, so that the
 * owner's user-space unlock fails and comes to FUTEX_UNLOCK_PI, and the caller sleeps until
 * that unlock (or the owner's death) hands the lock over (piHandOver). trylock never sleeps:
 * EAGAIN. The sentry has no priorities to inherit: waiters are served oldest first.
 *
 * The word changes by compare-and-exchange, as Linux's futex_lock_pi_atomic: the application's
 * fast paths take a free word (0 to its tid) and release an uncontended one (tid to 0) with
 * cmpxchg in user space, and a read-then-write here lost such a change made between the two
 * (a trylock succeeded while a thread's own cmpxchg had taken the word: gVisor's futex_test
 * PITryLockConcurrency). A word that changed under the kernel is looked at again.
 */
function futexLockPi(t: Task, addr: number, shared: boolean, deadline: () => number | null, trylock: boolean): SyscallResult {
  const st = t.syscallState as WaitState | null;
  if (st !== null) {
    if (st.waiter.woken) return 0;
    if (st.deadlineNs !== null && monotonicNs() >= st.deadlineNs) {
      t.kernel.futex.remove(st.waiter);
      throw ETIMEDOUT;
    }
    return block([], 0, st.deadlineNs, "sys");
  }
  if (addr % 4 !== 0) throw EINVAL;
  const d = deadline();
  const k = futexKey(t, addr, shared);
  const waiting = t.kernel.futex.piWaiters(k).length > 0;
  let uval = t.copyInU32(addr);
  // The word holds thread ids as the caller's PID namespace numbers them.
  const self = t.vnr(t.tid);
  for (;;) {
    const owner = uval & FUTEX_TID_MASK;
    if (owner === self) throw EDEADLK;
    if (owner === 0) {
      const mine = ((uval & FUTEX_OWNER_DIED) | self | (waiting ? FUTEX_WAITERS : 0)) >>> 0;
      const found = t.compareExchangeU32(addr, uval, mine);
      if (found === uval) return 0;
      uval = found;
      continue;
    }
    const ownerTask = t.findTask(owner);
    if (ownerTask === undefined || ownerTask.state === "dead") throw ESRCH;
    if (trylock) throw EAGAIN;
    if (uval & FUTEX_WAITERS) break;
    // FUTEX_WAITERS, so that the owner's user-space unlock fails and comes to FUTEX_UNLOCK_PI.
    const found = t.compareExchangeU32(addr, uval, (uval | FUTEX_WAITERS) >>> 0);
    if (found === uval) break;
    uval = found;
  }
  const waiter: FutexWaiter = { task: t, space: k.space, off: k.off, bitset: 0xffffffff, woken: false, piAddr: addr };
  t.kernel.futex.enqueue(waiter);
  t.syscallState = { waiter, deadlineNs: d } satisfies WaitState;
  return block([], 0, d, "sys");
}

/**
 * FUTEX_UNLOCK_PI: the caller must own the word (else EPERM). The oldest waiter becomes the
 * owner; with none, the word becomes 0 (by cmpxchg, looked at again if it changed meanwhile).
 */
function futexUnlockPi(t: Task, addr: number, shared: boolean): number {
  if (addr % 4 !== 0) throw EINVAL;
  const k = futexKey(t, addr, shared);
  let uval = t.copyInU32(addr);
  for (;;) {
    if ((uval & FUTEX_TID_MASK) !== t.vnr(t.tid)) throw EPERM;
    const next = t.kernel.futex.piWaiters(k)[0];
    if (next !== undefined) {
      piHandOver(next, false);
      return 0;
    }
    const found = t.compareExchangeU32(addr, uval, 0);
    if (found === uval) return 0;
    uval = found;
  }
}

/** An absolute timeout (struct timespec at tsAddr) on CLOCK_REALTIME or CLOCK_MONOTONIC, as a monotonic deadline. */
function absoluteDeadline(t: Task, tsAddr: number, realtime: boolean): number | null {
  if (tsAddr === 0) return null;
  const abs = readTimespecNs(t, tsAddr);
  const now = Number(clockNs(realtime ? 0 : 1, t.timeNs)!);
  return monotonicNs() + (abs - now);
}

/** FUTEX_WAKE_OP's operation on the second word; returns the old value. */
function wakeOp(t: Task, addr2: number, encoded: number): boolean {
  const op = (encoded >>> 28) & 7, cmp = (encoded >>> 24) & 15;
  let oparg = (encoded << 8) >> 20, cmparg = (encoded << 20) >> 20;
  // FUTEX_OP_OPARG_SHIFT is bit 31 of the encoding, above the 3 bits of op (Linux's masks).
  if (encoded & 0x80000000) oparg = 1 << (oparg & 31);
  if (op > 4) throw ENOSYS;
  // Atomic, as Linux's futex_atomic_op_inuser: a cmpxchg, again if the word changed meanwhile.
  let old = t.copyInU32(addr2) | 0;
  for (;;) {
    const nv = [oparg, old + oparg, old | oparg, old & ~oparg, old ^ oparg][op]!;
    const found = t.compareExchangeU32(addr2, old >>> 0, nv >>> 0) | 0;
    if (found === old) break;
    old = found;
  }
  cmparg |= 0;
  switch (cmp) {
    case 0: return old === cmparg;
    case 1: return old !== cmparg;
    case 2: return old < cmparg;
    case 3: return old <= cmparg;
    case 4: return old > cmparg;
    case 5: return old >= cmparg;
    default: throw ENOSYS;
  }
}

/**
 * A wake count as Linux's futex_wake and futex_wake_op count it: a C int, and the loop checks
 * it only after waking one, so 0 or a negative count wakes one waiter.
 */
function wakeCount(val: number): number {
  return Math.max(val | 0, 1);
}

/**
 * Implements futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, the BITSET variants and the
 * PI lock operations (LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI); the REQUEUE_PI pair is ENOSYS.
 */
const sysFutex: SyscallFn = (t, a) => {
  const addr = a.pointer(0), opFull = a.int(1), val = a.uint(2), tsAddr = a.pointer(3);
  const addr2 = a.pointer(4), val3 = a.uint(5);
  const op = opFull & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  if ((opFull & FUTEX_CLOCK_REALTIME) && op !== FUTEX_WAIT_BITSET && op !== FUTEX_WAIT && op !== FUTEX_LOCK_PI2) {
    throw ENOSYS;
  }
  const fx = t.kernel.futex;
  const shared = (opFull & FUTEX_PRIVATE_FLAG) === 0;
  switch (op) {
    case FUTEX_WAIT:
      return futexWait(t, addr, shared, val, () => tsAddr === 0 ? null : monotonicNs() + readTimespecNs(t, tsAddr), 0xffffffff);
    case FUTEX_WAIT_BITSET:
      // Absolute, on CLOCK_MONOTONIC or (with FUTEX_CLOCK_REALTIME) CLOCK_REALTIME.
      return futexWait(t, addr, shared, val, () => absoluteDeadline(t, tsAddr, (opFull & FUTEX_CLOCK_REALTIME) !== 0), val3);
    case FUTEX_LOCK_PI:
      // Absolute on CLOCK_REALTIME, always (futex_lock_pi's FLAGS_CLOCKRT).
      return futexLockPi(t, addr, shared, () => absoluteDeadline(t, tsAddr, true), false);
    case FUTEX_LOCK_PI2:
      return futexLockPi(t, addr, shared, () => absoluteDeadline(t, tsAddr, (opFull & FUTEX_CLOCK_REALTIME) !== 0), false);
    case FUTEX_TRYLOCK_PI:
      return futexLockPi(t, addr, shared, () => null, true);
    case FUTEX_UNLOCK_PI:
      return futexUnlockPi(t, addr, shared);
    case FUTEX_WAKE:
      if (addr % 4 !== 0) throw EINVAL;
      return fx.wake(futexKey(t, addr, shared), wakeCount(val));
    case FUTEX_WAKE_BITSET:
      if (addr % 4 !== 0 || val3 === 0) throw EINVAL;
      return fx.wake(futexKey(t, addr, shared), wakeCount(val), val3);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      if (addr % 4 !== 0 || addr2 % 4 !== 0) throw EINVAL;
      const k = futexKey(t, addr, shared), k2 = futexKey(t, addr2, shared);
      // Both counts are C ints (the second is the timeout argument's low half): negative is EINVAL.
      const nWake = val | 0, nRequeue = a.int(3);
      if (nWake < 0 || nRequeue < 0) throw EINVAL;
      if (op === FUTEX_CMP_REQUEUE && t.copyInU32(addr) !== val3) throw EAGAIN;
      return fx.requeue(k, k2, nWake, nRequeue);
    }
    case FUTEX_WAKE_OP: {
      if (addr % 4 !== 0 || addr2 % 4 !== 0) throw EINVAL;
      const k = futexKey(t, addr, shared), k2 = futexKey(t, addr2, shared);
      const hit = wakeOp(t, addr2, val3);
      let n = fx.wake(k, wakeCount(val));
      if (hit) n += fx.wake(k2, wakeCount(a.int(3)));
      return n;
    }
    default:
      throw ENOSYS;
  }
};

/** futex_waitv's limits and struct futex_waitv's flags (FUTEX2_*). */
const FUTEX_WAITV_MAX = 128;
const FUTEX2_SIZE_MASK = 3n, FUTEX2_SIZE_U32 = 2n, FUTEX2_NUMA = 4n, FUTEX2_MPOL = 8n, FUTEX2_PRIVATE = 128n;
const FUTEX2_VALID_MASK = FUTEX2_SIZE_MASK | FUTEX2_NUMA | FUTEX2_MPOL | FUTEX2_PRIVATE;

/** A futex_waitv in progress: one waiter per futex, queued together. @savable (the waiters). */
interface WaitvState {
  waiters: FutexWaiter[];
  deadlineNs: number | null;
}

/**
 * Implements futex_waitv(2) (Linux 5.16): sleeps on up to 128 32-bit futexes at once and returns
 * the index of one that was woken. Checks as Linux's sys_futex_waitv: flags, the array and count
 * (EINVAL), the clock (MONOTONIC or REALTIME, EINVAL) and absolute timeout (EFAULT), then each
 * entry's copy (EFAULT), its flags and reserved word and a value beyond 32 bits (EINVAL); every
 * key (alignment EINVAL, a shared one's page EFAULT) before any word is compared: a word that
 * differs is EAGAIN. Interrupted, it runs again (ERESTARTSYS), its timeout being absolute.
 */
const sysFutexWaitv: SyscallFn = (t, a) => {
  const st = t.syscallState as WaitvState | null;
  if (st !== null) {
    const i = futexWokenResult(st);
    if (i !== null) {
      // The others leave their queues (futex_unqueue_multiple).
      for (const w of st.waiters) if (!w.woken) t.kernel.futex.remove(w);
      return i;
    }
    if (st.deadlineNs !== null && monotonicNs() >= st.deadlineNs) {
      for (const w of st.waiters) t.kernel.futex.remove(w);
      throw ETIMEDOUT;
    }
    return block([], 0, st.deadlineNs, "sys");
  }
  const addr = a.pointer(0), n = a.uint(1), flags = a.uint(2), tsAddr = a.pointer(3), clockId = a.int(4);
  if (flags !== 0) throw EINVAL;
  if (addr === 0 || n === 0 || n > FUTEX_WAITV_MAX) throw EINVAL;
  let deadline: number | null = null;
  if (tsAddr !== 0) {
    if (clockId !== 0 && clockId !== 1) throw EINVAL;
    deadline = absoluteDeadline(t, tsAddr, clockId === 0);
  }
  const entries: { val: number; uaddr: number; shared: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    const b = t.copyIn(addr + 24 * i, 24);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const val = v.getBigUint64(0, true), uaddr = v.getBigUint64(8, true);
    const f = BigInt(v.getUint32(16, true)), reserved = v.getUint32(20, true);
    if ((f & ~FUTEX2_VALID_MASK) !== 0n || reserved !== 0) throw EINVAL;
    if ((f & FUTEX2_SIZE_MASK) !== FUTEX2_SIZE_U32) throw EINVAL;
    if (val >> 32n) throw EINVAL;
    entries.push({ val: Number(val), uaddr: Number(BigInt.asUintN(64, uaddr)), shared: (f & FUTEX2_PRIVATE) === 0n });
  }
  const keys = entries.map((e) => {
    if (e.uaddr % 4 !== 0) throw EINVAL;
    return futexKey(t, e.uaddr, e.shared);
  });
  for (const e of entries) if (t.copyInU32(e.uaddr) !== e.val) throw EAGAIN;
  const waiters = keys.map((k): FutexWaiter => ({ task: t, space: k.space, off: k.off, bitset: 0xffffffff, woken: false }));
  for (const w of waiters) t.kernel.futex.enqueue(w);
  t.syscallState = { waiters, deadlineNs: deadline } satisfies WaitvState;
  return block([], 0, deadline, "sys");
};

export const table: Record<number, SyscallEntry> = {
  202: partial("futex", sysFutex, "no FUTEX_WAIT_REQUEUE_PI/FUTEX_CMP_REQUEUE_PI; PI locks inherit no priority"),
  449: supported("futex_waitv", sysFutexWaitv),
};
