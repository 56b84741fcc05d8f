/**
 * The sentry's entry point: runs boot and exits with its status. Anything that escapes boot,
 * including an unhandled rejection or an uncaught error in a callback, still ends as one line
 * on stderr and exit status 125: a container runtime never prints a stack trace.
 *
 * Run it through the `./sentry` launcher (or the binary of `deno task compile`).
 *
 * @module
 */

import { EXIT_SENTRY_ERROR, main, reportError, restoreHostTerminal } from "./boot/mod.ts";
import { startCpuProfile } from "./boot/cpu_profile.ts";

function die(err: unknown): never {
  // A `-t` run must not leave the user's terminal in raw mode, whatever happened.
  restoreHostTerminal();
  try {
    reportError(err, null);
  } catch {
    // stderr is gone; the status still tells.
  }
  Deno.exit(EXIT_SENTRY_ERROR);
}

globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  die(e.reason);
});
globalThis.addEventListener("error", (e) => {
  e.preventDefault();
  die(e.error);
});

let status: number;
try {
  const profile = await startCpuProfile(); // SENTRY_CPU_PROF=FILE (boot/cpu_profile.ts)
  status = await main(Deno.args);
  await profile?.stop();
} catch (err) {
  die(err);
}
Deno.exit(status);
