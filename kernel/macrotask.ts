/**
 * One turn of Deno's event loop for the kernel's loop, which otherwise runs synchronously from
 * stop to stop: host I/O callbacks, signal listeners, the control socket and timers run while
 * it yields.
 *
 * A message to itself on a MessageChannel is a macrotask (~13 µs a turn here), as Node's
 * setImmediate is; setTimeout(0) would be clamped to 4 ms once nested, and setImmediate comes
 * from Deno's Node layer (node:timers), whose loading cost ~10-15 ms of CPU, which a short run
 * (`sentry do -- /bin/true` yields once or twice) paid in full.
 *
 * @module
 */

export class MacrotaskYield {
  #channel: MessageChannel | null = null;
  readonly #waiting: Array<() => void> = [];

  /** Resolves in a later macrotask. */
  next(): Promise<void> {
    let ch = this.#channel;
    if (ch === null) {
      ch = this.#channel = new MessageChannel();
      ch.port1.onmessage = () => this.#waiting.shift()?.();
    }
    const port = ch.port2;
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      port.postMessage(null);
    });
  }

  /** Closes the channel (it holds two resources); yields still waiting resolve now. Reusable. */
  close(): void {
    const ch = this.#channel;
    if (ch === null) return;
    this.#channel = null;
    ch.port1.close();
    ch.port2.close();
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}
