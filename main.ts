/**
 * The sentry's entry point: runs boot and exits with its status. Anything that escapes boot,
 * including an unhandled rejection or an uncaught error in a callback, still ends as one line
 * on stderr and exit status 125: a container runtime never prints a stack trace.
 *
 * Run it through the `./sentry` launcher (or the binary of `deno task compile`).
 *
 * @module
 */

// First: puts the caller's DENO_DIR back before anything reads the environment.
import "./boot/deno_dir.ts";
import { EXIT_SENTRY_ERROR } from "./boot/errors.ts";
import { type Command, parseCommandLine } from "./boot/flags.ts";
import { openRuncLog, reportError } from "./boot/report_error.ts";
import { DebugLog } from "./kernel/log.ts";
import { restoreHostTerminal } from "./boot/terminal.ts";
import { startCpuProfile } from "./boot/cpu_profile.ts";
import { flushMarks, mark } from "./boot/startup_marks.ts";

mark("main");

/**
 * Commands that only talk to a running sandbox through its control socket and state
 * directory (boot/lifecycle.ts). They skip boot/mod.ts and the kernel it reaches: `sentry
 * exec` is what a CI system runs many times into one sandbox, and loading the sandbox's
 * modules was most of a client's start-up.
 */
const CLIENT_COMMANDS: ReadonlySet<Command["kind"]> = new Set([
  "start", "state", "list", "ps", "kill", "pause", "resume", "wait", "events", "update", "delete", "exec",
]);

/** The command line parsed; null when it is bad (boot/mod.ts then says why). */
function parsed(args: readonly string[]): Command | null {
  try {
    return parseCommandLine(args);
  } catch {
    return null;
  }
}

async function run(args: readonly string[]): Promise<number> {
  // A foreground run's hook runner (boot/hooks.ts), started before the sentry confined itself.
  if (Deno.env.get("SENTRY_INTERNAL_HOOK_RUNNER") !== undefined) return await (await import("./boot/hooks.ts")).runHookRunner();
  const cmd = parsed(args);
  if (cmd?.kind === "checkpoint" || (cmd?.kind === "restore" && cmd.detach)) {
    // `checkpoint` and the command side of `restore -d` need neither the kernel nor the bundle.
    // A foreground restore is never a client: it goes straight to boot/mod.ts, without this
    // import in front of it (a module round trip on the way to its first instruction).
    const c = await import("./boot/checkpoint_cli.ts");
    if (c.isCheckpointClient(cmd)) return await c.checkpointClient(cmd);
  }
  if (cmd === null || !CLIENT_COMMANDS.has(cmd.kind)) return await (await import("./boot/mod.ts")).main(args);
  const { lifecycle } = await import("./boot/lifecycle.ts");
  // As boot/mod.ts's main does for every command: failures go to --log too.
  const log = new DebugLog();
  try {
    if ("global" in cmd) openRuncLog(cmd.global, log);
    return await lifecycle(cmd, log);
  } catch (err) {
    return reportError(err, log);
  } finally {
    log.close();
  }
}

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
  status = await run(Deno.args);
  await profile?.stop();
} catch (err) {
  die(err);
}
flushMarks();
Deno.exit(status);
