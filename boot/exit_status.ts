/**
 * The sentry's exit status from the init process's Linux wait status, as a shell computes `$?`:
 * the exit code when init exited, 128+N when signal N killed it. And the one line reported on
 * stderr when a signal killed init, so that a CI log says why a test binary died.
 *
 * @module
 */

import { SIGINT, SIGNAL_NAMES, SIGPIPE } from "../abi/linux/signal.ts";

/** A decoded wait status. */
export type InitDeath =
  | { kind: "exited"; code: number }
  | { kind: "signaled"; signo: number; core: boolean };

/**
 * Decodes a wait status (Linux's encoding: exited → code << 8; killed → signo | 0x80 if core).
 */
export function decodeWaitStatus(ws: number): InitDeath {
  const signo = ws & 0x7f;
  if (signo === 0) return { kind: "exited", code: (ws >> 8) & 0xff };
  return { kind: "signaled", signo, core: (ws & 0x80) !== 0 };
}

/** The sentry's exit status for init's wait status: the exit code, or 128 + signal number. */
export function exitStatusOf(ws: number): number {
  const d = decodeWaitStatus(ws);
  return d.kind === "exited" ? d.code : 128 + d.signo;
}

/** Linux's name of a signal ("SIGSEGV"), or "signal N" for one without a name (real-time). */
export function signalName(signo: number): string {
  return SIGNAL_NAMES[signo] ?? `signal ${signo}`;
}

/** Details the kernel may know of a fatal fault. */
export interface FaultInfo {
  /** The faulting address (si_addr). */
  addr: bigint | number;
}

/**
 * The line (without "sentry: ") to print on stderr for init's death, or null when nothing
 * should be printed: on a normal exit, and (as bash does) when SIGINT or SIGPIPE killed it,
 * since the user pressed ^C or the reader went away and knows why.
 */
export function deathReport(
  ws: number,
  opts: { pid?: number; fault?: FaultInfo } = {},
): string | null {
  const d = decodeWaitStatus(ws);
  if (d.kind === "exited") return null;
  if (d.signo === SIGINT || d.signo === SIGPIPE) return null;
  let line = `init (pid ${opts.pid ?? 1}) killed by ${signalName(d.signo)}`;
  if (opts.fault !== undefined) line += ` (fault at 0x${opts.fault.addr.toString(16)})`;
  return line;
}
