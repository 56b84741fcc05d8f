/**
 * Host signals that reach the sentry before init runs: while the sandbox is assembled (the
 * kernel's modules load, stubs start) and while a created container waits for `start`. Their
 * default action would kill the sentry and leave init's fate unreported; instead they are held
 * and delivered to init when it starts (boot/loader.ts), in the order they came, as if they
 * had come a moment later.
 *
 * @module
 */

import { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH } from "../abi/linux/signal.ts";

/** Host signals passed on to the sandbox, as runsc forwards them to the container. */
export const FORWARDED: ReadonlyArray<[Deno.Signal, number]> = [
  ["SIGINT", SIGINT],
  ["SIGTERM", SIGTERM],
  ["SIGHUP", SIGHUP],
  ["SIGQUIT", SIGQUIT],
  ["SIGUSR1", SIGUSR1],
  ["SIGUSR2", SIGUSR2],
  ["SIGWINCH", SIGWINCH],
];

/** @nosave Listeners that record the forwarded signals until {@linkcode release}. */
export class HeldSignals {
  readonly #pending: number[] = [];
  readonly #listeners: Array<[Deno.Signal, () => void]> = [];
  #released = false;

  /** Starts holding every forwarded signal. */
  static hold(): HeldSignals {
    const h = new HeldSignals();
    for (const [name, signo] of FORWARDED) {
      const l = () => void h.#pending.push(signo);
      Deno.addSignalListener(name, l);
      h.#listeners.push([name, l]);
    }
    return h;
  }

  /**
   * Stops holding and returns the signals held, oldest first. Call after the next listeners
   * are in place, so that no signal finds none. Idempotent (later calls return nothing).
   */
  release(): number[] {
    if (this.#released) return [];
    this.#released = true;
    for (const [name, l] of this.#listeners) Deno.removeSignalListener(name, l);
    return this.#pending.splice(0);
  }
}
