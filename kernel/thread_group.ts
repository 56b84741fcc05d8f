/**
 * ThreadGroup: a process, as Linux's signal_struct plus the process-wide parts of task_struct
 * and gVisor's kernel.ThreadGroup. Owns the address space, limits, signal dispositions and the
 * parent/child links used by wait(2).
 *
 * @module
 */

import type { CgroupDir } from "../vfs/cgroupfs/cgroupfs.ts";
import type { Keyring } from "./keys.ts";
import type { LandlockDomain } from "./landlock.ts";
import type { IoAccounting, Task } from "./task.ts";
import { WaitQueue } from "../waiter/mod.ts";
import { PendingSignals } from "./task_signals.ts";
import type { CpuTimer, KernelTimer, PosixTimer } from "./timers.ts";
import type { MemoryManager } from "./mm/mm.ts";
import { Limits } from "./limits.ts";
import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";
import { SignalHandlers } from "./signals.ts";
import type { Terminal } from "../vfs/tty/mod.ts";
import { monotonicNs } from "./time.ts";
import { type PidNamespace, ROOT_PID_NS } from "./pid_namespace.ts";

/** @savable */
export class ThreadGroup {
  /** Immutable. Process id in the root PID namespace. */
  readonly tgid: number;
  /**
   * Immutable. The PID namespace the process's ids live in (Linux's task_active_pid_ns): the
   * one it sees every id through. Every thread of a process shares it.
   */
  readonly pidNs: PidNamespace;
  /** Live tasks of the group; the leader first. */
  readonly tasks = new Set<Task>();
  mm: MemoryManager;
  parent: ThreadGroup | null;
  /**
   * The thread of the parent that created this process (Linux's real_parent is a task), which
   * alone may wait for it with __WNOTHREAD; 0 once adopted (any thread of the adopter may).
   */
  parentThread = 0;
  readonly children = new Set<ThreadGroup>();
  /** keyctl's process keyring (KEY_SPEC_PROCESS_KEYRING), made on request; a new process has none. */
  processKeyring: Keyring | null = null;
  limits: Limits;
  handlers: SignalHandlers;
  pgid: number;
  sid: number;
  /** The controlling terminal (Linux's signal->tty): copied by fork, cleared by setsid. */
  tty: Terminal | null = null;
  /** Set once the group starts exiting (exit_group, fatal signal): the wait status it reports. */
  exitStatus: number | null = null;
  /** The fault that killed the group, for the CLI's one-line report. */
  faultInfo: { signo: number; addr: number } | null = null;
  /** The OOM killer of --memory chose this process (kernel/resources.ts). */
  oomKilled = false;
  /** True once every task is dead and the group waits to be reaped. */
  zombie = false;
  /** The real uid of the last task, kept for waitid's si_uid once the group is a zombie. */
  exitUid = 0;
  /** The user namespace of the last task: with exitUid, whom the zombie counts for (RLIMIT_NPROC). */
  exitUserNs: UserNamespace = INIT_USER_NS;
  /** The effective uid and nice value of the last task: setpriority(2) still finds a zombie. */
  exitEuid = 0;
  /** The last task's uid, gid, euid, egid, suid, sgid, fsuid, fsgid: PIDFD_GET_INFO of a zombie. */
  exitIds: readonly number[] | null = null;
  exitNice = 0;
  /** The last task's scheduling policy (with SCHED_RESET_ON_FORK) and priority: sched_getscheduler
   * and sched_getparam still find a zombie, as Linux finds its task until it is reaped. */
  exitSched = { policy: 0, priority: 0 };
  /** The Landlock domain of the last task, which still decides who may signal the zombie. */
  exitLandlock: LandlockDomain | null = null;
  /** The leader's name when it exited: a zombie's comm in /proc, as Linux keeps the leader's. */
  leaderComm = "";
  /** Process-directed pending signals. */
  readonly sharedPending = new PendingSignals();
  /** Notified when a child changes state (exits), for wait(2). */
  readonly childWaitQueue = new WaitQueue();
  /** Notified when the group becomes a zombie (pidfd). */
  readonly exitQueue = new WaitQueue();
  /** Notified (EVENT_IN) whenever one of its thread ids goes: a thread exited or an exec took the leader's id. */
  readonly threadExitQueue = new WaitQueue();
  /** Notified when a vfork child execs or exits: its parent may go on. */
  readonly vforkDone = new WaitQueue();
  /** True while a vfork parent must wait for this group to exec or exit. */
  vforkPending = false;
  /** ITIMER_REAL / alarm(2), while armed. */
  itimerReal: KernelTimer | null = null;
  /** ITIMER_VIRTUAL and ITIMER_PROF, while armed (sampled CPU-time timers, see timers.ts). */
  itimerVirtual: CpuTimer | null = null;
  itimerProf: CpuTimer | null = null;
  /** RLIMIT_CPU's timers while the limit is finite: SIGXCPU at the soft limit, SIGKILL at the hard. */
  cpuLimitTimers: CpuTimer[] = [];
  /** POSIX timers by id (timer_create); deleted at execve and exit. */
  readonly posixTimers = new Map<number, PosixTimer>();
  /** The last PosixTimer.seq handed out in this process (never reused, unlike timer ids). */
  timerSeq = 0;
  /** PR_SET_DUMPABLE. */
  dumpable = 1;
  /** PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here rather than to init. */
  subreaper = false;
  /** True once the group called execve (setpgid by the parent is then EACCES). */
  execed = false;
  /** Signal sent to the parent when this group exits (SIGCHLD, or clone's choice). */
  exitSignal = 17;
  /** Monotonic time when the process was created (/proc/PID/stat starttime). */
  readonly startNs: number = monotonicNs();
  /** /proc/PID/oom_score_adj (kept, not acted on). */
  oomScoreAdj = 0;
  /**
   * /proc/PID/coredump_filter (Linux's MMF_DUMP_FILTER bits; kept, not acted on: no core is
   * written): inherited by fork and kept across execve. Default 0x33.
   */
  coredumpFilter = 0x33;
  /**
   * PR_SET_THP_DISABLE's flags as PR_GET_THP_DISABLE reports them (bit 0 disabled, bit 1
   * PR_THP_DISABLE_EXCEPT_ADVISED): an mm flag, so fork copies it and exec keeps it, as Linux.
   * Only reported: the stub's memory is the host's to back.
   */
  thpDisable = 0;
  /** The I/O counters of the group's threads that exited (Linux's signal->ioac). */
  readonly deadIo: IoAccounting = { rchar: 0, wchar: 0, syscr: 0, syscw: 0 };
  /**
   * Job control (kernel/job_control.ts): the group stop under way or complete, with the signal
   * that started it; null when the group runs.
   */
  groupStop: { signo: number } | null = null;
  /** True once every thread of a group stop has stopped (Linux's SIGNAL_STOP_STOPPED). */
  stopped = false;
  /** The stop signal wait(WUNTRACED) has yet to report, or 0 (Linux's group_exit_code). */
  stopReport = 0;
  /** True while wait(WCONTINUED) has a continue to report (Linux's SIGNAL_STOP_CONTINUED). */
  continuedReport = false;
  /** The process's cgroup (vfs/cgroupfs); null: the root cgroup. */
  cgroup: CgroupDir | null = null;
  /** Its CPU time when it entered its cgroup (null: zero, at birth): cpu.stat's accounting. */
  cgroupCpuBase: { userNs: number; sysNs: number } | null = null;
  /** Its resident memory when it entered its cgroup, in bytes: memory.current's accounting. */
  cgroupMemBase = 0;
  /** Accumulated CPU time in ns, user and system, of exited threads (kernel/cpu_time.ts). */
  userNs = 0;
  sysNs = 0;
  /** CPU time in ns of reaped children and their reaped descendants. */
  childUserNs = 0;
  childSysNs = 0;
  /** Peak RSS in KiB of the group's earlier and final host processes (set at execve and exit). */
  maxRssKb = 0;
  /** The largest maxRssKb among reaped descendants. */
  childMaxRssKb = 0;

  constructor(o: {
    tgid: number;
    mm: MemoryManager;
    parent: ThreadGroup | null;
    limits: Limits;
    handlers: SignalHandlers;
    pgid: number;
    sid: number;
    /** The PID namespace; the sandbox's first when absent. */
    pidNs?: PidNamespace;
  }) {
    this.tgid = o.tgid;
    this.pidNs = o.pidNs ?? ROOT_PID_NS;
    this.mm = o.mm;
    this.parent = o.parent;
    this.limits = o.limits;
    this.handlers = o.handlers;
    this.pgid = o.pgid;
    this.sid = o.sid;
  }

  get leader(): Task | undefined {
    return this.tasks.values().next().value;
  }
}
