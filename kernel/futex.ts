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
