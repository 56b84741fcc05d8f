/**
 * `create` and `run -d`: the sandbox outlives the command that made it. Deno cannot fork, so
 * the command starts the sentry again as a detached holder (same arguments, the holder
 * variable below set), with the caller's stdio, which become init's (a container engine's
 * pipes, as runc's init inherits them). The holder leaves the caller's session, assembles the
 * sandbox, registers it (state.json, control socket, --pid-file) and holds it until init
 * exits; its exit status is init's, so an engine that waits for the pid in --pid-file (conmon,
 * a subreaper, adopts the holder when the command exits) gets the container's status.
 *
 * The command returns once the holder wrote state.json (`created`, or `running` for `run -d`),
 * or with the holder's own status if the holder ended first (its one-line error went to the
 * shared stderr).
 *
 * @module
 */

import { BootError, EXIT_SENTRY_ERROR } from "./errors.ts";
import { type ContainerState, containerDir, STATE_FILE } from "./state_dir.ts";

/** Set in the holder's environment (and removed from it at once: init never sees it). */
const HOLDER_VAR = "SENTRY_INTERNAL_HOLDER";

/** Whether this sentry is a holder started by {@linkcode spawnHolder}; forgets the variable. */
export function takeHolderRole(): boolean {
  const v = Deno.env.get(HOLDER_VAR);
  if (v === undefined) return false;
  Deno.env.delete(HOLDER_VAR);
  return v === "1";
}

/**
 * How to start this sentry again: Deno with its main module (main.ts with the repository's
 * deno.json, or dist/sentry's bundled main.js, which has no config), or the compiled binary
 * itself.
 */
export function selfCommand(args: readonly string[]): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  const main = new URL(Deno.mainModule);
  if (main.protocol === "file:" && /(^|\/)deno$/.test(exe)) {
    const config = new URL("deno.json", main).pathname;
    let hasConfig = false;
    try {
      hasConfig = Deno.statSync(config).isFile;
    } catch { /* the bundle: none */ }
    return {
      cmd: exe,
      args: [
        "run", "-A", "--quiet", "--no-lock", "--v8-flags=--no-lazy", ...(hasConfig ? ["--config", config] : ["--no-config"]),
        main.pathname, ...args,
      ],
    };
  }
  return { cmd: exe, args: [...args] };
}

/** state.json as the holder wrote it (no liveness check), or null while there is none. */
function rawState(root: string, id: string): ContainerState | null {
  try {
    return JSON.parse(Deno.readTextFileSync(`${containerDir(root, id)}/${STATE_FILE}`)) as ContainerState;
  } catch {
    return null;
  }
}

/**
 * Starts the holder with this command's arguments and waits until it registered container id
 * under root (the holder writes state.json first with `created`, or `running` for `run -d`).
 * Returns 0, or the holder's exit status when it failed before.
 */
export async function spawnHolder(root: string, id: string): Promise<number> {
  const { cmd, args } = selfCommand(Deno.args);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      env: { [HOLDER_VAR]: "1" },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (err) {
    throw new BootError(`cannot start the sentry that holds the container: ${(err as Error).message}`);
  }
  let ended: Deno.CommandStatus | null = null;
  void child.status.then((s) => ended = s);
  // The holder writes state.json atomically once registered; polling it costs a
  // read every few milliseconds for the ~100 ms a sandbox takes to assemble.
  for (let delay = 2;; delay = Math.min(delay * 2, 20)) {
    const s = rawState(root, id);
    if (s !== null && s.pid === child.pid) {
      child.unref();
      return 0;
    }
    if (ended !== null) {
      const e = ended as Deno.CommandStatus;
      return e.success ? EXIT_SENTRY_ERROR : e.code || EXIT_SENTRY_ERROR;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
