/**
 * `-t`: the bridge between the user's terminal and the sandbox's console (a pty whose slave is
 * init's stdio and controlling terminal, kernel/tty.ts). As `docker run -it` on runsc:
 *
 * - The host terminal is put in raw mode while the sandbox runs, so every key (^C, ^Z, ^D
 *   included) reaches the sandbox's line discipline as a byte and becomes a signal there.
 *   {@linkcode HostTerminalBridge.close} restores it; {@linkcode restoreHostTerminal} does the
 *   same from main.ts's last-resort error path, so no exit leaves the terminal raw.
 * - Host stdin → the console's master: Deno reads stdin on its blocking-I/O threads (an
 *   awaited read, never the event loop's thread); the bytes are typed into the terminal. When
 *   the terminal's input buffer is full, the rest waits for the master's EVENT_OUT.
 * - The console's output → host stdout: the master's wait queue wakes the bridge, which drains
 *   the output with one asynchronous write at a time ({@linkcode ConsoleOutput}); meanwhile
 *   output collects in the terminal (and writers in the sandbox wait when it is full).
 * - SIGWINCH on the host → the host window size set on the console (TIOCSWINSZ), which sends
 *   SIGWINCH to the sandbox's foreground process group.
 *
 * Without a terminal on stdin, `-t` is refused before anything starts (exit status 125), as
 * `docker run -it` refuses ("the input device is not a TTY"): raw mode and window sizes need
 * one.
 *
 * @module
 */

import type { Terminal, WindowSize } from "../vfs/tty/mod.ts";
import { retryInterrupted, writeAllAsync } from "../kernel/write_all.ts";
import { EVENT_HUP, EVENT_IN, EVENT_OUT, type Waker } from "../waiter/mod.ts";
import { BootError } from "./errors.ts";
import { hostIoctl } from "../platform/ptrace/_ffi.ts";
import { OPOST, TCGETS, TCSETS, TERMIOS_SIZE } from "../abi/linux/tty.ts";
import { Termios } from "../vfs/tty/termios.ts";
import { ConsoleInput } from "./console_input.ts";
import { ConsoleOutput } from "./console_output.ts";

/**
 * Turns the host terminal's output processing off, as cfmakeraw (and docker's raw mode) does;
 * Deno's setRaw leaves OPOST on. The sandbox's own terminal already turned each "\n" into
 * "\r\n" (its ONLCR), so with OPOST the user's terminal got "\r\r\n". setRaw(false) puts
 * back the mode it saved, OPOST included.
 */
function hostOutputRaw(): void {
  const raw = new Uint8Array(TERMIOS_SIZE);
  if (hostIoctl(0, TCGETS, raw) < 0) return;
  const t = Termios.decode(raw);
  t.oflag &= ~OPOST;
  hostIoctl(0, TCSETS, t.encode());
}

/** Whether a bridge has put the host terminal in raw mode (for the last-resort restore). */
let rawModeSet = false;

/** Leaves raw mode if a bridge set it. Safe to call at any time, more than once. */
export function restoreHostTerminal(): void {
  if (!rawModeSet) return;
  rawModeSet = false;
  try {
    // Deno's setRaw is tcsetattr(TCSADRAIN), which waits for the terminal to take pending
    // output and fails with EINTR if the wake-up alarm fires meanwhile: run it again, or the
    // user's terminal would stay raw.
    retryInterrupted(() => Deno.stdin.setRaw(false));
  } catch {
    // stdin went away: nothing to restore.
  }
}

/** Throws the one-line error of `-t` without a terminal. */
export function checkHostTerminal(): void {
  if (!Deno.stdin.isTerminal()) {
    throw new BootError("-t: standard input is not a terminal (run without -t, or from a terminal)");
  }
}

/** The host terminal's size, or 0 x 0 when it cannot be read. */
export function hostWindowSize(): WindowSize {
  try {
    const { columns, rows } = Deno.consoleSize();
    return { rows, cols: columns, xpixel: 0, ypixel: 0 };
  } catch {
    return { rows: 0, cols: 0, xpixel: 0, ypixel: 0 };
  }
}

/** Moves bytes between the user's terminal and the console while the sandbox runs. */
export class HostTerminalBridge implements Waker {
  readonly #term: Terminal;
  /** Typed bytes on their way into the console. */
  readonly #input: ConsoleInput;
  /** The console's output on its way to the host's stdout. */
  readonly #output: ConsoleOutput;
  #closed = false;
  readonly #onResize = (): void => this.#term.setWindowSize(hostWindowSize());

  private constructor(term: Terminal) {
    this.#term = term;
    this.#input = new ConsoleInput(term);
    this.#output = new ConsoleOutput(term, async (b) => {
      try {
        await writeAllAsync(Deno.stdout, b);
        return true;
      } catch {
        return false; // the host's stdout went away: output is dropped, the sandbox goes on
      }
    });
  }

  /**
   * Puts the host terminal in raw mode and starts moving bytes. Preconditions: stdin is a
   * terminal ({@linkcode checkHostTerminal}); term's master is the bridge's.
   */
  static start(term: Terminal): HostTerminalBridge {
    const b = new HostTerminalBridge(term);
    Deno.stdin.setRaw(true);
    rawModeSet = true;
    hostOutputRaw();
    term.masterQueue.register(b, EVENT_IN | EVENT_OUT | EVENT_HUP);
    Deno.addSignalListener("SIGWINCH", b.#onResize);
    void b.#readInput();
    b.#output.pending();
    return b;
  }

  /** Called by the console's master queue (synchronously, inside the kernel): defer the work. */
  wake(events: number): void {
    if (this.#closed) return;
    if (events & (EVENT_IN | EVENT_HUP)) this.#output.pending();
    if (events & (EVENT_OUT | EVENT_HUP)) this.#input.writable();
  }

  /** Stops the bridge: flushes what the console still has, restores the terminal. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#input.cancel();
    this.#term.masterQueue.unregister(this);
    Deno.removeSignalListener("SIGWINCH", this.#onResize);
    // A write in flight runs on Deno's I/O threads: it must land before the terminal leaves
    // raw mode below, or its "\n"s would get a second "\r" from the host's output processing.
    // The last output (a shell's final newline) still goes out.
    await this.#output.flush();
    restoreHostTerminal();
  }

  async #readInput(): Promise<void> {
    const buf = new Uint8Array(4096);
    while (!this.#closed) {
      let n: number | null;
      try {
        n = await Deno.stdin.read(buf);
      } catch {
        return;
      }
      if (n === null || this.#closed) return;
      // No more host input is read until the console took these bytes (back-pressure).
      await this.#input.type(buf.slice(0, n));
    }
  }
}
