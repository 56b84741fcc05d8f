/**
 * One turn of Deno's event loop for the kernel's loop, which otherwise runs synchronously from
 * stop to stop: host I/O callbacks, signal listeners, the control socket and timers (a
 * --checkpoint-after, the limits' sampling) run while it yields.
 *
 * A turn must pass through the event loop's timers: a message to itself on a MessageChannel is
 * taken again at once, and a due timer waited ~130 turns of 1 ms of work behind it;
 * setTimeout(0) is clamped to 4 ms once nested. Node's setImmediate is the cheapest (~6 µs a
 * turn), but it comes from Deno's Node layer (node:timers), whose loading costs ~10-15 ms of
 * CPU, which a short run (`sentry do -- /bin/true` yields once or twice) would pay in full. So a
 * run's first LOAD_AFTER_MS yield through an asynchronous stat (an operation on Deno's thread
 * pool, ~45 µs a turn); then node:timers loads and its setImmediate takes over.
 *
 * @module
 */

/** How long a run yields without setImmediate before loading node:timers. */
const LOAD_AFTER_MS = 100;

/** Node's setImmediate, once loaded (shared by every kernel of the process). */
let immediate: ((cb: () => void) => unknown) | null = null;
let loading: Promise<void> | null = null;

export class MacrotaskYield {
  /** When the first yield of this run came (performance.now()), or null before it. */
  #first: number | null = null;

  /** Resolves in a later turn of the event loop, after its due timers. */
  next(): Promise<void> {
    if (immediate !== null) return new Promise((r) => immediate!(r));
    const now = performance.now();
    this.#first ??= now;
    if (loading === null && now - this.#first >= LOAD_AFTER_MS) {
      loading = import("node:timers").then((m) => {
        immediate = m.setImmediate;
      });
      loading.catch(() => {});
    }
    return Deno.stat("/").then(() => {}, () => {});
  }

  /** Ends the run: a later run counts LOAD_AFTER_MS afresh. */
  close(): void {
    this.#first = null;
  }
}
