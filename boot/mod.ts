/**
 * Boot: the only layer that knows about command lines, OCI bundles and the order of assembly.
 *
 *     main(args)
 *       parseCommandLine  (flags.ts)      → Command
 *       loadBundle / doConfig (bundle.ts) → LaunchConfig   (spec.ts validates config.json)
 *       resolveExecutable (exec_path.ts)  → init's path in the sandbox
 *       Loader.create → run → destroy     (loader.ts, imported lazily: the kernel loads only
 *                                          when something runs)
 *       exitStatusOf / deathReport        (exit_status.ts)
 *
 * Every failure ends as one line on stderr and an exit status (errors.ts); nothing prints a
 * stack trace. See docs/cli.md.
 *
 * @module
 */

import { DebugLog } from "../kernel/log.ts";
import { type SyncWriter, writeAllSync } from "../kernel/write_all.ts";
import { doConfig, type LaunchConfig, loadBundle, ownOpenFilesLimit, setOverlayUpper, writeDefaultSpec } from "./bundle.ts";
import {
  BootError,
  describeFsError,
  EXIT_CANNOT_EXECUTE,
  EXIT_NOT_FOUND,
  EXIT_SENTRY_ERROR,
  firstLine,
} from "./errors.ts";
import { resolveExecutable } from "./exec_path.ts";
import { loadSpecSchema } from "./spec.ts";
import { deathReport, exitStatusOf } from "./exit_status.ts";
import { type CheckpointRequest, type GlobalOptions, parseCommandLine, quote } from "./flags.ts";
import { helpText, versionText } from "./help.ts";
import { statInRoot } from "./root_stat.ts";
import { checkHostTerminal, HostTerminalBridge, hostWindowSize, restoreHostTerminal } from "./terminal.ts";

export { BootError, EXIT_SENTRY_ERROR } from "./errors.ts";
export { restoreHostTerminal } from "./terminal.ts";

/** Runs the sentry with the arguments after the program name; returns the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  const log = new DebugLog();
  try {
    const cmd = parseCommandLine(args);
    switch (cmd.kind) {
      case "help":
        writeAll(Deno.stdout, helpText(cmd.topic));
        return 0;
      case "version":
        writeAll(Deno.stdout, versionText());
        return 0;
      case "spec":
        writeDefaultSpec(cmd.bundle, { cwd: Deno.cwd() });
        return 0;
      case "run": {
        await loadSpecSchema(); // a bundle's config.json is validated with zod (spec.ts)
        const launch = loadBundle(cmd.bundle, { cwd: Deno.cwd(), command: cmd.command, id: cmd.id });
        if (cmd.overlayUpper !== null) setOverlayUpper(launch, cmd.overlayUpper, Deno.cwd());
        return await boot(launch, cmd.global, log, cmd.tty, cmd.checkpoint);
      }
      case "do": {
        const launch = doConfig(cmd.command, {
          cwd: Deno.cwd(),
          env: callerEnvironment(),
          hostname: Deno.hostname(),
          openFiles: ownOpenFilesLimit(),
        });
        if (cmd.overlayUpper !== null) setOverlayUpper(launch, cmd.overlayUpper, Deno.cwd());
        return await boot(launch, cmd.global, log, cmd.tty, cmd.checkpoint);
      }
      case "restore": {
        // The root the image was taken on: the bundle's, or the host's / as for `do`.
        let launch: LaunchConfig;
        if (cmd.bundle !== null) {
          await loadSpecSchema();
          launch = loadBundle(cmd.bundle, { cwd: Deno.cwd(), command: null, id: null });
        } else {
          launch = doConfig(["/"], { cwd: "/", env: {}, hostname: Deno.hostname(), openFiles: ownOpenFilesLimit() });
        }
        return await restore(launch, cmd.image, cmd.global, log);
      }
      default: {
        const never: never = cmd;
        throw new Error(`unreachable: ${JSON.stringify(never)}`);
      }
    }
  } catch (err) {
    return reportError(err, log);
  } finally {
    log.close();
  }
}

/**
 * The caller's environment in its original order (programs like `env` print it in that
 * order): /proc/self/environ when readable, else Deno's (unordered) view.
 */
function callerEnvironment(): Record<string, string> {
  try {
    const raw = new TextDecoder().decode(Deno.readFileSync("/proc/self/environ"));
    const env: Record<string, string> = {};
    for (const entry of raw.split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0 && !(entry.slice(0, eq) in env)) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return Deno.env.toObject();
  }
}

/** Opens the log, finds init's executable, runs the sandbox and maps init's fate to a status. */
async function boot(
  launch: LaunchConfig,
  global: GlobalOptions,
  log: DebugLog,
  tty: boolean,
  checkpoint: CheckpointRequest | null,
): Promise<number> {
  // -t without a terminal is refused before anything starts.
  if (tty) checkHostTerminal();
  openDebugLog(global, log);
  log.straceToStderr = global.strace && !log.enabled;
  log.debug(`sentry ${JSON.stringify(Deno.args)}`);
  log.debug(`launch: ${JSON.stringify({ ...launch, rlimits: [...launch.rlimits] }, bigintToString)}`);

  const argv0 = launch.argv[0]!;
  const found = resolveExecutable(argv0, {
    envp: launch.envp,
    cwd: launch.cwd,
    stat: (p) => statInRoot(launch.rootHostPath, p),
  });
  if (!found.ok) {
    if (found.reason === "notExecutable") {
      throw new BootError(`cannot run ${quote(argv0)}: Permission denied`, EXIT_CANNOT_EXECUTE);
    }
    throw new BootError(`cannot run ${quote(argv0)}: not found in PATH`, EXIT_NOT_FOUND);
  }
  log.debug(`init executable: ${found.path}`);

  const { Loader } = await import("./loader.ts");
  const loader = Loader.create({ launch, global, log, executable: found.path, checkpoint });
  let bridge: HostTerminalBridge | null = null;
  let ws: number;
  let report: string | null;
  try {
    if (tty) bridge = HostTerminalBridge.start(loader.attachConsole(hostWindowSize()));
    ws = await loader.run();
    // The kernel's words when it has them (they carry the fault address), under our policy
    // of when to speak.
    report = deathReport(ws) === null ? null : (loader.describeInitExit() ?? deathReport(ws));
  } finally {
    // The console's last output goes out and the host terminal leaves raw mode before
    // anything else is printed.
    await bridge?.close();
    restoreHostTerminal();
    loader.destroy();
  }
  const status = exitStatusOf(ws);
  log.debug(`init exited: wait status 0x${ws.toString(16)}, exit status ${status}`);
  if (report !== null) {
    log.warning(report);
    writeAll(Deno.stderr, `sentry: ${report}\n`);
  }
  return status;
}

/**
 * `sentry restore`: validates the whole image (and that the root is the one it was taken on)
 * before anything is created, then runs the restored sandbox as `boot` runs a new one.
 */
async function restore(launch: LaunchConfig, imagePath: string, global: GlobalOptions, log: DebugLog): Promise<number> {
  openDebugLog(global, log);
  log.debug(`sentry ${JSON.stringify(Deno.args)}`);
  const { readSandboxImage } = await import("../kernel/checkpoint/sandbox.ts");
  const { ImageError } = await import("../kernel/checkpoint/image.ts");
  let image;
  try {
    image = readSandboxImage(imagePath, launch.rootHostPath);
  } catch (err) {
    if (err instanceof ImageError) throw new BootError(err.message);
    throw err;
  }
  const { Loader } = await import("./loader.ts");
  const loader = Loader.create({ launch, global, log, executable: "", restore: image });
  let ws: number;
  let report: string | null;
  try {
    ws = await loader.run();
    report = deathReport(ws) === null ? null : (loader.describeInitExit() ?? deathReport(ws));
  } finally {
    loader.destroy();
  }
  if (report !== null) {
    log.warning(report);
    writeAll(Deno.stderr, `sentry: ${report}\n`);
  }
  return exitStatusOf(ws);
}

function openDebugLog(global: GlobalOptions, log: DebugLog): void {
  if (global.debugLog === null) return;
  try {
    log.openFile(global.debugLog);
  } catch (err) {
    throw new BootError(`--debug-log ${quote(global.debugLog)}: ${describeFsError(err)}`);
  }
}

/** Prints one line for err and returns the exit status. Stacks go to the debug log only. */
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
function writeAll(w: SyncWriter, s: string): void {
  try {
    writeAllSync(w, new TextEncoder().encode(s));
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
  }
}

function bigintToString(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}
