/**
 * Moving a sandbox terminal's output to the host, shared by the two bridges that do it
 * (boot/terminal.ts for `-t`, boot/fd_terminal_bridge.ts for `exec -t` and
 * `--console-socket`).
 *
 * The master's wait queue says "output is there" (EVENT_IN) from inside the kernel; the pump
 * then reads the master and writes to the host, one asynchronous write at a time. Ordering
 * rule, the reason this class exists: a wake that comes while a drain is in flight must never
 * be lost. A drain that saw the master empty (EAGAIN) and had not yet said it was done, when a
 * program wrote its next line, left that line in the terminal until some later output woke the
 * bridge again: an interactive shell's answer to a command stayed invisible (bash's `echo`
 * after a job ended, seen in CI). So every wake sets {@linkcode ConsoleOutput.pending}'s flag,
 * the drain goes round again while the flag is set, and the drain's end (flag seen clear) and
 * its "not running" mark happen in one synchronous step.
 *
 * @module
 */

import type { Terminal } from "../vfs/tty/mod.ts";

/** Writes b whole to the host; false when the host side went away. */
export type HostWrite = (b: Uint8Array) => Promise<boolean>;

/** @nosave Bytes in flight from a sandbox terminal to a host descriptor. */
export class ConsoleOutput {
  readonly #term: Terminal;
  readonly #write: HostWrite;
  readonly #buf = new Uint8Array(16384);
  /** The drain in flight, if any. */
  #running: Promise<void> | null = null;
  /** A wake came that the running drain may not have seen. */
  #again = false;
  /** The host side failed: output is read and dropped, so the sandbox's writers go on. */
  #gone = false;

  constructor(term: Terminal, write: HostWrite) {
    this.#term = term;
    this.#write = write;
  }

  /** The master's EVENT_IN or EVENT_HUP: there may be output. Safe inside a kernel notify. */
  pending(): void {
    this.#again = true;
    if (this.#running === null) this.#running = this.#drain();
  }

  /** Moves everything the terminal holds now (a closing bridge's last output). */
  flush(): Promise<void> {
    this.pending();
    return this.#running ?? Promise.resolve();
  }

  async #drain(): Promise<void> {
    try {
      await Promise.resolve(); // out of the kernel's notify before reading the master
      while (this.#again) {
        this.#again = false;
        for (;;) {
          let n: number;
          try {
            n = this.#term.masterRead(this.#buf);
          } catch {
            break; // EAGAIN: nothing now; EIO: every slave closed
          }
          if (n === 0) break;
          if (this.#gone) continue;
          if (!(await this.#write(this.#buf.slice(0, n)))) this.#gone = true;
        }
      }
    } finally {
      // No await between the last look at #again and this: a wake after it starts a new drain.
      this.#running = null;
    }
  }
}
