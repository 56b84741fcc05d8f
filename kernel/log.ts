/**
 * The sentry's debug log and strace output. Lines go to the file named by --debug-log, or are
 * dropped; strace lines go to the debug log when there is one, else to stderr (as runsc's
 * -strace writes to its log).
 *
 * @nosave: host-bound (an open host file).
 *
 * @module
 */

import { writeAllSync } from "./write_all.ts";

const encoder = new TextEncoder();

export class DebugLog {
  #file: Deno.FsFile | null = null;
  readonly #once = new Set<string>();
  straceToStderr = false;

  /** Opens (truncating) the debug log file. Throws Deno errors; boot reports them. */
  openFile(path: string): void {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
  }

  get enabled(): boolean {
    return this.#file !== null;
  }

  debug(msg: string): void {
    if (this.#file) this.#write(this.#file, `D ${timestamp()} ${msg}\n`);
  }

  warning(msg: string): void {
    if (this.#file) this.#write(this.#file, `W ${timestamp()} ${msg}\n`);
  }

  /** Logs msg the first time key is seen (unknown syscalls, unsupported flags). */
  once(key: string, msg: string): void {
    if (this.#once.has(key)) return;
    this.#once.add(key);
    this.warning(msg);
  }

  strace(line: string): void {
    if (this.#file) this.#write(this.#file, `I ${timestamp()} ${line}\n`);
    else if (this.straceToStderr) this.#writeStderr(line + "\n");
  }

  // The log may be a pipe (`--debug-log /dev/stderr`) and strace goes to stderr: both can be
  // full while the wake-up alarm fires, so writes go through writeAllSync (EINTR retried).
  #write(f: Deno.FsFile, s: string): void {
    writeAllSync(f, encoder.encode(s));
  }

  #writeStderr(s: string): void {
    writeAllSync(Deno.stderr, encoder.encode(s));
  }

  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

function timestamp(): string {
  return (performance.now() / 1000).toFixed(6);
}
