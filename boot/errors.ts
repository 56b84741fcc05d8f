/**
 * Errors that boot reports to the user: one line on stderr, then an exit status. Anything else
 * that reaches the top level is a sentry bug (still one line; details go to the debug log).
 *
 * @module
 */

/**
 * The exit status when the sentry failed before or instead of running the application, as
 * docker and podman report a runtime's failure.
 */
export const EXIT_SENTRY_ERROR = 125;
/**
 * The sentry ended the run at a limit of its own: --timeout, --cpu-time or --output-limit
 * (timeout(1)'s status for a command that timed out).
 */
export const EXIT_LIMIT = 124;
/** The command was found but could not be executed (a shell's and docker's 126). */
export const EXIT_CANNOT_EXECUTE = 126;
/** The command was not found (a shell's and docker's 127). */
export const EXIT_NOT_FOUND = 127;

/**
 * A failure of boot the user can act on: a bad flag, a malformed config.json, a missing root
 * filesystem. The message is one line without the "sentry: " prefix, which main adds.
 */
export class BootError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_SENTRY_ERROR) {
    super(message);
    this.name = "BootError";
  }
}

/** Describes a Deno filesystem error in one line, without Deno's "(os error N)" suffix and call. */
export function describeFsError(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "No such file or directory";
  if (err instanceof Deno.errors.PermissionDenied) return "Permission denied";
  if (err instanceof Deno.errors.AlreadyExists) return "File exists";
  if (err instanceof Deno.errors.NotADirectory) return "Not a directory";
  if (err instanceof Deno.errors.IsADirectory) return "Is a directory";
  if (err instanceof Error) return firstLine(err.message.replace(/ \(os error \d+\).*$/s, ""));
  return String(err);
}

/** The first line of a message, so that nothing multi-line ever reaches the terminal. */
export function firstLine(s: string): string {
  const i = s.indexOf("\n");
  return i < 0 ? s : s.slice(0, i);
}
