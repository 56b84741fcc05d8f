/**
 * Moves bytes between a terminal of the sandbox (its master side, in the sentry) and a host
 * terminal given as descriptors: the caller's own terminal for `exec -t` (sent over the
 * control socket), or the slave of a host pty whose master went to a container engine
 * (`--console-socket`, boot/console_socket.ts). The host side is raw meanwhile (the caller's
 * CLI, or the sentry for its pty); the sentry only polls, reads and writes these descriptors.
 *
 * @module
 */

import type { Terminal } from "../vfs/tty/mod.ts";
import { EVENT_HUP, EVENT_IN, EVENT_OUT, type Waker } from "../waiter/mod.ts";
import { hostClose, hostEventfd, hostPollAsync, hostRead, hostWrite, POLLIN, POLLOUT } from "../platform/ptrace/_ffi.ts";
import { ConsoleInput } from "./console_input.ts";
import { ConsoleOutput } from "./console_output.ts";

/** @nosave Host plumbing: two descriptors and a terminal's master side. */
export class FdTerminalBridge implements Waker {
  readonly #term: Terminal;
  readonly #in: number;
  readonly #out: number;
  readonly #cancel: number;
  readonly #input: ConsoleInput;
  readonly #output: ConsoleOutput;
  #closed = false;
  #polls = 0;

  constructor(term: Terminal, inFd: number, outFd: number) {
    this.#term = term;
    this.#in = inFd;
    this.#out = outFd;
    this.#cancel = hostEventfd();
    this.#input = new ConsoleInput(term);
    this.#output = new ConsoleOutput(term, (b) => this.#writeOut(b));
    term.masterQueue.register(this, EVENT_IN | EVENT_OUT | EVENT_HUP);
    void this.#readInput();
    this.#output.pending();
  }

  wake(events: number): void {
    if (this.#closed) return;
    if (events & (EVENT_IN | EVENT_HUP)) this.#output.pending();
    if (events & (EVENT_OUT | EVENT_HUP)) this.#input.writable();
  }

  async #poll(fd: number, events: number): Promise<number> {
    this.#polls++;
    try {
      return await hostPollAsync(fd, events, this.#cancel);
    } finally {
      this.#polls--;
      if (this.#closed && this.#polls === 0) this.#release();
    }
  }

  async #readInput(): Promise<void> {
    const buf = new Uint8Array(4096);
    while (!this.#closed) {
      const rev = await this.#poll(this.#in, POLLIN);
      if (this.#closed || rev === 0) return;
      const n = hostRead(this.#in, buf);
      if (n <= 0) return; // the caller's terminal went away: the process keeps running
      // No more host input is read until the terminal took these bytes (back-pressure).
      await this.#input.type(buf.slice(0, n));
    }
  }

  /** Writes b whole to the caller's terminal; false when it went away. */
  async #writeOut(b: Uint8Array): Promise<boolean> {
    let off = 0;
    while (off < b.length) {
      const rev = await this.#poll(this.#out, POLLOUT);
      if (rev === 0 && this.#closed) return false;
      const n = hostWrite(this.#out, off === 0 ? b : b.slice(off));
      if (n <= 0) return false;
      off += n;
    }
    return true;
  }

  /** Flushes the process's last output, then stops. */
  async close(): Promise<void> {
    await this.#output.flush();
    this.#closed = true;
    this.#input.cancel();
    this.#term.masterQueue.unregister(this);
    if (this.#polls > 0) hostWrite(this.#cancel, new Uint8Array(new BigUint64Array([1n]).buffer));
    else this.#release();
  }

  #release(): void {
    hostClose(this.#in);
    if (this.#out !== this.#in) hostClose(this.#out);
    hostClose(this.#cancel);
  }
}
