/**
 * epoll instances: Linux's fs/eventpoll.c and gVisor's vfs/epoll.go, on the waiter package.
 *
 * An {@linkcode EpollInstance} is a file with a wait queue of its own. Each watched (file, fd)
 * pair is an {@linkcode EpollItem}: a Waker registered on the watched file's wait queue. A wake-up
 * puts the item on the instance's ready list (in arrival order) and notifies the instance's
 * queue, which wakes tasks in epoll_wait and any epoll instance that watches this one.
 *
 * The ready list is a superset: a file's queue may fire without the file being ready for the
 * item's events. {@linkcode EpollInstance.collect} therefore asks each listed file for its
 * readiness now, reports what is ready and drops what is not. Then:
 * - level-triggered items stay listed (moved to the tail, for fairness, as Linux does);
 * - edge-triggered (EPOLLET) items leave the list until their file's queue fires again;
 * - EPOLLONESHOT items are disabled (no events) until EPOLL_CTL_MOD re-arms them.
 *
 * Lifetime, as Linux: a registration is keyed by the description and the fd number it was added
 * with, holds no reference, and goes away when the description's last reference is dropped
 * (FileWatcher.fileReleased), not when that fd is closed while a dup keeps it open.
 *
 * EPOLLEXCLUSIVE is accepted with Linux's argument rules; a wake-up of the file reaches the
 * exclusive items up to the first whose instance has a task waiting (waiter/mod.ts), so of
 * several tasks blocked in epoll_wait on such items one is woken, as Linux does.
 *
 * @module
 */

import { AnonInodeFile } from "./anon_file.ts";
import { EEXIST, EINVAL, ELOOP, ENOENT } from "../kernel/errno.ts";
import { O_RDWR } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import type { Waker } from "../waiter/mod.ts";
import { FileDescription, type FileWatcher } from "./file_description.ts";

export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;

export const EPOLLIN = 0x1;
export const EPOLLPRI = 0x2;
export const EPOLLOUT = 0x4;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
export const EPOLLRDNORM = 0x40;
export const EPOLLRDBAND = 0x80;
export const EPOLLWRNORM = 0x100;
export const EPOLLWRBAND = 0x200;
export const EPOLLMSG = 0x400;
export const EPOLLRDHUP = 0x2000;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;

/** The flags that are not events (Linux's EP_PRIVATE_BITS). */
const EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/** What may accompany EPOLLEXCLUSIVE (Linux's EPOLLEXCLUSIVE_OK_BITS). */
const EPOLLEXCLUSIVE_OK_BITS = EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND |
  EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/** Linux's EP_MAX_NESTS: how deep epoll instances may watch each other. */
const EP_MAX_NESTS = 4;

/** @savable One watched (file, fd) pair of an epoll instance. */
export class EpollItem implements Waker {
  /** Requested events and EPOLLET/EPOLLONESHOT/EPOLLEXCLUSIVE; EPOLLERR|EPOLLHUP always added. */
  events: number;
  data: bigint;

  constructor(
    readonly ep: EpollInstance,
    readonly file: FileDescription,
    readonly fd: number,
    events: number,
    data: bigint,
  ) {
    this.events = events;
    this.data = data;
  }

  /** The events this item asks the file for (none while a one-shot item is disabled). */
  get interest(): number {
    return this.events & ~EP_PRIVATE_BITS;
  }

  /** Implements Waker: an EPOLLEXCLUSIVE item is an exclusive waiter of the file's queue. */
  get exclusive(): boolean {
    return (this.events & EPOLLEXCLUSIVE) !== 0;
  }

  /** Implements Waker: the watched file's queue fired. */
  wake(events: number): void {
    this.wakeExclusive(events);
  }

  /**
   * Implements Waker for an exclusive item (and wake() for any): says whether it
   * woke a task in epoll_wait (Linux's ep_poll_callback: the instance has waiters and the event
   * is the item's EPOLLIN or EPOLLOUT, or carries neither); if not, the queue goes on to the
   * next exclusive item, this one staying on its ready list.
   */
  wakeExclusive(events: number): boolean {
    if (this.interest === 0) return false;
    const waiters = this.ep.waitQueue.size > 0;
    this.ep.markReady(this);
    if (!this.exclusive || !waiters) return false;
    const io = events & (EPOLLIN | EPOLLOUT);
    return io === 0 || (io !== (EPOLLIN | EPOLLOUT) && (this.events & io) !== 0);
  }
}

/** @savable An epoll instance: epoll_create1(2). */
export class EpollInstance extends AnonInodeFile implements FileWatcher {
  /** Registrations by watched description, then fd number. */
  readonly #items = new Map<FileDescription, Map<number, EpollItem>>();
  /** Items whose file may be ready, oldest first (a Set keeps insertion order). */
  readonly #ready = new Set<EpollItem>();

  constructor(flags: number) {
    super("anon_inode:[eventpoll]", O_RDWR | flags);
  }

  /** The registration for (file, fd), if any. */
  find(file: FileDescription, fd: number): EpollItem | undefined {
    return this.#items.get(file)?.get(fd);
  }

  /**
   * Implements EPOLL_CTL_ADD, _MOD and _DEL for a file that can be polled. `events` is the
   * caller's struct epoll_event.events (ignored for DEL). Throws as Linux's do_epoll_ctl after
   * the descriptor checks.
   */
  ctl(op: number, fd: number, file: FileDescription, events: number, data: bigint): void {
    if (op !== EPOLL_CTL_DEL) events &= ~EPOLLWAKEUP; // needs CAP_BLOCK_SUSPEND: silently dropped
    if (file === this) throw EINVAL;
    if (op !== EPOLL_CTL_DEL && (events & EPOLLEXCLUSIVE)) {
      if (op === EPOLL_CTL_MOD) throw EINVAL;
      if (op === EPOLL_CTL_ADD && (file instanceof EpollInstance || (events & ~EPOLLEXCLUSIVE_OK_BITS))) throw EINVAL;
    }
    if (op === EPOLL_CTL_ADD && file instanceof EpollInstance && this.#loops(file)) throw ELOOP;
    const item = this.find(file, fd);
    switch (op) {
      case EPOLL_CTL_ADD: {
        if (item) throw EEXIST;
        const it = new EpollItem(this, file, fd, (events | EPOLLERR | EPOLLHUP) >>> 0, data);
        let byFd = this.#items.get(file);
        if (!byFd) {
          byFd = new Map();
          this.#items.set(file, byFd);
          file.addWatcher(this);
        }
        byFd.set(fd, it);
        file.waitQueue.register(it, it.interest);
        if (file.readiness(it.interest) & it.interest) this.markReady(it);
        return;
      }
      case EPOLL_CTL_DEL:
        if (!item) throw ENOENT;
        this.#remove(item);
        return;
      case EPOLL_CTL_MOD:
        if (!item) throw ENOENT;
        if (item.events & EPOLLEXCLUSIVE) throw EINVAL;
        item.events = (events | EPOLLERR | EPOLLHUP) >>> 0;
        item.data = data;
        file.waitQueue.register(item, item.interest);
        if (file.readiness(item.interest) & item.interest) this.markReady(item);
        return;
      default:
        throw EINVAL;
    }
  }

  /** True if watching `target` would close a cycle or nest deeper than Linux allows. */
  #loops(target: EpollInstance): boolean {
    // Depth of the chain above this instance is unknown to it; Linux checks the chain below
    // the target and the path back to this instance. A cycle is what matters in practice.
    const seen = new Set<EpollInstance>();
    const walk = (ep: EpollInstance, depth: number): boolean => {
      if (ep === this) return true;
      if (depth > EP_MAX_NESTS) return true;
      if (seen.has(ep)) return false;
      seen.add(ep);
      for (const f of ep.#items.keys()) {
        if (f instanceof EpollInstance && walk(f, depth + 1)) return true;
      }
      return false;
    };
    return walk(target, 1);
  }

  /** Puts item on the ready list and tells whoever waits on this instance. */
  markReady(item: EpollItem): void {
    if (this.#ready.has(item)) return;
    this.#ready.add(item);
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  #remove(item: EpollItem): void {
    item.file.waitQueue.unregister(item);
    this.#ready.delete(item);
    const byFd = this.#items.get(item.file);
    if (!byFd) return;
    byFd.delete(item.fd);
    if (byFd.size === 0) {
      this.#items.delete(item.file);
      item.file.removeWatcher(this);
    }
  }

  /**
   * Reports up to max ready events as [events, data] pairs, applying the level, edge and
   * one-shot rules (see the module doc).
   */
  collect(max: number): Array<[number, bigint]> {
    const out: Array<[number, bigint]> = [];
    const requeue: EpollItem[] = [];
    for (const item of [...this.#ready]) {
      if (out.length >= max) break;
      this.#ready.delete(item);
      const want = item.interest;
      if (want === 0) continue;
      const revents = item.file.readiness(want) & want;
      if (revents === 0) continue;
      out.push([revents, item.data]);
      if (item.events & EPOLLONESHOT) item.events &= EP_PRIVATE_BITS;
      else if (!(item.events & EPOLLET)) requeue.push(item);
    }
    // Level-triggered items stay ready, behind the ones not yet looked at.
    for (const item of requeue) this.#ready.add(item);
    return out;
  }

  /** Ready when some listed item's file is ready for it: what a nested epoll or poll sees. */
  override readiness(mask: number): number {
    if (!(mask & (EVENT_IN | EVENT_RDNORM))) return 0;
    for (const item of [...this.#ready]) {
      const want = item.interest;
      if (want !== 0 && (item.file.readiness(want) & want)) return mask & (EVENT_IN | EVENT_RDNORM);
      this.#ready.delete(item);
    }
    return 0;
  }

  /** Implements FileWatcher: a watched description is gone; so are its registrations. */
  fileReleased(f: FileDescription): void {
    const byFd = this.#items.get(f);
    if (!byFd) return;
    for (const item of [...byFd.values()]) {
      this.#ready.delete(item);
      f.waitQueue.unregister(item);
    }
    this.#items.delete(f);
  }

  /**
   * For a checkpoint: every registration, in the order they were added (per file), and the
   * ready list in its order. Reads only.
   */
  registrations(): { items: EpollItem[]; ready: EpollItem[] } {
    const items: EpollItem[] = [];
    for (const byFd of this.#items.values()) items.push(...byFd.values());
    return { items, ready: [...this.#ready] };
  }

  /**
   * For a restore: registers what {@linkcode registrations} listed, as EPOLL_CTL_ADD would but
   * with the saved events as they were (a disabled one-shot item stays disabled), then makes the
   * ready list the saved one (an edge-triggered item already reported stays unreported). Throws
   * the errno EPOLL_CTL_ADD would (a loop, a duplicate, EPOLLEXCLUSIVE on an epoll file).
   */
  restoreRegistrations(
    items: ReadonlyArray<{ file: FileDescription; fd: number; events: number; data: bigint }>, ready: readonly number[],
  ): void {
    const made: EpollItem[] = [];
    for (const r of items) {
      this.ctl(EPOLL_CTL_ADD, r.fd, r.file, r.events, r.data);
      const it = this.find(r.file, r.fd)!;
      it.events = r.events >>> 0;
      r.file.waitQueue.register(it, it.interest);
      made.push(it);
    }
    this.#ready.clear();
    for (const i of ready) {
      const it = made[i];
      if (it === undefined || this.#ready.has(it)) throw EINVAL;
      this.#ready.add(it);
    }
  }

  protected override release(): void {
    for (const [f, byFd] of this.#items) {
      for (const item of byFd.values()) f.waitQueue.unregister(item);
      f.removeWatcher(this);
    }
    this.#items.clear();
    this.#ready.clear();
  }

}
