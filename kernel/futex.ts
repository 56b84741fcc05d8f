/**
 * Futexes: sleeping on a 32-bit word of application memory. Analogous to Linux's
 * kernel/futex and gVisor's pkg/sentry/kernel/futex.
 *
 * A waiter is plain data kept in the task's syscallState: the syscall re-runs after every
 * wake-up and returns 0 once a FUTEX_WAKE marked it woken, so a wake is never lost to a
 * re-check of the futex word.
 *
 * Keys (Linux's get_futex_key): a private op (FUTEX_PRIVATE_FLAG) is keyed by (address space,
 * address); a shared op on an address in a private mapping by (address space, -1 - address),
 * Linux's FUT_OFF_MMSHARED bit, so that a private wake never meets a shared waiter on the same
 * word, nor the reverse. A shared op on an address in a
 * MAP_SHARED mapping is keyed by (the shared object, offset in it): the inode for a file mapping
 * with the file offset, the SharedAnon identity for shared anonymous memory with the offset in it
 * (kernel/mm/mm.ts), so processes that share the memory, at any addresses, meet on one queue. A
 * private waiter on shared memory is therefore only woken by a private wake of its own address
 * space, as on Linux. Only shared ops pay for the VMA lookup.
 *
 * @module
 */

import { EFAULT } from "./errno.ts";
import { PAGE_SIZE } from "../abi/linux/mm.ts";
import type { Task } from "./task.ts";
import type { MemoryManager, SharedObject } from "./mm/mm.ts";

/** The first half of a futex key: an address space (private keys) or a shared memory object. */
export type FutexSpace = MemoryManager | SharedObject;

/** @savable One task sleeping in FUTEX_WAIT; (space, off) is its key. */
export interface FutexWaiter {
  task: Task;
  space: FutexSpace;
  /** The address (private keys) or the offset in the shared object. */
  off: number;
  bitset: number;
  woken: boolean;
  /**
   * Set for a FUTEX_LOCK_PI waiter: the futex word's address in the waiter's own memory, where
   * ownership is written when it is handed over. Plain wakes never wake such a waiter.
   */
  piAddr?: number;
}

/** A futex key: see the module comment. */
export interface FutexKey {
  space: FutexSpace;
  off: number;
}

/**
 * The key of the futex word at addr for t: private keys are (t.mm, addr); a shared op on a
 * MAP_SHARED mapping is keyed by what it maps. A shared op needs the page (Linux's
 * get_futex_key pins it): EFAULT for an unmapped address, a PROT_NONE mapping, or a file
 * mapping's page past the file's end (the fault there is SIGBUS, which gup answers EFAULT).
 */
export function futexKey(t: Task, addr: number, shared: boolean): FutexKey {
  const mm = t.mm;
  if (!shared) return { space: mm, off: addr };
  const v = mm.findVma(addr);
  if (v === undefined || (v.prot & 7) === 0) throw EFAULT;
  if (v.file !== null) {
    const pageOff = v.offset + (addr - v.start) - (addr % PAGE_SIZE);
    if (pageOff >= v.file.stat().size) throw EFAULT;
  }
  if (v.object === null) return { space: mm, off: -1 - addr };
  return { space: v.object, off: v.offset + (addr - v.start) };
}

/** @savable */
export class FutexTable {
  readonly #queues = new Map<FutexSpace, Map<number, FutexWaiter[]>>();

  enqueue(w: FutexWaiter): void {
    let m = this.#queues.get(w.space);
    if (!m) this.#queues.set(w.space, m = new Map());
    let q = m.get(w.off);
    if (!q) m.set(w.off, q = []);
    q.push(w);
  }

  /** Removes a waiter that gave up (timeout, signal, exit). */
  remove(w: FutexWaiter): void {
    const m = this.#queues.get(w.space);
    const q = m?.get(w.off);
    if (!m || !q) return;
    const i = q.indexOf(w);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) m.delete(w.off);
    if (m.size === 0) this.#queues.delete(w.space);
  }

  /** Wakes up to n waiters on key k whose bitset intersects; returns how many. */
  wake(k: FutexKey, n: number, bitset = 0xffffffff): number {
    const q = this.#queues.get(k.space)?.get(k.off);
    if (!q) return 0;
    let woken = 0;
    for (const w of [...q]) {
      if (woken >= n) break;
      if ((w.bitset & bitset) === 0 || w.piAddr !== undefined) continue;
      this.remove(w);
      w.woken = true;
      w.task.kernel.wakeTask(w.task);
      woken++;
    }
    return woken;
  }

  /** Wakes up to nWake waiters on k and moves up to nRequeue others to k2. */
  requeue(k: FutexKey, k2: FutexKey, nWake: number, nRequeue: number): number {
    const woken = this.wake(k, nWake);
    const q = this.#queues.get(k.space)?.get(k.off);
    let moved = 0;
    for (const w of [...(q ?? [])]) {
      if (moved >= nRequeue) break;
      if (w.piAddr !== undefined) continue;
      this.remove(w);
      w.space = k2.space;
      w.off = k2.off;
      this.enqueue(w);
      moved++;
    }
    return woken + moved;
  }

  /** The FUTEX_LOCK_PI waiters on k, oldest first. */
  piWaiters(k: FutexKey): FutexWaiter[] {
    return (this.#queues.get(k.space)?.get(k.off) ?? []).filter((w) => w.piAddr !== undefined);
  }

  /** The oldest FUTEX_LOCK_PI waiter of every key that has one. */
  firstPiWaiters(): FutexWaiter[] {
    const out: FutexWaiter[] = [];
    for (const m of this.#queues.values()) {
      for (const q of m.values()) {
        const w = q.find((x) => x.piAddr !== undefined);
        if (w !== undefined) out.push(w);
      }
    }
    return out;
  }
}

/**
 * Makes w, a FUTEX_LOCK_PI waiter, the owner of its futex: its tid goes in the word with
 * FUTEX_WAITERS (kept while the kernel may hold waiters, as Linux's wake_futex_pi does) and
 * FUTEX_OWNER_DIED when the previous owner died holding it; w's lock_pi then returns 0.
 */
export function piHandOver(w: FutexWaiter, ownerDied: boolean): void {
  const t = w.task;
  t.kernel.futex.remove(w);
  w.woken = true;
  try {
    t.copyOutU32(w.piAddr!, (t.vnr(t.tid) | FUTEX_WAITERS | (ownerDied ? FUTEX_OWNER_DIED : 0)) >>> 0);
  } catch { /* the waiter's memory went away: it is dying too */ }
  t.kernel.wakeTask(t);
}

/**
 * t exits: every PI futex it still owns passes to its oldest waiter with FUTEX_OWNER_DIED
 * (Linux's exit_pi_state_list), so no waiter sleeps forever on a dead owner. The word is read
 * through the waiter's own memory.
 */
export function futexPiExit(t: Task): void {
  for (const w of t.kernel.futex.firstPiWaiters()) {
    if (w.task === t || w.task.state === "dead") continue;
    let uval: number;
    try {
      uval = w.task.copyInU32(w.piAddr!);
    } catch {
      continue;
    }
    if ((uval & FUTEX_TID_MASK) === t.vnr(t.tid)) piHandOver(w, true);
  }
}

/**
 * The wake-ups the kernel itself does at thread exit (robust futexes, CLONE_CHILD_CLEARTID): shared
 * futex wakes in Linux (handle_futex_death, mm_release), so a waiter in another process sharing the
 * memory is woken too. An unmapped address wakes nobody.
 */
export function wakeShared(t: Task, addr: number, n: number): number {
  let k: FutexKey;
  try {
    k = futexKey(t, addr, true);
  } catch {
    return 0;
  }
  return t.kernel.futex.wake(k, n);
}

export const FUTEX_WAITERS = 0x80000000;
export const FUTEX_OWNER_DIED = 0x40000000;
export const FUTEX_TID_MASK = 0x3fffffff;
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
 * The futex word changes by cmpxchg, looked at again when it changed meanwhile, as Linux's.
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
    wakeShared(t, addr, 1);
    return;
  }
  let cur = uval;
  for (;;) {
    if ((cur & FUTEX_TID_MASK) !== t.vnr(t.tid)) return;
    const found = t.compareExchangeU32(addr, cur, ((cur & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0);
    if (found === cur) break;
    cur = found;
  }
  if (!pi && (cur & FUTEX_WAITERS)) wakeShared(t, addr, 1);
}

/**
 * What a futex sleep in syscallState already returned, if a wake decided it: 0 for a FUTEX_WAIT
 * (or a PI lock handed over) marked woken, the index of the woken futex for a futex_waitv (the
 * last one woken, as Linux's futex_unqueue_multiple); null when none was woken.
 */
export function futexWokenResult(state: unknown): number | null {
  const st = state as { waiter?: FutexWaiter; waiters?: FutexWaiter[] } | null;
  if (st?.waiter?.woken === true) return 0;
  if (st?.waiters === undefined) return null;
  let idx = -1;
  st.waiters.forEach((w, i) => {
    if (w.woken) idx = i;
  });
  return idx >= 0 ? idx : null;
}
