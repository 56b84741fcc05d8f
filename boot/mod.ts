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

import { callerEnvFromInitial } from "./deno_dir.ts";
import { DebugLog } from "../kernel/log.ts";
import type { HookKind, Hooks } from "./hooks.ts";
import { loadNetModules } from "../kernel/net_load.ts";
import { ModuleNotLoaded } from "../kernel/lazy_module.ts";
import { doConfig, type LaunchConfig, loadBundle, ownOpenFilesLimit, setOverlayUpper, writeDefaultSpec } from "./bundle.ts";
import {
  BootError,
  describeFsError,
  EXIT_CANNOT_EXECUTE,
  EXIT_LIMIT,
  EXIT_NOT_FOUND,
  EXIT_SENTRY_ERROR,
  firstLine,
} from "./errors.ts";
import { resolveExecutable } from "./exec_path.ts";
import { openRuncLog, reportError, writeAll } from "./report_error.ts";
import { HeldSignals } from "./held_signals.ts";
import { HostPty } from "./console_socket.ts";
import { awaitOrphaned, containerIdFor, notifyStarter, selfCommand, spawnHolder, takeHolderRole } from "./detach.ts";
import { FdTerminalBridge } from "./fd_terminal_bridge.ts";
import { hostClose, hostSetsid } from "../platform/ptrace/_ffi.ts";
import { discardEarlyStub, type EarlyStub, startEarlyStub } from "../platform/ptrace/early_stub.ts";
import { buildStubElf } from "../platform/ptrace/stub_elf.ts";
import { cacheRoot, hash64 } from "../kernel/cache_dir.ts";
import { loadSpecSchema } from "./spec.ts";
import { deathReport, exitStatusOf } from "./exit_status.ts";
import { type CheckpointRequest, type GlobalOptions, type LimitOptions, noLimitOptions, parseCommandLine, quote } from "./flags.ts";
import { checkOverlaySize, limitEndMessage, oomMessage, resourceLimitsOf } from "./limits.ts";
import { buildReport, ReportFile, type RunOutcome } from "./report.ts";
import type { ResourceControl, ResourceLimits } from "../kernel/resources.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { helpText, versionText } from "./help.ts";
import { statInRoot } from "./root_stat.ts";
import { checkHostTerminal, HostTerminalBridge, hostWindowSize, restoreHostTerminal } from "./terminal.ts";
import {
  claimable,
  claimId,
  type ContainerState,
  type ContainerStatus,
  generateId,
  ownerName,
  processStartTime,
  removeContainerDir,
  ociState,
  rootOf,
  socketPath,
  sweepAbandoned,
  writeFileAtomic,
  writeState,
} from "./state_dir.ts";
import { OCI_VERSION } from "./spec.ts";
import { resolve as resolvePath } from "../abi/path.ts";
import { mark } from "./startup_marks.ts";
import {
  SIGCHLD, SIGCONT, SIGRTMAX, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH,
} from "../abi/linux/signal.ts";

export { BootError, EXIT_SENTRY_ERROR } from "./errors.ts";
export { reportError } from "./report_error.ts";
export { restoreHostTerminal } from "./terminal.ts";

/** Runs the sentry with the arguments after the program name; returns the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  const log = new DebugLog();
  try {
    const cmd = parseCommandLine(args);
    if ("global" in cmd) openRuncLog(cmd.global, log);
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
      case "check":
        return (await import("./check.ts")).check();
      case "run":
      case "create": {
        await loadSpecSchema(); // a bundle's config.json is validated with zod (spec.ts)
        const launch = loadBundle(cmd.bundle, { cwd: Deno.cwd(), command: cmd.kind === "run" ? cmd.command : null, id: cmd.id });
        if (cmd.overlayUpper !== null) setOverlayUpper(launch, cmd.overlayUpper, Deno.cwd());
        const mode: RunMode = cmd.kind === "create" ? "create" : cmd.detach ? "detached" : "foreground";
        const tty = cmd.kind === "run" && cmd.tty;
        if (mode === "foreground") {
          if (cmd.consoleSocket !== null) {
            throw new BootError("run: --console-socket needs -d (in the foreground, -t bridges your own terminal)");
          }
        } else {
          // runc's rules: a detached terminal goes to a console socket, and only a terminal does.
          const terminal = launch.terminal || tty;
          if (terminal && cmd.consoleSocket === null) {
            throw new BootError(`${cmd.kind}: the process wants a terminal (process.terminal or -t): give --console-socket`);
          }
          if (!terminal && cmd.consoleSocket !== null) {
            throw new BootError(`--console-socket: the process has no terminal (process.terminal is false)`);
          }
        }
        const reg: Registration = {
          root: rootOf(cmd.global),
          id: containerIdFor(cmd.id, generateId),
          bundle: resolvePath(Deno.cwd(), cmd.bundle),
          pidFile: cmd.pidFile === null ? null : resolvePath(Deno.cwd(), cmd.pidFile),
          mode,
          consoleSocket: cmd.consoleSocket === null ? null : resolvePath(Deno.cwd(), cmd.consoleSocket),
          ephemeral: cmd.id === null && mode === "foreground",
        };
        const checkpoint = cmd.kind === "run" ? cmd.checkpoint : null;
        return await holdOrRun(reg, cmd.id !== null, () =>
          boot(launch, cmd.global, log, tty || (mode !== "foreground" && launch.terminal), cmd.limits, reg, checkpoint, null), log);
      }
      case "do": {
        const launch = doConfig(cmd.command, {
          cwd: Deno.cwd(),
          env: withCommandUnderscore(callerEnvironment(), cmd.command[0]!, Deno.cwd()),
          hostname: Deno.hostname(),
          openFiles: ownOpenFilesLimit(),
        });
        if (cmd.overlayUpper !== null) setOverlayUpper(launch, cmd.overlayUpper, Deno.cwd());
        return await boot(launch, cmd.global, log, cmd.tty, cmd.limits, {
          root: rootOf(cmd.global), id: cmd.id ?? generateId(), bundle: Deno.cwd(), pidFile: null, mode: "foreground",
          consoleSocket: null, ephemeral: cmd.id === null,
        }, cmd.checkpoint, null);
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
        if (cmd.overlayUpper !== null) {
          setOverlayUpper(launch, cmd.overlayUpper, Deno.cwd());
          // The image's upper layer is written into it: what is there already would mix with it.
          for (const _ of Deno.readDirSync(launch.upperHostPath!)) {
            throw new BootError(`restore: --overlay-upper ${cmd.overlayUpper}: the directory is not empty`);
          }
        }
        // The console of an image taken with a terminal goes where `run`'s would: the caller's
        // terminal (-t), or, detached, the console socket (runc's restore rules).
        const terminal = cmd.tty || (cmd.detach && launch.terminal);
        if (!cmd.detach && cmd.consoleSocket !== null) {
          throw new BootError("restore: --console-socket needs -d (in the foreground, -t bridges your own terminal)");
        }
        if (cmd.detach && terminal && cmd.consoleSocket === null) {
          throw new BootError("restore: the process wants a terminal (process.terminal or -t): give --console-socket");
        }
        if (cmd.detach && !terminal && cmd.consoleSocket !== null) {
          throw new BootError("--console-socket: the process has no terminal (use -t or process.terminal)");
        }
        const reg: Registration = {
          root: rootOf(cmd.global),
          id: containerIdFor(cmd.id, generateId),
          bundle: resolvePath(Deno.cwd(), cmd.bundle ?? "."),
          pidFile: cmd.pidFile === null ? null : resolvePath(Deno.cwd(), cmd.pidFile),
          mode: cmd.detach ? "detached" : "foreground",
          consoleSocket: cmd.consoleSocket === null ? null : resolvePath(Deno.cwd(), cmd.consoleSocket),
          ephemeral: cmd.id === null && !cmd.detach,
        };
        const image = resolvePath(Deno.cwd(), cmd.image);
        return await holdOrRun(reg, cmd.id !== null, () => boot(launch, cmd.global, log, terminal, noLimitOptions(), reg, null, image));
      }
      case "checkpoint": // main.ts runs it without this module; the same here
        return await (await import("./checkpoint_cli.ts")).checkpointCommand(cmd);
      case "start":
      case "state":
      case "list":
      case "ps":
      case "kill":
      case "pause":
      case "resume":
      case "wait":
      case "events":
      case "update":
      case "delete":
      case "exec":
        // main.ts runs these without this module; the same here, and loaded only for them.
        return await (await import("./lifecycle.ts")).lifecycle(cmd, log);
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
    return callerEnvFromInitial(env);
  } catch {
    return Deno.env.toObject();
  }
}

/**
 * A shell sets `_` to the path of the program it runs: for `sentry do CMD` the sentry's, which
 * CMD run natively from the same shell would not see. The sandbox gets CMD's own (found in
 * PATH for a bare name, as bash records it), so that `sentry do env` prints what `env` does.
 * Without `_` in the caller's environment, or when CMD is not found, nothing changes.
 */
function withCommandUnderscore(env: Record<string, string>, cmd: string, cwd: string): Record<string, string> {
  if (!("_" in env)) return env;
  let path: string | null = null;
  if (cmd.includes("/")) path = cmd;
  else {
    for (const dir of (env.PATH ?? "").split(":")) {
      const p = `${dir === "" ? "." : dir}/${cmd}`;
      try {
        const st = Deno.statSync(dir.startsWith("/") ? p : `${cwd}/${p}`);
        if (st.isFile && ((st.mode ?? 0) & 0o111) !== 0) {
          path = p;
          break;
        }
      } catch { /* not here */ }
    }
  }
  return path === null ? env : { ...env, _: path };
}

/**
 * How the sandbox is held: in the foreground (run, do: the command is the sentry), or by a
 * detached holder (boot/detach.ts) that waits for `start` (create) or runs at once (run -d).
 */
type RunMode = "foreground" | "create" | "detached";

/** Where a running sandbox registers itself (boot/state_dir.ts). */
interface Registration {
  root: string;
  id: string;
  /** The bundle directory, absolute. */
  bundle: string;
  /** Absolute. */
  pidFile: string | null;
  mode: RunMode;
  /** A detached terminal's master goes there (boot/console_socket.ts); absolute. */
  consoleSocket: string | null;
  /** `do` without --id: nobody knows the ID, so a killed sentry's state is swept, not kept. */
  ephemeral: boolean;
}

/**
 * Runs go() in the foreground, or (a detached mode) starts the holder that runs it and returns
 * once the holder registered the container (printing a generated ID), or, in the holder, runs
 * it in a session of its own and returns its status once the starting command is gone.
 */
async function holdOrRun(
  reg: Registration, idGiven: boolean, go: () => Promise<number>, poststart: DebugLog | null = null,
): Promise<number> {
  if (reg.mode === "foreground") return await go();
  if (!takeHolderRole()) {
    // This command only checks and waits; a detached sentry holds the sandbox.
    claimable(reg.root, reg.id);
    const status = await spawnHolder(reg.root, reg.id);
    if (status === 0 && !idGiven) writeAll(Deno.stdout, `${reg.id}\n`);
    // `run -d`: init runs now; its poststart hooks are this command's, as runc's `run` runs
    // them, on the host with this command's privileges (`create` leaves them to `start`).
    if (status === 0 && reg.mode === "detached" && poststart !== null) {
      await (await import("./hooks.ts")).runPoststart(reg.root, reg.id, poststart);
    }
    return status;
  }
  hostSetsid();
  const status = await go();
  await awaitOrphaned();
  return status;
}

/**
 * Runs the sandbox (see run) and writes the run report (--report) whatever happened: a run
 * that never started reports reason "error" and the sentry's exit status.
 */
async function boot(
  launch: LaunchConfig, global: GlobalOptions, log: DebugLog, tty: boolean, limitFlags: LimitOptions, reg: Registration,
  checkpoint: CheckpointRequest | null, restoreImage: string | null,
): Promise<number> {
  const startMs = Date.now();
  // -t without a terminal, a bad limit and an unwritable report are refused before anything starts.
  if (tty && reg.mode === "foreground") checkHostTerminal();
  checkOverlaySize(limitFlags, launch);
  const limits = resourceLimitsOf(launch.resources, limitFlags);
  const reportFile = limitFlags.report === null ? null : ReportFile.open(limitFlags.report, Deno.cwd());
  const outcome: RunOutcome = {
    command: launch.argv, startMs, waitStatus: null, exitStatus: EXIT_SENTRY_ERROR, reason: "error", message: null,
    overlayBytes: limitFlags.overlaySize,
  };
  const ran: { resources: ResourceControl | null } = { resources: null };
  try {
    const status = await run(
      launch, global, log, tty, limits, limitFlags, reportFile !== null, outcome, ran, reg, checkpoint, restoreImage,
    );
    reportFile?.commit(buildReport(outcome, ran.resources, limits));
    return status;
  } catch (err) {
    if (reportFile !== null) {
      outcome.reason = "error";
      outcome.exitStatus = err instanceof BootError ? err.exitCode : EXIT_SENTRY_ERROR;
      outcome.message = err instanceof Error ? firstLine(err.message) : String(err);
      try {
        reportFile.commit(buildReport(outcome, ran.resources, limits));
      } catch {
        reportFile.discard();
      }
    }
    throw err;
  }
}

/** Opens the log, finds init's executable, runs the sandbox and maps init's fate to a status. */
async function run(
  launch: LaunchConfig, global: GlobalOptions, log: DebugLog, tty: boolean, limits: ResourceLimits,
  limitFlags: LimitOptions, measure: boolean, outcome: RunOutcome, ran: { resources: ResourceControl | null },
  reg: Registration,
  checkpoint: CheckpointRequest | null, restoreImage: string | null,
): Promise<number> {
  // From here until init runs, a SIGTERM or ^C is held for init instead of killing the sentry.
  const held = HeldSignals.hold();
  try {
    return await runHeld(launch, global, log, tty, limits, limitFlags, measure, outcome, ran, reg, held, checkpoint, restoreImage);
  } finally {
    held.release();
  }
}

/** Whether assembling `launch` looks up a path under /proc or /sys (their trees load at first use). */
function reachesProcOrSys(launch: LaunchConfig): boolean {
  const under = (p: string) => /^\/+(proc|sys)\/+[^/]/.test(p);
  return launch.maskedPaths.some(under) || launch.readonlyPaths.some(under) ||
    launch.mounts.some((m) => under(m.destination)) || Object.keys(launch.sysctl).length > 0 ||
    under(launch.cwd) || (launch.argv[0] !== undefined && under(launch.argv[0]));
}

/** /proc's entries, the kernel's side of them and /sys's tree (each a LazyModule). */
function loadProcAndSys(): Promise<unknown> {
  return Promise.all([
    import("../vfs/procfs/procfs.ts").then((m) => m.procTree.load()),
    import("../kernel/proc_source_load.ts").then((m) => m.procSourceModule.load()),
    import("../vfs/sysfs/sysfs.ts").then((m) => m.sysBlock.load()),
  ]);
}

async function runHeld(
  launch: LaunchConfig, global: GlobalOptions, log: DebugLog, tty: boolean, limits: ResourceLimits,
  limitFlags: LimitOptions, measure: boolean, outcome: RunOutcome, ran: { resources: ResourceControl | null },
  reg: Registration, held: HeldSignals, checkpoint: CheckpointRequest | null, restoreImage: string | null,
): Promise<number> {
  // The kernel's modules load while the bundle is checked; the network's only when the flags
  // set it up at start, else at the first socket (kernel/net_load.ts).
  // linux.sysctl's net.* keys are written into the network's settings at start too.
  mark("runHeld");
  const netSysctl = Object.keys(launch.sysctl).some((k) => k.startsWith("net"));
  // config.json's network namespace gives the sandbox its devices unless --network says
  // otherwise; a restore keeps the image's network (a checkpoint refuses host devices).
  if (global.networkSet === true) launch.netnsPath = null;
  if (launch.sharesRuntimeNetwork && global.networkSet !== true) {
    log.warning("config.json: linux.namespaces has no network entry (the runtime's own network, as podman's --network host): " +
      "the sentry does not take the host's devices; the sandbox has loopback only (--network sandbox reaches the host)");
  }
  const modules = Promise.all([
    import("./loader.ts").then(async (l) => {
      if (launch.netnsPath !== null) await l.hostNicsModule.load();
      return l;
    }),
    import("./control_server.ts"), netAtStart(global) || netSysctl || launch.netnsPath !== null ? loadNetModules() : null,
    // /proc's and /sys's trees load at their first use, and an assembly that reaches them
    // first is torn down and made again (below). Not for a bundle known to reach them, which
    // loads them here beside the rest: nearly every OCI bundle (runc's and podman's
    // maskedPaths and readonlyPaths, a cgroup mount under /sys). Nor for one that takes the
    // devices of a network namespace: taking them moves their addresses off the host's stack,
    // so a second assembly would find none and the sandbox would have loopback only.
    reachesProcOrSys(launch) || launch.netnsPath !== null ? loadProcAndSys() : null,
  ]);
  modules.catch(() => {});
  if (global.debugLog !== null) {
    try {
      log.openFile(global.debugLog);
    } catch (err) {
      throw new BootError(`--debug-log ${quote(global.debugLog)}: ${describeFsError(err)}`);
    }
  }
  log.straceToStderr = global.strace && !log.enabled;
  log.debug(`sentry ${JSON.stringify(Deno.args)}`);
  log.debug(`launch: ${JSON.stringify({ ...launch, rlimits: [...launch.rlimits] }, bigintToString)}`);

  // What the loader starts: init's executable, or the sandbox a checkpoint image holds (read
  // and validated whole, and the root checked, before anything is created or registered).
  let executable = "";
  let rebuild: Rebuild | undefined;
  // The first stub starts as early as it may, so that the host execs it and runs it to its
  // first stop on another CPU while the kernel's modules compile (early_stub.ts); the platform
  // takes it. A restore's starts before the image is read (the kernel's modules load while the
  // checkpoint's do, and are ready when the image is), and is discarded if the image is bad.
  let stub: EarlyStub | null = restoreImage === null ? null : earlyStub();
  const created = new Date().toISOString();
  const owner = ownerName(Deno.uid() ?? 0);
  const sentryStart = processStartTime(Deno.pid) ?? 0;
  try {
    if (restoreImage === null) executable = findInit(launch, log);
    else rebuild = await imageRebuilder(launch, restoreImage, log, tty);

    // The ID is claimed before anything starts, so that a duplicate costs nothing.
    sweepAbandoned(reg.root);
    claimId(reg.root, reg.id, {
      ociVersion: OCI_VERSION, id: reg.id, status: "creating", pid: Deno.pid, bundle: reg.bundle,
      rootfs: launch.rootHostPath, created, owner, annotations: launch.annotations, sentryStart, ...(reg.ephemeral ? { ephemeral: true } : {}),
    });
  } catch (err) {
    if (stub !== null) discardEarlyStub(stub);
    throw err;
  }
  log.debug(`container id: ${reg.id} (state in ${reg.root}/${reg.id})`);
  let loader: import("./loader.ts").Loader;
  let ControlServer: typeof import("./control_server.ts").ControlServer;
  stub ??= earlyStub();
  try {
    // Both before init exists: between Loader.create and run, nothing may await (a signal
    // sent to the sentry then would find no listener that passes it on to init).
    let l: typeof import("./loader.ts"), c: typeof import("./control_server.ts");
    try {
      [l, c] = await modules;
      mark("modules");
    } catch (err) {
      if (stub !== null) discardEarlyStub(stub);
      throw err;
    }
    ControlServer = c.ControlServer;
    const create = (stub: EarlyStub | null) =>
      l.Loader.create({
        launch, global, log, executable, limits, overlaySize: limitFlags.overlaySize, measure,
        checkpoint, ...(rebuild !== undefined ? { restore: rebuild } : {}), ...(stub !== null ? { stub } : {}),
      });
    try {
      loader = create(stub);
    } catch (err) {
      // The assembly reached code loaded at its first use (/proc's entries, vfs/procfs/procfs.ts,
      // or /sys's tree, vfs/sysfs/sysfs.ts: config.json's maskedPaths, readonlyPaths, sysctls or
      // a mount under /proc or /sys, an init or a cwd there; the network's, for a net.* sysctl): it is loaded, and the sandbox assembled
      // again from the start (the failed one was torn down, its stub with it). A restore's too
      // while its rebuild has not begun (the image is untouched until then): it loads /proc's
      // modules itself only for an image that may reach them (imageRebuilder), and the bundle
      // (maskedPaths under /proc) may reach them first. Not once the rebuild began.
      // Each module reached is one more try (/proc's entries, then the kernel's side of them).
      let missing = err;
      for (let tries = 0; ; tries++) {
        if (!(missing instanceof ModuleNotLoaded) || rebuild?.started === true || tries === 4) throw missing;
        await missing.load();
        try {
          loader = create(null);
          break;
        } catch (e) {
          missing = e;
        }
      }
    }
  } catch (err) {
    removeContainerDir(reg.root, reg.id);
    throw err;
  }
  mark("created");
  ran.resources = loader.resources;
  let bridge: HostTerminalBridge | FdTerminalBridge | null = null;
  let ws: number | null = null;
  let report: string | null;
  let server: import("./control_server.ts").ControlServer | null = null;
  const detached = reg.mode !== "foreground";
  const resizeListeners: Array<() => void> = [];
  let state: ContainerState | null = null;
  let runner: import("./hooks.ts").HookRunner | null = null;
  try {
    if (tty && detached) {
      // The engine's end of the terminal goes out before create returns, as runc's.
      const pty = HostPty.open(true);
      const term = loader.attachConsole(pty.windowSize());
      try {
        pty.sendMaster(reg.consoleSocket!);
      } catch (err) {
        hostClose(pty.slave);
        throw err;
      }
      bridge = new FdTerminalBridge(term, pty.slave, pty.slave);
      const onResize = () => term.setWindowSize(pty.windowSize());
      Deno.addSignalListener("SIGWINCH", onResize);
      resizeListeners.push(onResize);
    } else if (tty) bridge = HostTerminalBridge.start(loader.attachConsole(hostWindowSize()));
    let status: ContainerStatus = reg.mode === "create" ? "created" : "running";
    // Resolved by start (null) or by a kill before it (the signal that ended the sandbox).
    let started!: (killedBy: number | null) => void;
    const startGate = new Promise<number | null>((r) => started = r);
    const hooks = launch.hooks;
    const st: ContainerState = {
      ociVersion: OCI_VERSION, id: reg.id, status, pid: Deno.pid, bundle: reg.bundle,
      rootfs: launch.rootHostPath, created, owner, annotations: launch.annotations, sentryStart,
      ...(reg.ephemeral ? { ephemeral: true } : {}), ...(hooks.poststop?.length ? { poststop: hooks.poststop } : {}),
      ...(hooks.poststart?.length ? { poststart: hooks.poststart } : {}),
    };
    for (const k of ["createContainer", "startContainer"] as const) {
      if (hooks[k]?.length) log.warning(`config.json: hooks.${k}: not run (they run in the container's namespaces, which hold no host program)`);
    }
    // Before the container is listed as created: a failing one ends it as runc's create fails.
    await runHooksOf(hooks, "prestart", { ...st, status: "creating" }, log, true);
    await runHooksOf(hooks, "createRuntime", { ...st, status: "creating" }, log, true);
    state = st;
    let exited!: (ws: number) => void;
    const initExit = new Promise<number>((r) => exited = r);
    const s = ControlServer.listen(socketPath(reg.root, reg.id), {
      kernel: loader.kernel,
      status: () => status,
      setStatus: (next) => {
        status = next;
        writeState(reg.root, { ...st, status });
      },
      start: () => {
        if (status !== "created") return `cannot start a container that is ${status}`;
        status = "running";
        writeState(reg.root, { ...st, status });
        started(null);
        return null;
      },
      killCreated: (signo) => {
        if (status !== "created" || !endsByDefault(signo)) return false;
        status = "stopped";
        // After this request's reply has gone out (it is written within the microtasks that
        // follow): the holder then closes the control socket.
        setTimeout(() => started(signo), 0);
        return true;
      },
      checkpoint: (image, leaveRunning) => loader.checkpoint(image, leaveRunning),
      initExit,
      defaults: {
        env: launch.envp, cwd: launch.cwd, uid: launch.uid, gid: launch.gid, additionalGids: launch.additionalGids,
        caps: launch.caps, noNewPrivs: launch.noNewPrivs, umask: launch.umask,
        seccomp: launch.seccomp?.filter ?? null,
      },
    }, log);
    if (typeof s === "string") log.warning(`control socket: ${s}`);
    else server = s;
    // The pid file before the state: whoever sees the state may read the pid file (runc's order).
    if (reg.pidFile !== null) writeFileAtomic(reg.pidFile, String(Deno.pid));
    writeState(reg.root, st);
    if (detached) notifyStarter();
    let killedBy: number | null = null;
    if (reg.mode === "create") {
      log.debug(`container ${reg.id} created: waiting for start`);
      killedBy = await startGate;
      if (killedBy !== null) log.debug(`container ${reg.id} killed by signal ${killedBy} before start`);
    }
    // A container held by ID may be checkpointed by `sentry checkpoint`: its modules (the
    // state's schemas take tens of ms to build) load once it has started, not while it waits.
    let prefetch: ReturnType<typeof setTimeout> | undefined;
    if (detached || !reg.ephemeral) {
      prefetch = setTimeout(() => void import("../kernel/checkpoint/save.ts").then((m) => m.loadEncoders()).catch(() => {}), 300);
    }
    // A detached container's poststart hooks are its starting command's (`start`, `run -d`:
    // holdOrRun); a foreground run's go to the hook runner, started here while this sentry
    // still has the host's privileges and namespaces (loader.run confines it).
    if (!detached && (hooks.poststart?.length || hooks.poststop?.length)) {
      const { HookRunner } = await import("./hooks.ts");
      runner = HookRunner.spawn(hooks, selfCommand([]));
    }
    const poststart = killedBy === null && !detached && hooks.poststart?.length
      ? runner!.run("poststart", ociState({ ...st, status: "running" }), log)
      : Promise.resolve();
    try {
      mark("registered");
      ws = killedBy ?? await loader.run(held);
      mark("ran");
    } finally {
      if (prefetch !== undefined) clearTimeout(prefetch); // node:timers loads at the first use (loader.ts)
    }
    await poststart;
    exited(ws);
    // The kernel's words when it has them (they carry the fault address), under our policy
    // of when to speak.
    report = killedBy !== null || deathReport(ws) === null ? null : (loader.describeInitExit() ?? deathReport(ws));
  } finally {
    for (const h of resizeListeners) Deno.removeSignalListener("SIGWINCH", h);
    // The console's last output goes out and the host terminal leaves raw mode before
    // anything else is printed.
    await bridge?.close();
    restoreHostTerminal();
    if (detached && state !== null) {
      // A detached container stays listed, stopped with init's status, until `delete` (runc's).
      // Written before the control socket closes: a `wait` or `state` that finds the socket
      // gone then always finds the status.
      writeState(reg.root, { ...state, status: "stopped", ...(ws !== null ? { exitStatus: ws } : {}) });
    }
    server?.close();
    loader.destroy();
    if (!detached || state === null) {
      // A foreground run leaves nothing behind, as runc's (only a killed sentry leaves a state,
      // which `delete` removes).
      removeContainerDir(reg.root, reg.id);
    }
  }
  // A foreground container is deleted as it ends; a detached one by `delete` (lifecycle.ts).
  if (runner !== null) {
    if (!detached && state !== null && launch.hooks.poststop?.length) await runner.run("poststop", ociState({ ...state, status: "stopped" }), log);
    await runner.close();
  }
  if (ws === null) throw new Error("unreachable: init ran without a wait status");
  let status = exitStatusOf(ws);
  log.debug(`init exited: wait status 0x${ws.toString(16)}, exit status ${status}`);
  const res = loader.resources;
  const lines: string[] = res.oomKills.slice(0, 3).map((k) => oomMessage(k, limits));
  if (res.oomKills.length > 3) lines.push(`out of memory: ${res.oomKills.length - 3} more processes killed`);
  outcome.waitStatus = ws;
  outcome.reason = (ws & 0x7f) === 0 ? "exit" : loader.forwardedSignals > 0 ? "sentry-signal" : "signal";
  if (res.endedBy !== null) {
    // The sentry ended the run: its reason instead of init's SIGKILL.
    status = EXIT_LIMIT;
    report = limitEndMessage(res.endedBy, limits);
    outcome.reason = res.endedBy;
  } else if (loader.initOomKilled) {
    report = null; // the OOM line says it
    outcome.reason = "oom";
  }
  if (report !== null) lines.push(report);
  for (const line of lines) {
    log.warning(line);
    // A detached sentry's stderr is the container's (an engine's log): runc says nothing there.
    if (reg.mode === "foreground") writeAll(Deno.stderr, `sentry: ${line}\n`);
  }
  outcome.exitStatus = status;
  outcome.message = lines.length > 0 ? lines[lines.length - 1]! : null;
  return status;
}

/** The first zygote's stub, started now (early_stub.ts); null when it cannot be (the platform starts its own). */
function earlyStub(): EarlyStub | null {
  try {
    const elf = buildStubElf();
    const cache = cacheRoot(); // the binary is kept there (early_stub.ts)
    return startEarlyStub(elf, cache === null ? null : `${cache}/stub-${hash64([elf])}`);
  } catch {
    return null;
  }
}

/** Whether the flags set the network up before init runs: its modules load with the kernel's. */
function netAtStart(global: GlobalOptions): boolean {
  return global.network === "sandbox" || global.publish.length > 0 || global.pcap !== null || global.netAllow !== null;
}

/** True for a signal whose default action ends a process (not CHLD, URG, WINCH, CONT or a stop). */
function endsByDefault(signo: number): boolean {
  return signo >= 1 && signo <= SIGRTMAX && ![SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH].includes(signo);
}

/** Init's executable: argv[0] looked up in the sandbox's PATH (127 when absent, 126 when not executable). */
function findInit(launch: LaunchConfig, log: DebugLog): string {
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
  return found.path;
}

/**
 * `sentry restore`: reads and validates the whole image (and that the root is the one it was
 * taken on) before anything is created; returns what rebuilds its sandbox in a new kernel
 * (Loader's restore option). A bad image is a BootError (status 125).
 */
/** What rebuilds a restore's sandbox in a new kernel; `started` once it was called. */
type Rebuild = ((k: Kernel) => void) & { started?: boolean };

async function imageRebuilder(launch: LaunchConfig, imagePath: string, log: DebugLog, tty: boolean): Promise<Rebuild> {
  const tImport = performance.now();
  // ImageError from sandbox.ts too: an import of image.ts of its own made it an entry of the
  // launcher's bundle, one more file for a restore to load (kernel/checkpoint/kinds.ts says why
  // that counts).
  const { ImageError, imageNeedsNetwork, imageNeedsProc, prepareRestore, readSandboxImageFast, restoreSandbox } = await import(
    "../kernel/checkpoint/sandbox.ts"
  );
  mark("ckptModules");
  let image: Awaited<ReturnType<typeof readSandboxImageFast>>;
  const t0 = performance.now();
  try {
    image = await readSandboxImageFast(imagePath, launch.rootHostPath);
  } catch (err) {
    if (err instanceof ImageError) throw new BootError(err.message);
    throw err;
  }
  // The network's modules only for an image that holds sockets or network settings: an idle
  // shell's restore loads no more of the kernel than `do` does. The checkpoint's modules of
  // sockets, terminals, IPC, keys, ... (kernel/checkpoint/kinds.ts) only for an image that
  // holds such objects.
  if (imageNeedsNetwork(image.state)) await loadNetModules();
  // /proc's entries and the kernel's side of /proc (each loaded at its first use, where a
  // syscall waits and runs again) before a rebuild that reopens /proc files or looks up paths
  // that may lead there, which cannot wait: not for an idle shell's, which loads neither (~57 KB
  // of the bundle, as `do` does not).
  if (imageNeedsProc(image.state)) {
    await Promise.all([
      import("../vfs/procfs/procfs.ts").then((m) => m.procTree.load()),
      import("../kernel/proc_source_load.ts").then((m) => m.procSourceModule.load()),
      import("../vfs/sysfs/sysfs.ts").then((m) => m.sysBlock.load()), // /sys's tree, as /proc's
    ]);
  }
  await prepareRestore(image.state);
  mark("imageRead");
  const t1 = performance.now();
  const rebuild: Rebuild = (k: Kernel) => {
    rebuild.started = true;
    try {
      restoreSandbox(k, image, { stdio: k.sentryStdio(), console: tty });
    } catch (err) {
      if (err instanceof ImageError) throw new BootError(err.message);
      throw err;
    } finally {
      image.close?.(); // the memory runs left in the image file are in the address spaces now
    }
    log.debug(
      `restored from ${imagePath}: modules ${(t0 - tImport).toFixed(1)} ms, read ${(t1 - t0).toFixed(1)} ms, ` +
        `rebuilt ${(performance.now() - t1).toFixed(1)} ms`,
    );
  };
  return rebuild;
}

function bigintToString(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

/** The hooks of kind (boot/hooks.ts, loaded only when there are some) with the OCI state of st. */
async function runHooksOf(hooks: Hooks, kind: HookKind, st: ContainerState, log: DebugLog, fatal: boolean): Promise<void> {
  if (!hooks[kind]?.length) return;
  const { runHooks } = await import("./hooks.ts");
  await runHooks(hooks, kind, ociState(st), log, fatal);
}
