/**
 * Readiness notification, the way Linux's wait queues and gVisor's pkg/waiter work: every file
 * (pipe, socket, terminal, eventfd...) owns a {@linkcode WaitQueue}; a task that must wait for
 * it registers a {@linkcode Waker} with an event mask and is woken when a matching event fires.
 *
 * Imports nothing: vfs/, the kernel and the socket glue all build on it.
 *
 * @module
 */

/** poll(2) event bits. */
export const EVENT_IN = 0x1;
export const EVENT_PRI = 0x2;
export const EVENT_OUT = 0x4;
export const EVENT_ERR = 0x8;
export const EVENT_HUP = 0x10;
export const EVENT_NVAL = 0x20;
export const EVENT_RDNORM = 0x40;
export const EVENT_RDBAND = 0x80;
export const EVENT_WRNORM = 0x100;
export const EVENT_WRBAND = 0x200;
export const EVENT_MSG = 0x400;
export const EVENT_RDHUP = 0x2000;
/** Events always reported, whatever the mask. */
export const EVENT_ALWAYS = EVENT_ERR | EVENT_HUP | EVENT_NVAL;

/** Something that can be woken: a blocked task, an epoll instance. */
export interface Waker {
  /** Called synchronously by notify(); must not block or re-enter the queue's owner. */
  wake(events: number): void;
  /**
   * For an exclusive waiter (epoll's EPOLLEXCLUSIVE), called instead of wake() while `exclusive`
   * is true: returns true when it woke someone. Of the exclusive wakers a notify reaches, only
   * those up to the first that woke someone are called, as Linux's exclusive wait entries;
   * the others are always called.
   */
  wakeExclusive?(events: number): boolean;
  readonly exclusive?: boolean;
}

/** @savable A list of wakers interested in events of one object. */
export class WaitQueue {
  readonly #entries = new Map<Waker, number>();

  /** Registers w for events in mask (EVENT_ALWAYS is implied). Re-registering updates the mask. */
  register(w: Waker, mask: number): void {
    this.#entries.set(w, mask | EVENT_ALWAYS);
  }

  unregister(w: Waker): void {
    this.#entries.delete(w);
  }

  /** Wakes every waker whose mask intersects events (exclusive ones: see Waker.exclusive). */
  notify(events: number): void {
    if (this.#entries.size === 0) return;
    let exclusiveDone = false;
    for (const [w, mask] of [...this.#entries]) {
      if (!(mask & events)) continue;
      if (w.exclusive !== true || w.wakeExclusive === undefined) {
        w.wake(events & mask);
      } else if (!exclusiveDone) {
        exclusiveDone = w.wakeExclusive(events & mask);
      }
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** Something with readiness: files, sockets. */
export interface Waitable {
  /** The events in mask that are ready now. Never blocks. */
  readiness(mask: number): number;
  /** The queue notified when readiness may have changed. */
  readonly waitQueue: WaitQueue;
}
