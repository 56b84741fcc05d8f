/**
 * Kernel: the sandbox's Linux. Owns every task, the scheduler loop, the clocks and the syscall
 * table; gVisor's kernel.Kernel plus the bits of its TaskSet this stage needs.
 *
 * The scheduler (see {@linkcode Kernel.run}): one JavaScript event loop runs every task.
 * - A task in user mode runs in its stub; the loop waits for the next stop with a synchronous
 *   waitpid (the cheapest path: no event-loop hop), bounded by the next kernel deadline and a
 *   time slice, so that timers and host I/O are never starved.
 * - A stop is handled at once: the syscall is dispatched, and the task resumed or put to sleep.
 * - A sleeping task is plain data (registers plus {@linkcode BlockState}); when woken, its
 *   syscall runs again from the start (ERESTARTSYS style). No Promise is held per task.
 * - Every few milliseconds the loop yields one macrotask so that Deno can deliver host I/O
 *   completions and signals.
 *
 * Ordering: the loop is the only caller of platform.resume/waitStop. Handlers run synchronously
 * inside the loop; wakeTask() may be called from any callback (it only queues).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Context, Platform } from "../platform/mod.ts";
import type { VirtualFilesystem } from "../vfs/mod.ts";
import { DebugLog } from "./log.ts";
import { Task } from "./task.ts";
import { ThreadGroup } from "./thread_group.ts";
import { FdTable } from "./fd_table.ts";
import { FsContext } from "./fs_context.ts";
import type { Credentials } from "./creds.ts";
import { Limits } from "./limits.ts";
import { SignalHandlers } from "./signals.ts";
import { MemoryManager } from "./mm/mm.ts";
import { EAGAIN, EINTR, ENOENT, ENOSYS, EPIPE, LinuxError, SentryBugError } from "./errno.ts";
import type { SyscallControl } from "./syscalls/linux/support.ts";
import { SYSCALL_TABLE } from "./syscalls/linux/table_amd64.ts";
import { straceEnter, straceExit } from "./strace.ts";
import { ExecFatalError, loadExecutable, resolveExecutable } from "./loader/load.ts";
import { monotonicNs } from "./time.ts";
import { FutexTable, type FutexWaiter } from "./futex.ts";
import type { KernelTimer } from "./timers.ts";
import { deliverableSet, deliverSignals, disposition, sendSignal as queueSignal } from "./task_signals.ts";
import type { SigInfo } from "./signal_frame.ts";
import { SA_RESTART } from "../abi/linux/signal.ts";
import { CORE_SIGNALS, SIGNAL_NAMES } from "../abi/linux/signal.ts";
import { RLIMIT_NOFILE } from "../abi/linux/limits.ts";
import { Net } from "./net.ts";

export interface KernelOptions {
  platform: Platform;
  vfs: VirtualFilesystem;
  hostname: string;
  log?: DebugLog;
  strace?: boolean;
  /** The sandbox's network (default: loopback only). */
  net?: Net;
}

export interface InitOptions {
  argv: string[];
  envp: string[];
  /** Working directory inside the sandbox. */
  cwd: string;
  creds: Credentials;
  rlimits?: Map<number, { cur: bigint; max: bigint }>;
  /** Path of the executable; default: argv[0] looked up in PATH from envp. */
  executable?: string;
}

/** How long the loop may block in one wait before it lets the event loop run, in ns. */
const SLICE_NS = 10_000_000;
/** How long the loop may run stops back to back before yielding to the event loop, in ms. */
const YIELD_AFTER_MS = 5;

/** @savable */
export class Kernel {
  /** @nosave */
  readonly platform: Platform;
  readonly vfs: VirtualFilesystem;
  hostname: string;
  domainname = "(none)";
  /** uname(2) release and version: the host's, so that tools see the kernel they run on. */
  readonly uts = hostUts();
  /** @nosave */
  readonly log: DebugLog;
  readonly strace: boolean;
  /** Monotonic time at boot, for /proc/uptime and CLOCK_BOOTTIME. */
  readonly bootNs = monotonicNs();

  readonly tasks = new Map<number, Task>();
  readonly futex = new FutexTable();
  /** The network stack; its deadlines join the scheduler's (see #expireDeadlines). */
  readonly net: Net;
  readonly threadGroups = new Map<number, ThreadGroup>();
  /** @nosave Lookup of the task running on a platform context. */
  readonly #byCtx = new Map<Context, Task>();
  #nextTid = 1;
  #init: ThreadGroup | null = null;
  /** The wait status of init once it exited. */
  #initStatus: number | null = null;

  readonly #runQueue: Task[] = [];
  /** Signal timers (alarm, itimers). Small; scanned linearly. */
  readonly #timers = new Set<KernelTimer>();
  /** Tasks sleeping with a deadline. Small; scanned linearly. */
  readonly #timed = new Set<Task>();
  /** Number of tasks in user mode. */
  #running = 0;
  /** @nosave Resolves the idle wait when a task becomes runnable. */
  #idleWake: (() => void) | null = null;
  #shutdown = false;

  private constructor(o: KernelOptions) {
    this.platform = o.platform;
    this.vfs = o.vfs;
    this.hostname = o.hostname;
    this.log = o.log ?? new DebugLog();
    this.strace = o.strace ?? false;
    if (this.strace) this.log.straceToStderr = true;
    this.net = o.net ?? new Net();
    this.net.wakeLoop = () => this.#kick();
  }

  static create(o: KernelOptions): Kernel {
    return new Kernel(o);
  }

  allocTid(): number {
    return this.#nextTid++;
  }

  /**
   * Creates the init process (PID 1) running argv. Throws a LinuxError when the executable
   * cannot be found or loaded.
   */
  createInit(o: InitOptions): void {
    if (this.#init) throw new SentryBugError("Cannot create init: it already exists");
    const root = this.vfs.root();
    const pathCtx = { root, creds: o.creds };
    const cwd = this.vfs.lookupDir(pathCtx, root, o.cwd);
    const fs = new FsContext(root, cwd);
    const limits = Limits.defaults();
    for (const [r, v] of o.rlimits ?? []) limits.set(r, v);
    const fdTable = new FdTable();
    fdTable.limit = limits.soft(RLIMIT_NOFILE);
    const exe = o.executable ?? o.argv[0];
    if (exe === undefined) throw ENOENT;
    const path = resolveExecutable(this.vfs, pathCtx, cwd, exe, o.envp);

    const ctx = this.platform.newAddressSpace();
    try {
      const mm = new MemoryManager(ctx.addressSpace);
      const tid = this.allocTid();
      const tg = new ThreadGroup({
        tgid: tid, mm, parent: null, limits, handlers: new SignalHandlers(), pgid: tid, sid: tid,
      });
      const t = new Task({ kernel: this, tid, tg, ctx, fdTable, fs, creds: o.creds, name: "init" });
      try {
        loadExecutable(t, { path, argv: o.argv, envp: o.envp }, { mm, ctx });
      } catch (e) {
        // A broken image kills init with SIGSEGV once it starts, as on Linux.
        if (!(e instanceof ExecFatalError)) throw e;
        t.tg.faultInfo = null;
        t.pendingSignals.add({ signo: 11, code: 0x80 });
        t.tg.handlers.set(11, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
      }
      for (const fd of [0, 1, 2]) fdTable.installAt(fd, this.vfs.hostStdio(fd as 0 | 1 | 2), false);
      tg.tasks.add(t);
      this.#init = tg;
      this.addTask(t);
    } catch (e) {
      ctx.addressSpace.release();
      throw e;
    }
  }

  /** Registers a new task (from createInit or clone) and queues it to run. */
  addTask(t: Task): void {
    this.tasks.set(t.tid, t);
    this.threadGroups.set(t.tg.tgid, t.tg);
    this.#byCtx.set(t.ctx, t);
    t.state = "runnable";
    this.#runQueue.push(t);
  }

  /** For execve: t now runs on ctx (a fresh address space). */
  replaceContext(t: Task, ctx: Context): void {
    this.#byCtx.delete(t.ctx);
    t.ctx = ctx;
    this.#byCtx.set(ctx, t);
  }

  /** For execve: every other thread of t's group dies at once. */
  killOtherThreads(t: Task): void {
    for (const other of [...t.tg.tasks]) if (other !== t) this.#exitTask(other);
  }

  /** A vfork child exec'd or exited: its parent may go on. */
  vforkDone(tg: ThreadGroup): void {
    if (!tg.vforkPending) return;
    tg.vforkPending = false;
    tg.vforkDone.notify(1);
  }

  /** Removes a zombie for good (wait reaped it). */
  reap(tg: ThreadGroup): void {
    tg.parent?.children.delete(tg);
    this.threadGroups.delete(tg.tgid);
  }

  addTimer(tm: KernelTimer): void {
    this.#timers.add(tm);
    this.#kick(); // a sleeping loop must notice the new deadline
  }

  /** Wakes the scheduler loop if it sleeps in #idle. */
  #kick(): void {
    const wake = this.#idleWake;
    this.#idleWake = null;
    wake?.();
  }

  removeTimer(tm: KernelTimer): void {
    this.#timers.delete(tm);
  }

  /** Makes a blocked task runnable; its syscall runs again. Safe from any callback. */
  wakeTask(t: Task): void {
    if (t.state !== "blocked") return;
    const b = t.blocked;
    if (b) for (const q of b.queues) q.unregister(t);
    t.blocked = null;
    this.#timed.delete(t);
    t.state = "runnable";
    this.#runQueue.push(t);
    this.#kick();
  }

  /** Delivers a signal from outside the sandbox (the user's Ctrl-C, SIGTERM) to init. */
  signalInit(signo: number): void {
    const init = this.#init;
    if (!init || init.exitStatus !== null) return;
    this.sendSignal(init, signo);
  }

  /**
   * Runs the sandbox until init exits. Returns init's wait status (exit code << 8, or the
   * signal number with 0x80 when it dumped core).
   */
  async run(): Promise<number> {
    let lastYield = performance.now();
    while (this.#initStatus === null && !this.#shutdown) {
      while (this.#runQueue.length > 0 && this.#initStatus === null) this.#step(this.#runQueue.shift()!);
      if (this.#initStatus !== null) break;
      const now = monotonicNs();
      const next = this.#expireDeadlines(now);
      if (this.#runQueue.length > 0 || this.#initStatus !== null) continue;
      if (performance.now() - lastYield > YIELD_AFTER_MS) {
        await yieldMacrotask();
        lastYield = performance.now();
        continue;
      }
      if (this.#running > 0) {
        const timeout = next === null ? SLICE_NS : Math.max(1000, Math.min(SLICE_NS, next - now));
        const stop = this.platform.waitStop(timeout);
        if (stop) {
          const t = this.#byCtx.get(stop.ctx);
          if (!t) continue;
          this.#running--;
          t.state = "runnable";
          this.#handleStop(t, stop.reason);
        } else {
          await yieldMacrotask();
          lastYield = performance.now();
        }
      } else {
        await this.#idle(next === null ? null : next - now);
        lastYield = performance.now();
      }
    }
    return this.#initStatus ?? 0;
  }

  /** Sleeps until wakeTask() or the deadline (ns from now). */
  #idle(timeoutNs: number | null): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.#idleWake = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      if (timeoutNs !== null) {
        timer = setTimeout(() => {
          this.#idleWake = null;
          resolve();
        }, Math.max(0, Math.ceil(timeoutNs / 1e6)));
      }
    });
  }

  /** Wakes tasks whose deadline passed; returns the earliest remaining deadline. */
  #expireDeadlines(now: number): number | null {
    let next: number | null = this.net.expire(now);
    if (this.#timed.size === 0 && this.#timers.size === 0) return next;
    for (const tm of [...this.#timers]) {
      if (tm.deadlineNs <= now) {
        if (tm.intervalNs > 0) tm.deadlineNs += Math.ceil((now - tm.deadlineNs + 1) / tm.intervalNs) * tm.intervalNs;
        else {
          this.#timers.delete(tm);
          if (tm.tg.itimerReal === tm) tm.tg.itimerReal = null;
        }
        this.sendSignal(tm.tg, tm.signo, { code: tm.code });
      }
      if (this.#timers.has(tm) && (next === null || tm.deadlineNs < next)) next = tm.deadlineNs;
    }
    for (const t of [...this.#timed]) {
      const d = t.blocked?.deadlineNs ?? null;
      if (d === null) continue;
      if (d <= now) this.wakeTask(t);
      else if (next === null || d < next) next = d;
    }
    return next;
  }

  #handleStop(t: Task, reason: import("../platform/mod.ts").StopReason): void {
    switch (reason.kind) {
      case "syscall":
        t.inSyscall = true;
        this.#step(t);
        return;
      case "fault": {
        this.log.debug(
          `${t} ${SIGNAL_NAMES[reason.signo]} at 0x${reason.addr.toString(16)} (code ${reason.code}), ` +
            `rip 0x${t.ctx.regs.get("rip").toString(16)}`,
        );
        t.tg.faultInfo = { signo: reason.signo, addr: reason.addr };
        // A fault the thread blocks or ignores cannot be survived: Linux resets it to the
        // default action (force_sig_fault).
        const act = t.tg.handlers.get(reason.signo);
        const bit = 1n << BigInt(reason.signo - 1);
        if (disposition(reason.signo, act) !== "handler" || (t.sigmask & bit)) {
          this.killGroup(t.tg, reason.signo);
          return;
        }
        t.pendingSignals.add({ signo: reason.signo, code: reason.code, addr: reason.addr });
        this.#step(t);
        return;
      }
      case "gone":
        this.killGroup(t.tg, 9);
        return;
      case "interrupt":
        this.#step(t);
        return;
      default: {
        const never: never = reason;
        throw new SentryBugError(`Unknown stop reason ${String(never)}`);
      }
    }
  }

  /** Runs one kernel step of a runnable task: its pending syscall, then back to user mode. */
  #step(t: Task): void {
    if (t.state === "dead") return;
    if (t.inSyscall && t.interrupted) this.#interruptSyscall(t);
    if (t.inSyscall) {
      const done = this.#syscall(t);
      if (!done) return; // blocked or exited
      t.inSyscall = false;
    }
    if (deliverableSet(t) !== 0n && !deliverSignals(t)) return;
    if ((t.state as Task["state"]) === "dead") return;
    this.platform.resume(t.ctx);
    t.state = "user";
    this.#running++;
  }

  /**
   * A signal woke t out of a blocked syscall. If the signal will run a handler, the syscall
   * ends: EINTR, or (SA_RESTART and a restartable sleep) it is set to run again after the
   * handler returns. Otherwise the syscall simply runs again.
   */
  #interruptSyscall(t: Task): void {
    t.interrupted = false;
    const set = deliverableSet(t);
    if (set === 0n) return;
    let signo = 1;
    while (!(set & (1n << BigInt(signo - 1)))) signo++;
    const act = t.tg.handlers.get(signo);
    if (disposition(signo, act) !== "handler") return;
    const restart = t.lastBlockRestart === "sys" && (act.flags & SA_RESTART) !== 0;
    this.#cancelSleep(t);
    if (restart) {
      const r = t.ctx.regs;
      r.set("rip", r.get("rip") - 2); // back onto the syscall instruction
      r.set64("rax", r.get64("orig_rax"));
      t.ctx.markRegsDirty();
    } else {
      t.ctx.setReturn(-EINTR.errno);
    }
    if (this.strace) {
      this.log.strace(straceExit(t, t.straceEntry, restart ? "? ERESTARTSYS" : -EINTR.errno, 0));
      t.straceEntry = "";
    }
    t.inSyscall = false;
    t.syscallState = null;
  }

  /** Undoes what a sleeping syscall registered (a futex wait) before it is abandoned. */
  #cancelSleep(t: Task): void {
    const w = (t.syscallState as { waiter?: FutexWaiter } | null)?.waiter;
    if (w) this.futex.remove(w);
    if (t.savedMask !== null && t.sigWaitSet === null) { /* sigsuspend: restored at delivery */ }
    t.sigWaitSet = null;
  }

  /** Dispatches t's syscall. Returns false if the task blocked or exited. */
  #syscall(t: Task): boolean {
    const info = t.ctx.syscall;
    const nr = info.nr;
    const entry = SYSCALL_TABLE[nr];
    let straceLine = "";
    let t0 = 0;
    if (this.strace && !t.straceEntry) {
      t.straceEntry = straceEnter(t, entry?.name ?? `syscall_${nr}`);
    }
    if (this.strace) t0 = performance.now();
    let result: number | SyscallControl;
    if (entry === undefined) {
      this.log.once(`nosys-${nr}`, `Unsupported syscall ${nr}: returning ENOSYS`);
      result = -ENOSYS.errno;
    } else {
      try {
        result = entry.fn(t, t.argsFor(info));
      } catch (e) {
        if (e instanceof LinuxError) {
          result = -e.errno;
          if (e === EPIPE && SIGPIPE_SYSCALLS.has(nr)) this.sendSignal(t.tg, 13);
        } else {
          this.log.warning(`BUG in ${entry.name} of ${t}: ${(e as Error)?.stack ?? e}`);
          if (Deno.env.get("SENTRY_PANIC_ON_BUG") === "1") throw e;
          result = -EAGAIN.errno;
        }
      }
    }
    if (t.state === "dead") return false; // the syscall killed its own task (kill, SIGPIPE)
    if (typeof result === "number") {
      t.ctx.setReturn(result);
      t.syscallState = null;
      if (this.strace) {
        straceLine = straceExit(t, t.straceEntry, result, (performance.now() - t0) * 1000);
        t.straceEntry = "";
        this.log.strace(straceLine);
      }
      return true;
    }
    switch (result.ctl) {
      case "block": {
        t.state = "blocked";
        t.lastBlockRestart = result.restart;
        t.blocked = { queues: result.queues, mask: result.mask, deadlineNs: result.deadlineNs, restart: result.restart };
        for (const q of result.queues) q.register(t, result.mask);
        if (result.deadlineNs !== null) this.#timed.add(t);
        return false;
      }
      case "exit":
        if (this.strace) {
          this.log.strace(straceExit(t, t.straceEntry, "?", (performance.now() - t0) * 1000));
          t.straceEntry = "";
        }
        if (result.group || t.tg.tasks.size === 1) this.#exitGroup(t.tg, (result.status & 0xff) << 8);
        else this.#exitTask(t);
        return false;
      case "noreturn":
        t.syscallState = null;
        if (this.strace) {
          this.log.strace(straceExit(t, t.straceEntry, "0", (performance.now() - t0) * 1000));
          t.straceEntry = "";
        }
        return true;
      default: {
        const never: never = result;
        throw new SentryBugError(`Unknown syscall control ${String(never)}`);
      }
    }
  }

  /** Sends a signal to a process (or to one of its threads); see task_signals.ts. */
  sendSignal(tg: ThreadGroup, signo: number, info: Partial<SigInfo> = {}, thread: Task | null = null): void {
    queueSignal(tg, { code: 0, ...info, signo }, thread);
  }

  /**
   * A signal is pending for t: make it notice. A sleeping task wakes as interrupted; a task in
   * user mode is stopped so that the signal is delivered at once.
   */
  interruptTask(t: Task): void {
    if (t.state === "blocked") {
      t.interrupted = true;
      this.wakeTask(t);
    } else if (t.state === "user") {
      t.ctx.interrupt();
    }
  }

  /** Kills a thread group with a signal's default action. */
  killGroup(tg: ThreadGroup, signo: number): void {
    // The sandbox never writes core files, so the core-dump bit is never set.
    void CORE_SIGNALS;
    this.#exitGroup(tg, signo & 0x7f);
  }

  /** Ends every task of tg; tg reports `status` to wait(2). */
  #exitGroup(tg: ThreadGroup, status: number): void {
    if (tg.exitStatus !== null) return;
    tg.exitStatus = status;
    // When no other process shares the address space, kill the stub in one go rather than
    // ending its threads one by one.
    const hostGone = tg.mm.users === 1;
    if (hostGone) tg.mm.as.release();
    for (const t of [...tg.tasks]) this.#exitTask(t, hostGone);
  }

  /**
   * Ends one task. hostGone: its host thread is already dead (the stub was killed).
   * The last task of a group makes it a zombie, reparents its children and wakes its parent.
   */
  #exitTask(t: Task, hostGone = false): void {
    if (t.state === "dead") return;
    if (t.state === "user") this.#running--;
    if (t.state === "blocked") {
      for (const q of t.blocked?.queues ?? []) q.unregister(t);
      this.#timed.delete(t);
      this.#cancelSleep(t);
    }
    t.state = "dead";
    t.blocked = null;
    const tg = t.tg;
    tg.tasks.delete(t);
    this.tasks.delete(t.tid);
    this.#byCtx.delete(t.ctx);
    if (t.clearChildTid !== 0 && !hostGone && tg.tasks.size > 0) {
      // CLONE_CHILD_CLEARTID: zero the tid word (futex wake-up comes with futexes).
      try {
        t.copyOutU32(t.clearChildTid, 0);
        this.futex.wake(tg.mm, t.clearChildTid, 1);
      } catch { /* an unmapped address is ignored, as Linux does */ }
    }
    if (!hostGone) t.ctx.release();
    if (--t.fdTable.users === 0) t.fdTable.removeAll();
    if (tg.tasks.size > 0) return;

    if (--tg.mm.users === 0) tg.mm.releaseAll();
    if (tg.itimerReal) this.removeTimer(tg.itimerReal);
    tg.itimerReal = null;
    tg.zombie = true;
    this.vforkDone(tg);
    const init = this.#init;
    // Orphans go to the nearest living subreaper ancestor, else to init.
    let reaper = tg.parent;
    while (reaper && (!reaper.subreaper || reaper.zombie)) reaper = reaper.parent;
    const adopter = reaper ?? init;
    for (const child of tg.children) {
      child.parent = adopter;
      if (adopter && adopter !== tg) adopter.children.add(child);
      for (const ct of child.tasks) if (ct.pdeathSignal !== 0) this.sendSignal(child, ct.pdeathSignal, {}, ct);
    }
    tg.children.clear();
    if (adopter && adopter !== tg && [...adopter.children].some((c) => c.zombie)) adopter.childWaitQueue.notify(1);
    const parent = tg.parent;
    if (parent && parent.handlers.get(17).handler === 1n) {
      // SIGCHLD ignored: children are reaped at once (Linux's SA_NOCLDWAIT behaviour).
      this.reap(tg);
    }
    parent?.childWaitQueue.notify(1);
    if (parent && !parent.zombie && tg.exitSignal > 0 && this.threadGroups.has(tg.tgid)) {
      const st = tg.exitStatus ?? 0;
      const signalled = (st & 0x7f) !== 0;
      this.sendSignal(parent, tg.exitSignal, {
        code: signalled ? 2 /* CLD_KILLED */ : 1 /* CLD_EXITED */,
        pid: tg.tgid,
        uid: t.creds.uid,
        status: signalled ? st & 0x7f : (st >> 8) & 0xff,
      });
    }
    if (tg === init) {
      this.#initStatus = tg.exitStatus ?? 0;
      this.#kick();
      // Container semantics: when init exits, every task is killed.
      for (const other of [...this.threadGroups.values()]) {
        if (other !== tg && !other.zombie) this.#exitGroup(other, 9);
      }
    }
  }

  /** A one-line description of how init ended, for the CLI. */
  describeInitExit(): string | null {
    const init = this.#init;
    if (!init || init.exitStatus === null) return null;
    const st = init.exitStatus;
    if ((st & 0x7f) === 0) return null;
    const sig = st & 0x7f;
    const name = SIGNAL_NAMES[sig] ?? `signal ${sig}`;
    const f = init.faultInfo;
    return f && f.signo === sig
      ? `init (pid ${init.tgid}) killed by ${name} (fault at 0x${f.addr.toString(16)})`
      : `init (pid ${init.tgid}) killed by ${name}`;
  }

  /** Kills everything; no stub survives. Idempotent. */
  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    for (const tg of [...this.threadGroups.values()]) if (!tg.zombie) this.#exitGroup(tg, 9);
    this.platform.shutdown();
    this.#kick();
  }
}

/** Write-family syscalls that raise SIGPIPE when they fail with EPIPE. */
const SIGPIPE_SYSCALLS: ReadonlySet<number> = new Set([1, 18, 20, 296, 328]);

function hostUts(): { release: string; version: string } {
  let version = "#1 SMP";
  try {
    version = Deno.readTextFileSync("/proc/sys/kernel/version").trim();
  } catch { /* not Linux procfs: keep the default */ }
  return { release: Deno.osRelease(), version };
}

function yieldMacrotask(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
