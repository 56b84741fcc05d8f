/**
 * Code the kernel loads at its first use rather than at start (the network, kernel/net_load.ts;
 * the rarer syscall families, kernel/syscalls/linux/table_amd64.ts): a `do -- /bin/true` never
 * reaches it, and module loading is most of a start's CPU.
 *
 * The kernel stays synchronous: what reaches such code before it is loaded gets the module's
 * {@linkcode ModuleNotLoaded} thrown from {@linkcode LazyModule.get}, and the dispatcher
 * (Kernel's #syscall) puts the task to sleep on the module's queue until the import is done; the
 * handler then runs again from the start, as every woken handler does. So each place that
 * reaches lazy code must do so before it changes anything. Such a sleep is not saved by a
 * checkpoint (none is: the syscall runs again after a restore).
 *
 * @module
 */

import { EVENT_IN, WaitQueue } from "../waiter/mod.ts";

/**
 * Thrown by {@linkcode LazyModule.get} while the module is not loaded: not a LinuxError, so no
 * handler mistakes it for a result; the dispatcher turns it into a killable sleep on `queue`.
 */
export class ModuleNotLoaded extends Error {
  /**
   * `load` resolves once the module is loaded (rejects if it failed), for code outside a
   * syscall that reached it and can wait (boot/mod.ts's assembly of the sandbox).
   */
  constructor(what: string, readonly queue: WaitQueue, readonly load: () => Promise<unknown>) {
    super(`${what}: not loaded yet`);
    this.name = "ModuleNotLoaded";
  }
}

/** @nosave One module (with what it imports) loaded at its first use. */
export class LazyModule<T> {
  /** Notified (EVENT_IN) when the import ends, loaded or failed. */
  readonly queue = new WaitQueue();
  /** The one instance thrown (no stack trace is captured per throw). */
  readonly #notLoaded: ModuleNotLoaded;
  readonly #importer: () => Promise<T>;
  #loaded: T | null = null;
  #failure: unknown = null;
  #loading: Promise<T> | null = null;

  /** `importer` is `() => import("./x.ts")`, written out so that bundlers see the module. */
  constructor(what: string, importer: () => Promise<T>) {
    this.#importer = importer;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      this.#notLoaded = new ModuleNotLoaded(what, this.queue, () => this.load());
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** Starts the import (once); resolves when the module is there. */
  load(): Promise<T> {
    this.#loading ??= this.#importer().then(
      (m) => {
        this.#loaded = m;
        this.queue.notify(EVENT_IN);
        return m;
      },
      (err) => {
        // A bundle removed under a running sentry: the handlers that wait fail (logged as the
        // sentry's bug, EINVAL to the program) rather than sleep for ever.
        this.#failure = err ?? new Error("failed to load");
        this.queue.notify(EVENT_IN);
        throw err;
      },
    );
    return this.#loading;
  }

  /** The module. Not loaded yet: starts loading it and throws ModuleNotLoaded; failed to load: throws why. */
  get(): T {
    if (this.#loaded !== null) return this.#loaded;
    if (this.#failure !== null) throw this.#failure;
    this.load().catch(() => {});
    throw this.#notLoaded;
  }

  /** The module if it is loaded, else null (for instanceof checks: no object of its classes exists before). */
  get ifLoaded(): T | null {
    return this.#loaded;
  }
}
