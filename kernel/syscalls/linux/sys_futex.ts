/** futex(2). */

import { EAGAIN, EINVAL, ENOSYS, ETIMEDOUT } from "../../errno.ts";
import { futexKey, type FutexWaiter } from "../../futex.ts";
import { readTimespecNs } from "./_time.ts";
import type { Task } from "../../task.ts";
import { clockNs, monotonicNs } from "../../time.ts";
import { block, partial, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4, FUTEX_WAKE_OP = 5;
const FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10;
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

/** FUTEX_WAKE_OP's operation on the second word; returns the old value. */
function wakeOp(t: Task, addr2: number, encoded: number): boolean {
  const op = (encoded >>> 28) & 7, cmp = (encoded >>> 24) & 15;
  let oparg = (encoded << 8) >> 20, cmparg = (encoded << 20) >> 20;
  if (op & 8) oparg = 1 << (oparg & 31);
  const old = t.copyInU32(addr2) | 0;
  let nv: number;
  switch (op & 7) {
    case 0: nv = oparg; break;
    case 1: nv = old + oparg; break;
    case 2: nv = old | oparg; break;
    case 3: nv = old & ~oparg; break;
    case 4: nv = old ^ oparg; break;
    default: throw ENOSYS;
  }
  t.copyOutU32(addr2, nv >>> 0);
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

/** Implements futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP and the BITSET variants. */
const sysFutex: SyscallFn = (t, a) => {
  const addr = a.pointer(0), opFull = a.int(1), val = a.uint(2), tsAddr = a.pointer(3);
  const addr2 = a.pointer(4), val3 = a.uint(5);
  const op = opFull & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  if ((opFull & FUTEX_CLOCK_REALTIME) && op !== FUTEX_WAIT_BITSET && op !== FUTEX_WAIT) throw ENOSYS;
  const fx = t.kernel.futex;
  const shared = (opFull & FUTEX_PRIVATE_FLAG) === 0;
  switch (op) {
    case FUTEX_WAIT:
      return futexWait(t, addr, shared, val, () => tsAddr === 0 ? null : monotonicNs() + readTimespecNs(t, tsAddr), 0xffffffff);
    case FUTEX_WAIT_BITSET:
      return futexWait(t, addr, shared, val, () => {
        if (tsAddr === 0) return null;
        // Absolute, on CLOCK_MONOTONIC or (with FUTEX_CLOCK_REALTIME) CLOCK_REALTIME.
        const abs = readTimespecNs(t, tsAddr);
        const now = Number(clockNs(opFull & FUTEX_CLOCK_REALTIME ? 0 : 1, t.kernel.bootNs)!);
        return monotonicNs() + (abs - now);
      }, val3);
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


export const table: Record<number, SyscallEntry> = {
  202: partial("futex", sysFutex, "PI futexes are not supported"),
};
