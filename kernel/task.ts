/**
 * Task: one thread of an application, as Linux's task_struct and gVisor's kernel.Task.
 *
 * Fields are grouped by who may change them:
 * - Immutable: kernel, tid, tg.
 * - Owned by the task's run loop (changed only while the task is in the kernel): ctx,
 *   syscallState, state, the memory helpers' scratch.
 * - Shared with other tasks per clone flags: fdTable, fs, creds (replaced, never mutated).
 *
 * @module
 */

import { decodePath } from "../abi/path_bytes.ts";
import type { CgroupNamespace } from "../vfs/cgroupfs/cgroupfs.ts";
import type { UtsNamespace } from "./uts.ts";
import { INIT_TIME_NS, type TimeNamespace } from "./time_namespace.ts";
import type { Net } from "./net.ts";
import type { IpcNamespace } from "./ipc.ts";
import type { Keyring } from "./keys.ts";
import type { LandlockDomain } from "./landlock.ts";
import { EFAULT, ENAMETOOLONG } from "./errno.ts";
import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { FdTable } from "./fd_table.ts";
import type { FsContext } from "./fs_context.ts";
import type { Credentials } from "./creds.ts";
import type { MemoryManager } from "./mm/mm.ts";
import type { Context, SyscallInfo } from "../platform/mod.ts";
import { SyscallArgs } from "./syscalls/linux/support.ts";
import type { Waker } from "../waiter/mod.ts";
import type { WaitQueue } from "../waiter/mod.ts";
import type { FileDescription, MemoryIO } from "../vfs/file_description.ts";
import { PATH_MAX } from "../abi/linux/file.ts";
import { RLIMIT_AS, RLIMIT_STACK } from "../abi/linux/limits.ts";
import { PendingSignals } from "./task_signals.ts";
import type { RseqRegistration } from "./rseq.ts";
import type { AltStack } from "./signal_frame.ts";
import type { PtraceLink } from "./ptrace.ts";
import type { DebugRegs } from "./debug_regs.ts";
import type { SeccompState } from "./seccomp.ts";
import { type PidNamespace, ROOT_PID_NS } from "./pid_namespace.ts";

/** Where a task is in its life. */
export type TaskState =
  /** Running application code (resumed on the platform). */
  | "user"
  /** In the kernel, ready to run its next kernel step (queued on the run queue). */
  | "runnable"
  /** Sleeping in a syscall, waiting for queues, a deadline or a signal. */
  | "blocked"
  /** Stopped by job control (SIGSTOP and friends) until SIGCONT or SIGKILL; off the run queue. */
  | "stopped"
  /** Exited; its thread group may still be a zombie. */
  | "dead";

/** What a blocked task waits for. Plain data: a blocked task is registers plus this. */
/** Counters of /proc/PID/io (see Task.io). */
export interface IoAccounting {
  rchar: number;
  wchar: number;
  syscr: number;
  syscw: number;
}

export interface BlockState {
  queues: WaitQueue[];
  mask: number;
  deadlineNs: number | null;
  /** What a signal does to the sleep: "sys" restarts after an SA_RESTART handler, else EINTR. */
  restart: "sys" | "never" | "killable";
}


/** Linux's initial timer slack (init_task.timer_slack_ns), 50 µs. */
export const DEFAULT_TIMER_SLACK_NS = 50_000;

/** @savable */
export class Task implements Waker, MemoryIO {
  /** Immutable. */
  readonly kernel: Kernel;
  /**
   * Thread id in the root PID namespace. Changes once at most: a thread other than the leader
   * that calls execve takes the leader's id, the process id (Kernel.takeLeaderId).
   */
  tid: number;
  /** Immutable. */
  readonly tg: ThreadGroup;

  /** @nosave The platform thread; rebuilt from saved registers on restore. */
  ctx: Context;
  state: TaskState = "runnable";
  /** Set while blocked. */
  blocked: BlockState | null = null;
  /** Progress of a syscall that blocked and will run again; null between syscalls. */
  syscallState: unknown = null;
  /**
   * The open files the current syscall looked up by descriptor (Task.file). A syscall that
   * blocks holds a counted reference to each (held), as Linux's fdget does for the whole call:
   * a close by another thread then neither fails nor wakes the sleeper, and the re-runs use the
   * same files. The kernel drops the references when the syscall ends (releaseSyscallFiles).
   */
  syscallFiles: { fd: number; file: FileDescription; held: boolean }[] = [];
  /** True from a syscall stop until its result is set. */
  inSyscall = false;
  /** Decoded arguments of the current syscall for --strace. */
  straceEntry = "";
  /** Blocked signals (sigset bits). */
  sigmask = 0n;
  /** Thread-directed pending signals. */
  readonly pendingSignals = new PendingSignals();
  /** sigaltstack(2). */
  altStack: AltStack = { sp: 0, size: 0, flags: 2 /* SS_DISABLE */ };
  /** The mask to restore after a handler when rt_sigsuspend replaced it. */
  savedMask: bigint | null = null;
  /** Signals rt_sigtimedwait is waiting for, or null. */
  sigWaitSet: bigint | null = null;
  /** Set when a signal woke the task out of a blocked syscall. */
  interrupted = false;
  /** The restart rule of the last sleep (see BlockState.restart). */
  lastBlockRestart: "sys" | "never" | "killable" = "sys";
  /**
   * A traced task's sleep ended by a signal returned -ERESTARTSYS (512) or -ERESTARTNOHAND (514)
   * in rax, which its tracer sees at the syscall-exit and signal-delivery stops; the next return
   * to user mode decides, as Linux's handle_signal and arch_do_signal_or_restart do from rax:
   * EINTR for a handler (or a restart, with SA_RESTART after ERESTARTSYS), a restart without
   * one. 0 otherwise, or once the tracer changed rax.
   */
  restartCode = 0;
  /** The wait status of an exit held in its PTRACE_EVENT_EXIT stop (PTRACE_O_TRACEEXIT), else null. */
  exitStop: number | null = null;
  /**
   * The wait status of an exit that is to stop for the tracer (PTRACE_O_TRACEEXIT) but found
   * the task in user mode: it was interrupted, and its next stop takes PTRACE_EVENT_EXIT
   * instead of running anything (Linux's SIGKILL acted on at the return to user mode). Else null.
   */
  exitPending: number | null = null;
  /** set_tid_address(2) / CLONE_CHILD_CLEARTID. */
  clearChildTid = 0;
  robustList = 0;
  /** rseq(2)'s registration (kernel/rseq.ts), or null. Not inherited by threads; fork copies it, exec drops it. */
  rseq: RseqRegistration | null = null;
  /**
   * Linux's TIF_NOTIFY_RESUME for rseq: t may have been descheduled or migrated since it last ran
   * (a sleep, an interrupt, a registration), so its next return to user mode checks its critical
   * section and CPU fields (kernel/rseq.ts). Only set while t.rseq is.
   */
  rseqResume = false;
  /** PR_SET_PDEATHSIG: the signal this task gets when its parent dies. */
  pdeathSignal = 0;
  /**
   * PR_SET_TIMERSLACK's slack in ns (what /proc/PID/timerslack_ns shows) and the value 0 resets
   * it to: a new task gets its creator's current slack as both (Linux's copy_process). Timers
   * here fire when the scheduler loop gets to them; the slack is reported, not applied.
   */
  timerSlackNs = DEFAULT_TIMER_SLACK_NS;
  defaultTimerSlackNs = DEFAULT_TIMER_SLACK_NS;
  /**
   * PF_NPROC_EXCEEDED: a set*uid made the task a user already at RLIMIT_NPROC, so its next
   * execve fails with EAGAIN if the user still is (kernel/task_clone.ts, flagNprocExceeded).
   */
  nprocExceeded = false;
  /** PR_SET_NO_NEW_PRIVS (set-user-ID bits never grant privilege in the sandbox anyway). */
  noNewPrivs = false;
  /** sched_setaffinity(2)'s mask (bit per CPU), or null for every CPU. */
  affinity: Uint8Array | null = null;
  /** sched_setscheduler(2): policy, priority and SCHED_RESET_ON_FORK; setpriority(2)'s nice. */
  schedPolicy = 0;
  schedPriority = 0;
  schedResetOnFork = false;
  /** SCHED_DEADLINE's runtime, deadline and period in ns while that is the policy, else null. */
  schedDl: { runtime: number; deadline: number; period: number } | null = null;
  nice = 0;
  /** ioprio_set(2)'s I/O priority (class << 13 | level); 0 (IOPRIO_CLASS_NONE) until set. Inherited by fork. */
  ioprio = 0;
  /**
   * set_mempolicy(2)'s policy: mode, mode flags and the node mask get_mempolicy reports; null
   * for the default. Replaced whole, never changed in place (clone shares it).
   */
  memPolicy: { readonly mode: number; readonly flags: number; readonly nodes: bigint } | null = null;
  /** sched_setattr(2)'s custom slice for a fair policy in ns, or 0 for Linux's default. */
  schedSliceNs = 0;
  /** CPU time of the task's earlier host threads (kernel/cpu_time.ts). */
  cpuBase = { userNs: 0, sysNs: 0 };
  /** True once cpuBase holds the current host thread's time too (it is about to go away). */
  cpuFrozen = false;
  /**
   * I/O accounting (Linux's task_io_accounting, /proc/PID/task/TID/io): bytes and calls of
   * read/write-family syscalls, counted as they complete.
   */
  readonly io: IoAccounting = { rchar: 0, wchar: 0, syscr: 0, syscw: 0 };
  /**
   * personality(2)'s persona (PER_LINUX 0 and flags such as ADDR_NO_RANDOMIZE): kept and
   * reported, inherited by clones; the sentry's memory layout is fixed whatever it says.
   */
  personality = 0;
  /**
   * keyctl's session keyring (Linux keeps it in the credentials): a new task starts with its
   * creator's; null until one is joined or looked at (kernel/keys.ts).
   */
  sessionKeyring: Keyring | null = null;
  /** keyctl's thread keyring, made on request; never inherited, dropped by execve. */
  threadKeyring: Keyring | null = null;
  /**
   * Where request_key(2) puts a key it makes without a destination (KEYCTL_SET_REQKEY_KEYRING's
   * KEY_REQKEY_DEFL_*, Linux's cred->jit_keyring): inherited, kept across execve.
   */
  reqkeyDefault = 0;
  /** The Landlock domain (kernel/landlock.ts): null, or layers that only grow; inherited. */
  landlock: LandlockDomain | null = null;
  /** The UTS namespace (host and domain names), shared with the creator unless CLONE_NEWUTS. */
  uts: UtsNamespace;
  /** The IPC namespace (System V objects, POSIX message queues), shared unless CLONE_NEWIPC. */
  ipc: IpcNamespace;
  /**
   * The network namespace: the stack its new sockets live on (and their nf_tables), shared
   * with the creator unless CLONE_NEWNET; the kernel's `net` is the sandbox's first one.
   */
  net: Net;
  /**
   * The PID namespace this task's children are made in (Linux's nsproxy->pid_ns_for_children):
   * its process's own, or one unshare(CLONE_NEWPID) or setns made or chose.
   */
  pidNsForChildren: PidNamespace = ROOT_PID_NS;
  /** The task's cgroup namespace (vfs/cgroupfs); null: the sandbox's first one. */
  cgroupNs: CgroupNamespace | null = null;
  /** The time namespace the task is in: the offsets its clocks show (kernel/time_namespace.ts). */
  timeNs: TimeNamespace = INIT_TIME_NS;
  /**
   * The time namespace its children start in, and the task itself at its next execve
   * (nsproxy->time_ns_for_children): its own, or one unshare(CLONE_NEWTIME) made.
   */
  timeNsForChildren: TimeNamespace = INIT_TIME_NS;
  /** prctl(PR_SET_TSC, PR_TSC_SIGSEGV): rdtsc faults (set on the host thread too); inherited, kept by exec. */
  tscSigsegv = false;
  /** The trace of this task, when another task traces it with ptrace(2) (kernel/ptrace.ts). */
  ptrace: PtraceLink | null = null;
  /**
   * Hardware breakpoints and DR6/DR7 as ptrace set them (kernel/debug_regs.ts), armed on the
   * host thread; null: never written. Kept after the trace ends, dropped by exec, not inherited.
   */
  debugRegs: DebugRegs | null = null;
  /** The tasks this task traces. */
  readonly tracees: Set<Task> = new Set();
  /** seccomp strict mode or filters (kernel/seccomp.ts); inherited by clone, kept by exec. */
  seccomp: SeccompState | null = null;
  /** Thread name (comm), 15 bytes at most. */
  name: string;

  fdTable: FdTable;
  fs: FsContext;
  creds: Credentials;

  /**
   * The open file behind fd for this syscall: the one an earlier run of it found, if it blocked
   * and runs again, else the descriptor table's (EBADF). For syscalls that may block on it.
   */
  file(fd: number): FileDescription {
    for (const e of this.syscallFiles) if (e.fd === fd) return e.file;
    const file = this.fdTable.get(fd);
    this.syscallFiles.push({ fd, file, held: false });
    return file;
  }

  /** At a block: the files this syscall looked up are kept until it ends. */
  holdSyscallFiles(): void {
    for (const e of this.syscallFiles) {
      if (!e.held) {
        e.file.incRef();
        e.held = true;
      }
    }
  }

  /** At the end of a syscall (a result, an interruption, the task's exit): drops the files' references. */
  releaseSyscallFiles(): void {
    if (this.syscallFiles.length === 0) return;
    const files = this.syscallFiles;
    this.syscallFiles = [];
    for (const e of files) if (e.held) e.file.decRef();
  }

  constructor(o: {
    kernel: Kernel;
    tid: number;
    tg: ThreadGroup;
    ctx: Context;
    fdTable: FdTable;
    fs: FsContext;
    creds: Credentials;
    name: string;
    /** The UTS namespace; the kernel's first one when absent. */
    uts?: UtsNamespace;
    /** The IPC namespace; the kernel's first one when absent. */
    ipc?: IpcNamespace;
    /** The network namespace; the kernel's first one when absent. */
    net?: Net;
  }) {
    this.kernel = o.kernel;
    this.tid = o.tid;
    this.tg = o.tg;
    this.ctx = o.ctx;
    this.fdTable = o.fdTable;
    this.fs = o.fs;
    this.creds = o.creds;
    this.name = o.name.slice(0, 15);
    this.uts = o.uts ?? o.kernel.rootUts;
    this.ipc = o.ipc ?? o.kernel.ipc;
    this.net = o.net ?? o.kernel.net;
  }

  /**
   * Installs new credentials as Linux's commit_creds: a change of the effective or filesystem
   * ids, or permitted capabilities the old ones lacked, make the process not dumpable
   * (fs.suid_dumpable, 0), so that a process that gained or dropped privilege is not read or
   * traced by its old peers. Capabilities in a user namespace the old effective uid owns (a
   * child made by unshare) are no gain.
   */
  commitCreds(next: Credentials): void {
    const old = this.creds;
    if (
      old.euid !== next.euid || old.egid !== next.egid || old.fsuid !== next.fsuid || old.fsgid !== next.fsgid ||
      !capsSubset(old, next)
    ) {
      this.tg.dumpable = 0;
    }
    this.creds = next;
  }

  /** @nosave The argument decoder of the current context (one per context, not per syscall). */
  #args: SyscallArgs | null = null;

  /** The typed view of info's arguments, reused while the task keeps its context. */
  argsFor(info: SyscallInfo): SyscallArgs {
    if (this.#args === null || this.#args.info !== info) this.#args = new SyscallArgs(info);
    return this.#args;
  }

  get mm(): MemoryManager {
    return this.tg.mm;
  }

  /** Implements Waker: a queue we block on fired. */
  wake(_events: number): void {
    this.kernel.wakeTask(this);
  }

  /**
   * Copies application memory into dst as a syscall of this task does (copy_from_user):
   * returns the bytes copied, short at the first inaccessible page. A copy that reaches below
   * a MAP_GROWSDOWN mapping grows it, as the kernel's page fault does
   * (MemoryManager.copyGrowing); the limits are read only then.
   */
  readUser(addr: number, dst: Uint8Array): number {
    const n = this.mm.read(addr, dst);
    if (n === dst.length) return n;
    return this.mm.copyGrowing(this.ctx, addr, dst, n, false, this.#stackLimit(), this.#asLimit());
  }

  /** Copies src into application memory as a syscall does (copy_to_user); as readUser. */
  writeUser(addr: number, src: Uint8Array): number {
    const n = this.mm.write(addr, src);
    if (n === src.length) return n;
    return this.mm.copyGrowing(this.ctx, addr, src, n, true, this.#stackLimit(), this.#asLimit());
  }

  /** Whether no VMA holds addr but a copy there would grow the MAP_GROWSDOWN mapping above it. */
  growsDownAt(addr: number): boolean {
    return this.mm.growsDownAt(addr, this.#stackLimit(), this.#asLimit()) !== undefined;
  }

  #stackLimit(): number {
    return this.tg.limits.soft(RLIMIT_STACK);
  }

  #asLimit(): number {
    return this.tg.limits.soft(RLIMIT_AS);
  }

  /** Copies len bytes in from application memory; throws EFAULT. */
  copyIn(addr: number, len: number): Uint8Array {
    if (!Number.isSafeInteger(addr) || addr < 0) throw EFAULT;
    const buf = new Uint8Array(len);
    if (this.readUser(addr, buf) !== len) throw EFAULT;
    return buf;
  }

  /** Copies into a caller-owned buffer; throws EFAULT. */
  copyInto(addr: number, buf: Uint8Array): void {
    if (this.readUser(addr, buf) !== buf.length) throw EFAULT;
  }

  /** Copies data out to application memory; throws EFAULT. */
  copyOut(addr: number, data: Uint8Array): void {
    if (this.writeUser(addr, data) !== data.length) throw EFAULT;
  }

  /**
   * Reads a NUL-terminated string of at most maxLen bytes (NUL excluded). Throws EFAULT, or
   * ENAMETOOLONG when no NUL comes within maxLen (as strncpy_from_user callers do for paths).
   * Bytes that are not UTF-8 are kept, escaped (abi/path_bytes.ts): names are bytes.
   */
  copyInString(addr: number, maxLen: number = PATH_MAX - 1): string {
    // Read in chunks that do not cross a page boundary, so that a string ending just before an
    // unmapped page is read without a false EFAULT.
    if (!Number.isSafeInteger(addr) || addr < 0) throw EFAULT;
    const parts: Uint8Array[] = [];
    let total = 0;
    let a = addr;
    while (total <= maxLen) {
      const toPage = 4096 - (a % 4096);
      const chunk = new Uint8Array(Math.min(toPage, 256));
      if (this.readUser(a, chunk) !== chunk.length) throw EFAULT;
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        if (total + nul > maxLen) throw ENAMETOOLONG;
        parts.push(chunk.subarray(0, nul));
        total += nul;
        return decodeParts(parts, total);
      }
      parts.push(chunk);
      total += chunk.length;
      a += chunk.length;
    }
    throw ENAMETOOLONG;
  }

  /** Reads a NULL-terminated array of string pointers (argv, envp). */
  copyInStringArray(addr: number, maxCount = 0x7fffffff): string[] {
    const out: string[] = [];
    if (addr === 0) return out;
    const ptr = new DataView(new ArrayBuffer(8));
    const bytes = new Uint8Array(ptr.buffer);
    for (let i = 0; i < maxCount; i++) {
      this.copyInto(addr + 8 * i, bytes);
      const p = Number(ptr.getBigUint64(0, true));
      if (p === 0) return out;
      out.push(this.copyInString(p, 128 * 1024));
    }
    throw EFAULT;
  }

  copyOutU32(addr: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.copyOut(addr, b);
  }

  copyOutU64(addr: number, v: bigint | number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
    this.copyOut(addr, b);
  }

  copyInU64(addr: number): bigint {
    const b = this.copyIn(addr, 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  /**
   * Replaces the u32 at addr with `replacement` if it holds `expected` (a futex op's cmpxchg,
   * atomic against the application's threads where the platform can: AddressSpace.
   * compareExchange32); returns the value found. EFAULT when the word cannot be read and written.
   */
  compareExchangeU32(addr: number, expected: number, replacement: number): number {
    if (!Number.isSafeInteger(addr) || addr < 0) throw EFAULT;
    const found = this.mm.as.compareExchange32(this.ctx, addr, expected, replacement);
    if (found === null) throw EFAULT;
    return found;
  }

  copyInU32(addr: number): number {
    const b = this.copyIn(addr, 4);
    return new DataView(b.buffer).getUint32(0, true);
  }

  /** Thread-group id in the root PID namespace (the kernel's name for the process). */
  get pid(): number {
    return this.tg.tgid;
  }

  /** The PID namespace this task sees ids through (its process's). */
  get pidNs(): PidNamespace {
    return this.tg.pidNs ?? ROOT_PID_NS; // a test's stand-in group may have none
  }

  /** Global id `id` (a pid, tid, pgid or sid) as this task sees it: 0 when not visible. */
  vnr(id: number): number {
    return this.pidNs.local(id);
  }

  /** The live task this task's PID namespace numbers `n` (Linux's find_task_by_vpid). */
  findTask(n: number): Task | undefined {
    const id = this.pidNs.global(n);
    return id === undefined ? undefined : this.kernel.tasks.get(id);
  }

  /** The process (live or zombie) this task's PID namespace numbers `n`. */
  findProcess(n: number): ThreadGroup | undefined {
    const id = this.pidNs.global(n);
    return id === undefined ? undefined : this.kernel.threadGroups.get(id);
  }

  toString(): string {
    return `[${this.tg.tgid}:${this.tid}]`;
  }
}

function decodeParts(parts: Uint8Array[], total: number): string {
  if (parts.length === 1) return decodePath(parts[0]!);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return decodePath(all);
}

/**
 * Whether `next`'s permitted capabilities are no more than `old`'s (Linux's cred_cap_issubset):
 * a subset in the same user namespace, or any set in a descendant namespace owned, at some
 * level below `old`'s namespace, by `old`'s effective uid.
 */
function capsSubset(old: Credentials, next: Credentials): boolean {
  if (old.userNs === next.userNs) return (next.caps.permitted & ~old.caps.permitted) === 0n;
  for (let n = next.userNs; n.parent !== null; n = n.parent) {
    if (n.parent === old.userNs && n.owner === old.euid) return true;
  }
  return false;
}
