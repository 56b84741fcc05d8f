/**
 * The sentry's host descriptors as a budget, and the caches that give them back.
 *
 * Whatever the sandbox does, the sentry must keep host descriptors of its own (stubs' pidfds,
 * epoll, sockets, the memory file) and must never fail a host open because of the sandbox's
 * numbers. So descriptors the VFS opens on the sandbox's behalf (hostfs directories and files,
 * tmpfs memfds of mapped files) go through {@linkcode hostFds}:
 * - caches (hostfs's O_PATH directory descriptors, idle tmpfs memfds) register an
 *   {@linkcode FdCache}; each keeps itself under its own bound, and all are asked to give
 *   descriptors back when the budget runs short;
 * - {@linkcode HostFdBudget.open} counts the descriptor; near the limit (the sentry's own
 *   RLIMIT_NOFILE less a reserve for the sentry itself) it empties the caches first, and when
 *   nothing can be given back, or the host still says EMFILE/ENFILE, the sandbox gets ENFILE
 *   (the system-wide table is full, from its point of view), never the sentry's EMFILE.
 *
 * The sandbox's RLIMIT_NOFILE is the sandbox's alone (kernel/fd_table.ts counts its
 * descriptors); none of these counts reach it.
 *
 * Eviction never closes a descriptor that the current operation may still be using: a cache
 * entry touched since the last {@linkcode HostFdBudget.beginOperation} (the kernel calls it at
 * every system call) is kept, so a rename holding two directory descriptors never sees one of
 * them closed (and its number reused) half-way.
 *
 * @module
 */

import { ENFILE } from "../kernel/errno.ts";
import * as ffi from "../platform/ptrace/_ffi.ts";

const HOST_EMFILE = 24, HOST_ENFILE = 23;
/** Descriptors kept out of the budget for the sentry's own use (sockets, stubs, epoll, logs). */
const SENTRY_RESERVE = 256;

/** A cache of host descriptors that can close some on demand. */
export interface FdCache {
  /**
   * Closes descriptors not used since operation `epoch` began, oldest first, until at most
   * `keep` remain (or none is evictable); returns how many it closed.
   */
  shrink(keep: number, epoch: number): number;
}

/** The sentry's soft RLIMIT_NOFILE (Infinity if unlimited or unknown). */
function sentryNofile(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(Deno.readTextFileSync("/proc/self/limits"));
    if (m === null || m[1] === "unlimited") return Infinity;
    return Number(m[1]);
  } catch {
    return Infinity;
  }
}

/** @nosave Host-bound bookkeeping: rebuilt as descriptors are reopened on restore. */
export class HostFdBudget {
  /** Counted descriptors open now. */
  count = 0;
  /** Counted descriptors allowed at once. */
  limit: number;
  /** Bumped at every system call: cache entries touched in the current one are not evicted. */
  epoch = 1;
  readonly #caches: FdCache[] = [];

  constructor(limit = Math.max(sentryNofile() - SENTRY_RESERVE, 64)) {
    this.limit = limit;
  }

  /** A new operation (system call) begins: descriptors used before it may be evicted. */
  beginOperation(): void {
    this.epoch++;
  }

  register(c: FdCache): void {
    this.#caches.push(c);
  }

  /** Asks every cache to close what it can (not in use by the current operation). */
  evictAll(): number {
    let n = 0;
    for (const c of this.#caches) n += c.shrink(0, this.epoch);
    return n;
  }

  /**
   * Runs `openFn` (a host call returning a descriptor or -errno) under the budget. Returns the
   * descriptor (counted: give it back with {@linkcode close}) or the host's other -errno; throws
   * ENFILE when no descriptor can be had.
   */
  open(openFn: () => number): number {
    if (this.count >= this.limit && this.evictAll() === 0 && this.count >= this.limit) throw ENFILE;
    let fd = openFn();
    if (fd === -HOST_EMFILE || fd === -HOST_ENFILE) {
      if (this.evictAll() === 0) throw ENFILE;
      fd = openFn();
      if (fd === -HOST_EMFILE || fd === -HOST_ENFILE) throw ENFILE;
    }
    if (fd >= 0) this.count++;
    return fd;
  }

  /** Closes a descriptor opened with {@linkcode open}. */
  close(fd: number): void {
    if (fd < 0) return;
    ffi.hostClose(fd);
    this.count--;
  }
}

/** The one budget of this sentry process. */
export const hostFds = new HostFdBudget();

/**
 * An LRU cache of descriptors held by owners (hostfs directory dentries): at most `cap` stay
 * open; the least recently used are closed and their owner told so (it reopens on next use).
 */
export class LruFdCache<K extends { fdEvicted(): void }> implements FdCache {
  /** Insertion order is use order: the first entries are the least recently used. */
  readonly #entries = new Map<K, { fd: number; epoch: number }>();
  readonly #budget: HostFdBudget;
  cap: number;

  constructor(cap: number, budget: HostFdBudget = hostFds) {
    this.cap = cap;
    this.#budget = budget;
    budget.register(this);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Records a use of owner's descriptor (it becomes the most recent). */
  touch(owner: K): void {
    const e = this.#entries.get(owner);
    if (e === undefined) return;
    this.#entries.delete(owner);
    e.epoch = this.#budget.epoch;
    this.#entries.set(owner, e);
  }

  /** Adds owner's new descriptor (opened through the budget), then keeps the cache within cap. */
  add(owner: K, fd: number): void {
    this.#entries.set(owner, { fd, epoch: this.#budget.epoch });
    if (this.#entries.size > this.cap) this.shrink(this.cap, this.#budget.epoch);
  }

  /** Closes owner's descriptor now (the directory is gone). */
  remove(owner: K): void {
    const e = this.#entries.get(owner);
    if (e === undefined) return;
    this.#entries.delete(owner);
    this.#budget.close(e.fd);
  }

  shrink(keep: number, epoch: number): number {
    let n = 0;
    for (const [owner, e] of this.#entries) {
      // Use order is epoch order: from the first entry of this operation on, all are in use.
      if (this.#entries.size <= keep || e.epoch >= epoch) break;
      this.#entries.delete(owner);
      this.#budget.close(e.fd);
      owner.fdEvicted();
      n++;
    }
    return n;
  }

  /** Closes every descriptor (the filesystem is released). */
  clear(): void {
    for (const e of this.#entries.values()) this.#budget.close(e.fd);
    this.#entries.clear();
  }
}
