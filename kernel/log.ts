/**
 * The sentry's debug log and strace output. Lines go to the file named by --debug-log, or are
 * dropped; strace lines go to the debug log when there is one, else to stderr (as runsc's
 * -strace writes to its log).
 *
 * runc's `--log FILE` (which conmon and podman read when the runtime fails) gets the warnings
 * and errors, and the debug lines too with `--debug`, appended in runc's formats: logrus's
 * text (`time="..." level=error msg="..."`) or, with `--log-format json`, one JSON object a
 * line (`{"level":"error","msg":"...","time":"..."}`).
 *
 * @nosave: host-bound (an open host file).
 *
 * @module
 */

import { writeAllSync } from "./write_all.ts";

const encoder = new TextEncoder();

/** Where runc's --log lines go, and how. */
interface RuncLog {
  file: Deno.FsFile;
  json: boolean;
  debug: boolean;
}

export class DebugLog {
  #file: Deno.FsFile | null = null;
  #runc: RuncLog | null = null;
  readonly #once = new Set<string>();
  straceToStderr = false;

  /** Opens (truncating) the debug log file. Throws Deno errors; boot reports them. */
  openFile(path: string): void {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
  }

  /**
   * Opens runc's --log file (appending, created 0644 as runc's); json: --log-format json;
   * debug: --debug. Throws Deno errors; boot reports them.
   */
  openRuncLog(path: string, json: boolean, debug: boolean): void {
    const file = Deno.openSync(path, { append: true, create: true, mode: 0o644 });
    this.#runc = { file, json, debug };
  }

  get enabled(): boolean {
    return this.#file !== null || this.#runc?.debug === true;
  }

  debug(msg: string): void {
    if (this.#file) this.#write(this.#file, `D ${timestamp()} ${msg}\n`);
    if (this.#runc?.debug) this.#runcLine("debug", msg);
  }

  warning(msg: string): void {
    if (this.#file) this.#write(this.#file, `W ${timestamp()} ${msg}\n`);
    if (this.#runc) this.#runcLine("warning", msg);
  }

  /** The failure the sentry ends with (its one line on stderr). */
  error(msg: string): void {
    if (this.#file) this.#write(this.#file, `E ${timestamp()} ${msg}\n`);
    if (this.#runc) this.#runcLine("error", msg);
  }

  #runcLine(level: string, msg: string): void {
    const r = this.#runc!;
    const time = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const line = r.json
      ? JSON.stringify({ level, msg, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      this.#write(r.file, line + "\n");
    } catch {
      // A full or vanished log never stops the sentry.
    }
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
    this.#runc?.file.close();
    this.#runc = null;
  }
}

function timestamp(): string {
  return (performance.now() / 1000).toFixed(6);
}
