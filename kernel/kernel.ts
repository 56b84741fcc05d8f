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

import { fanotifyCause } from "./fanotify_hooks.ts";
import { UCounts } from "./ucounts.ts";
import { Vdso } from "./vdso/vdso.ts";
import { RSEQ_TICK_NS, rseqNotifyResume, rseqTick } from "./rseq.ts";
import type { Context, Platform, Stop, StopReason } from "../platform/mod.ts";
import type { VirtualFilesystem } from "../vfs/mod.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import { DebugLog } from "./log.ts";
import { CgroupFilesystem, type CgroupHost, type CgroupMember } from "../vfs/cgroupfs/cgroupfs.ts";
import { groupCpu } from "./cpu_time.ts";
import { Task } from "./task.ts";
import { ThreadGroup } from "./thread_group.ts";
import { FdTable } from "./fd_table.ts";
import { FsContext } from "./fs_context.ts";
import type { Credentials } from "./creds.ts";
import { Limits } from "./limits.ts";
import { SignalHandlers } from "./signals.ts";
import { MemoryManager } from "./mm/mm.ts";
import { EFAULT, EINTR, EINVAL, ENOENT, ENOSYS, EPIPE, errnoFromNumber, ESRCH, LinuxError, SentryBugError } from "./errno.ts";
import { block, type SyscallControl } from "./syscalls/linux/support.ts";
import { SYSCALL_TABLE } from "./syscalls/linux/table_amd64.ts";
import { hostFds } from "../vfs/host_fds.ts";
import { straceEnter, straceExit } from "./strace.ts";
import { ExecFatalError, loadExecutable, resolveExecutable } from "./loader/load.ts";
import { monotonicNs } from "./time.ts";
import { EVENT_IN, WaitQueue } from "../waiter/mod.ts";
import { withheldFault } from "./userfaultfd_hooks.ts";
import { SocketFile } from "./socket/socket.ts";
import type { UnixNamespace } from "./socket/unix/namespace.ts";
import { NsInodes, type UserNamespace } from "./user_namespace.ts";
import { PID_MAX_LIMIT, type PidNamespace } from "./pid_namespace.ts";
import { IPC_LIMITS, IpcNamespace } from "./ipc.ts";
import { KeyRegistry } from "./keys.ts";
import { SEMVMX } from "../abi/linux/ipc.ts";
import { UtsNamespace } from "./uts.ts";
import { exitRobustList, FutexTable, futexPiExit, futexWokenResult, type FutexWaiter, wakeShared } from "./futex.ts";
import { LockTable } from "../vfs/lock.ts";
import { LeaseTable } from "../vfs/lease.ts";
import {
  CPU_SAMPLE_NS, type CpuTimer, type DeadlineTarget, DELAYTIMER_MAX, type KernelTimer, SIGEV_NONE,
  type TimerTarget,
} from "./timers.ts";
import {
  deliverableSet, deliverSignals, dequeueSignal, disposition, ERESTARTNOHAND, ERESTARTSYS, pickSignal,
  sendSignal as queueSignal, settleRestart,
} from "./task_signals.ts";
import { chargeReapedChild, type CpuClock, cpuClockNs, freezeTaskCpu, unchargedHostCpu } from "./cpu_time.ts";
import {
  hangUpOrphanedGroups, initiateGroupStop, isOrphanedProcessGroup as isOrphanedPgrp,
  processGroupExists as pgrpExists, signalProcessGroup as signalProcessGroupOf, stopTask,
} from "./job_control.ts";
import { sigBit } from "./signals.ts";
import {
  enterStop as enterPtraceStop, PTRACE_EVENT_EXIT, PTRACE_EVENT_SECCOMP, PTRACE_EVENT_STOP, PTRACE_EVENT_VFORK_DONE,
  PTRACE_O_TRACEEXIT, PTRACE_O_TRACESECCOMP,
  dropOldLeader, exitAwaitsTracer, traceeExited, tracedThreadZombies, tracerExited,
} from "./ptrace.ts";
import {
  AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, evaluate as evaluateSeccomp, execveVerdict, SECCOMP_DATA_SIZE, SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT, SECCOMP_RET_ACTION_FULL,
  SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF, STRICT_SYSCALLS,
} from "./seccomp.ts";
import type { SigInfo } from "./signal_frame.ts";
import { SA_NOCLDWAIT, SA_RESTART } from "../abi/linux/signal.ts";
import { CORE_SIGNALS, NSIG, SEGV_ACCERR, SEGV_MAPERR, SIGNAL_NAMES, SIGSEGV, SIGTRAP } from "../abi/linux/signal.ts";
import { noteDebugTrap } from "./debug_regs.ts";
import { RLIM_INFINITY, RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_STACK } from "../abi/linux/limits.ts";
import { sessionLeaderExited, TtySupport } from "./tty.ts";
import { Net } from "./net.ts";
import { BpfProgramTable } from "./bpf/table.ts";
import { connectCgroups } from "./bpf/cgroup_progs.ts";
import { ModuleNotLoaded } from "./lazy_module.ts";
import { MacrotaskYield } from "./macrotask.ts";
import { noLimits, ResourceControl, type ResourceLimits } from "./resources.ts";

export interface KernelOptions {
  platform: Platform;
  vfs: VirtualFilesystem;
  hostname: string;
  log?: DebugLog;
  strace?: boolean;
  /** The sandbox's network (default: loopback only). */
  net?: Net;
  /** Limits on the whole sandbox (kernel/resources.ts; default: none). */
  limits?: ResourceLimits;
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
  /** Descriptors 0, 1 and 2 (init takes these references); default: the sentry's own stdio. */
  stdio?: readonly [FileDescription, FileDescription, FileDescription];
  /** no_new_privs from the start (OCI process.noNewPrivileges); default false. */
  noNewPrivs?: boolean;
  /** The umask (OCI process.user.umask); default 022. */
  umask?: number;
  /** A seccomp filter (cBPF) in force from the first instruction (OCI linux.seccomp). */
  seccomp?: Uint8Array;
  /**
   * Init's nice value (-20..19); default 0. The sentry passes its own: a process inherits its
   * parent's, so `nice -n 5 sentry do CMD` runs CMD at nice 5 as `nice -n 5 CMD` would.
   */
  nice?: number;
}

/** Options of {@linkcode Kernel.createProcess}. */
export interface ProcessOptions {
  argv: string[];
  envp: string[];
  /** Working directory inside the sandbox. */
  cwd: string;
  creds: Credentials;
  /** The new process's own limits (not shared with anyone). */
  limits: Limits;
  /** Path of the executable; default: argv[0] looked up in PATH from envp. */
  executable?: string;
  /** Descriptors 0, 1 and 2; the process takes these references. */
  stdio: readonly [FileDescription, FileDescription, FileDescription];
  /** no_new_privs from the start (OCI process.noNewPrivileges); default false. */
  noNewPrivs?: boolean;
  /** The umask (OCI process.user.umask); default 022. */
  umask?: number;
  /**
   * A seccomp filter (cBPF, checked) in force from the process's first instruction, as if it
   * had called seccomp(SECCOMP_SET_MODE_FILTER) itself (OCI linux.seccomp, boot/seccomp_profile.ts).
   */
  seccomp?: Uint8Array;
}

/** How long the loop may block in one wait before it lets the event loop run, in ns. */
const SLICE_NS = 10_000_000;
/** How long the loop may run stops back to back before yielding to the event loop, in ms. */
const YIELD_AFTER_MS = 5;
/** How long pause() waits for tasks in user mode to stop before leaving it to the loop, in ns. */
const PAUSE_COLLECT_NS = 2_000_000_000;

/** @savable */
export class Kernel {
  /** @nosave */
  readonly platform: Platform;
  readonly vfs: VirtualFilesystem;
  /** The sandbox's first UTS namespace (init's; see kernel/uts.ts). */
  readonly rootUts: UtsNamespace;
  /**
   * /proc/sys/fs/nr_open: the ceiling of RLIMIT_NOFILE (setrlimit above it is EPERM), writable
   * by root.
   */
  nrOpen = 1048576;

  /** uname(2) release and version: the host's, so that tools see the kernel they run on. */
  readonly uts = hostUts();
  /** @nosave */
  readonly log: DebugLog;
  readonly strace: boolean;

  /** @nosave The vDSO every exec maps (kernel/vdso): undefined until the first exec, null if none. */
  #vdso: Vdso | null | undefined;

  readonly tasks = new Map<number, Task>();
  readonly futex = new FutexTable();
  /** The network stack; a DeadlineTarget while it has timers running (kernel/net.ts). */
  readonly net: Net;
  /** AF_UNIX names of the first network namespace: abstract ones (the net's unix). */
  readonly unixNames: UnixNamespace;
  /** System V shared memory, semaphores and message queues (kernel/ipc.ts). */
  /**
   * The nsfs inode numbers of the namespaces made after the first ones. Not saved: a checkpoint
   * refuses while a task holds a namespace of its own, so the numbering starts again after one.
   */
  readonly nsInodes = new NsInodes();
  readonly ipc = new IpcNamespace(IPC_LIMITS);
  /** The cgroup v2 hierarchy (vfs/cgroupfs): what `mount -t cgroup2` shows. */
  readonly cgroups = new CgroupFilesystem(this.nsInodes);
  /** Loaded eBPF programs (bpf(2), kernel/bpf): cgroup device programs. */
  readonly bpf = new BpfProgramTable();
  /** Every keyring (keyctl, kernel/keys.ts). */
  readonly keys = new KeyRegistry();
  /** Per-user counts and limits, per user namespace (inotify instances and watches; /proc/sys/user). */
  readonly ucounts = new UCounts();
  /** flock, POSIX and OFD file locks (vfs/lock.ts). */
  readonly fileLocks = new LockTable();
  /**
   * File leases (vfs/lease.ts, kernel/syscalls/linux/sys_lease.ts). A lease that goes takes
   * its file's owner and F_SETSIG signal with it (lease_modify's f_delown).
   */
  readonly leases = new LeaseTable((f) => {
    f.owner = null;
    f.sigioSignal = 0;
  });
  readonly threadGroups = new Map<number, ThreadGroup>();
  /**
   * CPU time of processes the sentry reaped itself (parentless ones: those started in a running
   * sandbox, kernel/control.ts), with their reaped descendants'; what no process's
   * children's times hold (the sandbox's total, control.ts `stats`).
   */
  readonly reapedCpu = { userNs: 0, sysNs: 0 };
  /** Terminals: devpts, the console, controlling terminals (kernel/tty.ts). */
  readonly tty: TtySupport = new TtySupport(this);
  /** The sandbox's limits and what the run used (kernel/resources.ts). */
  readonly resources: ResourceControl;
  /** @nosave Lookup of the task running on a platform context. */
  readonly #byCtx = new Map<Context, Task>();
  #nextTid = 1;
  /** The PID namespace of every global id handed out in a nested one (kernel/pid_namespace.ts). */
  readonly #nestedIds = new Map<number, PidNamespace>();
  /** The task whose system call is being handled, for /proc/self; null between syscalls. */
  current: Task | null = null;
  /**
   * Notified whenever a signal becomes pending for any task (kernel/signalfd.ts: a signalfd
   * reads the pending signals of whichever task reads it, inherited or not).
   */
  readonly signalfdQueue = new WaitQueue();
  #init: ThreadGroup | null = null;
  /**
   * Init's first descriptors 0, 1 and 2 (not counted references): a checkpoint saves these as
   * "the caller's stdio", and a restore puts the restoring caller's in their place.
   */
  initStdio: readonly FileDescription[] = [];
  /** The wait status of init once it exited. */
  #initStatus: number | null = null;

  readonly #runQueue: Task[] = [];
  /**
   * @nosave What one process's syscall did to another that takes effect only after the
   * caller's next stop (see {@linkcode holdForWaker}); released before a pause.
   */
  readonly #held: { waker: Task; run: () => void; target: ThreadGroup; fatal: boolean }[] = [];
  /** Signal timers on the monotonic clock (alarm, ITIMER_REAL, POSIX timers). Small; scanned linearly. */
  readonly #timers = new Set<KernelTimer>();
  /** Timers on CPU-time clocks (ITIMER_VIRTUAL/PROF, POSIX timers), sampled; see timers.ts. */
  readonly #cpuTimers = new Set<CpuTimer>();
  /** When #cpuTimers were last sampled (monotonic ns). */
  #lastCpuSample = 0;
  /** Each thread's CPU time when a process CPU timer last fired (#runningThread); a cache. */
  readonly #cpuSeen = new WeakMap<Task, number>();
  /** Deadline-driven objects (timerfds). Small; scanned linearly. */
  readonly #deadlineTargets = new Set<DeadlineTarget>();
  /** Tasks sleeping with a deadline. Small; scanned linearly. */
  readonly #timed = new Set<Task>();
  /** Number of tasks in user mode. */
  #running = 0;
  /** Work deferred to the loop's next turn (defer). */
  readonly #deferred: (() => void)[] = [];
  /** When the loop last looked for threads spinning in an rseq critical section (kernel/rseq.ts). */
  #rseqTickAt = 0;
  /** True while the sandbox is paused ({@linkcode pause}): no task runs, no deadline expires. */
  #paused = false;
  /**
   * Stops collected while paused, handled in order once resumed: plain data (the task, which
   * is out of user mode with its registers in the host thread, and why it stopped).
   */
  readonly #parked: Array<{ t: Task; reason: StopReason }> = [];
  /** @nosave Resolves the idle wait when a task becomes runnable. */
  #idleWake: (() => void) | null = null;
  /** @nosave The loop's turns of the event loop (closed when run() returns). */
  readonly #yield = new MacrotaskYield();
  #shutdown = false;
  /** --cpus: monotonic time until which no task may enter user mode (0: not throttled). */
  #throttledUntil = 0;
  /** Tasks kept out of user mode while throttled, runnable again when it ends. */
  readonly #throttled: Task[] = [];
  /** @nosave Ends the throttle at its deadline. */
  readonly #unthrottle = { deadlineNs: null as number | null, expire: () => this.#endThrottle() };

  private constructor(o: KernelOptions) {
    this.platform = o.platform;
    this.vfs = o.vfs;
    this.vfs.nsInodes = this.nsInodes;
    this.rootUts = new UtsNamespace(o.hostname, "(none)");
    this.log = o.log ?? new DebugLog();
    this.strace = o.strace ?? false;
    if (this.strace) this.log.straceToStderr = true;
    this.net = o.net ?? new Net();
    this.net.armDeadline = () => this.addDeadline(this.net);
    this.unixNames = this.net.unix;
    this.resources = new ResourceControl(this, o.limits ?? noLimits());
    this.cgroups.host = this.#cgroupHost();
    connectCgroups(this.bpf, this.cgroups);
  }

  /** The kernel as the cgroup hierarchy sees it. */
  #cgroupHost(): CgroupHost {
    const tgOf = (m: CgroupMember) => m as unknown as ThreadGroup;
    return {
      callerProcess: () => {
        const t = this.current;
        if (t === null) throw ESRCH;
        return t.tg;
      },
      // Ids as the calling task's PID namespace numbers them (cgroup_procs_show's task_pid_vnr).
      threadIds: (m) => [...tgOf(m).tasks].map((t) => this.current?.vnr(t.tid) ?? t.tid),
      pidOf: (m) => this.current?.vnr(tgOf(m).tgid) ?? tgOf(m).tgid,
      process: (pid) => {
        const c = this.current;
        const id = c === null ? pid : c.pidNs.global(pid);
        if (id === undefined) return null;
        return this.tasks.get(id)?.tg ?? this.threadGroups.get(id) ?? null;
      },
      processes: () => this.threadGroups.values(),
      callerNs: () => this.current?.cgroupNs ?? null,
      kill: (m) => void this.sendSignal(tgOf(m), 9, { code: 0x80 /* SI_KERNEL */ }),
      cpuNs: (m) => groupCpu(tgOf(m)),
      taskCount: (m) => (m.zombie ? 1 : tgOf(m).tasks.size),
      memoryBytes: (m) => {
        const tg = tgOf(m);
        if (tg.zombie || tg.tasks.size === 0) return 0;
        try {
          return tg.mm.as.rssKb() * 1024;
        } catch {
          return 0;
        }
      },
    };
  }

  static create(o: KernelOptions): Kernel {
    return new Kernel(o);
  }

  allocTid(): number {
    return this.#nextTid++;
  }

  /**
   * The ids of a new task made in PID namespace `ns`: a global id (the return), and a number
   * in `ns` and each namespace above it (kernel/pid_namespace.ts). The caller checked
   * ns.mayAdd().
   */
  allocIds(ns: PidNamespace): number {
    const id = this.allocTid();
    if (ns.parent === null) return id;
    for (let n: PidNamespace = ns; n.parent !== null; n = n.parent) n.assign(id, PID_MAX_LIMIT);
    this.#nestedIds.set(id, ns);
    return id;
  }

  /**
   * Global id `id` no longer names a task or a process: its numbers in nested PID namespaces
   * are free again, unless a process group or session still bears it (then they stay, so the
   * group keeps its number: Linux's struct pid lives while a task refers to it).
   */
  #releaseId(id: number): void {
    const ns = this.#nestedIds.get(id);
    if (ns === undefined || this.tasks.has(id) || this.threadGroups.has(id)) return;
    for (const g of this.threadGroups.values()) if (g.pgid === id || g.sid === id) return;
    this.#nestedIds.delete(id);
    for (let n: PidNamespace = ns; n.parent !== null; n = n.parent) n.release(id);
  }

  /**
   * Whether a PID namespace other than the sandbox's first is in use: a task or process has an
   * id in one, or a task's children would be made in one (a checkpoint refuses then).
   */
  get nestedPidNamespaces(): boolean {
    if (this.#nestedIds.size > 0) return true;
    for (const t of this.tasks.values()) if (t.pidNsForChildren.parent !== null) return true;
    return false;
  }

  /** /proc/sys/kernel/ns_last_pid of the first PID namespace: the next id is last + 1 (never lower). */
  skipTids(last: number): void {
    if (last + 1 > this.#nextTid) this.#nextTid = last + 1;
  }

  /** The last thread id handed out (/proc/loadavg, /proc/stat). */
  get lastTid(): number {
    return this.#nextTid - 1;
  }

  /**
   * Creates the init process (PID 1) running argv, with the sentry's own stdin, stdout and
   * stderr. Throws a LinuxError when the executable cannot be found or loaded.
   */
  createInit(o: InitOptions): void {
    if (this.#init) throw new SentryBugError("Cannot create init: it already exists");
    const limits = Limits.defaults();
    for (const [r, v] of o.rlimits ?? []) limits.set(r, v);
    const stdio = o.stdio ?? this.sentryStdio();
    this.initStdio = stdio;
    this.#init = this.createProcess({ ...o, limits, stdio });
    // Init starts in the session and process group of whoever started the sandbox, outside it:
    // ids the sandbox shows as 0, as a container's init without a terminal sees its runtime's
    // (getsid and getpgrp are 0 inside a new PID namespace), so init may setsid(2) or join a
    // group of its own. A terminal attached to it makes it a session leader (attachConsole).
    this.#init.pgid = this.#init.sid = 0;
    const nice = o.nice ?? 0;
    if (Number.isInteger(nice) && nice >= -20 && nice <= 19) for (const t of this.#init.tasks) t.nice = nice;
  }

  /**
   * New descriptions of the sentry's own stdin, stdout and stderr, the output counted against
   * the sandbox's output limit (init's stdio, and a restored sandbox's).
   */
  sentryStdio(): readonly [FileDescription, FileDescription, FileDescription] {
    const r = this.resources;
    return [
      this.vfs.hostStdio(0),
      this.vfs.hostStdio(1, { admit: (n) => r.admitOutput(n), wrote: (n, cut) => r.wroteOutput(1, n, cut) }),
      this.vfs.hostStdio(2, { admit: (n) => r.admitOutput(n), wrote: (n, cut) => r.wroteOutput(2, n, cut) }),
    ] as const;
  }

  /**
   * Creates a process with no parent in the sandbox (init, or a process started in a running
   * sandbox: kernel/control.ts) in a new session and process group of its own, queued to run.
   * It takes the caller's references to `stdio` (descriptors 0, 1 and 2; the same description
   * may come more than once, one reference each), whatever the outcome. Throws a LinuxError
   * when the executable cannot be found (ENOENT, EACCES for a name found in PATH only without
   * execute permission) or loaded (its errno); a broken image that fails past the point of no
   * return kills the process with SIGSEGV once it runs, as execve does on Linux.
   */
  createProcess(o: ProcessOptions): ThreadGroup {
    const stdio = [...o.stdio];
    try {
      const root = this.vfs.root();
      const pathCtx = { root, creds: o.creds };
      const cwd = this.vfs.lookupDir(pathCtx, root, o.cwd);
      const fs = new FsContext(root, cwd, o.umask ?? 0o022);
      const limits = o.limits;
      const fdTable = new FdTable();
      fdTable.limit = limits.soft(RLIMIT_NOFILE);
      const exe = o.executable ?? o.argv[0];
      if (exe === undefined) throw ENOENT;
      const path = resolveExecutable(this.vfs, pathCtx, o.cwd, exe, o.envp);

      const ctx = this.platform.newAddressSpace();
      try {
        const mm = new MemoryManager(ctx.addressSpace);
        const tid = this.allocTid();
        const tg = new ThreadGroup({
          tgid: tid, mm, parent: null, limits, handlers: new SignalHandlers(), pgid: tid, sid: tid,
        });
        const t = new Task({ kernel: this, tid, tg, ctx, fdTable, fs, creds: o.creds, name: "init" });
        t.noNewPrivs = o.noNewPrivs ?? false; // before the exec, whose set-id bits it disarms
        let killedBySeccomp = false;
        if (o.seccomp !== undefined) {
          // runc installs the filter right before its execve of the program, so that execve
          // is the first call the filter judges: refused, the container does not start.
          const verdict = execveVerdict(o.seccomp);
          if (typeof verdict === "number") throw errnoFromNumber(verdict);
          if (verdict === "kill") killedBySeccomp = true;
          // Set without no_new_privs, as runc installs it while it still holds CAP_SYS_ADMIN
          // when process.noNewPrivileges is false: the filter does not imply the flag.
          t.seccomp = { mode: SECCOMP_MODE_FILTER, filters: [o.seccomp] };
        }
        try {
          const target: { mm: MemoryManager; ctx: typeof ctx; creds?: Credentials } = { mm, ctx };
          loadExecutable(t, { path, argv: o.argv, envp: o.envp }, target);
          if (target.creds !== undefined) t.creds = target.creds; // set-id bits, capabilities
        } catch (e) {
          // A broken image kills the process with SIGSEGV once it starts, as on Linux.
          if (!(e instanceof ExecFatalError)) throw e;
          t.tg.faultInfo = null;
          t.pendingSignals.add({ signo: 11, code: 0x80 });
          t.tg.handlers.set(11, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
        }
        if (killedBySeccomp) {
          // Its execve was killed: SIGSYS before the program's first instruction.
          t.pendingSignals.add({ signo: 31, code: 1 /* SYS_SECCOMP */, syscall: 59, arch: AUDIT_ARCH_X86_64 });
          t.tg.handlers.set(31, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
        }
        for (const fd of [0, 1, 2]) fdTable.installAt(fd, stdio[fd]!, false);
        stdio.length = 0;
        tg.tasks.add(t);
        this.armCpuLimit(tg);
        this.addTask(t);
        this.resources.activity?.processExec(tg, path, o.argv);
        return tg;
      } catch (e) {
        ctx.addressSpace.release();
        throw e;
      }
    } finally {
      for (const f of stdio) f.decRef();
    }
  }

  /** The init process (PID 1), once created; it stays here as a zombie after it exits. */
  get init(): ThreadGroup | null {
    return this.#init;
  }

  /** Registers a new task (from createInit or clone) and queues it to run. */
  addTask(t: Task): void {
    this.tasks.set(t.tid, t);
    this.threadGroups.set(t.tg.tgid, t.tg);
    this.#byCtx.set(t.ctx, t);
    t.state = "runnable";
    this.#runQueue.push(t);
    this.resources.taskAdded();
    if (t.tid === t.tg.tgid) this.resources.activity?.processStarted(t.tg);
    this.#kick(); // a process started from outside (control.ts) finds the loop asleep
  }

  /** True once the run is over: init exited or the kernel was shut down. */
  get ended(): boolean {
    return this.#initStatus !== null || this.#shutdown;
  }

  /**
   * --cpus (kernel/resources.ts): no task enters user mode before untilNs (monotonic); those
   * in user mode now are stopped. Timers, I/O and signals go on meanwhile.
   */
  throttle(untilNs: number): void {
    if (untilNs <= this.#throttledUntil) return;
    this.#throttledUntil = untilNs;
    this.#unthrottle.deadlineNs = untilNs;
    this.addDeadline(this.#unthrottle);
    for (const t of this.tasks.values()) if (t.state === "user") t.ctx.interrupt();
  }

  #endThrottle(): void {
    this.#throttledUntil = 0;
    this.#unthrottle.deadlineNs = null;
    for (const t of this.#throttled.splice(0)) if (t.state === "runnable") this.#runQueue.push(t);
  }

  /**
   * For execve: t now runs on ctx (a fresh address space). The caller has accounted for the
   * old host thread's CPU time (task_exec.ts).
   */
  replaceContext(t: Task, ctx: Context): void {
    // execve deletes the process's POSIX timers (interval timers survive it) and releases the
    // robust futexes the old image held (the old address space is still t's here).
    this.deletePosixTimers(t.tg);
    exitRobustList(t);
    this.#byCtx.delete(t.ctx);
    t.ctx = ctx;
    this.#byCtx.set(ctx, t);
  }

  /**
   * execve's de_thread, its first half (Linux's zap_other_threads): every other thread of t's
   * group dies, as of a SIGKILL whose exit status is 0. A traced one with PTRACE_O_TRACEEXIT
   * stops for its tracer first (PTRACE_EVENT_EXIT, message 0), and dies once resumed; one
   * already in that stop is left to it.
   */
  killOtherThreads(t: Task): void {
    for (const other of [...t.tg.tasks]) {
      if (other !== t && other.exitStop === null) this.#exitTask(other, false, 0);
    }
  }

  /**
   * Whether de_thread may go on: t is the only thread of its group, and no traced thread of
   * the group that died is still a zombie its tracer has to wait for (Linux counts those in
   * notify_count until release_task; the leader, whose zombie Linux keeps, is never one here).
   */
  otherThreadsGone(t: Task): boolean {
    return t.tg.tasks.size === 1 && !tracedThreadZombies(this, t.tg, t);
  }

  /**
   * de_thread's end: t, alone in its group, becomes the leader: it takes the process id as its
   * thread id (getpid() == gettid() in the new image, /proc/PID/task lists PID alone). Its own
   * id is free again. The old leader went without a report to anyone.
   */
  takeLeaderId(t: Task): void {
    if (t.tid === t.tg.tgid) return;
    dropOldLeader(this, t.tg, t);
    const old = t.tid;
    this.tasks.delete(old);
    t.tid = t.tg.tgid;
    this.tasks.set(t.tid, t);
    this.#releaseId(old);
  }

  /** A vfork child exec'd or exited: its parent may go on. */
  vforkDone(tg: ThreadGroup): void {
    if (!tg.vforkPending) return;
    tg.vforkPending = false;
    tg.vforkDone.notify(1);
  }

  /**
   * Removes a zombie for good (wait reaped it, or the sentry did: a process without a parent in
   * the sandbox); its CPU times go to the parent, or to {@linkcode reapedCpu} (also when charge
   * is false: a child reaped without being waited for).
   */
  reap(tg: ThreadGroup, charge = true): void {
    if (tg.parent && charge) chargeReapedChild(tg.parent, tg);
    else {
      this.reapedCpu.userNs += tg.userNs + tg.childUserNs;
      this.reapedCpu.sysNs += tg.sysNs + tg.childSysNs;
    }
    tg.parent?.children.delete(tg);
    this.cgroups.reaped(tg);
    this.threadGroups.delete(tg.tgid);
    this.#releaseId(tg.tgid);
    // The last member of a group or session whose leader went first lets its id go.
    if (tg.pgid !== tg.tgid) this.#releaseId(tg.pgid);
    if (tg.sid !== tg.tgid && tg.sid !== tg.pgid) this.#releaseId(tg.sid);
  }

  addTimer(tm: KernelTimer): void {
    this.#timers.add(tm);
    this.#kick(); // a sleeping loop must notice the new deadline
  }

  /** Wakes the scheduler loop if it sleeps in #idle. */
  /**
   * Runs fn between two kernel steps, at the loop's next turn: for work a wake-up asks for that
   * must not run inside the waker's notify (an io_uring request whose file became ready).
   */
  defer(fn: () => void): void {
    this.#deferred.push(fn);
    this.#kick();
  }

  #kick(): void {
    const wake = this.#idleWake;
    this.#idleWake = null;
    wake?.();
  }

  /**
   * A new network namespace (unshare or clone with CLONE_NEWNET), owned by user namespace
   * `owner`: a stack of its own with only a loopback interface, down, driven by the scheduler
   * like the sandbox's first one. It never reaches the host (no --network link, no --publish)
   * and lives while a task, socket or nsfs file holds it.
   */
  newNetNamespace(owner: UserNamespace): Net {
    const net = new Net({ namespaceIno: this.nsInodes.next() });
    net.owner = owner;
    net.armDeadline = () => this.addDeadline(net);
    // devconf_inherit_init_net 0: IPv4's conf/default comes from the first namespace, and the
    // new lo's conf from that default.
    net.sysctl.defaultTag = net.sysctl.loTag = this.net.sysctl.defaultTag;
    // A namespace made in the sandbox starts with Linux's own "1 0" (no group may make ping
    // sockets); only the first one has the runtime's wider default (Net.sysctl).
    net.sysctl.pingGroupLow = 1;
    net.sysctl.pingGroupHigh = 0;
    return net;
  }

  /** Starts watching d's deadline (see DeadlineTarget); idempotent. */
  addDeadline(d: DeadlineTarget): void {
    this.#deadlineTargets.add(d);
    this.#kick();
  }

  removeDeadline(d: DeadlineTarget): void {
    this.#deadlineTargets.delete(d);
  }

  removeTimer(tm: KernelTimer): void {
    this.#timers.delete(tm);
  }

  addCpuTimer(tm: CpuTimer): void {
    this.#cpuTimers.add(tm);
    // #runningThread's baseline: what each thread ran before the timer was armed does not count
    // (a thread made later ran only since).
    if (tm.clock.thread === null) for (const t of tm.clock.group.tasks) this.#cpuSeen.set(t, cpuClockNs({ ...tm.clock, thread: t }));
  }

  removeCpuTimer(tm: CpuTimer): void {
    this.#cpuTimers.delete(tm);
  }

  /**
   * A timer expired (1 + overruns times since it was last looked at): signals its target. A
   * POSIX timer queues at most one signal; further expirations count as overruns.
   */
  #fireTimer(tm: TimerTarget, overruns: number, running: Task | null = null): void {
    const p = tm.posix;
    const thread = tm.thread && tm.thread.state !== "dead" ? tm.thread : null;
    if (!p) {
      this.sendSignal(tm.tg, tm.signo, { code: tm.code }, thread, running);
      return;
    }
    if (p.notify === SIGEV_NONE) return;
    if (p.queued) {
      p.overrun = Math.min(DELAYTIMER_MAX, p.overrun + 1 + overruns);
      return;
    }
    p.overrun = Math.min(DELAYTIMER_MAX, overruns);
    p.queued = this.sendSignal(
      tm.tg, tm.signo, { code: tm.code, timerId: p.id, timerSeq: p.seq, overrun: 0, value: p.value }, thread, running,
    );
  }

  /** Checks the CPU-time timers against the host's accounting; fires the expired ones. */
  #sampleCpuTimers(now: number): void {
    this.#lastCpuSample = now;
    for (const tm of [...this.#cpuTimers]) {
      if (tm.tg.exitStatus !== null || (tm.clock.thread && tm.clock.thread.state === "dead")) {
        this.#cpuTimers.delete(tm);
        continue;
      }
      const cur = cpuClockNs(tm.clock);
      if (cur < tm.expiresNs) continue;
      let n = 1;
      if (tm.intervalNs > 0) {
        n += Math.floor((cur - tm.expiresNs) / tm.intervalNs);
        tm.expiresNs += n * tm.intervalNs;
      } else {
        this.#cpuTimers.delete(tm);
        if (tm.tg.itimerVirtual === tm) tm.tg.itimerVirtual = null;
        if (tm.tg.itimerProf === tm) tm.tg.itimerProf = null;
        tm.tg.cpuLimitTimers = tm.tg.cpuLimitTimers.filter((x) => x !== tm);
        if (tm.posix) tm.posix.cpu = null;
      }
      this.#fireTimer(tm, n - 1, tm.clock.thread === null ? this.#runningThread(tm.clock) : null);
    }
  }

  /**
   * The thread of a process CPU clock's group that ran the most since the last look: where
   * Linux's tick finds a process CPU timer expired, and sends its signal (ITIMER_PROF,
   * ITIMER_VIRTUAL, RLIMIT_CPU, a process CPU-time POSIX timer) to the running thread first.
   * Null when none ran.
   */
  #runningThread(clock: CpuClock): Task | null {
    let best: Task | null = null, most = 0;
    for (const t of clock.group.tasks) {
      const now = cpuClockNs({ ...clock, thread: t });
      const ran = now - (this.#cpuSeen.get(t) ?? 0);
      this.#cpuSeen.set(t, now);
      // A thread that ran and then ended cannot take it: the one that ran most of the others.
      if (ran > most && t.state !== "dead") {
        most = ran;
        best = t;
      }
    }
    return best;
  }

  /**
   * (Re)arms RLIMIT_CPU for tg (at setrlimit, fork and init's creation), as Linux's
   * posix-cpu-timers do: SIGXCPU when the process's CPU time reaches the soft limit and every
   * second after, SIGKILL at the hard limit. Sampled like every CPU-time timer (timers.ts).
   */
  armCpuLimit(tg: ThreadGroup): void {
    for (const tm of tg.cpuLimitTimers) this.removeCpuTimer(tm);
    tg.cpuLimitTimers = [];
    const { cur, max } = tg.limits.get(RLIMIT_CPU);
    const clock = { kind: "prof" as const, thread: null, group: tg };
    // A limit of 0 arms nothing, as in Linux (update_rlimit_cpu: a zero expiry is "disarmed").
    const arm = (seconds: bigint, signo: number, intervalNs: number) => {
      if (seconds === 0n || seconds >= RLIM_INFINITY || seconds > BigInt(Number.MAX_SAFE_INTEGER) / 1_000_000_000n) return;
      const tm: CpuTimer = {
        clock, expiresNs: Number(seconds) * 1e9, intervalNs, tg, signo, code: 0x80 /* SI_KERNEL */,
      };
      tg.cpuLimitTimers.push(tm);
      this.addCpuTimer(tm);
    };
    arm(cur, 24 /* SIGXCPU */, 1e9);
    arm(max, 9 /* SIGKILL */, 0);
  }

  /** Deletes every POSIX timer of tg (timer_delete of each; at execve and exit). */
  deletePosixTimers(tg: ThreadGroup): void {
    for (const p of tg.posixTimers.values()) {
      if (p.wall) this.removeTimer(p.wall);
      if (p.cpu) this.removeCpuTimer(p.cpu);
    }
    tg.posixTimers.clear();
  }

  /**
   * Puts t, stopped by a fault in user mode (not in a syscall), to sleep on q: woken, it runs
   * the faulting instruction again (kernel/userfaultfd.ts). A signal wakes it as any sleep.
   */
  sleepInFault(t: Task, q: WaitQueue): void {
    t.state = "blocked";
    t.lastBlockRestart = "sys";
    t.blocked = { queues: [q], mask: EVENT_IN, deadlineNs: null, restart: "sys" };
    q.register(t, EVENT_IN);
    if (deliverableSet(t) !== 0n || t.tg.groupStop !== null) {
      t.interrupted = true;
      this.wakeTask(t);
    }
  }

  /** Makes a blocked task runnable; its syscall runs again. Safe from any callback. */
  wakeTask(t: Task): void {
    if (t.state !== "blocked") return;
    const b = t.blocked;
    if (b) for (const q of b.queues) q.unregister(t);
    t.blocked = null;
    this.#timed.delete(t);
    t.state = "runnable";
    if (t.rseq !== null) t.rseqResume = true; // it slept: as descheduled
    this.#runQueue.push(t);
    this.#kick();
  }

  /**
   * Makes a task stopped by job control runnable again (SIGCONT); see job_control.ts. When
   * another process's kill did it, the task runs only after that process's next stop, as on
   * Linux (so waitpid(WCONTINUED) right after kill(SIGCONT) sees the continue, not an exit).
   */
  resumeStoppedTask(t: Task): void {
    if (t.state !== "stopped") return;
    t.state = "runnable";
    if (t.rseq !== null) t.rseqResume = true;
    // A task stopped inside a syscall looks at its pending signals before running it again.
    if (t.inSyscall) t.interrupted = true;
    const queue = () => {
      if (t.state !== "runnable" || this.#runQueue.includes(t)) return;
      this.#runQueue.push(t);
      this.#kick();
    };
    if (!this.holdForWaker(t.tg, queue)) queue();
  }

  /**
   * Holds `run` (a wake-up or a kill another process's syscall caused in `target`) until the
   * caller's next stop is handled. Linux does not hand the CPU to a task it wakes before the
   * waker's next system call, and a fatal signal ends its target only when the target next
   * runs: so, natively, the waker's next call (waitpid, wait4 WNOHANG) sees the target as it was
   * left, not already exited. Returns false (run it now) outside a syscall or within one process.
   * Released also when the waker dies, when a slice passes with no stop (it computes in user
   * mode), when no task is in user mode, and before a pause.
   */
  holdForWaker(target: ThreadGroup, run: () => void, fatal = false): boolean {
    const w = this.current;
    if (w === null || w.tg === target) return false;
    this.#held.push({ waker: w, run, target, fatal });
    return true;
  }

  /**
   * Whether a kill of tg is held (holdForWaker with `fatal`): tg is as good as dead, and may not
   * create processes meanwhile. Linux's copy_process refuses a fork while a fatal signal is
   * pending; without this, a process forking when kill(-1, SIGKILL) was sent left a child
   * that the kill never reached (found by the fuzzer).
   */
  fatalHeld(tg: ThreadGroup): boolean {
    return this.#held.length > 0 && this.#held.some((h) => h.fatal && h.target === tg);
  }

  /** Removes and returns what was held for waker (everything when null). */
  #takeHeld(waker: Task | null): { waker: Task; run: () => void; target: ThreadGroup; fatal: boolean }[] {
    if (this.#held.length === 0) return [];
    if (waker === null) return this.#held.splice(0);
    const go = [];
    for (let i = 0; i < this.#held.length;) {
      if (this.#held[i]!.waker === waker) go.push(...this.#held.splice(i, 1));
      else i++;
    }
    return go;
  }

  /** Runs what was held for waker (all held when null). */
  #releaseHeld(waker: Task | null): void {
    for (const h of this.#takeHeld(waker)) h.run();
  }

  /**
   * @nosave Where signals from the user go when a terminal is attached: returns the foreground
   * process group of the sandbox's controlling terminal, or null (then init gets them). Set by
   * the terminal code; null while there is no terminal.
   */
  foregroundProcessGroup: (() => number | null) | null = null;

  /**
   * Delivers a signal from outside the sandbox (the user's Ctrl-C, SIGTERM, a resized window) as
   * runsc does: to the terminal's foreground process group when there is one, else to init.
   * The sender is the kernel (SI_KERNEL), so init's protection rules do not apply.
   */
  signalFromUser(signo: number): void {
    const pgid = this.foregroundProcessGroup?.() ?? null;
    if (pgid !== null && this.signalProcessGroup(pgid, signo) > 0) return;
    const init = this.#init;
    if (!init || init.exitStatus !== null) return;
    this.sendSignal(init, signo, { code: 0x80 /* SI_KERNEL */ });
  }

  /**
   * Job control for terminals (kernel/job_control.ts): sends signo from the kernel (SI_KERNEL)
   * to every process of group pgid, e.g. SIGINT for ^C, SIGTSTP for ^Z, SIGTTIN/SIGTTOU to a
   * background group. Returns how many processes it reached (0: no such group).
   */
  signalProcessGroup(pgid: number, signo: number): number {
    return signalProcessGroupOf(this, pgid, signo, { code: 0x80 /* SI_KERNEL */ });
  }

  /**
   * True when process group pgid is orphaned: no member has a parent in another group of the
   * same session. A terminal refuses background reads/writes of an orphaned group with EIO
   * instead of stopping it (which nobody could undo).
   */
  isOrphanedProcessGroup(pgid: number): boolean {
    return isOrphanedPgrp(this, pgid);
  }

  /** True when a live process belongs to process group pgid (TIOCSPGRP's check). */
  processGroupExists(pgid: number): boolean {
    return pgrpExists(this, pgid);
  }

  /**
   * Runs the sandbox until init exits. Returns init's wait status (exit code << 8, or the
   * signal number with 0x80 when it dumped core).
   */
  async run(): Promise<number> {
    // On the monotonic clock, so that the loop reads the clock once per turn (`now`).
    const lastYield = monotonicNs();
    this.resources.start();
    try {
      return await this.#loop(lastYield);
    } finally {
      this.#yield.close();
      this.resources.finish();
    }
  }

  async #loop(lastYield: number): Promise<number> {
    while (this.#initStatus === null && !this.#shutdown) {
      if (this.#paused) {
        await this.#whilePaused();
        lastYield = monotonicNs();
        continue;
      }
      while (this.#parked.length > 0 && this.#initStatus === null) {
        const { t, reason } = this.#parked.shift()!;
        if (t.state !== "dead") this.#handleStop(t, reason);
      }
      while (this.#runQueue.length > 0 && this.#initStatus === null) this.#step(this.#runQueue.shift()!);
      if (this.#deferred.length > 0) {
        for (const fn of this.#deferred.splice(0)) fn();
        continue;
      }
      if (this.#initStatus !== null) break;
      if (this.#held.length > 0 && this.#running === 0) {
        this.#releaseHeld(null);
        continue;
      }
      const now = monotonicNs();
      if (this.#running > 0 && now - this.#rseqTickAt >= RSEQ_TICK_NS) {
        this.#rseqTickAt = now;
        rseqTick(this.tasks.values());
      }
      const next = this.#expireDeadlines(now);
      if (this.#runQueue.length > 0 || this.#initStatus !== null) continue;
      if (now - lastYield > YIELD_AFTER_MS * 1e6) {
        await this.#yield.next();
        lastYield = monotonicNs();
        continue;
      }
      if (this.#running > 0) {
        const timeout = next === null ? SLICE_NS : Math.max(1000, Math.min(SLICE_NS, next - now));
        const stop = this.platform.waitStop(timeout, this.#running > 1);
        if (stop) {
          const t = this.#byCtx.get(stop.ctx);
          if (!t) continue;
          this.#running--;
          t.state = "runnable";
          // What t's last syscall held runs after this stop is handled, not before.
          const held = this.#takeHeld(t);
          this.#handleStop(t, stop.reason);
          for (const h of held) h.run();
        } else {
          this.#releaseHeld(null);
          await this.#yield.next();
          lastYield = monotonicNs();
        }
      } else {
        await this.#idle(next === null ? null : next - now);
        lastYield = monotonicNs();
      }
    }
    return this.#initStatus ?? 0;
  }

  /**
   * Pauses the sandbox, as `runsc pause` (and the first step of a checkpoint): every task stops
   * at the kernel's safe point, between two kernel steps, and stays there until
   * {@linkcode resume}. A task in user mode is interrupted (PTRACE_INTERRUPT) and its stop is
   * kept as data, not handled: a syscall it entered runs only after the resume. Sleeping and
   * job-control-stopped tasks stay as they are; tasks woken meanwhile wait on the run queue.
   * No deadline is looked at while paused: the clocks go on (CLOCK_REALTIME and
   * CLOCK_MONOTONIC), and timers, sleeps and timeouts that expired meanwhile fire at the
   * resume, as in runsc. Signals may still be sent: a fatal one kills at once (a paused
   * container can be killed), others wait to be delivered at the resume.
   *
   * Synchronous: returns once no task is in user mode, or after about 2 s with some still on
   * their way out (the loop collects those; {@linkcode quiescent} tells). Call it between
   * kernel steps (from an event-loop callback, as every control request); it collects the
   * stops itself, the one caller of platform.waitStop besides the loop. Idempotent.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    for (const t of this.tasks.values()) if (t.state === "user") t.ctx.interrupt();
    const deadline = monotonicNs() + PAUSE_COLLECT_NS;
    while (this.#running > 0) {
      const now = monotonicNs();
      if (now >= deadline) break;
      const stop = this.platform.waitStop(Math.min(SLICE_NS, deadline - now));
      if (stop) this.#parkStop(stop);
    }
    this.#kick();
  }

  /**
   * Undoes {@linkcode pause}: the kept stops are handled in order, then the run queue, then
   * the deadlines that passed meanwhile. Idempotent.
   */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#kick();
  }

  /** True while paused (between {@linkcode pause} and {@linkcode resume}). */
  get paused(): boolean {
    return this.#paused;
  }

  /** True while paused with every task out of user mode: each is registers plus data. */
  get quiescent(): boolean {
    return this.#paused && this.#running === 0;
  }

  /**
   * Why each task collected by pause() stopped, not yet handled (for a checkpoint: a task parked
   * at a syscall stop has its syscall still to run).
   */
  parkedStops(): ReadonlyMap<Task, StopReason> {
    return new Map(this.#parked.map(({ t, reason }) => [t, reason]));
  }

  /**
   * Makes the thread groups rebuilt from a checkpoint image (kernel/checkpoint/) this kernel's
   * processes, `init` its init, with tids handed out from nextTid on, and queues their tasks.
   * The kernel must have no process yet.
   */
  adoptRestored(init: ThreadGroup, groups: readonly ThreadGroup[], nextTid: number): void {
    if (this.#init || this.threadGroups.size > 0) throw new SentryBugError("Cannot restore: the kernel has processes");
    this.#init = init;
    this.#nextTid = Math.max(this.#nextTid, nextTid);
    for (const tg of groups) this.threadGroups.set(tg.tgid, tg);
    for (const tg of groups) for (const t of tg.tasks) this.addTask(t);
  }

  /** Keeps a stop collected while paused, for the resume. A dead thread is handled at once. */
  #parkStop(stop: Stop): void {
    const t = this.#byCtx.get(stop.ctx);
    if (!t) return;
    this.#running--;
    t.state = "runnable";
    if (stop.reason.kind === "gone") this.#handleStop(t, stop.reason);
    else this.#parked.push({ t, reason: stop.reason });
  }

  /**
   * One turn of the loop while paused: collects the stops of tasks still on their way out of
   * user mode, then sleeps without a deadline (no CPU used) until resume() or shutdown kicks.
   */
  async #whilePaused(): Promise<void> {
    this.#releaseHeld(null);
    if (this.#running > 0) {
      const stop = this.platform.waitStop(SLICE_NS);
      if (stop) this.#parkStop(stop);
      else await this.#yield.next();
      return;
    }
    await this.#idle(null);
  }

  /** Sleeps until wakeTask() or the deadline (ns from now). Precondition: no task in user mode. */
  #idle(timeoutNs: number | null): Promise<void> {
    this.platform.idle();
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
    if (this.#cpuTimers.size > 0 && now - this.#lastCpuSample >= CPU_SAMPLE_NS) this.#sampleCpuTimers(now);
    if (this.#timed.size === 0 && this.#timers.size === 0 && this.#deadlineTargets.size === 0) return null;
    let next: number | null = null;
    for (const d of [...this.#deadlineTargets]) {
      // deadlineNs may be computed (Net's reads the clock and asks the stack): read it once,
      // and again only after expire() moved it. This runs after every stop.
      let dl = d.deadlineNs;
      if (dl !== null && dl <= now) {
        d.expire(now);
        dl = d.deadlineNs;
      }
      if (dl === null) this.#deadlineTargets.delete(d);
      else if (next === null || dl < next) next = dl;
    }
    for (const tm of [...this.#timers]) {
      if (tm.deadlineNs <= now) {
        let n = 1;
        if (tm.intervalNs > 0) {
          n += Math.floor((now - tm.deadlineNs) / tm.intervalNs);
          tm.deadlineNs += n * tm.intervalNs;
        } else {
          this.#timers.delete(tm);
          if (tm.tg.itimerReal === tm) tm.tg.itimerReal = null;
          if (tm.posix) tm.posix.wall = null;
        }
        this.#fireTimer(tm, n - 1);
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
    if (t.exitPending !== null) {
      // Killed in user mode with an exit stop due: whatever stopped it, the exit comes first.
      const st = t.exitPending;
      t.exitPending = null;
      this.#exitTask(t, false, st, reason.kind !== "gone");
      return;
    }
    switch (reason.kind) {
      case "syscall":
        t.inSyscall = true;
        this.#step(t);
        return;
      case "fault": {
        if (t.rseq !== null) t.rseqResume = true;
        this.log.debug(
          `${t} ${SIGNAL_NAMES[reason.signo]} at 0x${reason.addr.toString(16)} (code ${reason.code}), ` +
            `rip 0x${t.ctx.regs.get("rip").toString(16)}`,
        );
        // A page whose rights the host withholds for the kernel (userfaultfd, guard and poisoned
        // pages: kernel/userfaultfd_hooks.ts): tried again, asleep in a userfaultfd, or a signal.
        if (reason.signo === SIGSEGV && t.mm.withholding) {
          const w = withheldFault(t, reason.addr);
          if (w === "slept") return;
          if (w === "retry") {
            this.#step(t);
            return;
          }
          if (w !== null) reason = { kind: "fault", signo: w.signo, code: w.code, addr: reason.addr };
        }
        // An access the host refused only because its protection lags behind the application's
        // (the platform's lazy mprotect): tried again once the host has caught up.
        if (reason.signo === SIGSEGV && reason.code === SEGV_ACCERR && t.mm.as.catchUpProtection?.(t.ctx, reason.addr)) {
          this.#step(t);
          return;
        }
        // A fault just below a MAP_GROWSDOWN mapping grows it (Linux's stack expansion).
        if (
          reason.signo === SIGSEGV && reason.code === SEGV_MAPERR &&
          t.mm.growDown(t.ctx, reason.addr, t.tg.limits.soft(RLIMIT_STACK), t.tg.limits.soft(RLIMIT_AS))
        ) {
          this.#step(t);
          return;
        }
        // A debug trap (single step, or a hardware breakpoint: TRAP_TRACE, TRAP_HWBKPT) sets DR6.
        if (reason.signo === SIGTRAP && (reason.code === 2 || reason.code === 4)) noteDebugTrap(t);
        t.tg.faultInfo = { signo: reason.signo, addr: reason.addr };
        // A fault the thread blocks or ignores cannot be survived: Linux resets it to the
        // default action (force_sig_fault).
        const act = t.tg.handlers.get(reason.signo);
        const bit = 1n << BigInt(reason.signo - 1);
        if (t.ptrace !== null) {
          // The tracer sees the fault first (gdb stops there); what cannot be survived is made
          // deliverable with the default action first, as force_sig_fault does.
          if (disposition(reason.signo, act) === "ignore" || (t.sigmask & bit)) {
            t.sigmask &= ~bit;
            t.tg.handlers.set(reason.signo, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
          }
          t.pendingSignals.add({ signo: reason.signo, code: reason.code, addr: reason.addr });
          this.#step(t);
          return;
        }
        if (disposition(reason.signo, act) !== "handler" || (t.sigmask & bit)) {
          this.killGroup(t.tg, reason.signo);
          return;
        }
        t.pendingSignals.add({ signo: reason.signo, code: reason.code, addr: reason.addr });
        this.#step(t);
        return;
      }
      case "vsyscall":
        // Linux's emulate_vsyscall: the entry's syscall, under the task's seccomp filters (with
        // the entry as the instruction pointer), with no ptrace syscall stops; its result in rax
        // after the emulated `ret`. A bad pointer is SIGSEGV at the entry instead.
        t.inSyscall = true;
        if (!this.#syscall(t, true)) return;
        t.inSyscall = false;
        this.#step(t);
        return;
      case "gone":
        this.killGroup(t.tg, 9);
        return;
      case "interrupt":
        if (t.rseq !== null) t.rseqResume = true; // taken out of user mode: as preempted
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
    if (t.exitStop !== null) {
      // Out of its PTRACE_EVENT_EXIT stop: the exit goes on.
      this.#exitTask(t, false, t.exitStop);
      return;
    }
    const pt = t.ptrace;
    // A group stop under way: this thread takes its part before anything else (job_control.ts),
    // unless its tracer let it out of this one.
    if (t.tg.groupStop !== null && t.tg.exitStatus === null && (pt === null || pt.leftGroupStop !== t.tg.groupStop)) {
      stopTask(t);
      return;
    }
    // PTRACE_INTERRUPT (or a seized child's first stop): PTRACE_EVENT_STOP.
    if (pt !== null && pt.interrupt) {
      pt.interrupt = false;
      enterPtraceStop(t, { kind: "event", event: PTRACE_EVENT_STOP });
      return;
    }
    if (t.inSyscall && t.interrupted) {
      this.#interruptSyscall(t);
      if (t.state !== "runnable") return; // stopped or killed by a default action
    }
    if (t.inSyscall) {
      // PTRACE_SYSCALL: the tracer sees the syscall before it runs (once, not at each retry).
      if (pt !== null && pt.syscallStops && !pt.inSyscallEntry) {
        pt.inSyscallEntry = true;
        pt.emulated = pt.sysemu;
        enterPtraceStop(t, { kind: "syscall", entry: true });
        return;
      }
      if (pt !== null && pt.inSyscallEntry && pt.emulated) {
        // PTRACE_SYSEMU: the tracer emulated it; rax holds what it set (-ENOSYS otherwise).
        pt.inSyscallEntry = false;
        pt.emulated = false;
        t.inSyscall = false;
        if (this.strace) t.straceEntry = "";
        this.#step(t);
        return;
      }
      const done = this.#syscall(t);
      if (!done) {
        // A vfork that now waits for its child: the tracer sees the vfork event first, and the
        // wait runs again once it resumes the parent.
        const pv = t.ptrace;
        if (pv !== null && pv.pendingEvents.length > 0 && t.state === "blocked") {
          this.#unblock(t);
          pv.inSyscallEntry = true; // mid-syscall: no entry stop when the wait runs again
          const ev = pv.pendingEvents.shift()!;
          pv.eventMessage = ev.message;
          enterPtraceStop(t, { kind: "event", event: ev.event });
        }
        return; // blocked or exited
      }
      t.inSyscall = false;
      const pl = t.ptrace;
      if (pl !== null) {
        const entered = pl.inSyscallEntry;
        pl.inSyscallEntry = false;
        // The vfork's child let go of the memory: PTRACE_EVENT_VFORK_DONE.
        if (pl.vforkDoneFor !== 0) {
          pl.pendingEvents.push({ event: PTRACE_EVENT_VFORK_DONE, message: pl.vforkDoneFor });
          pl.vforkDoneFor = 0;
        }
        // A fork, clone or exec event, then the syscall-exit stop (Linux's order).
        const ev = pl.pendingEvents.shift();
        if (ev !== undefined) {
          pl.eventMessage = ev.message;
          // Its exit stop (or a further event) is still due: taken when it resumes.
          if (entered && pl.syscallStops) pl.inSyscallEntry = true;
          enterPtraceStop(t, { kind: "event", event: ev.event });
          return;
        }
        if (entered && pl.syscallStops) {
          enterPtraceStop(t, { kind: "syscall", entry: false });
          return;
        }
      }
    } else if (pt !== null && pt.pendingEvents.length > 0) {
      // Back from an event stop with another due (vfork's VFORK then VFORK_DONE).
      const ev = pt.pendingEvents.shift()!;
      pt.eventMessage = ev.message;
      enterPtraceStop(t, { kind: "event", event: ev.event });
      return;
    } else if (pt !== null && pt.inSyscallEntry && pt.syscallStops) {
      // Back from an event stop that came before the syscall-exit stop.
      pt.inSyscallEntry = false;
      enterPtraceStop(t, { kind: "syscall", entry: false });
      return;
    }
    // A sleep outside a syscall (a userfaultfd fault) leaves nothing for a syscall to see.
    if (!t.inSyscall) t.interrupted = false;
    if ((deliverableSet(t) !== 0n || t.ptrace?.inject != null) && !deliverSignals(t)) return;
    if ((t.state as Task["state"]) === "dead") return;
    // No handler was entered: an interrupted syscall of a traced task runs again.
    if (t.restartCode !== 0) settleRestart(t, null);
    if (t.rseqResume) {
      // After the signals, as Linux's exit_to_user_mode_loop: a bad rseq area forces a SIGSEGV,
      // delivered before the task runs.
      rseqNotifyResume(t);
      if (deliverableSet(t) !== 0n && !deliverSignals(t)) return;
      if ((t.state as Task["state"]) === "dead") return;
    }
    if (this.#throttledUntil !== 0) {
      if (monotonicNs() < this.#throttledUntil) {
        this.#throttled.push(t);
        return;
      }
      this.#endThrottle();
    }
    this.platform.resume(t.ctx, t.ptrace?.singleStep === true);
    t.state = "user";
    this.#running++;
  }

  /**
   * A signal woke t out of a blocked syscall. If the signal will run a handler, the syscall
   * ends: EINTR, or (SA_RESTART and a restartable sleep) it is set to run again after the
   * handler returns. A default action is taken here: terminate kills the group, stop stops t
   * inside the syscall (which runs again once continued, as Linux restarts it after a stop).
   * Otherwise the syscall simply runs again.
   */
  #interruptSyscall(t: Task): void {
    t.interrupted = false;
    // A killable sleep (vfork's wait) woken for any other reason simply runs again: its
    // syscall must not end in EINTR nor start over (clone would make a second child).
    if (t.lastBlockRestart === "killable") return;
    let signo = 0;
    let act = t.tg.handlers.get(1);
    for (let guard = 0; guard < 64; guard++) {
      const set = deliverableSet(t);
      if (set === 0n) return;
      signo = pickSignal(set);
      act = t.tg.handlers.get(signo);
      const d = disposition(signo, act);
      if (t.ptrace !== null && signo !== 9) {
        // The tracer sees the signal first (at delivery), and before it the syscall's exit
        // with -ERESTART* in rax; what that becomes is decided on the way out (restartCode).
        this.#endTracedSleep(t);
        return;
      }
      if (d === "handler") break;
      dequeueSignal(t, sigBit(signo));
      if (d === "terminate") {
        this.killGroup(t.tg, signo);
        return;
      }
      if (d === "stop" && initiateGroupStop(t, signo)) return;
    }
    if (disposition(signo, act) !== "handler") return;
    // A syscall that already made progress (a socket send or MSG_WAITALL receive) returns
    // that count instead of EINTR, and is not restarted.
    const partial = (t.syscallState as { partial?: number } | null)?.partial ?? 0;
    // A futex wait already woken, or a PI lock already handed over, has succeeded: it returns
    // 0 before the handler runs (Linux's futex_wait returns 0 once it was unqueued by a wake).
    const woken = futexWokenResult(t.syscallState);
    const done = woken !== null;
    const restart = !done && partial === 0 && t.lastBlockRestart === "sys" && (act.flags & SA_RESTART) !== 0;
    this.#cancelSleep(t);
    if (done) {
      t.ctx.setReturn(woken);
    } else if (partial > 0) {
      t.ctx.setReturn(partial);
    } else if (restart) {
      rewindSyscall(t);
    } else {
      // A sleep whose `rem` cannot be written fails with EFAULT (nanosleep_copyout).
      const remFaulted = !writeSleepRemainder(t) && (t.syscallState as { remFaults?: true } | null)?.remFaults === true;
      t.ctx.setReturn(remFaulted ? -EFAULT.errno : -EINTR.errno);
    }
    if (this.strace) {
      this.log.strace(straceExit(t, t.straceEntry, done ? 0 : partial > 0 ? partial : restart ? "? ERESTARTSYS" : -EINTR.errno, 0));
      t.straceEntry = "";
    }
    t.inSyscall = false;
    t.syscallState = null;
    t.releaseSyscallFiles();
  }

  /**
   * Runs t's seccomp filters (or strict mode) over the syscall at its stop: null when it may
   * run, else what it returns instead (-errno). A kill ends the process here (t is then dead).
   */
  #seccomp(t: Task, nr: number, arch = AUDIT_ARCH_X86_64): number | SyscallControl | null {
    const sc = t.seccomp!;
    if (sc.mode === SECCOMP_MODE_STRICT) {
      if ((arch === AUDIT_ARCH_I386 ? STRICT_IA32 : STRICT_SYSCALLS).has(nr)) return null;
      this.killGroup(t.tg, 9);
      return -ENOSYS.errno;
    }
    const info = t.ctx.syscall;
    const data = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
    data.setInt32(0, nr, true);
    data.setUint32(4, arch, true);
    data.setBigUint64(8, info.ip64, true);
    for (let i = 0; i < 6; i++) data.setBigUint64(16 + 8 * i, info.arg64(i), true);
    const ret = evaluateSeccomp(sc.filters, data);
    const value = ret & SECCOMP_RET_DATA;
    switch ((ret & SECCOMP_RET_ACTION_FULL) >>> 0) {
      case SECCOMP_RET_ALLOW:
      case SECCOMP_RET_LOG:
        return null;
      case SECCOMP_RET_ERRNO:
        return -Math.min(value, 4095);
      case SECCOMP_RET_TRAP: {
        // A forced SIGSYS (unblocked, default if ignored), as force_sig_seccomp.
        const bit = sigBit(31);
        t.sigmask &= ~bit;
        if (t.tg.handlers.get(31).handler === 1n) t.tg.handlers.set(31, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
        t.pendingSignals.add({ signo: 31, code: 1 /* SYS_SECCOMP */, errno: value, addr: info.ip64, syscall: nr, arch });
        return nr; // rax holds the syscall number again (Linux's syscall_rollback)
      }
      case SECCOMP_RET_TRACE: {
        const l = t.ptrace;
        if (l === null || !(l.options & PTRACE_O_TRACESECCOMP)) return -ENOSYS.errno;
        // The tracer's PTRACE_EVENT_SECCOMP comes after this syscall (which runs; the tracer
        // cannot change or skip it here).
        l.pendingEvents.push({ event: PTRACE_EVENT_SECCOMP, message: value });
        return null;
      }
      case SECCOMP_RET_USER_NOTIF:
        return -ENOSYS.errno; // no listener can exist
      case SECCOMP_RET_KILL_THREAD:
        // Only this thread, unless it is the last: then the process dies of SIGSYS.
        if (t.tg.tasks.size > 1) return { ctl: "exit", status: 0, group: false };
        this.killGroup(t.tg, 31);
        return -ENOSYS.errno;
      default:
        // KILL_PROCESS and unknown actions.
        this.killGroup(t.tg, 31);
        return -ENOSYS.errno;
    }
  }

  /** Takes a blocked t off its wait queues and deadline, leaving it in the kernel, not queued. */
  #unblock(t: Task): void {
    for (const q of t.blocked?.queues ?? []) q.unregister(t);
    t.blocked = null;
    this.#timed.delete(t);
    t.state = "runnable";
  }

  /**
   * A signal for its tracer ended t's sleep (t is traced): the syscall returns as Linux's does
   * before the signal is looked at: 0 for a futex wait already woken, a partial transfer's
   * count, else -ERESTARTSYS (a sleep SA_RESTART restarts) or -ERESTARTNOHAND, left for the
   * return to user mode to settle (Task.restartCode). Under PTRACE_SYSCALL the tracer sees
   * that value at the syscall-exit stop, then the signal-delivery stop.
   */
  #endTracedSleep(t: Task): void {
    const partial = (t.syscallState as { partial?: number } | null)?.partial ?? 0;
    const woken = futexWokenResult(t.syscallState);
    const code = t.lastBlockRestart === "sys" ? ERESTARTSYS : ERESTARTNOHAND;
    const result = woken !== null ? woken : partial > 0 ? partial : -code;
    this.#cancelSleep(t);
    t.ctx.setReturn(result);
    t.restartCode = result === -code ? code : 0;
    if (this.strace) {
      const text = result !== -code ? result : code === ERESTARTSYS ? "? ERESTARTSYS" : "? ERESTARTNOHAND";
      this.log.strace(straceExit(t, t.straceEntry, text, 0));
      t.straceEntry = "";
    }
    t.inSyscall = false;
    t.syscallState = null;
    t.releaseSyscallFiles();
    const pt = t.ptrace!;
    if (pt.inSyscallEntry) {
      pt.inSyscallEntry = false;
      if (pt.syscallStops) enterPtraceStop(t, { kind: "syscall", entry: false });
    }
  }

  /** Undoes what a sleeping syscall registered (a futex wait) before it is abandoned. */
  #cancelSleep(t: Task): void {
    const st = t.syscallState as { waiter?: FutexWaiter; waiters?: FutexWaiter[] } | null;
    if (st?.waiter) this.futex.remove(st.waiter);
    for (const w of st?.waiters ?? []) this.futex.remove(w); // futex_waitv's
    // A blocked open of a FIFO holds a counted end (kernel/syscalls/linux/sys_file.ts).
    (t.syscallState as { pendingFile?: { decRef(): void } } | null)?.pendingFile?.decRef();
    // A task held by fanotify permission events withdraws them (kernel/fanotify.ts).
    (t.syscallState as { fanPerm?: { cancel(): void } } | null)?.fanPerm?.cancel();
    if (t.savedMask !== null && t.sigWaitSet === null) { /* sigsuspend: restored at delivery */ }
    t.sigWaitSet = null;
  }

  /**
   * Contains an exception that is not a LinuxError (a sentry bug) inside the syscall that raised
   * it: the report goes to the debug log once per syscall and message (an application retrying
   * must not flood it), and the syscall fails with EINVAL, which callers do not retry (EAGAIN
   * made fork loops spin). The sandbox and the task go on. SENTRY_PANIC_ON_BUG=1 rethrows.
   */
  #handlerBug(t: Task, name: string, e: unknown): number {
    const first = String((e as Error)?.message ?? e).split("\n", 1)[0];
    this.log.once(`bug-${name}-${first}`, `BUG in ${name} of ${t}: ${(e as Error)?.stack ?? e}`);
    if (Deno.env.get("SENTRY_PANIC_ON_BUG") === "1") throw e;
    return -EINVAL.errno;
  }

  /** Dispatches t's syscall. Returns false if the task blocked or exited. */
  #syscall(t: Task, vsyscall = false): boolean {
    const info = t.ctx.syscall;
    // An `int 0x80`: i386's number and arguments, which seccomp sees as they are. Only the calls
    // whose i386 form is x86-64's with 32-bit values run (as that call); the rest are ENOSYS,
    // never x86-64's call of the same number.
    const arch = info.arch === AUDIT_ARCH_I386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
    const rawNr = info.nr;
    const nr = arch === AUDIT_ARCH_I386 ? IA32_AS_X86_64.get(rawNr) ?? -1 : rawNr;
    const entry = nr < 0 ? undefined : SYSCALL_TABLE[nr];
    let straceLine = "";
    let t0 = 0;
    if (this.strace && !t.straceEntry) {
      t.straceEntry = straceEnter(t, entry?.name ?? `syscall_${nr}`);
    }
    if (this.strace) t0 = performance.now();
    let result: number | SyscallControl;
    // seccomp (kernel/seccomp.ts) decides first: the syscall runs, or this result stands for it.
    const filtered = t.seccomp === null ? null : this.#seccomp(t, rawNr, arch);
    if (t.state === "dead") return false; // killed by its filter
    if (filtered !== null) {
      result = filtered;
    } else if (entry === undefined) {
      if (arch === AUDIT_ARCH_I386) this.log.once(`nosys-ia32-${rawNr}`, `Unsupported i386 syscall ${rawNr} (int 0x80): returning ENOSYS`);
      else this.log.once(`nosys-${nr}`, `Unsupported syscall ${nr}: returning ENOSYS`);
      result = -ENOSYS.errno;
    } else {
      if (arch === AUDIT_ARCH_I386) info.asX86_64(nr);
      this.current = t;
      hostFds.beginOperation();
      // The sentry's time in the handler is the task's system time, as a Linux task's time in
      // its syscalls is (cpu_time.ts): the handler runs synchronously, so its elapsed time is
      // the sentry's CPU for it. Charged below, whatever the outcome.
      const c0 = performance.now();
      try {
        result = entry.fn(t, t.argsFor(info));
      } catch (e) {
        if (e instanceof LinuxError) {
          result = -e.errno;
          if (e === EPIPE && SIGPIPE_SYSCALLS.has(nr) && raisesSigpipe(t, info.argInt(0))) this.sendSignal(t.tg, 13);
        } else if (e instanceof ModuleNotLoaded) {
          // The handler reached code loaded at its first use (lazy_module.ts) before it was: it
          // sleeps until it is and then runs again; a signal meanwhile waits for it, as the
          // call has not begun.
          result = block([e.queue], EVENT_IN, null, "killable");
        } else {
          result = this.#handlerBug(t, entry.name, e);
        }
      }
      if ((t.state as Task["state"]) !== "dead") t.cpuBase.sysNs += Math.round((performance.now() - c0) * 1e6);
      // A result that is not an integer a register can hold (brk once answered Infinity) would
      // fail in the register write-back, outside any handler: it is the handler's bug.
      if (typeof result === "number" && !Number.isInteger(result)) {
        result = this.#handlerBug(t, entry.name, new SentryBugError(`result ${result} is not a syscall result`));
      }
    }
    this.current = null;
    if (result === -ENOSYS.errno) this.resources.noteEnosys(nr, entry?.name);
    if ((t.state as Task["state"]) === "dead") return false; // the syscall killed its own task (kill, SIGPIPE)
    if (t.state === "stopped") return false; // never: a syscall does not stop its own task
    if (vsyscall && filtered === null && result === -EFAULT.errno) {
      // No `ret` then: the task faults at the entry, as its caller would have (force_sig(SIGSEGV)).
      const r = t.ctx.regs;
      r.set64("rip", info.ip64);
      r.set("rsp", r.get("rsp") - 8);
      t.ctx.markRegsDirty();
      // force_sig: a blocked or ignored SIGSEGV is unblocked and reset to its default first.
      const bit = 1n << BigInt(SIGSEGV - 1);
      if (disposition(SIGSEGV, t.tg.handlers.get(SIGSEGV)) === "ignore" || (t.sigmask & bit)) {
        t.sigmask &= ~bit;
        t.tg.handlers.set(SIGSEGV, { handler: 0n, flags: 0, restorer: 0n, mask: 0n });
      }
      t.pendingSignals.add({ signo: SIGSEGV, code: 0x80 /* SI_KERNEL */ });
      t.ctx.setReturn(-ENOSYS.errno);
      result = -ENOSYS.errno;
    } else if (typeof result === "number") {
      t.ctx.setReturn(result);
    }
    if (typeof result === "number") {
      t.syscallState = null;
      t.releaseSyscallFiles();
      if (this.strace) {
        straceLine = straceExit(t, t.straceEntry, result, (performance.now() - t0) * 1000);
        t.straceEntry = "";
        this.log.strace(straceLine);
      }
      return true;
    }
    switch (result.ctl) {
      case "block": {
        t.holdSyscallFiles();
        t.state = "blocked";
        t.lastBlockRestart = result.restart;
        t.blocked = { queues: result.queues, mask: result.mask, deadlineNs: result.deadlineNs, restart: result.restart };
        for (const q of result.queues) q.register(t, result.mask);
        if (result.deadlineNs !== null) this.#timed.add(t);
        // A signal that came while the task was out of user mode and not yet asleep (or a group
        // stop) interrupts the sleep at once, as Linux checks signal_pending before sleeping.
        if (result.restart !== "killable" && (deliverableSet(t) !== 0n || t.tg.groupStop !== null)) {
          t.interrupted = true;
          this.wakeTask(t);
        }
        return false;
      }
      case "exit":
        if (this.strace) {
          this.log.strace(straceExit(t, t.straceEntry, "?", (performance.now() - t0) * 1000));
          t.straceEntry = "";
        }
        if (result.group || t.tg.tasks.size === 1) this.#exitGroup(t.tg, (result.status & 0xff) << 8);
        else this.#exitTask(t, false, (result.status & 0xff) << 8);
        return false;
      case "noreturn":
        t.syscallState = null;
        t.releaseSyscallFiles();
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
  sendSignal(
    tg: ThreadGroup, signo: number, info: Partial<SigInfo> = {}, thread: Task | null = null, prefer: Task | null = null,
  ): boolean {
    return queueSignal(tg, { code: 0, ...info, signo }, thread, prefer);
  }

  /**
   * A signal is pending for t: make it notice. A sleeping task wakes as interrupted; a task in
   * user mode is stopped so that the signal is delivered at once.
   */
  interruptTask(t: Task): void {
    if (t.state === "blocked") {
      // A killable sleep takes no signal until it ends; a fatal one ends the group directly.
      if (t.blocked?.restart === "killable") return;
      t.interrupted = true;
      this.wakeTask(t);
    } else if (t.state === "user") {
      t.ctx.interrupt();
    }
  }

  /**
   * Kills a thread group with a signal's default action. For a core-dump signal the wait
   * status gets the core-dump bit (0x80) when Linux would have written a core (see
   * {@linkcode coreWouldBeDumped}); the sandbox itself never writes a core file.
   */
  killGroup(tg: ThreadGroup, signo: number): void {
    const core = CORE_SIGNALS.has(signo) && coreWouldBeDumped(tg);
    this.#exitGroup(tg, (signo & 0x7f) | (core ? 0x80 : 0));
  }

  /** Ends every task of tg; tg reports `status` to wait(2). */
  #exitGroup(tg: ThreadGroup, status: number): void {
    if (tg.exitStatus !== null) return;
    tg.exitStatus = status;
    tg.groupStop = null;
    tg.stopped = false;
    tg.stopReport = 0;
    tg.continuedReport = false;
    // When no other process shares the address space, kill the stub in one go rather than
    // ending its threads one by one (not while a thread is to stop for its tracer first).
    const hostGone = tg.mm.users === 1 && ![...tg.tasks].some((x) => this.#takesExitStop(x));
    if (hostGone) {
      // Robust futexes may live in memory shared with other processes: walk while readable.
      for (const t of tg.tasks) {
        exitRobustList(t);
        futexPiExit(t);
      }
      // The stub's lifetime usage covers every host thread of the group: charge what earlier
      // thread exits did not to the group at once (cpu_time.ts).
      const u = tg.mm.as.releaseAndReap();
      const rest = unchargedHostCpu(tg.mm, u);
      for (const t of tg.tasks) t.cpuFrozen = true;
      tg.userNs += rest.userNs;
      tg.sysNs += rest.sysNs;
      tg.maxRssKb = Math.max(tg.maxRssKb, u.maxRssKb);
    }
    for (const t of [...tg.tasks]) this.#exitTask(t, hostGone);
  }

  /**
   * Ends one task. hostGone: its host thread is already dead (the stub was killed).
   * The last task of a group makes it a zombie, reparents its children and wakes its parent.
   */
  #exitTask(t: Task, hostGone = false, status: number | null = null, exitStop = true): void {
    if (t.state === "dead") return;
    if (exitStop && !hostGone && t.state === "user" && this.#takesExitStop(t)) {
      // It stops for its tracer once it is out of user mode: interrupted now, it takes the
      // stop when that interrupt (or any other stop) is handled (#handleStop).
      if (t.exitPending === null) t.ctx.interrupt();
      t.exitPending = status ?? t.tg.exitStatus ?? 0;
      return;
    }
    if (exitStop && !hostGone && this.#takesExitStop(t)) {
      // PTRACE_O_TRACEEXIT: the tracer sees the exit (its wait status as the event message)
      // while the task's registers and memory are still there; it ends when the tracer
      // resumes it (#step), as Linux's ptrace_event(PTRACE_EVENT_EXIT) in do_exit.
      const st = status ?? t.tg.exitStatus ?? 0;
      t.exitStop = st;
      if (t.state === "blocked") this.#unblock(t);
      const i = this.#runQueue.indexOf(t);
      if (i >= 0) this.#runQueue.splice(i, 1);
      const l = t.ptrace!;
      l.stop = null;
      l.eventMessage = st;
      enterPtraceStop(t, { kind: "event", event: PTRACE_EVENT_EXIT });
      return;
    }
    this.#releaseHeld(t);
    freezeTaskCpu(t); // no-op when #exitGroup already charged the reaped stub
    t.tg.userNs += t.cpuBase.userNs;
    t.tg.sysNs += t.cpuBase.sysNs;
    if (t.state === "user") this.#running--;
    if (t.state === "blocked") {
      for (const q of t.blocked?.queues ?? []) q.unregister(t);
      this.#timed.delete(t);
    }
    // A sleep's registrations (a futex waiter) outlive the sleep while the task is runnable or
    // stopped inside the syscall: drop them whatever the state, so no wake-up goes to the dead.
    this.#cancelSleep(t);
    t.releaseSyscallFiles();
    t.state = "dead";
    t.blocked = null;
    traceeExited(t, status ?? t.tg.exitStatus ?? 0);
    tracerExited(t);
    const tg = t.tg;
    if (t.tid === tg.tgid) tg.leaderComm = t.name;
    tg.tasks.delete(t);
    this.tasks.delete(t.tid);
    this.#releaseId(t.tid);
    // The thread's I/O counters stay the process's (__exit_signal's task_io_accounting_add).
    tg.deadIo.rchar += t.io.rchar;
    tg.deadIo.wchar += t.io.wchar;
    tg.deadIo.syscr += t.io.syscr;
    tg.deadIo.syscw += t.io.syscw;
    this.#byCtx.delete(t.ctx);
    if (!hostGone) {
      exitRobustList(t);
      futexPiExit(t);
    }
    if (t.clearChildTid !== 0 && !hostGone && tg.tasks.size > 0) {
      // CLONE_CHILD_CLEARTID: zero the tid word and wake a joiner (a shared futex wake, as Linux).
      try {
        t.copyOutU32(t.clearChildTid, 0);
        wakeShared(t, t.clearChildTid, 1);
      } catch { /* an unmapped address is ignored, as Linux does */ }
    }
    if (!hostGone) t.ctx.release();
    if (--t.fdTable.users === 0) {
      // The closes are the exiting task's doing (fanotify reports its pid), whoever runs now.
      fanotifyCause(t);
      t.fdTable.removeAll();
      fanotifyCause(null);
    }
    tg.threadExitQueue.notify(EVENT_IN); // PIDFD_THREAD pidfds of this thread
    if (tg.tasks.size > 0) {
      // Linux's forget_original_parent for one thread: the children it made go to a live
      // thread of its group (find_alive_thread), and each of their threads gets its
      // parent-death signal, which follows the parent *thread*.
      const heir = tg.tasks.values().next().value!;
      for (const child of tg.children) {
        if (child.parentThread !== t.tid && !(child.parentThread === 0 && t.tid === tg.tgid)) continue;
        child.parentThread = heir.tid;
        for (const ct of child.tasks) if (ct.pdeathSignal !== 0) this.sendSignal(child, ct.pdeathSignal, {}, ct);
      }
      tg.vforkDone.notify(1); // a thread's CLONE_VFORK parent waits for it (vforkWaitDone)
      return;
    }

    if (--tg.mm.users === 0) tg.mm.releaseAll();
    if (tg.itimerReal) this.removeTimer(tg.itimerReal);
    tg.itimerReal = null;
    for (const tm of tg.cpuLimitTimers) this.removeCpuTimer(tm);
    tg.cpuLimitTimers = [];
    if (tg.itimerVirtual) this.removeCpuTimer(tg.itimerVirtual);
    if (tg.itimerProf) this.removeCpuTimer(tg.itimerProf);
    tg.itimerVirtual = tg.itimerProf = null;
    this.deletePosixTimers(tg);
    // SEM_UNDO adjustments live in the namespace of the semop: the sandbox's or the task's own.
    for (const ns of new Set([this.ipc, t.ipc])) ns.exitSem(tg.tgid, tg.tgid, SEMVMX);
    tg.exitUid = t.creds.uid;
    tg.exitUserNs = t.creds.userNs;
    tg.exitEuid = t.creds.euid;
    const c = t.creds;
    tg.exitIds = [c.uid, c.gid, c.euid, c.egid, c.suid, c.sgid, c.fsuid, c.fsgid];
    tg.exitNice = t.nice;
    tg.exitSched = { policy: t.schedPolicy | (t.schedResetOnFork ? 0x40000000 : 0), priority: t.schedPriority };
    tg.exitLandlock = t.landlock;
    tg.zombie = true;
    if (tg.cgroup !== null) this.cgroups.refreshPopulated();
    this.resources.activity?.processEnded(tg, tg.exitStatus ?? 0);
    tg.exitQueue.notify(EVENT_IN);
    sessionLeaderExited(this, tg);
    this.vforkDone(tg);
    const init = this.#init;
    // Orphans go to the nearest living subreaper ancestor in the same PID namespace, else to
    // the namespace's init (Linux's find_new_reaper). A nested namespace's init takes every
    // process of its namespace with it, and reaps its children itself (zap_pid_ns_processes).
    const ns = tg.pidNs;
    const nsInit = ns.parent === null ? init : ns.init;
    if (ns.parent !== null && tg === nsInit) this.#zapPidNamespace(tg);
    let reaper = tg.parent;
    while (reaper && reaper.pidNs === ns && (!reaper.subreaper || reaper.zombie)) reaper = reaper.parent;
    if (reaper !== null && reaper.pidNs !== ns) reaper = null;
    const adopter = reaper ?? nsInit;
    const reparented = [...tg.children];
    for (const child of tg.children) {
      child.parent = adopter;
      child.parentThread = 0;
      // Linux's reparent_leader: an adopted child reports with SIGCHLD whatever its clone asked,
      // so a plain wait() of its new parent reaps it (found by the fuzzer: init waited for ever).
      child.exitSignal = 17;
      if (adopter && adopter !== tg) adopter.children.add(child);
      for (const ct of child.tasks) if (ct.pdeathSignal !== 0) this.sendSignal(child, ct.pdeathSignal, {}, ct);
    }
    tg.children.clear();
    if (adopter && adopter !== tg && [...adopter.children].some((c) => c.zombie)) adopter.childWaitQueue.notify(1);
    if (tg !== init) hangUpOrphanedGroups(this, tg, reparented);
    // A tracer that is not the parent is told first: the parent hears of the exit once the
    // tracer has waited for it, or stopped tracing (Linux's exit_notify and wait_task_zombie).
    if (!exitAwaitsTracer(this, tg)) this.notifyParentOfExit(tg);
    if (tg === init) {
      this.#initStatus = tg.exitStatus ?? 0;
      this.#kick();
      // Container semantics: when init exits, every task is killed.
      for (const other of [...this.threadGroups.values()]) {
        if (other !== tg && !other.zombie) this.#exitGroup(other, 9);
      }
    }
  }

  /**
   * Whether t, ending now, stops for its tracer first (PTRACE_O_TRACEEXIT), once. One running in
   * user mode takes the stop at its next stop (`exitPending`).
   */
  #takesExitStop(t: Task): boolean {
    const l = t.ptrace;
    return l !== null && (l.options & PTRACE_O_TRACEEXIT) !== 0 && t.exitStop === null &&
      t.state !== "dead" && !l.tracer.tg.zombie && l.tracer.state !== "dead";
  }

  /**
   * The init of a nested PID namespace exited (Linux's zap_pid_ns_processes): no process may
   * enter the namespace any more, every other process in it (and in namespaces nested in it)
   * is killed with SIGKILL, and init reaps the children it is left with, so that its own exit
   * is reported once its namespace is empty. A process in the namespace whose parent is outside
   * it (one that joined with setns) stays a zombie for that parent.
   */
  #zapPidNamespace(init: ThreadGroup): void {
    const ns = init.pidNs;
    ns.adding = false;
    for (const id of [...ns.ids()]) {
      const g = this.threadGroups.get(id);
      if (g !== undefined && g !== init && g.exitStatus === null) this.#exitGroup(g, 9);
    }
    for (const child of [...init.children]) {
      if (child.zombie && !exitAwaitsTracer(this, child)) this.reap(child);
    }
  }

  /**
   * Tells the parent of the zombie tg that it exited (Linux's do_notify_parent): its wait is
   * woken and its exit signal sent, or, with SIGCHLD ignored or SA_NOCLDWAIT, tg is reaped at
   * once. A process with no parent in the sandbox is reaped by the sentry.
   */
  notifyParentOfExit(tg: ThreadGroup): void {
    const parent = tg.parent;
    const chld = parent?.handlers.get(17);
    // SIGCHLD ignored, or SA_NOCLDWAIT: a child that would signal SIGCHLD is reaped at once, and
    // its times never reach its parent's RUSAGE_CHILDREN (it was not waited for); only
    // SA_NOCLDWAIT with a handler still signals (Linux's do_notify_parent).
    const autoreap = chld !== undefined && tg.exitSignal === 17 && (chld.handler === 1n || (chld.flags & SA_NOCLDWAIT) !== 0);
    if (autoreap) this.reap(tg, false);
    // A process started from outside (control.ts) has no parent in the sandbox: the sentry
    // reaps it (its watchers already saw its status through exitQueue).
    if (parent === null && tg !== this.#init) this.reap(tg);
    parent?.childWaitQueue.notify(1);
    // clone(2) takes any byte as the exit signal; one beyond NSIG is no signal (do_notify_parent's
    // valid_signal), though the parent's wait is still woken above.
    if (
      parent && !parent.zombie && tg.exitSignal > 0 && tg.exitSignal <= NSIG &&
      (this.threadGroups.has(tg.tgid) || (autoreap && chld!.handler !== 1n))
    ) {
      const st = tg.exitStatus ?? 0;
      const signalled = (st & 0x7f) !== 0;
      this.sendSignal(parent, tg.exitSignal, {
        code: !signalled ? 1 /* CLD_EXITED */ : (st & 0x80) ? 3 /* CLD_DUMPED */ : 2 /* CLD_KILLED */,
        pid: tg.tgid,
        uid: tg.exitUid,
        status: signalled ? st & 0x7f : (st >> 8) & 0xff,
      });
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

  /**
   * The vDSO the loader maps into every new image, made at the first exec; null when the
   * sentry cannot give one (the debug log says why, once).
   */
  vdso(): Vdso | null {
    if (this.#vdso === undefined) {
      const v = this.#shutdown ? "the kernel is shut down" : Vdso.create();
      if (typeof v === "string") this.log.once("no-vdso", `No vDSO: ${v}`);
      this.#vdso = typeof v === "string" ? null : v;
    }
    return this.#vdso;
  }

  /** Kills everything; no stub survives. Idempotent. */
  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    this.#vdso?.close();
    for (const tg of [...this.threadGroups.values()]) if (!tg.zombie) this.#exitGroup(tg, 9);
    this.platform.shutdown();
    this.#kick();
  }
}

/**
 * nanosleep and relative clock_nanosleep report the time left in `rem` when a handler interrupts
 * them (their syscallState is a SleepState with remAddr). False when writing it faulted.
 */
function writeSleepRemainder(t: Task): boolean {
  const st = t.syscallState as { deadlineNs?: unknown; remAddr?: unknown; remUsec?: unknown } | null;
  if (!st || typeof st.remAddr !== "number" || st.remAddr === 0 || typeof st.deadlineNs !== "number") return true;
  const left = BigInt(Math.max(0, Math.round(st.deadlineNs - monotonicNs())));
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, left / 1_000_000_000n, true);
  // select's timeout is a timeval (microseconds); the others' a timespec.
  v.setBigInt64(8, st.remUsec === true ? (left % 1_000_000_000n) / 1000n : left % 1_000_000_000n, true);
  try {
    t.copyOut(st.remAddr, b);
    return true;
  } catch {
    return false; // EFAULT: reported by the nanosleeps, not by select and poll
  }
}

/**
 * True when Linux would report a core dump (WCOREDUMP) for tg: the process is dumpable
 * (PR_SET_DUMPABLE) and its RLIMIT_CORE allows a core. The rule for the limit follows the host's
 * core_pattern, so that a program sees the same wait status in the sandbox as natively: with a
 * file pattern Linux dumps only when RLIMIT_CORE is at least a page; with a pipe (`|handler`,
 * e.g. systemd-coredump) it dumps unless RLIMIT_CORE is 1. The one difference: natively a file
 * core can fail to be written (a read-only working directory) and then the bit is clear.
 */
function coreWouldBeDumped(tg: ThreadGroup): boolean {
  if (tg.dumpable !== 1) return false;
  const limit = tg.limits.get(RLIMIT_CORE).cur;
  return HOST_CORE_PATTERN_IS_PIPE ? limit !== 1n : limit >= 4096n;
}

const HOST_CORE_PATTERN_IS_PIPE: boolean = (() => {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/core_pattern").startsWith("|");
  } catch {
    return false;
  }
})();

/** Write-family syscalls that raise SIGPIPE when they fail with EPIPE. */
const SIGPIPE_SYSCALLS: ReadonlySet<number> = new Set([1, 18, 20, 296, 328]);

/** SECCOMP_MODE_STRICT's calls in i386's numbers (mode1_syscalls_32: read, write, exit, sigreturn). */
const STRICT_IA32: ReadonlySet<number> = new Set([3, 4, 1, 119]);

/**
 * The i386 calls (`int 0x80` in a 64-bit program) whose i386 form is x86-64's with 32-bit
 * values (scalars, and buffers below 4 GiB), by i386 number: the x86-64 call each runs as.
 */
const IA32_AS_X86_64: ReadonlyMap<number, number> = new Map([
  [1, 60], // exit
  [3, 0], // read
  [4, 1], // write
  [6, 3], // close
  [20, 39], // getpid
  [29, 34], // pause
  [37, 62], // kill
  [41, 32], // dup
  [63, 33], // dup2
  [64, 110], // getppid
  [158, 24], // sched_yield
  [199, 102], // getuid32
  [200, 104], // getgid32
  [201, 107], // geteuid32
  [202, 108], // getegid32
  [224, 186], // gettid
  [238, 200], // tkill
  [252, 231], // exit_group
  [270, 234], // tgkill
]);

/** A write-family EPIPE on fd raises SIGPIPE: always for pipes, for sockets as their type says. */
function raisesSigpipe(t: Task, fd: number): boolean {
  const f = t.fdTable.has(fd) ? t.fdTable.get(fd) : null;
  return !(f instanceof SocketFile) || f.sigpipeOnEpipe;
}

function hostUts(): { release: string; version: string } {
  let version = "#1 SMP";
  try {
    version = Deno.readTextFileSync("/proc/sys/kernel/version").trim();
  } catch { /* not Linux procfs: keep the default */ }
  return { release: Deno.osRelease(), version };
}


/** Puts t back onto its syscall instruction with the syscall number in rax: it runs again. */
function rewindSyscall(t: Task): void {
  const r = t.ctx.regs;
  r.set("rip", r.get("rip") - 2);
  r.set64("rax", r.get64("orig_rax"));
  t.ctx.markRegsDirty();
}
