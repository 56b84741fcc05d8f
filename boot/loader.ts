/**
 * The order of assembly: platform, filesystem, kernel, mounts (/proc, /dev, /sys and
 * config.json's, see mounts.ts), init; then run until init exits, with host signals forwarded
 * to init. The only file of boot/ that imports the kernel (mounts.ts only the VFS), and
 * boot/mod.ts imports it lazily, so that `--help`, `spec` and config errors never load the kernel.
 *
 * Analogous to runsc's boot.Loader (create, run, wait, destroy).
 *
 * @module
 */

import { Kernel } from "../kernel/kernel.ts";
import type { ResourceControl, ResourceLimits } from "../kernel/resources.ts";
import { Net, PcapFile } from "../kernel/net.ts";
import { LazyModule } from "../kernel/lazy_module.ts";
import { VirtualFilesystem } from "../vfs/mod.ts";
import { loadNetModules, netModules } from "../kernel/net_load.ts";
import { O_CREAT, O_EXCL, O_WRONLY } from "../abi/linux/file.ts";
import { PtracePlatform } from "../platform/ptrace/ptrace.ts";
import type { EarlyStub } from "../platform/ptrace/early_stub.ts";
import { confineSentry } from "../platform/ptrace/sentry_confine.ts";
import type { DebugLog } from "../kernel/log.ts";
import type { Terminal, WindowSize } from "../vfs/tty/mod.ts";
import { Credentials } from "../kernel/creds.ts";
import { reserveUnmappedHostId } from "../kernel/user_namespace.ts";
import { EACCES, ENOENT, ENOEXEC, LinuxError } from "../kernel/errno.ts";
import { FORWARDED, type HeldSignals } from "./held_signals.ts";
import type { LaunchConfig } from "./bundle.ts";
import { BootError, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, EXIT_SENTRY_ERROR } from "./errors.ts";
import type { GlobalOptions } from "./flags.ts";
import { quote } from "./flags.ts";
import { applyMounts, applyPathRules, rootLacksMountPoints } from "./mounts.ts";
import { applySysctls } from "./sysctl.ts";
import { withDefaults } from "./mount_plan.ts";
import { hostProcStat } from "./state_dir.ts";
import { lazyProcSource } from "../kernel/proc_source_load.ts";
import { sandboxCpus } from "../kernel/cpus.ts";
import { writeAllSync } from "../kernel/write_all.ts";
import type { CheckpointRequest } from "./flags.ts";
import { VERSION } from "./help.ts";
import { mark } from "./startup_marks.ts";


/**
 * The host's devices of config.json's network namespace (boot/host_nics.ts): loaded with this
 * module by boot/mod.ts for a run that names one, else never.
 */
export const hostNicsModule = new LazyModule("the host's network devices", () => import("./host_nics.ts"));

/** Options of {@linkcode Loader.create}. */
export interface LoaderOptions {
  launch: LaunchConfig;
  global: GlobalOptions;
  log: DebugLog;
  /** The init executable, a path inside the sandbox (already looked up in PATH). */
  executable: string;
  /** Limits on the whole sandbox. */
  limits: ResourceLimits;
  /** Size of the root overlay's in-memory upper layer, in bytes (null: unlimited). */
  overlaySize: number | null;
  /** Sample usage for a run report even without limits. */
  measure: boolean;
  /**
   * Instead of starting init: rebuilds in the kernel the sandbox a (validated) checkpoint image
   * saved; throws BootError when the image does not hold together. The caller loads
   * kernel/checkpoint/ for it: its modules (zod, cbor-x) are not loaded before the signal
   * handlers are set up when a sandbox starts without one.
   */
  restore?: (kernel: Kernel) => void;
  /** Checkpoint the sandbox into an image this long after it starts, then end it. */
  checkpoint?: CheckpointRequest | null;
  /** The first zygote's stub, started while these modules loaded (platform/ptrace/early_stub.ts). */
  stub?: EarlyStub;
}

/** One sandbox: a kernel with its init process. Call {@linkcode destroy} in a finally. */
export class Loader {
  readonly #kernel: Kernel;
  readonly #rootHostPath: string;
  readonly #checkpoint: CheckpointRequest | null;
  /** True once a checkpoint was written and the sandbox ended for it. */
  #checkpointed = false;
  #destroyed = false;
  /** How many host signals were passed on to the sandbox (the report's "sentry-signal"). */
  forwardedSignals = 0;

  /** The sandbox's network reaches the host's (--network sandbox): the sentry keeps the host's. */
  readonly #hostNetwork: boolean;

  private constructor(kernel: Kernel, rootHostPath: string, checkpoint: CheckpointRequest | null, hostNetwork: boolean) {
    this.#kernel = kernel;
    this.#hostNetwork = hostNetwork;
    this.#rootHostPath = rootHostPath;
    this.#checkpoint = checkpoint;
  }

  /**
   * Assembles the sandbox and creates init (not yet running).
   *
   * Throws {@linkcode BootError} when init cannot be created: exit status 127 when its
   * executable does not exist, 126 when it cannot be executed, 125 otherwise.
   */
  static create(opts: LoaderOptions): Loader {
    const { launch, global, log } = opts;
    const platform = new PtracePlatform({ placement: global.cpuPlacement, ...(opts.stub ? { stub: opts.stub } : {}) });
    const plan = withDefaults(launch.mounts);
    const vfsOptions = {
      rootHostPath: launch.rootHostPath, readonly: launch.readonly, upperHostPath: launch.upperHostPath,
      upperSizeLimit: opts.overlaySize ?? Infinity, idMap: launch.idMap,
    };
    let vfs = VirtualFilesystem.create(vfsOptions);
    if (launch.readonly && rootLacksMountPoints(vfs, plan)) {
      vfs.release();
      vfs = VirtualFilesystem.create({ ...vfsOptions, mountPoints: true });
    }
    // Before any mount, so that the file lands in the root's overlay and never in a host
    // directory mounted over /etc.
    if (global.network === "sandbox" && !launch.readonly) writeResolvConf(vfs, log);
    let pcap: PcapFile | null = null;
    if (global.pcap !== null) {
      try {
        pcap = new PcapFile(global.pcap);
      } catch (err) {
        throw new BootError(`--pcap ${quote(global.pcap)}: ${(err as Error).message.replace(/ \(os error \d+\)$/, "")}`);
      }
    }
    const nics = launch.netnsPath === null ? [] : hostNicsModule.get().hostNics(launch.netnsPath, log);
    const net = new Net({
      mode: global.network,
      nics,
      pcap,
      allow: global.netAllow?.map((a) => ({ cidr: netModules().IpCidr.parse(a.cidr), port: a.port })) ?? null,
    });
    const kernel = Kernel.create({
      platform, vfs, hostname: launch.hostname, log, strace: global.strace, net, limits: opts.limits,
    });
    if (opts.measure) kernel.resources.measure();
    const loader = new Loader(kernel, launch.rootHostPath, opts.checkpoint ?? null, global.network === "sandbox");
    try {
      for (const p of global.publish) {
        try {
          net.publish(p.hostAddr, p.hostPort, p.sandboxPort);
        } catch (err) {
          const where = p.hostAddr.includes(":") ? `[${p.hostAddr}]:${p.hostPort}` : `${p.hostAddr}:${p.hostPort}`;
          throw new BootError(`--publish: cannot listen on ${where}: ${(err as Error).message.replace(/ \(os error \d+\)$/, "")}`);
        }
      }
      applyMounts(plan, {
        vfs, procSource: lazyProcSource(kernel), ncpus: sandboxCpus(), log, idMap: launch.idMap,
        cgroups: { fs: kernel.cgroups, limits: () => kernel.resources.limits },
      });
      kernel.tty.mountDevpts(vfs);
      applySysctls(vfs, launch.sysctl, log);
      applyPathRules(vfs, launch.maskedPaths, launch.readonlyPaths, log);
      if (launch.readonly) vfs.sealBootRoot();
      const creds = Credentials.forProcess(launch.uid, launch.gid, launch.additionalGids, launch.caps);
      // With id mappings, host owners they leave out have an id the sandbox's namespace stops
      // mapping here, so that its root's capabilities stop at them as Linux's do
      // (kernel/user_namespace.ts); not before: the mounts and files above are the runtime's
      // own work, done with the host's privileges (runc makes mount points as host root too).
      if (launch.idMap !== null) reserveUnmappedHostId();
      if (opts.restore !== undefined) {
        opts.restore(kernel);
        return loader;
      }
      mark("assembled");
      kernel.createInit({
        argv: launch.argv,
        envp: launch.envp,
        cwd: launch.cwd,
        creds,
        rlimits: launch.rlimits,
        noNewPrivs: launch.noNewPrivs,
        ...(launch.umask !== null ? { umask: launch.umask } : {}),
        ...(launch.seccomp !== null ? { seccomp: launch.seccomp.filter } : {}),
        executable: opts.executable,
        nice: ownNice(),
      });
    } catch (err) {
      loader.destroy();
      if (err instanceof LinuxError) {
        throw new BootError(`cannot run ${quote(opts.executable)}: ${err.message}`, exitCodeOf(err));
      }
      throw err;
    }
    return loader;
  }

  /** The sandbox's kernel, for the control socket (boot/control_server.ts). */
  get kernel(): Kernel {
    return this.#kernel;
  }

  /**
   * Runs until init exits and returns its wait status. Forwards host signals meanwhile; those
   * held before (boot/held_signals.ts) are delivered first.
   */
  async run(held: HeldSignals | null = null): Promise<number> {
    const listeners: Array<[Deno.Signal, () => void]> = FORWARDED.map(([name, signo]) => {
      // To the terminal's foreground process group when a terminal is attached, else to init.
      const h = () => {
        this.forwardedSignals++;
        this.#kernel.signalFromUser(signo);
      };
      Deno.addSignalListener(name, h);
      return [name, h];
    });
    for (const signo of held?.release() ?? []) {
      this.forwardedSignals++;
      this.#kernel.signalFromUser(signo);
    }
    // Everything the sandbox needs from the host is open now (root, binds, upper directory,
    // memory file, the first stub, host sockets, the control socket): from here on the sentry
    // keeps to its own namespaces, capabilities and filter (docs/confinement.md).
    // SENTRY_UNSAFE_NO_SECCOMP=1: a developer's switch, for measuring what the filter costs
    // (`deno task bench` runs "sentry nofilter" with it); never for a real run.
    const noFilter = Deno.env.get("SENTRY_UNSAFE_NO_SECCOMP") === "1";
    if (noFilter) console.error("sentry: warning: SENTRY_UNSAFE_NO_SECCOMP=1: the sentry runs without its seccomp filter");
    mark("run");
    const c = confineSentry({ hostNetwork: this.#hostNetwork, filter: !noFilter });
    const log = this.#kernel.log;
    log.debug(`the sentry confined: namespaces ${c.namespaces.join(", ") || "none"}; capabilities kept ` +
      `${c.capabilities.join(", ") || "none"}; on ${c.threads} threads; seccomp filter ${c.filter ? "on" : "off"}`);
    for (const why of c.refused) log.debug(`the sentry is less confined: ${why}`);
    if (!noFilter && !c.filter) {
      console.error(`sentry: warning: the sentry runs without its seccomp filter: ${c.refused.at(-1) ?? ""}`);
    }
    const req = this.#checkpoint;
    const timer = req === null ? undefined : setTimeout(() => void this.#checkpointAndEnd(req), req.afterMs);
    mark("confined");
    try {
      const ws = await this.#kernel.run();
      // Ended by a checkpoint: the sandbox goes on in the image, nothing failed.
      return this.#checkpointed ? 0 : ws;
    } finally {
      // Only when set: the first use of clearTimeout (or setTimeout) loads Deno's node:timers,
      // ~3.5 ms of every start's CPU.
      if (timer !== undefined) clearTimeout(timer);
      for (const [name, h] of listeners) Deno.removeSignalListener(name, h);
    }
  }

  /** --checkpoint-after's timer: checkpoints and ends the sandbox, or says why not and goes on. */
  async #checkpointAndEnd(req: CheckpointRequest): Promise<void> {
    const e = await this.checkpoint(req.image, false);
    if (e !== null && e !== "the sandbox has ended") {
      writeAllSync(Deno.stderr, new TextEncoder().encode(`sentry: ${e}; the sandbox goes on\n`));
    }
  }

  /**
   * Pauses the sandbox (if `sentry pause` has not), waits for its safe point and writes the
   * image `path`; then ends the sandbox (run() then returns 0) or, with leaveRunning, lets it
   * go on (paused again if it was). Returns null, or the one-line reason the checkpoint was not
   * taken (the sandbox then goes on as it was).
   */
  async checkpoint(path: string, leaveRunning: boolean): Promise<string | null> {
    const k = this.#kernel;
    // Loaded now, while the sandbox runs (see LoaderOptions.restore).
    const { checkpointToFile, loadEncoders } = await import("../kernel/checkpoint/save.ts");
    await loadEncoders();
    await loadNetModules(); // the image holds the network's state
    if (k.init === null || k.init.zombie || k.ended || this.#destroyed) return "the sandbox has ended";
    const wasPaused = k.paused;
    const t0 = performance.now();
    k.pause();
    while (!k.quiescent && k.paused) await new Promise((r) => setTimeout(r, 2));
    const t1 = performance.now();
    try {
      checkpointToFile(k, path, { rootHostPath: this.#rootHostPath, sentryVersion: VERSION });
    } catch (err) {
      const msg = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
      k.log.warning(msg);
      if (!wasPaused) k.resume();
      return msg;
    }
    const t2 = performance.now();
    let size = 0;
    try {
      size = Deno.statSync(path).size;
    } catch { /* only for the log */ }
    k.log.debug(`checkpoint written to ${path}: ${size} bytes, pause ${(t1 - t0).toFixed(1)} ms, save ${(t2 - t1).toFixed(1)} ms`);
    if (leaveRunning) {
      if (!wasPaused) k.resume();
      return null;
    }
    this.#checkpointed = true;
    this.destroy();
    return null;
  }

  /**
   * Gives init the sandbox's console (`-t`): a pty that is its stdio and controlling terminal.
   * Returns the terminal, whose master side the caller drives. Call before {@linkcode run}.
   */
  attachConsole(winsize: WindowSize): Terminal {
    return this.#kernel.tty.attachConsole(winsize);
  }

  /**
   * How init ended, in one line (`init (pid 1) killed by SIGSEGV (fault at 0x0)`), or null
   * when it exited normally or has not ended.
   */
  describeInitExit(): string | null {
    return this.#kernel.describeInitExit();
  }

  /** The sandbox's limits and what the run used. */
  get resources(): ResourceControl {
    return this.#kernel.resources;
  }

  /** Whether init was killed by the OOM killer of --memory. */
  get initOomKilled(): boolean {
    return this.#kernel.init?.oomKilled ?? false;
  }

  /** Kills every application process. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#kernel.net.closeHost();
    this.#kernel.shutdown();
  }
}

/**
 * Points the sandbox's resolver at the gateway's DNS forwarder: replaces /etc/resolv.conf in
 * the root's writable layer (a symlink there, as systemd-resolved makes, is replaced too). A
 * read-only root keeps its own file (docs/net.md). Failure is logged, not fatal.
 */
function writeResolvConf(vfs: VirtualFilesystem, log: DebugLog): void {
  const ctx = { root: vfs.root(), creds: Credentials.root() };
  try {
    try {
      vfs.unlinkAt(ctx, ctx.root, "/etc/resolv.conf");
    } catch (err) {
      if (err !== ENOENT) throw err;
    }
    const f = vfs.openAt(ctx, ctx.root, "/etc/resolv.conf", O_WRONLY | O_CREAT | O_EXCL, 0o644);
    try {
      const text = new TextEncoder().encode(`# written by sentry --network sandbox\nnameserver ${netModules().SANDBOX_NET.dns4}\n`);
      for (let off = 0; off < text.length;) off += f.write(text.subarray(off), null);
    } finally {
      f.decRef();
    }
  } catch (err) {
    log.warning(`--network sandbox: cannot write /etc/resolv.conf: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The exit status for an errno of exec: a shell's 127 (not found) and 126 (not executable). */
function exitCodeOf(err: LinuxError): number {
  if (err === ENOENT) return EXIT_NOT_FOUND;
  if (err === EACCES || err === ENOEXEC) return EXIT_CANNOT_EXECUTE;
  return EXIT_SENTRY_ERROR;
}

/** The sentry's own nice value (/proc/self/stat, field 19), for init to inherit; 0 if unreadable. */
function ownNice(): number {
  const n = Number(hostProcStat("self")?.[16]);
  return Number.isInteger(n) ? n : 0;
}

