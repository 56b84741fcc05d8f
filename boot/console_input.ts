/**
 * Typing host input into a terminal of the sandbox, shared by the two bridges that do it
 * (boot/terminal.ts for `-t` on the sentry's own terminal, boot/fd_terminal_bridge.ts for
 * `exec -t` and `--console-socket`).
 *
 * The terminal's master takes what its input buffer has room for and throws EAGAIN when it has
 * none (a program in the sandbox that does not read, or canonical mode with a full line
 * buffer). Those bytes are the user's keystrokes: they wait here, never dropped, until the
 * master's wait queue reports EVENT_OUT ({@linkcode ConsoleInput.writable}); and the bridge
 * reads no more host input meanwhile, so the host side's own buffer applies back-pressure.
 * Only another error (EIO: the terminal is gone) drops them.
 *
 * @module
 */

import { EAGAIN } from "../kernel/errno.ts";
import type { Terminal } from "../vfs/tty/mod.ts";

/** @nosave Bytes in flight from a host terminal to a sandbox terminal. */
export class ConsoleInput {
  readonly #term: Terminal;
  #pending: Uint8Array | null = null;
  /** Resolves the current {@linkcode type} when the pending bytes are all taken or dropped. */
  #done: (() => void) | null = null;

  constructor(term: Terminal) {
    this.#term = term;
  }

  /** Whether bytes are waiting for room in the terminal. */
  get waiting(): boolean {
    return this.#pending !== null;
  }

  /**
   * Types b (which the caller must not reuse until this resolves): resolves once the terminal
   * took all of it, or it was dropped (terminal gone, {@linkcode cancel}). One at a time.
   */
  type(b: Uint8Array): Promise<void> {
    this.#pending = b;
    this.#push();
    if (this.#pending === null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#done = resolve;
    });
  }

  /** The master's EVENT_OUT: room again. Called from the kernel's notify, so deferred. */
  writable(): void {
    if (this.#pending !== null) queueMicrotask(() => this.#push());
  }

  /** Drops what waits (the bridge is closing) and releases its {@linkcode type}. */
  cancel(): void {
    this.#pending = null;
    this.#settle();
  }

  #push(): void {
    const p = this.#pending;
    if (p === null) return;
    try {
      const n = this.#term.masterWrite(p);
      this.#pending = n >= p.length ? null : p.subarray(n);
    } catch (e) {
      if (e === EAGAIN) return; // no room: EVENT_OUT will call writable()
      this.#pending = null;
    }
    if (this.#pending === null) this.#settle();
  }

  #settle(): void {
    const done = this.#done;
    this.#done = null;
    done?.();
  }
}
