/**
 * Futexes: sleeping on a 32-bit word of application memory. Analogous to Linux's
 * kernel/futex and gVisor's pkg/sentry/kernel/futex.
 *
 * A waiter is plain data kept in the task's syscallState: the syscall re-runs after every
 * wake-up and returns 0 once a FUTEX_WAKE marked it woken, so a wake is never lost to a
 * re-check of the futex word.
 *
 * Keys: (address space, address) for both private and shared futexes. Shared futexes between
 * processes that map the same file at different addresses come with shared file mappings.
 *
 * @module
 */

import type { Task } from "./task.ts";
import type { MemoryManager } from "./mm/mm.ts";

/** @savable One task sleeping in FUTEX_WAIT. */
export interface FutexWaiter {
  task: Task;
  mm: MemoryManager;
  addr: number;
  bitset: number;
  woken: boolean;
}

/** @savable */
export class FutexTable {
  readonly #queues = new Map<MemoryManager, Map<number, FutexWaiter[]>>();

  enqueue(w: FutexWaiter): void {
    let m = this.#queues.get(w.mm);
    if (!m) this.#queues.set(w.mm, m = new Map());
    let q = m.get(w.addr);
    if (!q) m.set(w.addr, q = []);
    q.push(w);
  }

  /** Removes a waiter that gave up (timeout, signal, exit). */
  remove(w: FutexWaiter): void {
    const m = this.#queues.get(w.mm);
    const q = m?.get(w.addr);
    if (!m || !q) return;
    const i = q.indexOf(w);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) m.delete(w.addr);
    if (m.size === 0) this.#queues.delete(w.mm);
  }

  /** Wakes up to n waiters on (mm, addr) whose bitset intersects; returns how many. */
  wake(mm: MemoryManager, addr: number, n: number, bitset = 0xffffffff): number {
    const q = this.#queues.get(mm)?.get(addr);
    if (!q) return 0;
    let woken = 0;
    for (const w of [...q]) {
      if (woken >= n) break;
      if ((w.bitset & bitset) === 0) continue;
      this.remove(w);
      w.woken = true;
      w.task.kernel.wakeTask(w.task);
      woken++;
    }
    return woken;
  }

  /** Wakes up to nWake waiters on addr and moves up to nRequeue others to addr2. */
  requeue(mm: MemoryManager, addr: number, addr2: number, nWake: number, nRequeue: number): number {
    const woken = this.wake(mm, addr, nWake);
    const q = this.#queues.get(mm)?.get(addr);
    let moved = 0;
    for (const w of [...(q ?? [])]) {
      if (moved >= nRequeue) break;
      this.remove(w);
      w.addr = addr2;
      this.enqueue(w);
      moved++;
    }
    return woken + moved;
  }
}

const FUTEX_WAITERS = 0x80000000;
const FUTEX_OWNER_DIED = 0x40000000;
const FUTEX_TID_MASK = 0x3fffffff;
/** Linux's ROBUST_LIST_LIMIT: protects against circular lists. */
const ROBUST_LIST_LIMIT = 2048;

/**
 * Walks t's robust futex list as t exits or execs (Linux's exit_robust_list): every futex still
 * owned by t gets FUTEX_OWNER_DIED, and one waiter is woken, so that a pthread robust mutex's
 * next locker gets EOWNERDEAD. Preconditions: t's address space is still readable (called before
 * its host thread or stub goes away). Faults end the walk silently, as on Linux.
 *
 * struct robust_list_head is { next, futex_offset, list_op_pending }; each entry's futex word is
 * at entry + futex_offset; bit 0 of an entry pointer marks a PI futex.
 *
 * The update of the futex word is a read then a write, not an atomic cmpxchg: another thread of
 * the process running at that instant could race with it (Linux retries a cmpxchg instead).
 */
export function exitRobustList(t: Task): void {
  const head = t.robustList;
  if (head === 0) return;
  t.robustList = 0;
  try {
    const b = t.copyIn(head, 24);
    const v = new DataView(b.buffer);
    let entry = Number(v.getBigUint64(0, true));
    const offset = Number(v.getBigInt64(8, true));
    const pendingRaw = Number(v.getBigUint64(16, true));
    // Pointers exceed 32 bits: bit 0 is taken with arithmetic, not with & (which truncates).
    const pending = pendingRaw - (pendingRaw % 2);
    for (let n = 0; entry !== head && n < ROBUST_LIST_LIMIT; n++) {
      const e = entry - (entry % 2);
      const next = Number(t.copyInU64(e));
      if (e !== pending) futexOwnerDied(t, e + offset, entry % 2 === 1, false);
      entry = next;
    }
    if (pending !== 0) futexOwnerDied(t, pending + offset, pendingRaw % 2 === 1, true);
  } catch { /* a bad list ends the walk */ }
}

/** Linux's handle_futex_death for one futex word. */
function futexOwnerDied(t: Task, addr: number, pi: boolean, pendingOp: boolean): void {
  if (addr % 4 !== 0) return;
  const uval = t.copyInU32(addr);
  const owner = uval & FUTEX_TID_MASK;
  if (pendingOp && !pi && owner === 0) {
    t.kernel.futex.wake(t.mm, addr, 1);
    return;
  }
  if (owner !== t.tid) return;
  const mval = ((uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0;
  t.copyOutU32(addr, mval);
  if (!pi && (uval & FUTEX_WAITERS)) t.kernel.futex.wake(t.mm, addr, 1);
}
