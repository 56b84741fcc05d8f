/**
 * What procfs needs to know about the kernel, as an interface: vfs/ does not import the kernel
 * (the kernel implements this in kernel/proc_source.ts). Everything is read when a file is
 * opened or a directory listed, so the views are computed on demand.
 *
 * PIDs are as seen in the PID namespace of the /proc (its mounter's: the sandbox's first for
 * the sandbox's /proc, where init is 1).
 *
 * @module
 */

import type { BlockDeviceTable } from "../block/table.ts";
import type { TimeNamespace } from "../../kernel/time_namespace.ts";
import type { Credentials } from "../../kernel/creds.ts";
import type { WaitQueue } from "../../waiter/mod.ts";
import type { FileDescription } from "../file_description.ts";
import type { Location, Mount, MountNamespace } from "../mount.ts";

/** The task making the current system call: whose "self" /proc/self is. */
/** The files of /proc/sysvipc. */
export type SysvipcKind = "shm" | "sem" | "msg";

export interface ProcCaller {
  pid: number;
  tid: number;
  root: Location;
  creds: Credentials;
}

/** One mapping, as /proc/PID/maps shows it. */
export interface ProcVma {
  start: number;
  end: number;
  prot: number;
  shared: boolean;
  offset: number;
  /** Device and inode of the mapped file; 0 for anonymous memory. */
  dev: number;
  ino: number;
  /** Path, [heap], [stack], or "". */
  name: string;
  /** /proc/PID/smaps's VmFlags mnemonics ("rd wr mr mw me ac"); absent: from prot and shared alone. */
  vmFlags?: string;
  /** Locked (mlock): smaps's Locked counts it. */
  locked?: boolean;
}

/** One thread, for /proc/PID/task/TID and the per-thread fields of stat/status. */
export interface ProcThread {
  tid: number;
  comm: string;
  /** One letter: R (running), S (sleeping), T (stopped), Z (zombie). */
  state: string;
  sigPending: bigint;
  sigBlocked: bigint;
  /** setpriority(2)'s nice, -20..19 (0 when absent). */
  nice?: number;
  /** PR_SET_TIMERSLACK's slack in ns (Linux's 50000 when absent). */
  timerSlackNs?: number;
}

/** One open descriptor. */
export interface ProcFd {
  file: FileDescription;
  cloexec: boolean;
}

/** The memory facts of a process. */
export interface ProcMemory {
  vmas: ProcVma[];
  brkStart: number;
  brk: number;
  stackStart: number;
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
  /** The auxiliary vector's bytes (absent: empty). */
  auxv?: Uint8Array;
}

/**
 * @savable A process's address space as an open /proc/PID/mem reaches it: held from open on,
 * so reads go on reaching the memory the opener saw, and see nothing once it is gone.
 */
export interface ProcMemAccess {
  /** False once the address space was released (its process exited or exec'd). */
  readonly live: boolean;
  /** Copies from addr through any mapping; returns the bytes copied, short at the first unmapped one. */
  read(addr: number, dst: Uint8Array): number;
  /**
   * Copies to addr as ptrace's POKEDATA does (FOLL_FORCE): a read-only private mapping is
   * written too (copy-on-write), a read-only shared one is not. Short as read.
   */
  write(addr: number, src: Uint8Array): number;
  /**
   * /proc/PID/pagemap's entries for `count` pages from the page at addr (Linux's
   * pagemap_read: PM_PRESENT, PM_FILE, PM_MMAP_EXCLUSIVE, PM_SOFT_DIRTY, PM_UFFD_WP,
   * PM_GUARD_REGION; never a frame number).
   */
  pagemap?(addr: number, count: number): BigUint64Array;
}

/** One process (thread group), live or zombie. */
export interface ProcProcess {
  readonly pid: number;
  /** 0 for init. */
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  /** One letter: R, S, T or Z. */
  readonly state: string;
  readonly comm: string;
  /** Live threads, the leader first; a zombie's leader alone (state Z) until it is reaped. */
  readonly threads: ProcThread[];
  /** The credentials of the leader (root's for a zombie). */
  readonly creds: Credentials;
  readonly umask: number;
  /** Monotonic time since boot when the process started, in ns. */
  readonly startNs: number;
  /** CPU time in ns. */
  readonly userNs: number;
  readonly sysNs: number;
  /** CPU time of the reaped children (and theirs), in ns: stat's cutime and cstime. */
  readonly childUserNs: number;
  readonly childSysNs: number;
  readonly exitSignal: number;
  readonly sigIgnored: bigint;
  readonly sigCaught: bigint;
  readonly sigSharedPending: bigint;
  readonly noNewPrivs: boolean;
  /** The seccomp mode (0 none, 1 strict, 2 filter) and the number of filters. */
  readonly seccompMode: number;
  readonly seccompFilters: number;
  /** The id of the task tracing the process's leader with ptrace, or 0. */
  readonly tracerPid: number;
  /** The controlling terminal's device number (0: none) and its foreground group (-1: none). */
  readonly ttyNr: number;
  readonly tpgid: number;
  /** Null for a zombie. */
  memory(): ProcMemory | null;
  /** Bytes of [start, end) of the process's memory, as far as readable. */
  readMemory(start: number, end: number): Uint8Array;
  /** The address space for /proc/PID/mem; null for a zombie. */
  memoryAccess(): ProcMemAccess | null;
  /**
   * Renames thread tid (the leader when null) as a write to its comm file does; the name is
   * already cut to 15 bytes. False when there is no such thread.
   */
  setComm(tid: number | null, comm: string): boolean;
  /**
   * The I/O counters of thread tid, or of the whole process (its exited threads included) when
   * null; null when there is no such thread.
   */
  io(tid: number | null): { rchar: number; wchar: number; syscr: number; syscw: number } | null;
  /** The PIDs of the children thread tid created, ascending. */
  childrenOf(tid: number): number[];
  /** /proc/PID/coredump_filter's bits; null for a zombie (it has no memory). */
  coredumpFilter: number | null;
  exe(): Location | null;
  /** The executable's description when it is in no directory (a memfd); null otherwise. */
  exeFile?(): FileDescription | null;
  cwd(): Location | null;
  root(): Location | null;
  /** Open descriptors in ascending order; empty for a zombie. */
  fds(): number[];
  /** The size of the descriptor array (status's FDSize); 0 for a zombie. */
  fdArraySize(): number;
  fd(n: number): ProcFd | null;
  /** Soft and hard limits, indexed by RLIMIT_* (16 entries). */
  limits(): Array<{ cur: bigint; max: bigint }>;
  oomScoreAdj: number;
  /** /proc/PID/cgroup: "0::PATH\n", the path relative to the reader's cgroup namespace. */
  readonly cgroupLine: string;
  /** The inode number of the cgroup namespace of the process's leader. */
  readonly cgroupNsIno: number;
  /**
   * The leader's namespace of type `type` ("user", "uts", "ipc") and its inode number; null
   * for the other types (the sandbox has one of each) or a process without threads. `absent`:
   * the link names nothing yet (pid_for_children of a PID namespace whose first process is not
   * made: Linux's ENOENT).
   */
  nsOf(type: string): { ino: number; ns: object; absent?: boolean } | null;
  /** The time namespace the leader's children start in (/proc/PID/timens_offsets); null once it has no threads. */
  readonly timeNsForChildren?: TimeNamespace | null;
  /**
   * The process's id of `kind` (its thread `tid`'s for "pid", tid as this /proc numbers it) in
   * this /proc's PID namespace and each one nested below it down to the process's own, as
   * /proc/PID/status's NStgid, NSpid, NSpgid and NSsid list them; absent: the one id.
   */
  nsIds?(kind: "tgid" | "pid" | "pgid" | "sid", tid?: number): number[];
  /** The mount namespace of the process's leader (null for a zombie). */
  readonly mntNs: MountNamespace | null;
}

/** Machine-wide facts. */
export interface ProcSystem {
  /** Monotonic ns since the sandbox booted. */
  uptimeNs: number;
  /** /proc/uptime's first figure: the uptime in the reader's time namespace (its boottime offset added). */
  readerUptimeNs?: number;
  /** Wall-clock seconds since the epoch at boot. */
  bootTimeSec: number;
  hostname: string;
  domainname: string;
  release: string;
  version: string;
  /** Processes created since boot (the last PID handed out). */
  lastPid: number;
  forks: number;
  ncpus: number;
  /** /proc/sys/kernel/pid_max: the host's, so that tools size their PID columns the same. */
  pidMax: number;
  /** Bytes: total memory and what the sandbox uses. */
  memTotal: number;
  memUsed: number;
  /** The host's /proc/cpuinfo, as the CPUs the application runs on. */
  cpuinfo: string;
}

/** The kernel as procfs sees it. */
export interface ProcSource {
  /** The sandbox's block devices (/proc/partitions, /proc/diskstats); absent: none. */
  blockDevices?(): BlockDeviceTable;
  /** The global id of `pid` as this procfs numbers it (null: none). */
  globalId?(pid: number): number | null;
  /** The task in the current system call, or null outside one. */
  caller(): ProcCaller | null;
  /** Every process's PID, ascending. */
  pids(): number[];
  process(pid: number): ProcProcess | null;
  /** The PID of the process a thread belongs to, or null if there is no such thread. */
  tgidOf(tid: number): number | null;
  system(): ProcSystem;
  /**
   * How many times the hostname (or the domain name) changed, and the queue notified when it
   * does: poll on /proc/sys/kernel/{hostname,domainname} reports a change once (proc_sys_poll).
   */
  utsChanges(which: "hostname" | "domainname"): { count: number; queue: WaitQueue };
  /**
   * A write of /proc/sys/kernel/{hostname,domainname} (proc_do_uts_string): the caller's UTS
   * namespace takes the name; absent: the files are read-only.
   */
  setUtsName?(which: "hostname" | "domainname", name: string): void;
  /** Every mount of ns, parents first. */
  mounts(ns: MountNamespace | null): Mount[];
  /** The text of the sysctl at /proc/sys/KEY that the kernel provides (kernel/shmmni, net/ipv4/tcp_rmem, ...). */
  sysctl?(key: string): string;
  /**
   * Writes the sysctl at /proc/sys/KEY (the text as written); EINVAL for a value out of its
   * range. Only the keys the kernel can change (fs/nr_open) are writable.
   */
  setSysctl?(key: string, text: string): void;
  /** The text of /proc/PID/net/NAME of thread `tid`'s network namespace; absent: the files are empty. */
  netFile?(name: NetFileKind, tid: number): string;
  /** /proc/sysvipc/KIND for the reader's IPC namespace (kernel/ipc_proc.ts). */
  sysvipc?(kind: SysvipcKind): string;
  /**
   * ioctl(2) on the nsfs inode at `loc` by the task in the current system call: the NS_GET_*
   * requests (kernel/nsfs.ts); absent: ENOTTY, as for any file without an ioctl.
   */
  nsIoctl?(loc: Location, cmd: number, arg: number): number;
}

/** The files of /proc/net. */
export type NetFileKind = "tcp" | "tcp6" | "udp" | "udp6" | "udplite" | "udplite6" | "dev" | "unix" | "snmp" | "netstat" | "if_inet6";
