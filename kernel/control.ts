/**
 * Reaching a running sandbox from outside: what the control socket (boot/, issue #12) calls to
 * exec a process, signal, pause, list and measure, as gVisor's runsc/boot/loader.go
 * (executeAsync, signal, waitPID, processes) and the sentry's containerManager do.
 *
 * Every function is synchronous and must be called between kernel steps: from an event-loop
 * callback (a control request) while {@linkcode Kernel.run} awaits, never from inside a
 * syscall handler. Nothing here blocks the loop. Errors are returned, never thrown: a
 * {@linkcode LinuxError} (ESRCH, EINVAL, ENOENT, ...) the caller maps to its answer.
 *
 * The API:
 * - {@linkcode execProcess}`(kernel, {argv, envv, cwd, uid, gid, additionalGids, stdio})` →
 *   `{pid, terminal}` | LinuxError. A new process in the sandbox (its root, mounts,
 *   hostname, pid numbering) with no parent there (getppid() is 0, as a process entered with
 *   setns), in a session and process group of its own; the sentry reaps it. `argv[0]` without
 *   a slash is looked up in envv's PATH (kernel/loader/exec_path.ts, as for init). Errors as
 *   for init: ENOENT (the CLI's 127), EACCES or ENOEXEC (126), others (125). `stdio` is
 *   `{kind: "host", fds: [in, out, err]}`: host descriptors the sentry owns from the call on,
 *   whatever its outcome (the same number may come more than once), wrapped as init's stdio
 *   (vfs/host_file.ts); or `{kind: "terminal", winsize}`: a new pty of the sandbox is the
 *   process's stdio and the controlling terminal of its session, and `terminal` is its master
 *   side, for the caller to bridge to the user's terminal (as boot/terminal.ts does for
 *   `run -t`) and to give back with {@linkcode releaseTerminal} when the user goes away.
 * - {@linkcode onExit}`(kernel, pid, cb)`: cb gets the process's wait status (exit code << 8,
 *   or the signal number | 0x80 for a core dump) once it exits; called in a microtask, after
 *   the kernel step that ended it, so it may call back here. {@linkcode exitStatus} polls it
 *   (the status of a process started by execProcess is kept after the sentry reaped it).
 * - {@linkcode pause}/{@linkcode resume}`(kernel)`: every task stops at the kernel's safe
 *   point and stays there; see {@linkcode Kernel.pause} (clocks go on, expired timers fire at
 *   the resume, no CPU is used while paused).
 * - {@linkcode processes}`(kernel)` → {@linkcode ProcessInfo}[] for `ps` (pids ascending).
 * - {@linkcode signal}`(kernel, {pid?, all?, signal})` → how many processes it reached |
 *   LinuxError: one process (a thread group), every process of the sandbox (`kill --all`), or
 *   init. Sent as by kill(2) from outside the sandbox's pid namespace (SI_USER, si_pid 0).
 * - {@linkcode stats}`(kernel)` → {@linkcode SandboxStats} for `events --stats`.
 *
 * @module
 */

import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";
import { Credentials, type ProcessCaps } from "./creds.ts";
import { Limits } from "./limits.ts";
import { procSourceModule } from "./proc_source_load.ts";
import { EINVAL, ESRCH, LinuxError } from "./errno.ts";
import { childrenCpu, groupCpu } from "./cpu_time.ts";
import { monotonicNs } from "./time.ts";
import { EVENT_IN, type Waker } from "../waiter/mod.ts";
import { hostFile } from "../vfs/host_file.ts";
import { hostClose } from "../platform/ptrace/_ffi.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import type { Terminal, WindowSize } from "../vfs/tty/mod.ts";

/** Where a process started by {@linkcode execProcess} reads and writes. */
export type ExecStdio =
  /** Host descriptors for 0, 1 and 2, owned by the sentry from the call on. */
  | { kind: "host"; fds: readonly [number, number, number] }
  /** A new pty of the sandbox, its master side handed to the caller. */
  | { kind: "terminal"; winsize: WindowSize };

/** What {@linkcode execProcess} starts. */
export interface ExecOptions {
  argv: readonly string[];
  /** The environment ("NAME=value"); its PATH finds a bare argv[0]. */
  envv: readonly string[];
  /** Working directory inside the sandbox. */
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: readonly number[];
  /** OCI process.capabilities; null or absent: every capability (Credentials.forProcess). */
  caps?: ProcessCaps | null;
  /** OCI process.noNewPrivileges. */
  noNewPrivs?: boolean;
  /** OCI process.user.umask; default 022. */
  umask?: number;
  /** The container's seccomp filter (OCI linux.seccomp), which runc's exec installs too. */
  seccomp?: Uint8Array;
  stdio: ExecStdio;
}

/** A process {@linkcode execProcess} started. */
export interface ExecResult {
  /** Its pid in the sandbox. */
  pid: number;
  /** The master side of its terminal (`stdio.kind === "terminal"`), else null. */
  terminal: Terminal | null;
}

/** One process as `ps` shows it. */
export interface ProcessInfo {
  pid: number;
  /** 0 for init and for processes started from outside (execProcess). */
  ppid: number;
  pgid: number;
  sid: number;
  /** The effective uid and gid of its leader (ps's UID), the real ones at exit for a zombie. */
  uid: number;
  gid: number;
  /** The leader's name (comm, 15 bytes at most). */
  comm: string;
  /** /proc/PID/cmdline split at NULs; empty for a zombie. */
  argv: string[];
  /** /proc's letter: R running or runnable, S sleeping, T stopped, Z zombie. */
  state: string;
  threads: number;
  /** When it started, in ns since the Unix epoch (ps's STIME). */
  startTimeNs: number;
  /** CPU time used, user plus system, in ns (ps's TIME). */
  cpuTimeNs: number;
  /** Its controlling terminal, "pts/N", or null (ps's "?"). */
  tty: string | null;
}

/** The sandbox's usage, as a container's cgroup reports it (`runc events --stats`). */
export interface SandboxStats {
  cpu: {
    /** CPU time of every process the sandbox ran, live, exited and reaped. */
    usageNs: number;
    userNs: number;
    systemNs: number;
  };
  memory: {
    /** Resident memory of the live processes (each address space once), in bytes. */
    usageBytes: number;
    /** The memory limit, when there is one. */
    limit?: number;
  };
  pids: {
    /** Live tasks (threads), as the pids cgroup counts them. */
    current: number;
    /** The task limit, when there is one. */
    limit?: number;
  };
}

/** Per kernel: the statuses of processes started by execProcess that have exited. */
const execExits = new WeakMap<Kernel, Map<number, number>>();

function exitsOf(k: Kernel): Map<number, number> {
  let m = execExits.get(k);
  if (m === undefined) {
    m = new Map();
    execExits.set(k, m);
  }
  return m;
}

/** Starts a process in the running sandbox; see the module's documentation. */
export function execProcess(k: Kernel, o: ExecOptions): ExecResult | LinuxError {
  let stdio: [FileDescription, FileDescription, FileDescription];
  let terminal: Terminal | null = null;
  if (o.stdio.kind === "host") {
    const r = wrapHostStdio(o.stdio.fds);
    if (r instanceof LinuxError) return r;
    stdio = r;
  } else {
    terminal = k.tty.allocateTerminal(o.stdio.winsize);
    stdio = [k.tty.openSlave(terminal), k.tty.openSlave(terminal), k.tty.openSlave(terminal)];
  }
  if (o.argv.length === 0) {
    for (const f of stdio) f.decRef();
    if (terminal) releaseTerminal(k, terminal);
    return EINVAL;
  }
  const creds = Credentials.forProcess(o.uid, o.gid, o.additionalGids, o.caps ?? null);
  let tg: ThreadGroup;
  try {
    tg = k.createProcess({
      argv: [...o.argv],
      envp: [...o.envv],
      cwd: o.cwd,
      creds,
      // runc exec's process has the container's limits unless it names its own.
      limits: k.init?.limits.clone() ?? Limits.defaults(),
      stdio,
      noNewPrivs: o.noNewPrivs ?? false,
      ...(o.seccomp !== undefined ? { seccomp: o.seccomp } : {}),
      ...(o.umask !== undefined ? { umask: o.umask } : {}),
    });
  } catch (e) {
    if (terminal) releaseTerminal(k, terminal);
    if (e instanceof LinuxError) return e;
    throw e;
  }
  if (terminal) k.tty.setControllingTerminal(tg, terminal);
  const pid = tg.tgid;
  // Kept at once, not in a microtask: the sentry reaps the process in the same kernel step.
  watchExit(tg, (status) => exitsOf(k).set(pid, status), true);
  return { pid, terminal };
}

/**
 * Wraps three host descriptors as the sentry's stdio is wrapped, owned (closed with their last
 * reference). A number given twice becomes one description with two references.
 */
function wrapHostStdio(
  fds: readonly [number, number, number],
): [FileDescription, FileDescription, FileDescription] | LinuxError {
  const byFd = new Map<number, FileDescription>();
  const out: FileDescription[] = [];
  for (const fd of fds) {
    const known = byFd.get(fd);
    if (known) {
      out.push(known.incRef());
      continue;
    }
    let f: FileDescription;
    try {
      f = hostFile(fd, { owned: true });
    } catch (e) {
      for (const g of out) g.decRef();
      // The ones not yet wrapped are ours to close too.
      for (const rest of new Set(fds)) if (!byFd.has(rest) && rest >= 0) closeHostFd(rest);
      if (e instanceof LinuxError) return e;
      throw e;
    }
    byFd.set(fd, f);
    out.push(f);
  }
  return out as [FileDescription, FileDescription, FileDescription];
}

function closeHostFd(fd: number): void {
  hostClose(fd);
}

/**
 * Gives back the master side of a terminal execProcess made (the user went away): the
 * terminal hangs up as when a pty master closes (the session leader gets SIGHUP) and its
 * number is free again once the slave side is closed too. Idempotent per terminal.
 */
export function releaseTerminal(k: Kernel, t: Terminal): void {
  if (t.masterOpens === 0) return;
  t.masterClosed();
  if (t.masterOpens === 0) k.tty.devpts.masterGone(t);
}

/**
 * Calls cb with tg's wait status once it has exited: in a microtask (after the kernel step
 * that ended it), or at once inside that step when `now` (cb must then only record it).
 */
function watchExit(tg: ThreadGroup, cb: (status: number) => void, now = false): void {
  const call = (st: number) => now ? cb(st) : queueMicrotask(() => cb(st));
  if (tg.exitStatus !== null && tg.zombie) {
    call(tg.exitStatus);
    return;
  }
  const w: Waker = {
    wake() {
      if (!tg.zombie) return;
      tg.exitQueue.unregister(w);
      call(tg.exitStatus ?? 0);
    },
  };
  tg.exitQueue.register(w, EVENT_IN);
}

/**
 * Calls cb once with the wait status of process pid when it exits (at once, in a microtask,
 * when it already has). Returns ESRCH when pid is no process of the sandbox and was not
 * started by execProcess.
 */
export function onExit(k: Kernel, pid: number, cb: (waitStatus: number) => void): void | LinuxError {
  const tg = k.threadGroups.get(pid);
  if (tg !== undefined) {
    watchExit(tg, cb);
    return;
  }
  const st = exitsOf(k).get(pid);
  if (st === undefined) return ESRCH;
  queueMicrotask(() => cb(st));
}

/**
 * The wait status of process pid if it has exited (a zombie, or a process execProcess started
 * and the sentry reaped), null while it runs, ESRCH when there is no such process.
 */
export function exitStatus(k: Kernel, pid: number): number | null | LinuxError {
  const tg = k.threadGroups.get(pid);
  if (tg !== undefined) return tg.zombie ? tg.exitStatus : null;
  return exitsOf(k).get(pid) ?? ESRCH;
}

/** Pauses the sandbox: see {@linkcode Kernel.pause}. */
export function pause(k: Kernel): void {
  k.pause();
}

/** Resumes a paused sandbox: see {@linkcode Kernel.resume}. */
export function resume(k: Kernel): void {
  k.resume();
}

/**
 * Every process of the sandbox, zombies included, by ascending pid. Throws ModuleNotLoaded
 * until kernel/proc_source.ts is loaded (the control server loads it first: procSourceModule).
 */
export function processes(k: Kernel): ProcessInfo[] {
  const source = new (procSourceModule.get().KernelProcSource)(k);
  const wallMinusMono = Date.now() * 1e6 - monotonicNs();
  const out: ProcessInfo[] = [];
  for (const pid of source.pids()) {
    const tg = k.threadGroups.get(pid)!;
    const view = source.process(pid)!;
    const leader = tg.leader;
    const c = groupCpu(tg);
    const mem = view.memory();
    out.push({
      pid,
      ppid: view.ppid,
      pgid: tg.pgid,
      sid: tg.sid,
      uid: leader?.creds.euid ?? tg.exitUid,
      gid: leader?.creds.egid ?? 0,
      comm: view.comm,
      argv: mem === null ? [] : splitNul(view.readMemory(mem.argStart, mem.argEnd)),
      state: view.state,
      threads: tg.tasks.size,
      startTimeNs: Math.round(wallMinusMono + tg.startNs),
      cpuTimeNs: c.userNs + c.sysNs,
      tty: tg.tty === null ? null : `pts/${tg.tty.index}`,
    });
  }
  return out;
}

/** NUL-separated strings (/proc/PID/cmdline) as a list. */
function splitNul(b: Uint8Array): string[] {
  if (b.length === 0) return [];
  const parts = new TextDecoder().decode(b).split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/**
 * Sends a signal from outside the sandbox, as kill(2) from a parent pid namespace: to process
 * `pid` (a thread group), to every live process (`all`: init last), or to init. Signal 0 only
 * checks that the target exists. Returns how many processes it reached; ESRCH when there is
 * none, EINVAL for a signal number out of 0..64.
 */
export function signal(k: Kernel, o: { pid?: number; all?: boolean; signal: number }): number | LinuxError {
  const signo = o.signal;
  if (!Number.isInteger(signo) || signo < 0 || signo > 64) return EINVAL;
  let targets: ThreadGroup[];
  if (o.all) {
    const init = k.init;
    targets = [...k.threadGroups.values()].filter((tg) => !tg.zombie && tg !== init);
    if (init && !init.zombie) targets.push(init);
  } else {
    const tg = o.pid === undefined ? k.init : k.threadGroups.get(o.pid);
    targets = tg && !tg.zombie && tg.exitStatus === null ? [tg] : [];
  }
  if (targets.length === 0) return ESRCH;
  if (signo === 0) return targets.length;
  let n = 0;
  for (const tg of targets) {
    if (tg.zombie || tg.exitStatus !== null) continue; // died of an earlier one (init's exit)
    k.sendSignal(tg, signo, { code: 0 /* SI_USER */, pid: 0, uid: 0 });
    n++;
  }
  return n;
}

/** The sandbox's usage now; reads the host's accounting of every stub thread (/proc). */
export function stats(k: Kernel): SandboxStats {
  let userNs = k.reapedCpu.userNs, sysNs = k.reapedCpu.sysNs;
  const spaces = new Set<unknown>();
  let rssKb = 0;
  for (const tg of k.threadGroups.values()) {
    const own = groupCpu(tg);
    const reaped = childrenCpu(tg);
    userNs += own.userNs + reaped.userNs;
    sysNs += own.sysNs + reaped.sysNs;
    if (tg.zombie || tg.tasks.size === 0 || spaces.has(tg.mm)) continue;
    spaces.add(tg.mm);
    rssKb += tg.mm.as.rssKb();
  }
  return {
    cpu: { usageNs: userNs + sysNs, userNs, systemNs: sysNs },
    memory: { usageBytes: rssKb * 1024, ...(k.resources.limits.memoryBytes !== null ? { limit: k.resources.limits.memoryBytes } : {}) },
    pids: { current: k.tasks.size, ...(k.resources.limits.pids !== null ? { limit: k.resources.limits.pids } : {}) },
  };
}
