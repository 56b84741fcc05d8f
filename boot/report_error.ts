/**
 * How every failure reaches the user: one line on stderr and an exit status, never a stack
 * trace (the stack goes to the debug log when there is one). Kept apart from boot/mod.ts so
 * that main.ts can report an error without loading the sandbox's modules.
 *
 * @module
 */

import type { DebugLog } from "../kernel/log.ts";
import { type SyncWriter, writeAllSync } from "../kernel/write_all.ts";
import { BootError, EXIT_SENTRY_ERROR, firstLine } from "./errors.ts";

/** Prints err as the sentry's one line; returns the exit status it stands for. */
export function reportError(err: unknown, log: DebugLog | null): number {
  if (err instanceof BootError) {
    log?.warning(err.message);
    writeAll(Deno.stderr, `sentry: ${firstLine(err.message)}\n`);
    return err.exitCode;
  }
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  let hint = " (run with --debug-log FILE for details)";
  if (log?.enabled) {
    log.warning(`internal error: ${err instanceof Error ? err.stack : msg}`);
    hint = " (details in the debug log)";
  }
  writeAll(Deno.stderr, `sentry: internal error: ${firstLine(msg)}${hint}\n`);
  return EXIT_SENTRY_ERROR;
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
