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

/**
 * Set in the holder's environment to the pid of the command that started it (and removed
 * from the environment at once: init never sees it).
 */
const HOLDER_VAR = "SENTRY_INTERNAL_HOLDER";

/**
 * Set in the holder's environment to the container ID the command chose (a generated one when
 * the command line gives none: the holder must register under the ID the command waits for).
 */
const HOLDER_ID_VAR = "SENTRY_INTERNAL_HOLDER_ID";

/** Whether this sentry was started as a holder (before takeHolderRole forgets it). */
export function isHolder(): boolean {
  return Deno.env.get(HOLDER_VAR) !== undefined;
}

/** The pid of the command that started this sentry as a holder; null: not a holder. */
let starter: number | null = null;

/** Whether this sentry is a holder started by {@linkcode spawnHolder}; forgets the variables. */
export function takeHolderRole(): boolean {
  const v = Deno.env.get(HOLDER_VAR);
  Deno.env.delete(HOLDER_VAR);
  Deno.env.delete(HOLDER_ID_VAR);
  if (v === undefined || !/^\d+$/.test(v)) return false;
  starter = Number(v);
  return true;
}

/**
 * The container ID for a command that may hold a container: the given one, else the one the
 * starting command chose when this sentry is its holder (call before takeHolderRole), else a new one.
 */
export function containerIdFor(given: string | null, generate: () => string): string {
  const inherited = Deno.env.get(HOLDER_ID_VAR);
  return given ?? (inherited !== undefined && Deno.env.get(HOLDER_VAR) !== undefined ? inherited : generate());
}

/**
 * Tells the command that started this holder that state.json changed (it waits in
 * waitReady): a SIGCHLD, whose default action is to be ignored, so that a signal to a command
 * that has gone (its pid reused) harms nothing. Only while that command is still the parent.
 */
export function notifyStarter(): void {
  if (starter === null || parentPid() !== starter) return;
  try {
    Deno.kill(starter, "SIGCHLD");
  } catch { /* gone: it polls */ }
}

/** The parent pid of this process, from /proc (Deno.ppid is read once, at start). */
function parentPid(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/**
 * A holder about to exit waits (at most 10 s) until the command that started it is gone. Its
 * exit status is for whoever adopts it (conmon, a subreaper, waits for the pid-file's pid): an
 * exit while that command still runs would be collected by the command's Deno, and lost.
 */
export async function awaitOrphaned(): Promise<void> {
  if (starter === null) return;
  for (let i = 0; i < 1000 && parentPid() === starter; i++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * How to start this sentry again: Deno with its main module (./sentry's boot/launch.ts with the
 * repository's deno.json, or dist/sentry's bundled main.js, which has no config), or the
 * compiled binary itself.
 */
export function selfCommand(args: readonly string[]): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  const main = new URL(Deno.mainModule);
  if (main.protocol === "file:" && /(^|\/)deno$/.test(exe)) {
    // ./sentry's boot/launch.ts takes the checkout's deno.json (its sources may run).
    const config = new URL(main.pathname.endsWith("/boot/launch.ts") ? "../deno.json" : "deno.json", main).pathname;
    let hasConfig = false;
    try {
      hasConfig = Deno.statSync(config).isFile;
    } catch { /* the bundle: none */ }
    return {
      cmd: exe,
      args: [
        "run", "-A", "--quiet", "--no-lock", "--v8-flags=--no-lazy,--min-semi-space-size=8", "--unstable-lazy-dynamic-imports", ...(hasConfig ? ["--config", config] : ["--no-config"]),
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

/** Starts this sentry again as a holder (of container id), with the caller's stdio. */
function spawnSelf(id: string | null): Deno.ChildProcess {
  const { cmd, args } = selfCommand(Deno.args);
  try {
    return new Deno.Command(cmd, {
      args,
      env: { [HOLDER_VAR]: String(Deno.pid), ...(id === null ? {} : { [HOLDER_ID_VAR]: id }) },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (err) {
    throw new BootError(`cannot start the sentry that holds the container: ${(err as Error).message}`);
  }
}

/**
 * Waits until ready() or the holder's end: 0 once ready (the holder goes on alone), else the
 * holder's exit status (never 0: it failed before it was ready).
 */
async function waitReady(child: Deno.ChildProcess, ready: () => boolean): Promise<number> {
  let ended: Deno.CommandStatus | null = null;
  void child.status.then((s) => ended = s);
  // The holder writes its file once, atomically, then sends this command a SIGCHLD
  // (notifyStarter), which wakes the wait at once; polling alone, every 20 ms, noticed a
  // registered sandbox ~10 ms late on average (a tenth of a restore), and polling often cost
  // CPU the holder needed. The poll stays, for a holder that cannot signal.
  let wake: (() => void) | null = null;
  const onSignal = () => wake?.();
  let listening = false;
  try {
    Deno.addSignalListener("SIGCHLD", onSignal);
    listening = true;
  } catch { /* polling only */ }
  try {
    for (let delay = 2;; delay = Math.min(delay * 2, 20)) {
      if (ready()) {
        child.unref();
        return 0;
      }
      if (ended !== null) {
        const e = ended as Deno.CommandStatus;
        return e.success ? EXIT_SENTRY_ERROR : e.code || EXIT_SENTRY_ERROR;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, delay);
      });
      clearTimeout(timer);
    }
  } finally {
    if (listening) Deno.removeSignalListener("SIGCHLD", onSignal);
  }
}

/**
 * `exec -d --pid-file F` for an engine: the process's exit status must come from a host
 * process named in F (conmon waits for it), so this command starts itself again as an
 * attached exec that writes its own pid to F once the process runs, and waits for it.
 * Returns 0 once F names it, or its status if the exec failed.
 */
export async function spawnExecHolder(pidFile: string): Promise<number> {
  const child = spawnSelf(null);
  return await waitReady(child, () => {
    try {
      return Deno.readTextFileSync(pidFile) === String(child.pid);
    } catch {
      return false;
    }
  });
}

/**
 * Starts the holder with this command's arguments and waits until it registered container id
 * under root: its state.json says `created`, or `running` for `run -d` (`creating` is the
 * holder still assembling the sandbox).
 * Returns 0, or the holder's exit status when it failed before.
 */
export async function spawnHolder(root: string, id: string): Promise<number> {
  const child = spawnSelf(id);
  return await waitReady(child, () => {
    const s = rawState(root, id);
    return s !== null && s.pid === child.pid && s.status !== "creating";
  });
}
