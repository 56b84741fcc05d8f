/**
 * How every failure reaches the user: one line on stderr and an exit status, never a stack
 * trace (the stack goes to the debug log when there is one). Kept apart from boot/mod.ts so
 * that main.ts can report an error without loading the sandbox's modules.
 *
 * @module
 */

import type { DebugLog } from "../kernel/log.ts";
import { type SyncWriter, writeAllSync } from "../kernel/write_all.ts";
import { BootError, describeFsError, EXIT_SENTRY_ERROR, firstLine } from "./errors.ts";
import { type GlobalOptions, quote } from "./flags.ts";

/**
 * Prints err as the sentry's one line; returns the exit status it stands for. The line goes to
 * the --log file too; the stack only to the debug log.
 */
export function reportError(err: unknown, log: DebugLog | null): number {
  if (err instanceof BootError) {
    log?.error(err.message);
    writeAll(Deno.stderr, `sentry: ${firstLine(err.message)}\n`);
    return err.exitCode;
  }
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  let hint = " (run with --debug-log FILE for details)";
  log?.error(`internal error: ${firstLine(msg)}`);
  if (log?.enabled) {
    log.debug(`internal error: ${err instanceof Error ? err.stack : msg}`);
    hint = " (details in the debug log)";
  }
  writeAll(Deno.stderr, `sentry: internal error: ${firstLine(msg)}${hint}\n`);
  return EXIT_SENTRY_ERROR;
}

/** runc's --log FILE (kernel/log.ts), for every command: conmon and podman read it on failure. */
export function openRuncLog(global: GlobalOptions, log: DebugLog): void {
  if (global.log === null) return;
  try {
    log.openRuncLog(global.log, global.logFormat === "json", global.debug);
  } catch (err) {
    throw new BootError(`--log ${quote(global.log)}: ${describeFsError(err)}`);
  }
}

/**
 * Writes s whole (EINTR retried: the wake-up alarm may still fire); a reader that went away
 * (`sentry --help | head -1`) is not an error.
 */
export function writeAll(w: SyncWriter, s: string): void {
  try {
    writeAllSync(w, new TextEncoder().encode(s));
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
  }
}
