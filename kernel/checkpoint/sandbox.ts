/**
 * Saving a paused sandbox as data and rebuilding it in a new kernel (issue #13; design in
 * docs/checkpoint.md).
 *
 * What is covered: every process (thread groups with their parent links, process groups and
 * sessions; zombies with their exit status) and every thread; per thread its registers
 * (general and the XSAVE area: x87, SSE, MXCSR, AVX), signal mask, pending signals, alternate
 * stack, credentials and scheduling attributes; per process its handlers, pending signals,
 * limits and ITIMER_REAL with its remaining time; every address space once however many
 * processes share it (every private mapping with its contents: anonymous memory as it is,
 * private file mappings as anonymous copies of their current contents); every fd table, fs
 * context (cwd, umask) and file description once however many share it: the sentry's stdio
 * (restored as the restoring caller's) and pipes with their buffered data. A thread in a
 * syscall (asleep, or stopped at its syscall and not yet served) is saved with its registers
 * wound back onto the `syscall` instruction, so that the restored thread issues it again
 * (blocked syscalls are restartable by design); a futex wait already woken is saved as
 * returned 0, and a syscall with partial progress as returning that count. CLOCK_MONOTONIC
 * continues from the checkpoint's value. Anything else the sandbox holds is refused at
 * checkpoint time with a one-line {@linkcode CheckpointError}, never silently dropped.
 *
 * @module
 */

import { uffdSysctl } from "../userfaultfd.ts";
import { intIn, withFastPath, z } from "./zod_tree.ts";
import { MAX_FILES, MAX_PROCESSES, MAX_TASKS, plainHandlers, plainRun, plainSandbox, plainVma } from "./plain_state.ts";
import { UCOUNT_NAMES } from "../ucounts.ts";
import type { Kernel } from "../kernel.ts";
import { futexWokenResult } from "../futex.ts";
import { Task } from "../task.ts";
import { ThreadGroup } from "../thread_group.ts";
import { MemoryManager, SharedAnon, sharedObject, type Vma } from "../mm/mm.ts";
import { FdTable, type SavedFdTable } from "../fd_table.ts";
import { FsContext } from "../fs_context.ts";
import { Credentials } from "../creds.ts";
import { INIT_USER_NS } from "../user_namespace.ts";
import { ROOT_PID_NS } from "../pid_namespace.ts";
import { Limits } from "../limits.ts";
import { SignalHandlers } from "../signals.ts";
import type { SigInfo } from "../signal_frame.ts";
import type { PendingSignals } from "../task_signals.ts";
import { continueMonotonicFrom, monotonicNs } from "../time.ts";
import { Pipe, PIPE_MAX_SIZE, PipeEnd, pipeSysctl } from "../../vfs/pipe.ts";
import { FifoEnd } from "../../vfs/fifo.ts";
import { O_ACCMODE, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } from "../../abi/linux/file.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { FPREGS_SIZE, type Context } from "../../platform/mod.ts";
import { USER_REGS_SIZE } from "../../platform/ptrace/regs_amd64.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { CAP_FULL_SET, SECURE_ALL_BITS, SECURE_ALL_LOCKS } from "../../abi/linux/capability.ts";
import { OverlayDentry } from "../../vfs/overlay/overlay.ts";
import { OverlayRegularFile } from "../../vfs/overlay/overlay_file.ts";
import { HostRegularFile } from "../../vfs/hostfs/hostfs.ts";
import { HostFile } from "../../vfs/host_file.ts";
import {
  bindSocketFiles, openDirSchema, openFileSchema, restoreOpenDir, restoreOpenFile, restoreTrees, saveOpenFile, saveTrees, treeSchema,
} from "./files.ts";
import { checkOrphansShape, OrphanMaker, orphanSchema, OrphanSaver, removedDir, saveCwd, tmpfsInodeOf } from "./orphans.ts";
import { checkLocksShape, fileLocksSchema, restoreLocks, saveLocks } from "./locks.ts";
import { attachRights, isUnixSocket, makeUnixSockets, saveUnixSocket, type SavedUnixSocket, unixSocketSchema } from "./unix_sockets.ts";
import type { UnixSocket } from "../socket/unix/unix_socket.ts";
import { netModules, netModulesIfLoaded } from "../net_load.ts";
import { LOOPBACK_INDEX, Net } from "../net.ts";
import { nsfsNamespace } from "../../vfs/procfs/procfs.ts";
import { SocketFile } from "../socket/socket.ts";
import { SOCK_STREAM } from "../../abi/linux/socket.ts";
import { InetSaver, inetFileSchemas, makeInetFile, makeInetSockets, tcpSnapshotSchema, udpSnapshotSchema } from "./inet_sockets.ts";
import { processTimersSchema, restoreProcessTimers, saveProcessTimers } from "./timers.ts";
import { checkMemfdShape, makeMemfd, memfdSchema, saveMemfd, sealMemfd } from "./memfd.ts";
import { MemFd } from "../../vfs/memfd.ts";
import { IPC_LIMITS } from "../ipc.ts";
import { taskCpu } from "../cpu_time.ts";
import { checkTtyShape, hangUpExecTerminal, makeTerminals, makeTtyFile, type SavedTerminal, saveTerminal, saveTtyFile, terminalSchema, ttyFileSchema } from "./ttys.ts";
import type { Terminal } from "../../vfs/tty/mod.ts";
import { anonFileSchemas, armAnonFile, linkAnonFile, makeAnonFile, saveAnonFile, type SavedAnonFile } from "./anon_files.ts";
import {
  checkIpcShape, makeMqueues, MqueueSaver, mqueueFileSchema, mqueuesSchema, openMqueue, restoreSysvIpc, saveSysvIpc, sysvIpcSchema,
  wokenByRemoval,
} from "./ipc.ts";
import { checkProcFileHolders, makeProcFile, procFileSchemas, reopenKernFiles, saveProcFile, type SavedPidFd } from "./proc_files.ts";
import { checkNetlinkShape, makeNetlinkFile, netlinkFileSchema, saveNetlinkFile } from "./netlink.ts";
import { restoreTaskPolicies, saveTaskPolicies, taskPolicySchemas } from "./task_policies.ts";
import { checkKeyringsShape, keyringsSchema, restoreKeyrings, saveKeyrings, serial as keyringSerial } from "./keys.ts";
import { dnotifyEntries } from "../dnotify.ts";
import { checkSeccompShape, makeSeccompStates, SeccompSaver, seccompFilterSchema, seccompStateSchema } from "./seccomp.ts";
import { checkCowObjects, checkCowPieces, CowMemories, cowObjectSchema, cowPieceSchema, CowSaver, joinPieces, type SavedCowPiece } from "./cow.ts";
import {
  checkRoot, type Image, type ImageBlob, IMAGE_FORMAT_VERSION, IMAGE_MAGIC, ImageError, readImage, readImageFast, rootIdentity, writeImage,
} from "./image.ts";
export { loadCodecs, loadEncoders } from "./image.ts";

const PROT_READ = 1, PROT_WRITE = 2;
const SIGALRM = 14, SI_KERNEL = 0x80;
/** The largest run of memory one blob holds (a larger run is split). */
const RUN_BYTES = 16 << 20;
/** Bounds on the image's tables: far above any sandbox this sentry runs, far below a DoS. */

/** Why a sandbox cannot be checkpointed (yet), in one line. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(`checkpoint: ${message}`);
    this.name = "CheckpointError";
  }
}

// ---- The saved state (format version IMAGE_FORMAT_VERSION) ---------------------------------

const u64 = intIn(0, Number.MAX_SAFE_INTEGER);
const u32 = intIn(0, 0xffff_ffff);
const i32 = intIn(-0x8000_0000, 0x7fff_ffff);
const id = intIn(1, 1 << 22);
/** A 64-bit value (sigset, address, rlimit) as hex digits: CBOR's integers round-trip as doubles. */
const HEX64 = /^[0-9a-f]{1,16}$/;
const hex64 = z.string().regex(HEX64);
const sized = (n: number) => z.instanceof(Uint8Array).refine((b) => b.length === n, `must be ${n} bytes`);
const absPath = z.string().max(4096).refine((p) => p.startsWith("/"), "must be absolute");
const ns = z.number().min(0).max(2 ** 62);

/**
 * A process's 65 signal actions, `[handler, flags, restorer, mask]` each: checked by hand, as
 * completely as `z.array(z.tuple([hex64, u32, hex64, hex64])).length(65)` would. They are 260 of
 * the ~1,600 values of an idle shell's state, most of them default, and zod's parse of them
 * cost ~1 ms a process (a schema run, a result object and an issue list per value).
 */
const handlersSchema = z.custom<Array<[string, number, string, string]>>(plainHandlers, "expected 65 signal actions of [hex, u32, hex, hex]");

const fileSchema = z.discriminatedUnion("kind", [
  /** One of the sentry's stdio host files: the restoring caller's descriptor `index`. */
  z.object({ kind: z.literal("stdio"), index: z.union([z.literal(0), z.literal(1), z.literal(2)]), flags: u32 }).strict(),
  /** One end of pipes[pipe]. */
  z.object({ kind: z.literal("pipe"), pipe: u32, reader: z.boolean(), flags: u32 }).strict(),
  /**
   * An open end of the FIFO at `path` (a FIFO of a saved tree, or of the host's lower layer),
   * whose buffered data is pipes[pipe]; flags with O_RDONLY, O_WRONLY or O_RDWR.
   */
  z.object({ kind: z.literal("fifo"), path: absPath, pipe: u32, flags: u32 }).strict(),
  /** A regular file reopened by path (files.ts). */
  openFileSchema,
  /** A directory reopened by path, with its position and listing (files.ts). */
  openDirSchema,
  /** eventfd, timerfd, signalfd, epoll (anon_files.ts). */
  ...anonFileSchemas,
  /** An AF_UNIX socket: unixSockets[socket] (unix_sockets.ts). */
  z.object({ kind: z.literal("unix"), socket: u32 }).strict(),
  /** Either side of terminals[terminal] (ttys.ts). */
  ttyFileSchema,
  /** A TCP or UDP socket file over tcpSockets[socket] or udpSockets[socket] (inet_sockets.ts). */
  ...inetFileSchemas,
  /** A memfd with its contents (memfd.ts). */
  memfdSchema,
  /** A POSIX message queue's descriptor: mqueues.queues[queue] (ipc.ts). */
  mqueueFileSchema,
  /** A file of /proc or /sys, or a pidfd (proc_files.ts). */
  ...procFileSchemas,
  /** A NETLINK_ROUTE socket (netlink.ts). */
  netlinkFileSchema,
  /**
   * A descriptor an `exec` client passed as its process's stdio, gone with the client (which
   * does not follow a restore): its access mode and status flags.
   */
  z.object({ kind: z.literal("gone"), flags: u32 }).strict(),
]);

/** Built at the first pipe an image holds (z.lazy). */
const pipeSchema = z.lazy(() => z.object({
  slots: intIn(1, 1 << 16),
  /** An anonymous pipe's inode: its permission bits and owner. */
  attrs: z.object({ mode: intIn(0, 0o7777), uid: u32, gid: u32 }).strict().optional(),
  /** The ring's slots in order: data[0, len) starting at `offset` within its first page. */
  bufs: z.array(z.object({
    data: z.instanceof(Uint8Array).refine((b) => b.length > 0 && b.length <= 1 << 20, "bad pipe buffer"),
    offset: intIn(0, PAGE_SIZE - 1),
    canMerge: z.boolean(),
    packet: z.boolean(),
  }).strict()).max(1 << 16),
}).strict());

const vmaSchema = z.object({
  start: u64,
  end: u64,
  prot: intIn(0, 7),
  name: z.string().max(4096),
  growsDown: z.boolean(),
  locked: z.boolean().optional(),
  /** prctl(PR_SET_VMA_ANON_NAME)'s name; absent: none. */
  anonName: z.string().max(80).optional(),
  /** madvise(MADV_DONTFORK); absent: false. */
  dontCopy: z.literal(true).optional(),
  /** madvise(MADV_WIPEONFORK); absent: false. */
  wipeOnFork: z.literal(true).optional(),
  /** mseal(2); absent: false. */
  sealed: z.literal(true).optional(),
  /**
   * MAP_SHARED|MAP_ANONYMOUS memory: the object (one index per memory object, however many
   * mappings and processes share it) and the offset of `start` in it.
   */
  shared: z.object({ object: intIn(0, MAX_FILES), offset: u64 }).strict().optional(),
  /**
   * A private mapping of a host file of the overlay's lower layer, by reference: the file at
   * `path` (its size and mtime checked on restore) mapped again from `offset`; the runs hold
   * only the pages that differ from the file (written by the program, or relocated by ld.so).
   */
  file: z.object({ path: absPath, offset: u64, size: u64, mtimeNs: z.string().regex(/^\d{1,20}$/) }).strict().optional(),
  /** MAP_SHARED of a memfd: the memfd (an index of the image's files) and the offset of `start` in it. */
  memfd: z.object({ file: u32, offset: u64 }).strict().optional(),
  /**
   * MAP_SHARED of a file of a tmpfs or of the overlay's upper layer: the file (an index of the
   * image's files, reopened by path or an unlinked file) and the offset of `start` in it. Its
   * pages are the file's, saved with its tree (or as an unlinked file), not with the mapping.
   */
  written: z.object({ file: u32, offset: u64 }).strict().optional(),
}).strict().refine(
  (v) => [v.shared, v.file, v.memfd, v.written].filter((x) => x !== undefined).length <= 1,
  "a mapping is shared memory, a file, a memfd or a written file, one of them",
);

const runSchema = z.object({ addr: u64, blob: u32 }).strict();

const memorySchema = z.object({
  vmas: z.array(withFastPath(vmaSchema, plainVma)).max(65536),
  /** Memory contents: `blob` holds the bytes at `addr` (pages never written are not stored). */
  runs: z.array(withFastPath(runSchema, plainRun)),
  /**
   * Private memory shared copy-on-write with other address spaces (cow.ts): ranges mapped from
   * the image's copy-on-write objects, sorted by address; the runs inside hold only the pages
   * that differ from the object's.
   */
  cow: z.array(cowPieceSchema).max(65536).optional(),
  brkStart: u64,
  brk: u64,
  stackBottom: u64,
  argStart: u64,
  argEnd: u64,
  envStart: u64,
  envEnd: u64,
  executable: z.string().max(4096),
  exe: absPath.nullable(),
  /** The auxiliary vector (hex), /proc/PID/auxv; mlockall(MCL_FUTURE). */
  auxv: z.string().regex(/^([0-9a-f]{2}){0,1024}$/).optional(),
  lockFuture: z.boolean().optional(),
  /** membarrier(2)'s registrations (MEMBARRIER_CMD_REGISTER_* bits). */
  membarrierRegistered: intIn(0, 0x3ff).optional(),
}).strict();

const fdTableSchema = z.object({
  limit: z.union([intIn(0, 1 << 30), z.literal(Infinity)]),
  arraySize: intIn(64, 1 << 30).optional(),
  slots: z.array(z.object({ fd: intIn(0, 1 << 30), file: u32, cloexec: z.boolean() }).strict()).max(1 << 20),
}).strict();

/** Built at the first queued signal an image holds (z.lazy). */
const sigInfoSchema = z.lazy(() => z.object({
  signo: intIn(1, 64),
  code: i32,
  errno: i32.optional(),
  pid: i32.optional(),
  uid: u32.optional(),
  status: i32.optional(),
  addr: u64.optional(),
  value: hex64.optional(),
  overrun: i32.optional(),
  /** A POSIX timer's signal: its timer and the timer's sequence when sent (a stale one is dropped). */
  timerId: intIn(0, 0x7fff_ffff).optional(),
  timerSeq: u32.optional(),
  /** SIGIO of O_ASYNC: the poll band and the descriptor. */
  band: i32.optional(),
  fd: i32.optional(),
  /** SIGSYS of a seccomp filter (SECCOMP_RET_TRAP): the syscall and its audit arch. */
  syscall: i32.optional(),
  arch: u32.optional(),
}).strict());

const credsSchema = z.object({
  uid: u32, gid: u32, euid: u32, egid: u32, suid: u32, sgid: u32, fsuid: u32, fsgid: u32,
  groups: z.array(u32).max(65536),
  /** Capability sets (hex) and securebits: a process that dropped capabilities keeps them dropped. */
  caps: z.object({
    inheritable: hex64, permitted: hex64, effective: hex64, bounding: hex64, ambient: hex64, securebits: u32,
  }).strict().optional(),
}).strict();

const taskSchema = z.object({
  tid: id,
  name: z.string().max(15),
  regs: sized(USER_REGS_SIZE),
  /** The XSAVE area (x87, SSE, AVX, ... and its header), as large as the host CPU makes it. */
  fp: z.instanceof(Uint8Array).refine((b) => b.length >= FPREGS_SIZE && b.length <= 1 << 16, "bad XSAVE size"),
  sigmask: hex64,
  pending: z.array(sigInfoSchema).max(1 << 16),
  altStack: z.object({ sp: u64, size: u64, flags: u32 }).strict(),
  clearChildTid: u64,
  robustList: u64,
  pdeathSignal: intIn(0, 64),
  timerSlack: z.object({ ns: u64, defaultNs: u64 }).strict().optional(),
  noNewPrivs: z.boolean(),
  nice: intIn(-20, 19),
  ioprio: intIn(0, 0xffff).optional(),
  sched: z.object({
    policy: intIn(0, 7), priority: intIn(0, 99), resetOnFork: z.boolean(), sliceNs: u64,
    dl: z.object({ runtime: u64, deadline: u64, period: u64 }).strict().nullable().optional(),
  }).strict(),
  creds: credsSchema,
  fdTable: u32,
  fs: u32,
  /** Its seccomp state (index into seccompStates, seccomp.ts); absent: none. */
  seccomp: u32.optional(),
  /** CPU affinity and NUMA policy (task_policies.ts); absent: the defaults. */
  ...taskPolicySchemas,
  /** Its session and thread keyrings, by serial (keys.ts); absent: none yet. */
  sessionKeyring: keyringSerial.optional(),
  threadKeyring: keyringSerial.optional(),
  /** request_key's default keyring (KEY_REQKEY_DEFL_*); absent: 0. */
  reqkeyDefault: intIn(1, 7).optional(),
  /** The thread's CPU time so far: its CPU clock (and its process's) continues from it. */
  cpu: z.object({ userNs: ns, sysNs: ns }).strict(),
}).strict();

const processSchema = z.object({
  tgid: id,
  /** The parent's tgid; null for init. */
  parent: id.nullable(),
  /** 0: outside the sandbox (init's, until it makes a session or group of its own). */
  pgid: z.number().int().min(0).max(1 << 22),
  sid: z.number().int().min(0).max(1 << 22),
  exitSignal: intIn(0, 64),
  leaderComm: z.string().max(15),
  /** Set for a zombie: the wait status it reports and the uid of its last thread. */
  zombie: z.object({
    status: intIn(0, 0xffff), uid: u32, euid: u32.optional(), nice: intIn(-20, 19).optional(),
    /** uid, gid, euid, egid, suid, sgid, fsuid, fsgid (PIDFD_GET_INFO); absent: uid and euid only. */
    ids: z.array(u32).length(8).optional(),
    sched: z.object({ policy: u32, priority: intIn(0, 99) }).strict().optional(),
  }).strict().nullable(),
  limits: z.array(z.tuple([intIn(0, 15), hex64, hex64])).max(16),
  /** Index 0 unused, 1..64 the signals: handler, flags, restorer, mask. */
  handlers: handlersSchema,
  /**
   * A process that shares its handlers with another without being one process with it (clone
   * with CLONE_SIGHAND and without CLONE_THREAD): the tgid of the first such process in the
   * image, whose table it takes (its own `handlers` are a copy of it).
   */
  handlersOf: id.optional(),
  /** Its process keyring, by serial (keys.ts); absent: none yet. */
  processKeyring: keyringSerial.optional(),
  /** The address space (index into mms); null for a zombie. */
  mm: u32.nullable(),
  /** The controlling terminal (index into terminals), or null. */
  tty: u32.nullable(),
  /**
   * Job control (kernel/job_control.ts): the signal of a group stop under way or complete (its
   * threads stop again at their first step after the restore), whether it is complete, and what
   * wait(WUNTRACED) and wait(WCONTINUED) have yet to report.
   */
  jobStop: z.object({
    groupStop: intIn(1, 64).nullable(),
    stopped: z.boolean(),
    stopReport: intIn(0, 64),
    continuedReport: z.boolean(),
  }).strict().refine((j) => !j.stopped || j.groupStop !== null, "stopped without a group stop"),
  /** ITIMER_REAL: its deadline on the monotonic clock and its interval. */
  itimerReal: z.object({ deadlineNs: ns, intervalNs: ns }).strict().nullable(),
  pending: z.array(sigInfoSchema).max(1 << 16),
  dumpable: intIn(0, 2),
  subreaper: z.boolean(),
  execed: z.boolean(),
  oomScoreAdj: intIn(-1000, 1000),
  coredumpFilter: intIn(0, 0x1ff).optional(),
  thpDisable: intIn(0, 3).optional(),
  timerSeq: u32,
  /** ITIMER_VIRTUAL/PROF, RLIMIT_CPU's timers and POSIX timers (timers.ts). */
  timers: processTimersSchema,
  cpu: z.object({ userNs: ns, sysNs: ns, childUserNs: ns, childSysNs: ns, maxRssKb: u64, childMaxRssKb: u64 }).strict(),
  tasks: z.array(taskSchema).max(MAX_TASKS),
}).strict();

/** The sandbox as a checkpoint image holds it. */
export const savedSandboxSchema = z.object({
  hostname: z.string().max(64),
  /** /proc/sys/fs/nr_open when changed from its default. */
  nrOpen: intIn(64, 2147483584).optional(),
  /**
   * The initial user namespace's per-user limits (/proc/sys/user, /proc/sys/fs/inotify), by
   * kind (kernel/ucounts.ts), when one changed from its boot value.
   */
  ucountMax: z.array(intIn(0, Number.MAX_SAFE_INTEGER)).length(UCOUNT_NAMES.length).optional(),
  /** /proc/sys/fs/lease-break-time and leases-enable, when changed (held leases are refused). */
  leaseSysctl: z.object({ breakTimeSec: i32, enabled: i32 }).optional(),
  /** /proc/sys/net/ipv4's ip_forward, tcp_sack, tcp_recovery when changed. */
  netSysctl: z.object({ ipForward: i32, tcpSack: i32, tcpRecovery: i32, loAcceptLocal: i32.optional(), loRouteLocalnet: i32.optional(),
    loTag: i32.optional(), defaultTag: i32.optional() }).strict().optional(),
  /** /proc/sys/net/ipv4/ip_local_port_range when changed from its default. */
  portRange: z.tuple([intIn(1024, 65535), intIn(1024, 65535)]).optional(),
  nextTid: intIn(2, 1 << 22),
  /** CLOCK_MONOTONIC at the checkpoint: the restored sandbox's clock continues from it. */
  monotonicNs: ns,
  init: id,
  /** What the sandbox wrote to its filesystems (files.ts), restored before any file is reopened. */
  trees: z.array(treeSchema).max(64),
  files: z.array(fileSchema).max(MAX_FILES),
  pipes: z.array(pipeSchema).max(MAX_FILES),
  unixSockets: z.array(unixSocketSchema).max(MAX_FILES),
  /** Pseudo-terminal pairs with their line disciplines (ttys.ts). */
  terminals: z.array(terminalSchema).max(4096),
  /** The console of `-t` (index into terminals): its master is the restoring caller's terminal. */
  console: u32.nullable(),
  /**
   * Terminals of `exec -t` sessions (indices into terminals): their masters were bridges to
   * exec clients, which do not follow a restore; restored hung up, as when a client goes away.
   */
  execTerminals: z.array(u32).max(4096).optional(),
  /** The next autobind name of the abstract namespace. */
  unixAutobind: intIn(0, 0xfffff),
  /** The netstack's TCP sockets (those no descriptor holds too) and UDP sockets (inet_sockets.ts). */
  tcpSockets: z.array(tcpSnapshotSchema).max(MAX_FILES),
  udpSockets: z.array(udpSnapshotSchema).max(MAX_FILES),
  mms: z.array(memorySchema).max(MAX_PROCESSES),
  /** Held file locks, by file (locks.ts); absent when none. */
  locks: z.array(fileLocksSchema).max(MAX_FILES).optional(),
  /** Files unlinked while open with no name left, each once (orphans.ts); absent when none. */
  orphans: z.array(orphanSchema).max(MAX_FILES).optional(),
  /** Private memory several address spaces share copy-on-write (cow.ts), each page once. */
  cowObjects: z.array(cowObjectSchema).max(MAX_FILES),
  fdTables: z.array(fdTableSchema).max(MAX_TASKS),
  /** cwd (`removed`: rmdir'd while in use, orphans.ts), umask and, for a chrooted task, its root (absent: the sandbox's). */
  fsContexts: z.array(z.object({ cwd: absPath, umask: intIn(0, 0o777), root: absPath.optional(), removed: z.literal(true).optional() }).strict())
    .max(MAX_TASKS),
  processes: z.array(processSchema).min(1).max(MAX_PROCESSES),
  /** seccomp filter programs and the states that list them, each once (seccomp.ts). */
  seccompFilters: z.array(seccompFilterSchema).max(MAX_TASKS).optional(),
  seccompStates: z.array(seccompStateSchema).max(MAX_TASKS).optional(),
  /** System V IPC objects and POSIX message queues of the sandbox's IPC namespace (ipc.ts). */
  sysvIpc: sysvIpcSchema.optional(),
  /** Every key and keyring, in creation order, and the key limits (keys.ts). */
  keyrings: keyringsSchema.optional(),
  mqueues: mqueuesSchema.optional(),
}).strict();

export type SavedSandbox = z.infer<typeof savedSandboxSchema>;
type SavedProcess = z.infer<typeof processSchema>;
type SavedTask = z.infer<typeof taskSchema>;
type SavedFile = z.infer<typeof fileSchema>;
type SavedMemory = z.infer<typeof memorySchema>;
type SavedSigInfo = z.infer<typeof sigInfoSchema>;
type SavedPipe = z.infer<typeof pipeSchema>;

// ---- Save ----------------------------------------------------------------------------------

/** Objects shared between owners, each saved once and referred to by its index. */
class Table<K, V> {
  readonly items: V[] = [];
  readonly #index = new Map<K, number>();
  ref(key: K, save: () => V): number {
    let i = this.#index.get(key);
    if (i === undefined) {
      // Reserve the index before saving, so that what the save refers to comes after.
      i = this.items.length;
      this.#index.set(key, i);
      this.items.push(undefined as V);
      this.items[i] = save();
    }
    return i;
  }
  /** key's index, if it was saved. */
  indexOf(key: K): number | null {
    return this.#index.get(key) ?? null;
  }
}

interface SaveContext {
  kernel: Kernel;
  blobs: Uint8Array[];
  files: Table<FileDescription, SavedFile>;
  orphans: OrphanSaver;
  pipes: Table<Pipe, SavedPipe>;
  sockets: Table<UnixSocket, SavedUnixSocket>;
  terminals: Table<Terminal, SavedTerminal>;
  inet: InetSaver;
  mms: Table<MemoryManager, SavedMemory>;
  cow: CowSaver;
  sharedAnons: Table<SharedAnon, true>;
  /** Where each piece of shared memory will be restored from (checked as the restore will do it). */
  placement: SharedPlacement;
  fdTables: Table<FdTable, SavedFdTable>;
  fsContexts: Table<FsContext, { cwd: string; umask: number; root?: string; removed?: true }>;
  seccomp: SeccompSaver;
  mqueues: MqueueSaver;
  parked: ReadonlyMap<Task, { kind: string }>;
  /** The descriptions the sentry gave init as its stdio (Kernel.initStdio). */
  stdio: readonly FileDescription[];
}

/**
 * The state of a paused, quiescent sandbox (Kernel.pause, then Kernel.quiescent) and its
 * memory as blobs. Reads the sandbox without changing it (it may go on after). Throws
 * {@linkcode CheckpointError} for what is not saved.
 */
export function saveSandbox(k: Kernel): { state: SavedSandbox; blobs: Uint8Array[] } {
  if (!k.quiescent) throw new CheckpointError("the sandbox is not paused at its safe point");
  const init = k.init;
  if (init === null || init.zombie) throw new CheckpointError("the sandbox's init has exited");
  const c: SaveContext = {
    kernel: k,
    blobs: [],
    files: new Table(),
    orphans: null as unknown as OrphanSaver,
    pipes: new Table(),
    sockets: new Table(),
    terminals: new Table(),
    inet: new InetSaver(k, (what) => new CheckpointError(`${what}: not saved yet`)),
    mms: new Table(),
    cow: new CowSaver(),
    sharedAnons: new Table(),
    placement: new SharedPlacement(),
    fdTables: new Table(),
    fsContexts: new Table(),
    seccomp: new SeccompSaver(),
    mqueues: new MqueueSaver(k.ipc.mqueue),
    parked: k.parkedStops(),
    stdio: k.initStdio,
  };
  c.orphans = new OrphanSaver(k, c.blobs);
  const groups = [...k.threadGroups.values()].sort((a, b) => a.tgid - b.tgid);
  // Handler tables that live processes share (CLONE_SIGHAND without CLONE_THREAD): the first
  // process (by tgid) to hold each saves it, the others name that process.
  const handlersFirst = new Map<SignalHandlers, number>();
  for (const tg of groups) if (!tg.zombie && !handlersFirst.has(tg.handlers)) handlersFirst.set(tg.handlers, tg.tgid);
  if (k.bpf.progs.size > 0) throw new CheckpointError("eBPF programs are loaded or attached (bpf): not saved yet");
  if (k.net.tuns.size > 0) throw new CheckpointError("a TUN/TAP device (/dev/net/tun) exists: not saved yet");
  if (k.net.virtualLinks.size > 0) throw new CheckpointError("a veth or bridge device (RTM_NEWLINK) exists: not saved yet");
  if (k.net.stack.interfaces.some((i) => i.removed)) {
    throw new CheckpointError("a TUN/TAP device was deleted (the restored stack would number interfaces anew): not saved yet");
  }
  if (k.net.configChanged) throw new CheckpointError("the network's addresses or routes were changed (rtnetlink): not saved yet");
  if (!k.net.nftables.empty) throw new CheckpointError("nf_tables holds tables (NETLINK_NETFILTER): not saved yet");
  if (k.ipc.sysctls.changed) throw new CheckpointError("the System V IPC limits (/proc/sys/kernel/shm*, msg*, sem) were changed: not saved yet");
  if (k.net.xtablesChanged) throw new CheckpointError("the iptables tables were replaced or counted (IPT_SO_SET_REPLACE): not saved yet");
  if (!k.net.linkUp(LOOPBACK_INDEX)) throw new CheckpointError("the loopback interface was brought down: not saved yet");

  // Mount namespaces and propagation are not in the image (the tree is rebuilt from the bundle).
  if ([...k.tasks.values()].some((t) => t.fs.mntns !== k.vfs.initNs)) {
    throw new CheckpointError("a task is in a mount namespace of its own (unshare or clone with CLONE_NEWNS): not saved yet");
  }
  if (k.tty.otherInstances) throw new CheckpointError("a devpts instance was mounted (mount -t devpts): not saved yet");
  // The image rebuilds the first namespace's tree from the bundle, on its boot root.
  if (k.vfs.initNs.root !== k.vfs.bootRoot) {
    throw new CheckpointError("the sandbox's root was changed by pivot_root: not saved yet");
  }
  if (!k.vfs.groupIds.empty || k.vfs.mounts().some((m) => m.master !== null || m.unbindable)) {
    throw new CheckpointError("a mount is shared, a slave or unbindable (mount propagation): not saved yet");
  }
  if (k.nestedPidNamespaces) throw new CheckpointError("a second PID namespace exists (CLONE_NEWPID): not saved yet");
  // The cgroup2 hierarchy is not in the image: refused once it is mounted or changed. The
  // bundle's own cgroup mount (a container engine's /sys/fs/cgroup) is made again by the
  // restoring boot, from the bundle, with the restoring command's limits.
  if (k.vfs.mounts().some((m) => m.fs === k.cgroups && !k.cgroups.bootMounts.has(m))) {
    throw new CheckpointError("a cgroup2 filesystem is mounted: not saved yet");
  }
  if (k.cgroups.changed || k.cgroups.nsdelegate || groups.some((tg) => tg.cgroup !== null)) {
    throw new CheckpointError("the cgroup2 hierarchy was changed (cgroups made, processes moved): not saved yet");
  }
  if ([...k.tasks.values()].some((t) => t.cgroupNs !== null)) {
    throw new CheckpointError("a task is in a cgroup namespace of its own: not saved yet");
  }
  if (groups.some((tg) => !tg.zombie && (tg.mm.aio?.size ?? 0) > 0)) throw new CheckpointError("asynchronous I/O contexts (io_setup) exist: not saved yet");
  if (groups.some((tg) => !tg.zombie && tg.mm.exeFile !== null)) {
    throw new CheckpointError("a process runs an executable in no directory (a memfd run by execveat): not saved yet");
  }
  if (groups.some((tg) => tg.exitLandlock !== null)) throw new CheckpointError("a zombie was restricted by Landlock: not saved yet");
  if (k.leases.held > 0) throw new CheckpointError("a file lease is held (F_SETLEASE): not saved yet");
  if (pipeSysctl.maxSize !== PIPE_MAX_SIZE) throw new CheckpointError("/proc/sys/fs/pipe-max-size was changed: not saved yet");
  if (uffdSysctl.unprivileged !== 0) throw new CheckpointError("/proc/sys/vm/unprivileged_userfaultfd was changed: not saved yet");
  if (groups.some((tg) => !tg.zombie && (tg.mm.pageMarks?.size ?? 0) > 0)) {
    throw new CheckpointError("a guard page (MADV_GUARD_INSTALL) or poisoned page (UFFDIO_POISON) exists: not saved yet");
  }
  if (dnotifyEntries() > 0) throw new CheckpointError("a directory is watched with F_NOTIFY (dnotify): not saved yet");
  const processes = groups.map((tg) => {
    const p = saveProcess(tg, c);
    const first = tg.zombie ? undefined : handlersFirst.get(tg.handlers);
    if (first !== undefined && first !== tg.tgid) p.handlersOf = first;
    return p;
  });
  // Once every description and descriptor table has its index.
  const locks = saveLocks(
    k.fileLocks, (f) => c.files.indexOf(f), (t) => c.fdTables.indexOf(t as FdTable), (what) => new CheckpointError(`${what}: not saved yet`),
  );
  // After the descriptors: a segment's memfd is a file of the image, held by the segment alone.
  const sysvIpc = saveSysvIpc(k.ipc, (f) => saveFile(f, c), (what) => new CheckpointError(`${what}: not saved yet`));
  const mqueues = c.mqueues.finish();
  const keyrings = saveKeyrings(k.keys);
  // After the tasks (each refused in its own namespace): what else keeps one alive.
  if (otherNetNamespace(k)) {
    throw new CheckpointError("a descriptor holds a network namespace other than the sandbox's first (a socket, TUN device or /proc/PID/ns/net): not saved yet");
  }
  const consoleTerm = k.tty.console;
  const console = consoleTerm === null || consoleTerm.hungUp ? null : c.terminals.ref(consoleTerm, () => saveTerminal(consoleTerm));
  // A pty whose master is neither a description in the sandbox nor the console is an `exec -t`
  // session's, bridged by this sentry to a client that will not follow the restore.
  const execTerminals: number[] = [];
  for (const [i, t] of c.terminals.items.entries()) {
    if (i === console || t.hungUp) continue;
    if (!c.files.items.some((f) => f.kind === "tty" && f.master && f.terminal === i)) execTerminals.push(i);
  }
  c.inet.finish(k);
  for (const m of c.mms.items) {
    if (m.cow === undefined) continue;
    if (m.cow.length === 0) delete m.cow;
    else m.cow = joinPieces(m.cow);
  }
  // After every socket a descriptor or message holds: a socket file's socket is one of them, or closed.
  const trees = saveTrees(
    k, c.blobs, (what) => new CheckpointError(`${what}: not saved yet`), (ep) => isUnixSocket(ep) ? c.sockets.indexOf(ep) : null,
  );
  const state: SavedSandbox = {
    hostname: k.rootUts.hostname,
    ...(k.nrOpen !== 1048576 ? { nrOpen: k.nrOpen } : {}),
    ...(k.ucounts.initChanged ? { ucountMax: [...k.ucounts.initMax] } : {}),
    ...(k.leases.breakTimeSec !== 45 || k.leases.enabled !== 1 ? { leaseSysctl: { breakTimeSec: k.leases.breakTimeSec, enabled: k.leases.enabled } } : {}),
    ...(portRangeChanged(k) ? { portRange: k.net.stack.ephemeralRange } : {}),
    ...(k.net.sysctl.ipForward !== 0 || k.net.sysctl.tcpSack !== 1 || k.net.sysctl.tcpRecovery !== 1 || k.net.sysctl.loAcceptLocal !== 0 || k.net.sysctl.loRouteLocalnet !== 0 || k.net.sysctl.loTag !== 0 || k.net.sysctl.defaultTag !== 0 ? { netSysctl: { ...k.net.sysctl } } : {}),
    nextTid: k.lastTid + 1,
    monotonicNs: Math.ceil(monotonicNs()),
    init: init.tgid,
    trees,
    files: c.files.items,
    pipes: c.pipes.items,
    unixSockets: c.sockets.items,
    unixAutobind: k.unixNames.nextAutobind,
    terminals: c.terminals.items,
    console,
    ...(execTerminals.length > 0 ? { execTerminals } : {}),
    tcpSockets: c.inet.tcp,
    udpSockets: c.inet.udp,
    mms: c.mms.items,
    ...(c.orphans.items.length > 0 ? { orphans: c.orphans.items } : {}),
    ...(locks.length > 0 ? { locks } : {}),
    cowObjects: c.cow.objects,
    fdTables: c.fdTables.items,
    fsContexts: c.fsContexts.items,
    processes,
    ...(c.seccomp.states.length > 0 ? { seccompFilters: c.seccomp.filters, seccompStates: c.seccomp.states } : {}),
    ...(sysvIpc !== undefined ? { sysvIpc } : {}),
    ...(keyrings !== undefined ? { keyrings } : {}),
    ...(mqueues !== undefined ? { mqueues } : {}),
  };
  // (Checked here too: the restore could not put it back.)
  procFileHolders(state, (why) => new CheckpointError(`${why}: not saved yet`));
  return { state, blobs: c.blobs };
}

function saveProcess(tg: ThreadGroup, c: SaveContext): SavedProcess {
  const refuse = (what: string) => new CheckpointError(`process ${tg.tgid} ${what}: not saved yet`);
  if (tg.vforkPending) throw refuse("is a vfork child that has not exec'd yet");
  if (tg.pidNs !== ROOT_PID_NS) throw refuse("is in a PID namespace of its own (CLONE_NEWPID)");
  if (!tg.zombie && tg.exitStatus !== null) throw refuse("is exiting");
  if (tg.oomKilled) throw refuse("was killed by the OOM killer");
  const handlers = tg.handlers.actions.map((a) => [hex(a.handler), a.flags, hex(a.restorer), hex(a.mask)] as [string, number, string, string]);
  const limits: [number, string, string][] = [];
  for (let r = 0; r < 16; r++) {
    const l = tg.limits.get(r);
    limits.push([r, hex(l.cur), hex(l.max)]);
  }
  const leader = tg.leader;
  const tasks = [...tg.tasks].sort((a, b) => (a === leader ? -1 : b === leader ? 1 : a.tid - b.tid));
  const itr = tg.itimerReal;
  return {
    tgid: tg.tgid,
    parent: tg.parent?.tgid ?? null,
    pgid: tg.pgid,
    sid: tg.sid,
    exitSignal: tg.exitSignal,
    leaderComm: tg.leaderComm.slice(0, 15),
    zombie: tg.zombie
      ? {
        status: tg.exitStatus ?? 0, uid: tg.exitUid, euid: tg.exitEuid, nice: tg.exitNice, sched: tg.exitSched,
        ...(tg.exitIds !== null ? { ids: [...tg.exitIds] } : {}),
      }
      : null,
    limits,
    handlers,
    mm: tg.zombie ? null : c.mms.ref(tg.mm, () => saveMemory(tg.mm, tasks[0]!.ctx, c)),
    tty: tg.tty === null ? null : saveTerminalRef(tg.tty, c),
    jobStop: { groupStop: tg.groupStop?.signo ?? null, stopped: tg.stopped, stopReport: tg.stopReport, continuedReport: tg.continuedReport },
    itimerReal: itr === null ? null : { deadlineNs: Math.max(0, itr.deadlineNs), intervalNs: itr.intervalNs },
    pending: savePending(tg.sharedPending),
    dumpable: tg.dumpable,
    subreaper: tg.subreaper,
    execed: tg.execed,
    oomScoreAdj: tg.oomScoreAdj,
    coredumpFilter: tg.coredumpFilter,
    thpDisable: tg.thpDisable,
    timerSeq: tg.timerSeq,
    ...(tg.processKeyring !== null ? { processKeyring: tg.processKeyring.serial } : {}),
    timers: saveProcessTimers(tg, (what) => new CheckpointError(`${what}: not saved yet`)),
    cpu: {
      userNs: tg.userNs, sysNs: tg.sysNs, childUserNs: tg.childUserNs, childSysNs: tg.childSysNs,
      maxRssKb: tg.maxRssKb, childMaxRssKb: tg.childMaxRssKb,
    },
    tasks: tasks.map((t) => saveTask(t, c)),
  };
}

function savePending(p: PendingSignals): SavedSigInfo[] {
  return p.queue.map((i) => {
    const s: SavedSigInfo = { signo: i.signo, code: i.code };
    if (i.errno !== undefined) s.errno = i.errno;
    if (i.pid !== undefined) s.pid = i.pid;
    if (i.uid !== undefined) s.uid = i.uid;
    if (i.status !== undefined) s.status = i.status;
    if (i.addr !== undefined) s.addr = Number(i.addr);
    if (i.value !== undefined) s.value = hex(i.value);
    if (i.overrun !== undefined) s.overrun = i.overrun;
    if (i.timerId !== undefined) s.timerId = i.timerId;
    if (i.timerSeq !== undefined) s.timerSeq = i.timerSeq;
    if (i.band !== undefined) s.band = i.band;
    if (i.fd !== undefined) s.fd = i.fd;
    if (i.syscall !== undefined) s.syscall = i.syscall;
    if (i.arch !== undefined) s.arch = i.arch;
    return s;
  });
}

function saveFile(f: FileDescription, c: SaveContext): number {
  return c.files.ref(f, (): SavedFile => {
    const index = c.stdio.indexOf(f);
    if (index >= 0) return { kind: "stdio", index: index as 0 | 1 | 2, flags: f.flags };
    if (f instanceof FifoEnd) {
      const path = f.path();
      let here = false;
      try {
        here = c.kernel.vfs.resolve({ root: c.kernel.vfs.root(), creds: Credentials.root() }, c.kernel.vfs.root(), path, { follow: false })
          .equals(f.location());
      } catch { /* gone */ }
      if (!here) throw new CheckpointError(`the open FIFO ${path} was removed or renamed: not saved yet`);
      const acc = f.isReader ? ((f.flags & O_ACCMODE) === O_RDWR ? O_RDWR : O_RDONLY) : O_WRONLY;
      return { kind: "fifo", path, pipe: c.pipes.ref(f.pipe, () => f.pipe.save() as SavedPipe), flags: (f.flags & ~O_ACCMODE) | acc };
    }
    if (f instanceof PipeEnd && f.constructor === PipeEnd) {
      return { kind: "pipe", pipe: c.pipes.ref(f.pipe, () => f.pipe.save() as SavedPipe), reader: f.isReader, flags: f.flags };
    }
    if (f instanceof SocketFile && (f.sockFilter !== null || f.filterLocked)) {
      throw new CheckpointError("a socket with a filter (SO_ATTACH_FILTER or SO_LOCK_FILTER): not saved yet");
    }
    if (f instanceof SocketFile && f.inodeAttrs !== null) {
      throw new CheckpointError(`a socket whose mode or owner fchmod or fchown changed: not saved yet`);
    }
    if (isUnixSocket(f)) return { kind: "unix", socket: saveSocket(f, c) };
    const inet = c.inet.saveFile(f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (inet !== null) return inet;
    const mq = c.mqueues.saveFile(f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (mq !== null) return mq;
    const proc = saveProcFile(c.kernel, f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (proc !== null) return proc;
    const netlink = saveNetlinkFile(c.kernel, f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (netlink !== null) return netlink;
    if (f instanceof MemFd) {
      if (f.reopened) throw new CheckpointError(`the memfd ${f.name} opened again through /proc: not saved yet`);
      return saveMemfd(f, c.blobs);
    }
    const anon = saveAnonFile(
      c.kernel, f, (g) => saveFile(g, c), (tg) => c.kernel.threadGroups.get(tg.tgid) === tg && !tg.zombie,
      (what) => new CheckpointError(`${what}: not saved yet`),
    );
    if (anon !== null) return anon;
    const tty = saveTtyFile(f, (t) => saveTerminalRef(t, c));
    if (tty !== null) return tty;
    // A host descriptor other than the sentry's stdio is one an `exec` client passed as its
    // process's stdio: it belongs to a client that does not follow a restore.
    if (f instanceof HostFile) return { kind: "gone", flags: f.flags };
    const file = saveOpenFile(c.kernel, f, (what) => new CheckpointError(`${what}: not saved yet`), (g, refuse) => c.orphans.moved(g, refuse));
    if (file !== null) return file;
    throw new CheckpointError(`an open file ${f.path()} (${f.constructor.name}): not saved yet`);
  });
}

function saveTerminalRef(t: Terminal, c: SaveContext): number {
  return c.terminals.ref(t, () => saveTerminal(t));
}

function saveSocket(so: UnixSocket, c: SaveContext): number {
  if (so.landlock !== null) throw new CheckpointError("a unix socket made under a Landlock domain: not saved yet");
  return c.sockets.ref(so, () => saveUnixSocket(so, (o) => saveSocket(o, c), (f) => saveFile(f, c)));
}

function saveTask(t: Task, c: SaveContext): SavedTask {
  // A thread stopped by job control is saved as any other: its group's stop stops it again.
  if (t.state === "dead" || t.state === "user") {
    throw new CheckpointError(`task ${t.tid} is ${t.state}: not saved`);
  }
  if (t.ptrace !== null || t.tracees.size > 0) {
    throw new CheckpointError(`task ${t.tid} is traced or traces another with ptrace(2): not saved yet`);
  }
  if (t.personality !== 0) {
    throw new CheckpointError(`task ${t.tid} has a personality set: not saved yet`);
  }
  if (t.uts !== t.kernel.rootUts) {
    throw new CheckpointError(`task ${t.tid} is in a UTS namespace of its own: not saved yet`);
  }
  if (t.landlock !== null) throw new CheckpointError(`task ${t.tid} is restricted by Landlock: not saved yet`);
  if (t.pidNsForChildren !== t.tg.pidNs) {
    throw new CheckpointError(`task ${t.tid} made a PID namespace for its children (unshare CLONE_NEWPID): not saved yet`);
  }
  // The image's credentials are ids and capabilities of the initial user namespace.
  if (t.creds.userNs !== INIT_USER_NS) {
    throw new CheckpointError(`task ${t.tid} is in a user namespace of its own: not saved yet`);
  }
  if (t.ipc !== t.kernel.ipc) {
    throw new CheckpointError(`task ${t.tid} is in an IPC namespace of its own: not saved yet`);
  }
  if (t.net !== t.kernel.net) {
    throw new CheckpointError(`task ${t.tid} is in a network namespace of its own: not saved yet`);
  }
  if (wokenByRemoval(t)) throw new CheckpointError(`task ${t.tid} is waking from a System V IPC object removed since: not saved yet`);
  const regs = t.ctx.regs.clone();
  const parkedStop = c.parked.get(t);
  // The mask the thread runs with once its syscall is done: a pselect, ppoll, epoll_pwait or
  // sigsuspend that runs again sets its temporary mask again (readline waits in pselect).
  let sigmask = t.sigmask;
  let rerun = false;
  if (t.inSyscall || parkedStop?.kind === "syscall") {
    const st = t.syscallState as { partial?: number } | null;
    const woken = futexWokenResult(st);
    if (woken !== null) {
      regs.set("rax", woken); // a futex wait already woken: it returned 0 (futex_waitv: the index)
    } else if ((st?.partial ?? 0) > 0) {
      regs.set("rax", st!.partial!); // progress made: the count, as a signal would end it
    } else {
      // Not yet served, or asleep: wind back onto the 2-byte `syscall` instruction so that the
      // restored thread issues it again (blocked syscalls are restartable by design).
      regs.set("rip", regs.get("rip") - 2);
      regs.set64("rax", regs.get64("orig_rax"));
      rerun = true;
    }
  }
  if (parkedStop?.kind === "vsyscall") {
    // A vsyscall entry not yet answered: undo the host's emulated `ret`, so that the restored
    // thread calls the entry again.
    regs.set64("rip", t.ctx.syscall.ip64);
    regs.set("rsp", regs.get("rsp") - 8);
  }
  if (rerun && t.savedMask !== null) sigmask = t.savedMask;
  else if (t.savedMask !== null || t.sigWaitSet !== null) {
    // Between a sigsuspend's wake and its handler: the temporary mask is still in force.
    throw new CheckpointError(`task ${t.tid} is leaving sigsuspend or sigtimedwait: not saved yet`);
  }
  regs.set("orig_rax", -1);
  const cr = t.creds;
  return {
    tid: t.tid,
    name: t.name,
    regs: regs.bytes.slice(),
    fp: t.ctx.getFpState().slice(),
    sigmask: hex(sigmask),
    pending: savePending(t.pendingSignals),
    altStack: { ...t.altStack },
    clearChildTid: t.clearChildTid,
    robustList: t.robustList,
    pdeathSignal: t.pdeathSignal,
    timerSlack: { ns: t.timerSlackNs, defaultNs: t.defaultTimerSlackNs },
    noNewPrivs: t.noNewPrivs,
    nice: t.nice,
    ioprio: t.ioprio,
    sched: {
      policy: t.schedPolicy, priority: t.schedPriority, resetOnFork: t.schedResetOnFork, sliceNs: t.schedSliceNs,
      dl: t.schedDl,
    },
    creds: {
      uid: cr.uid, gid: cr.gid, euid: cr.euid, egid: cr.egid, suid: cr.suid, sgid: cr.sgid, fsuid: cr.fsuid, fsgid: cr.fsgid,
      groups: [...cr.groups],
      caps: {
        inheritable: hex(cr.caps.inheritable), permitted: hex(cr.caps.permitted), effective: hex(cr.caps.effective),
        bounding: hex(cr.caps.bounding), ambient: hex(cr.caps.ambient), securebits: cr.caps.securebits,
      },
    },
    fdTable: c.fdTables.ref(t.fdTable, () => t.fdTable.save((f) => saveFile(f, c))),
    fs: c.fsContexts.ref(t.fs, () => ({
      ...saveCwd(c.kernel, t.fs.cwd, (what) => new CheckpointError(`${what}: not saved yet`)), umask: t.fs.umask, ...saveChroot(c.kernel, t),
    })),
    ...(t.seccomp !== null ? { seccomp: c.seccomp.ref(t.seccomp) } : {}),
    ...saveTaskPolicies(t),
    ...(t.sessionKeyring !== null ? { sessionKeyring: t.sessionKeyring.serial } : {}),
    ...(t.threadKeyring !== null ? { threadKeyring: t.threadKeyring.serial } : {}),
    ...(t.reqkeyDefault !== 0 ? { reqkeyDefault: t.reqkeyDefault } : {}),
    cpu: { ...taskCpu(t) },
  };
}

/**
 * A chrooted task's root, by the path the sandbox's root reaches it by (its cwd is saved the
 * same way, inside the new root or not); nothing for an unchanged root. Refused when that path
 * no longer leads to it (removed or renamed since the chroot).
 */
function saveChroot(k: Kernel, t: Task): { root?: string } {
  const r = t.fs.root;
  const path = r.path();
  if (path === "/" && r.equals(k.vfs.root())) return {};
  let here = false;
  try {
    here = k.vfs.resolve({ root: k.vfs.root(), creds: Credentials.root() }, k.vfs.root(), path, { follow: false }).equals(r);
  } catch { /* gone */ }
  if (!here) throw new CheckpointError(`task ${t.tid}'s root directory ${path} (chroot) was removed or renamed: not saved yet`);
  return { root: path };
}

function saveMemory(mm: MemoryManager, ctx: Context, c: SaveContext): SavedMemory {
  const blobs = c.blobs;
  const runs: { addr: number; blob: number }[] = [];
  const pieces: SavedCowPiece[] = [];
  // This address space's index: the table reserved it before calling this save.
  const mmIndex = c.mms.items.length - 1;
  // Mappings of shared anonymous memory whose pages an earlier mapping saves.
  const sharedFromEarlier = new Set<Vma>();
  const vmas = mm.vmas.map((v: Vma): SavedMemory["vmas"][number] => {
    const saved = {
      start: v.start, end: v.end, prot: v.prot, name: v.name, growsDown: v.growsDown, locked: v.locked === true,
      ...(v.anonName !== undefined ? { anonName: v.anonName } : {}),
      ...(v.dontCopy ? { dontCopy: true as const } : {}),
      ...(v.wipeOnFork ? { wipeOnFork: true as const } : {}),
      ...(v.sealed ? { sealed: true as const } : {}),
    };
    if (v.shared && v.file === null && v.object instanceof SharedAnon) {
      const object = c.sharedAnons.ref(v.object, () => true);
      const from = c.placement.place(object, mmIndex, v.start, v.offset, v.end - v.start);
      if (from === "partial") {
        throw new CheckpointError(`shared anonymous memory at 0x${v.start.toString(16)} overlaps its other mappings in part: not saved yet`);
      }
      if (from !== null) sharedFromEarlier.add(v);
      return { ...saved, shared: { object, offset: v.offset } };
    }
    // A memfd's pages are its own: saved with it (memfd.ts), not as this mapping's contents.
    if (v.shared && v.file instanceof MemFd) return { ...saved, memfd: { file: saveFile(v.file, c), offset: v.offset } };
    // So are a written file's (sqlite's -shm file, LMDB): saved with its tree or as unlinked.
    if (v.shared && v.file !== null && tmpfsInodeOf(v.file) !== null) return { ...saved, written: { file: saveFile(v.file, c), offset: v.offset } };
    if (v.shared && !hostFileMapping(v)) throw new CheckpointError(`shared mapping at 0x${v.start.toString(16)} (${v.name}): not saved yet`);
    const byRef = byReference(c.kernel, v);
    return byRef === null ? saved : { ...saved, file: byRef };
  });
  for (const [i, v] of mm.vmas.entries()) {
    // The vDSO's pages are the restoring kernel's own (restoreMemory maps them anew).
    if (v.file === null && (v.name === "[vvar]" || v.name === "[vdso]")) continue;
    // A mapping saved by reference keeps only the pages that differ from its file.
    const fromFile = vmas[i]!.file === undefined ? null : v.file!;
    if (v.shared && v.file instanceof MemFd) continue;
    if (vmas[i]!.written !== undefined) continue;
    if (sharedFromEarlier.has(v)) continue;
    // Private memory (not by reference) may share pages with an earlier address space's (cow.ts).
    const cowable = fromFile === null && vmas[i]!.shared === undefined;
    const content: { addr: number; bytes: Uint8Array }[] = [];
    let shares = false;
    const unreadable = (v.prot & PROT_READ) === 0;
    if (unreadable && mm.as.protect(ctx, v.start, v.end - v.start, v.prot | PROT_READ) !== 0) {
      throw new CheckpointError(`cannot read the mapping at 0x${v.start.toString(16)}`);
    }
    // Chunks with no populated page are not read at all: a 64 GiB reservation with a few pages
    // touched (a JVM's heap, a sanitizer's shadow) took minutes to read whole. Unpopulated
    // pages read as zeros, or as the mapped file's bytes, which is what the restore gives.
    // Of a mapping saved by reference, only the pages the process has its own copies of can
    // differ from the file (the rest are the file's pages): an idle shell's libraries were read
    // and compared whole (~2 MB, most of a checkpoint's time) for a few pages of relocations.
    const copies = fromFile !== null ? mm.as.fileCopies?.(v.start, v.end) ?? null : null;
    // Unpopulated pages of a private mapping of another file (a memfd, a tmpfs or written
    // file) read as that file's bytes, which the restore does not map again: read whole.
    const populated = copies ?? (v.file === null || fromFile !== null ? mm.as.populated?.(v.start, v.end) ?? null : null);
    // Only the populated ranges are read (in pieces of at most RUN_BYTES), not the chunks that
    // hold them: a stack's one populated page cost reading and scanning its whole 8 MiB, most
    // of an idle shell's checkpoint.
    const ranges: Array<[number, number]> = populated ?? [[v.start, v.end]];
    try {
      ranges: for (const [from, to] of ranges) {
        const start = Math.max(v.start, from - from % PAGE_SIZE);
        const stop = Math.min(v.end, to + (PAGE_SIZE - to % PAGE_SIZE) % PAGE_SIZE);
        for (let a = start; a < stop; a += RUN_BYTES) {
          const buf = new Uint8Array(Math.min(RUN_BYTES, stop - a));
          const n = mm.read(a, buf);
          // A file mapping, shared or private, may reach past the file's end (pages that fault
          // with SIGBUS): ld.so maps a library's whole span from its file before it maps the bss
          // over the tail, so a checkpoint can find one. Those pages are left out, and read as
          // zeros after a restore; every page after them is past the end too.
          const pastEof = n !== buf.length && v.file !== null && n % PAGE_SIZE === 0;
          if (n !== buf.length && !pastEof) {
            throw new CheckpointError(`cannot read the mapping at 0x${(a + n).toString(16)}`);
          }
          // Only runs of pages holding something: untouched memory reads as zeros on restore, and
          // a page the same as its file's is mapped from the file again.
          // A page the same as the earlier address space's it shares is not stored again.
          const match = cowable ? c.cow.match(mmIndex, a, buf) : null;
          const runsHere = fromFile === null ? c.cow.runsToStore(a, buf, match) : changedRuns(buf, fromFile, v.offset + (a - v.start));
          if (match !== null) {
            pieces.push(c.cow.piece(match));
            shares = true;
          }
          for (const [off, end] of runsHere) {
            runs.push({ addr: a + off, blob: blobs.length });
            // buf is this chunk's own: a run of most of it is kept as a view, not copied again;
            // a small run is copied, so that a sparse mapping does not keep whole chunks alive.
            const bytes = end - off >= buf.length >>> 1 ? buf.subarray(off, end) : buf.slice(off, end);
            blobs.push(bytes);
            if (cowable) content.push({ addr: a + off, bytes });
          }
          if (pastEof) break ranges;
        }
      }
    } finally {
      if (unreadable) mm.as.protect(ctx, v.start, v.end - v.start, v.prot);
    }
    // A mapping that shares nothing with an earlier one: later ones may share its pages.
    if (cowable && !shares) c.cow.addOrigin(mmIndex, v.start, v.end, content, runs, pieces);
  }
  return {
    vmas,
    runs,
    cow: pieces,
    brkStart: mm.brkStart,
    brk: mm.brk,
    stackBottom: mm.stackBottom,
    argStart: mm.argStart,
    argEnd: mm.argEnd,
    envStart: mm.envStart,
    envEnd: mm.envEnd,
    executable: mm.executable,
    exe: mm.exe?.path() ?? null,
    auxv: [...mm.auxv].map((b) => b.toString(16).padStart(2, "0")).join(""),
    lockFuture: mm.lockFuture,
    membarrierRegistered: mm.membarrierRegistered,
  };
}

/**
 * Where each mapping of shared anonymous memory is restored from. Walked in the same order at
 * the checkpoint (to refuse what the restore could not rebuild) and at the restore: address
 * spaces in the image's order, mappings by address. The first mapping of a range of an object
 * is new memory; a later one inside it maps the same pages (the platform's shareAnonymous); one
 * that overlaps earlier ones only in part is not rebuilt.
 */
class SharedPlacement {
  readonly #pieces = new Map<number, { mm: number; start: number; offset: number; len: number }[]>();

  /** null: new memory; a place to share from; or "partial". */
  place(object: number, mm: number, start: number, offset: number, len: number): { mm: number; addr: number } | null | "partial" {
    const list = this.#pieces.get(object) ?? [];
    for (const p of list) {
      if (offset >= p.offset && offset + len <= p.offset + p.len) return { mm: p.mm, addr: p.start + (offset - p.offset) };
    }
    if (list.some((p) => offset < p.offset + p.len && p.offset < offset + len)) return "partial";
    list.push({ mm, start, offset, len });
    this.#pieces.set(object, list);
    return null;
  }
}

/**
 * A shared mapping of a host file of the overlay's lower layer, or of a host directory mounted
 * read-only (a bundle's `root.readonly`) (glibc maps gconv-modules.cache and locale files so):
 * nothing in the sandbox can write that file (a writer's open copies an overlay's up first, and
 * the mapping keeps the lower file's pages, as overlayfs does; a read-only filesystem refuses
 * it), so its contents are saved and restored as a private copy.
 */
function hostFileMapping(v: Vma): boolean {
  if (v.file instanceof HostRegularFile) return v.file.location()?.mount.fs.readonly === true;
  if (!(v.file instanceof OverlayRegularFile)) return false;
  const d = v.file.location()?.dentry;
  return d instanceof OverlayDentry && d.upper === null;
}

/**
 * How a private mapping of a host file (of the overlay's lower layer, or of a host directory
 * mounted as it is, such as a read-only root) is saved by reference (its path, offset, size and
 * mtime), or null when it is saved as a copy: a shared one, another kind of file (tmpfs, memfd,
 * an overlay file copied up), one renamed since (its path no longer leads to it), or one the
 * sentry could not map from the host.
 */
function byReference(k: Kernel, v: Vma): { path: string; offset: number; size: number; mtimeNs: string } | null {
  if (v.shared || v.file === null || !hostBacked(v.file) || v.file.hostFdForMmap() === null) return null;
  const loc = v.file.location();
  if (loc === null) return null;
  const path = v.file.path();
  try {
    if (!k.vfs.resolve({ root: k.vfs.root(), creds: Credentials.root() }, k.vfs.root(), path, { follow: false }).equals(loc)) return null;
  } catch {
    return null;
  }
  const st = v.file.stat();
  return { path, offset: v.offset, size: Number(st.size), mtimeNs: String(st.mtimeNs) };
}

/** A host file as it is: a lower file of the overlay, or a file of a host directory mount. */
function hostBacked(f: FileDescription): boolean {
  if (f instanceof HostRegularFile) return true;
  const d = f.location()?.dentry;
  return f instanceof OverlayRegularFile && d instanceof OverlayDentry && d.upper === null;
}

/**
 * [start, end) byte offsets of the maximal runs of pages of buf (memory mapped from `file` at
 * `offset`) that differ from the file's contents (past its end, zeros).
 */
function changedRuns(buf: Uint8Array, file: FileDescription, offset: number): [number, number][] {
  const want = new Uint8Array(buf.length);
  for (let done = 0; done < want.length;) {
    const n = file.read(want.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  const a = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  const b = new Uint32Array(want.buffer, 0, want.length >>> 2);
  const perPage = PAGE_SIZE >>> 2;
  const out: [number, number][] = [];
  let runStart = -1;
  for (let p = 0; p * PAGE_SIZE < buf.length; p++) {
    let same = true;
    for (let i = p * perPage; i < (p + 1) * perPage && i < a.length; i++) {
      if (a[i] !== b[i]) {
        same = false;
        break;
      }
    }
    if (!same && runStart < 0) runStart = p * PAGE_SIZE;
    if (same && runStart >= 0) {
      out.push([runStart, p * PAGE_SIZE]);
      runStart = -1;
    }
  }
  if (runStart >= 0) out.push([runStart, buf.length]);
  return out;
}

function hex(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

// ---- Restore -------------------------------------------------------------------------------

/** What the restoring caller gives the sandbox. */
export interface RestoreOptions {
  /** Descriptors 0, 1 and 2 of the restoring caller; the restore takes these references. */
  stdio: readonly [FileDescription, FileDescription, FileDescription];
  /**
   * The caller gives the console's master a terminal (`restore -t`, or a console socket): the
   * image must have a console, and an image with one needs this. Default false.
   */
  console?: boolean;
}

/**
 * Rebuilds the saved sandbox in `k`, a new kernel with its filesystem mounted and no init: every
 * process and thread, their memory, registers and files, queued to run from where they were.
 * Checks what the schema cannot (references between parts, ids, the parent tree, addresses
 * against the platform's own ranges) before any task can run; throws {@linkcode ImageError}
 * when the image does not hold together, and then leaves nothing behind.
 */
/** Kinds of file a restore makes with the network's classes (a `gone` read-write end is a socket pair). */
const NET_FILE_KINDS: ReadonlySet<string> = new Set(["unix", "tcp", "udp", "ping", "gone", "netlink"]);

/**
 * Whether restoring this state needs the network's modules (kernel/net_load.ts), which the
 * caller loads first; an image without sockets or network settings (an idle shell's) restores
 * without them, as `do` starts without them (~30% of the kernel's code, ~15 ms of CPU).
 */
export function imageNeedsNetwork(s: SavedSandbox): boolean {
  return s.unixSockets.length > 0 || s.tcpSockets.length > 0 || s.udpSockets.length > 0 || s.netSysctl !== undefined ||
    s.portRange !== undefined || s.files.some((f) => NET_FILE_KINDS.has(f.kind));
}

export function restoreSandbox(k: Kernel, image: Image<SavedSandbox>, o: RestoreOptions): void {
  if (netModulesIfLoaded() === null && imageNeedsNetwork(image.state)) throw new Error("restore: the network's modules are not loaded");
  const stdio = [...o.stdio];
  const contexts: Context[] = [];
  const made: FileDescription[] = [];
  let cows: CowMemories | null = null;
  let orphans: OrphanMaker | null = null;
  try {
    const s = image.state;
    checkShape(s, image.blobs);
    if (s.console !== null && o.console !== true) {
      throw new ImageError("restore: the image was taken with a terminal (-t): restore it with -t, or -d with --console-socket");
    }
    if (s.console === null && o.console === true) throw new ImageError("restore: the image has no terminal: restore it without -t");
    const root = k.vfs.root();

    // The filesystems first; the files after the processes (a signalfd names one): each
    // description once, each taking one reference per descriptor below.
    const socketFiles = restoreTrees(k, s.trees, image.blobs);
    // memfds before the memory that maps them (sealed once mapped, below).
    const memfds = new Map<number, MemFd>();
    for (const [i, f] of s.files.entries()) {
      if (f.kind !== "memfd") continue;
      const d = makeMemfd(f, image.blobs);
      made.push(d);
      memfds.set(i, d);
    }
    // Written files a shared mapping maps, before the memory (their pages are the file's).
    orphans = new OrphanMaker(k, s.orphans ?? [], image.blobs);
    const orphanMaker = orphans;
    const written = new Map<number, FileDescription>();
    for (const m of s.mms) {
      for (const v of m.vmas) {
        if (v.written === undefined || written.has(v.written.file)) continue;
        const f = s.files[v.written.file] as Extract<SavedFile, { kind: "file" }>;
        const d = restoreOpenFile(k, f, (o, flags) => orphanMaker.open(o, flags));
        made.push(d);
        if (tmpfsInodeOf(d) === null) throw new ImageError(`restore: ${f.path}, mapped shared, is not a file of a tmpfs or of the overlay's upper layer`);
        written.set(v.written.file, d);
      }
    }
    // Address spaces: a new stub each, with every mapping and its contents.
    const mms: MemoryManager[] = [];
    const firstCtx: Context[] = [];
    const cow = new CowMemories(k.platform, s.cowObjects, image.blobs, copyBlob);
    cows = cow;
    const shared = {
      placement: new SharedPlacement(), objects: new Map<number, SharedAnon>(), firstCtx, memfds, written, cow, hostFiles: new MappedHostFiles(k, made),
    };
    for (const [i, m] of s.mms.entries()) {
      const ctx = k.platform.newAddressSpace();
      contexts.push(ctx);
      firstCtx.push(ctx);
      const mm = restoreMemory(k, ctx, m, image.blobs, i, shared);
      mm.users = 0;
      mms.push(mm);
    }

    const seccompStates = makeSeccompStates(s.seccompFilters ?? [], s.seccompStates ?? []);
    const keyrings = restoreKeyrings(k.keys, s.keyrings);
    const groups = new Map<number, ThreadGroup>();
    const usedCtx = new Set<number>();
    const tasks: Task[] = [];
    for (const p of s.processes) {
      const limits = new Limits();
      for (const [r, cur, max] of p.limits) limits.set(r, { cur: BigInt(`0x${cur}`), max: BigInt(`0x${max}`) });
      const handlers = new SignalHandlers(
        p.handlers.map(([h, flags, r, m]) => ({ handler: BigInt(`0x${h}`), flags, restorer: BigInt(`0x${r}`), mask: BigInt(`0x${m}`) })),
      );
      // A zombie has no address space of its own: it is never used again, never released.
      const mm = p.mm === null ? new MemoryManager(firstCtx[0]!.addressSpace) : mms[p.mm]!;
      if (p.mm !== null) mm.users++;
      const tg = new ThreadGroup({ tgid: p.tgid, mm, parent: null, limits, handlers, pgid: p.pgid, sid: p.sid });
      tg.exitSignal = p.exitSignal;
      tg.leaderComm = p.leaderComm;
      if (p.zombie !== null) {
        tg.zombie = true;
        tg.exitStatus = p.zombie.status;
        tg.exitUid = p.zombie.uid;
        tg.exitEuid = p.zombie.euid ?? p.zombie.uid;
        tg.exitNice = p.zombie.nice ?? 0;
        tg.exitSched = p.zombie.sched ?? { policy: 0, priority: 0 };
        tg.exitIds = p.zombie.ids ?? null;
      }
      for (const i of p.pending) tg.sharedPending.add(loadSigInfo(i));
      tg.dumpable = p.dumpable;
      tg.subreaper = p.subreaper;
      tg.execed = p.execed;
      tg.oomScoreAdj = p.oomScoreAdj;
      tg.coredumpFilter = p.coredumpFilter ?? 0x33;
      tg.thpDisable = p.thpDisable ?? 0;
      tg.timerSeq = p.timerSeq;
      tg.userNs = p.cpu.userNs;
      tg.sysNs = p.cpu.sysNs;
      tg.childUserNs = p.cpu.childUserNs;
      tg.childSysNs = p.cpu.childSysNs;
      tg.maxRssKb = p.cpu.maxRssKb;
      tg.childMaxRssKb = p.cpu.childMaxRssKb;
      // The threads are queued as runnable: each stops at its first step while groupStop is set,
      // and the group, already stopped, does not notify its parent again (job_control.ts).
      tg.groupStop = p.jobStop.groupStop === null ? null : { signo: p.jobStop.groupStop };
      tg.stopped = p.jobStop.stopped;
      tg.stopReport = p.jobStop.stopReport;
      tg.continuedReport = p.jobStop.continuedReport;
      if (p.itimerReal !== null) {
        tg.itimerReal = { deadlineNs: p.itimerReal.deadlineNs, intervalNs: p.itimerReal.intervalNs, tg, signo: SIGALRM, code: SI_KERNEL };
      }
      groups.set(p.tgid, tg);
    }

    // A FIFO's pipe is its inode's: filled when its first end is reopened (fifoPipe).
    const fifoPipes = new Set(s.files.flatMap((f) => f.kind === "fifo" ? [f.pipe] : []));
    const pipes: (Pipe | null)[] = s.pipes.map((p, i) => fifoPipes.has(i) ? null : Pipe.load(p));
    const fifoProbes: FileDescription[] = [];
    const heldSockets = new Set(s.files.flatMap((f) => f.kind === "unix" ? [f.socket] : []));
    k.unixNames.nextAutobind = s.unixAutobind;
    const sockets = makeUnixSockets(k, s.unixSockets, heldSockets);
    bindSocketFiles(k, socketFiles, sockets);
    // Each live socket's own reference goes with the others' below (an embryo's is its
    // listener's, a closed one's stays: it was released already).
    for (const [i, so] of sockets.entries()) if (!s.unixSockets[i]!.dead && !s.unixSockets[i]!.embryo) made.push(so);
    const terminals = makeTerminals(k, s.terminals, s.console, s.execTerminals ?? []);
    // The netstack's sockets, with their timers relative to the monotonic time the restored
    // sandbox continues from.
    const inet = makeInetSockets(k, s.tcpSockets, s.udpSockets, s.files, s.monotonicNs / 1e6);
    const mqueues = makeMqueues(k, s.mqueues);
    const files = s.files.map((f, i): FileDescription => {
      if (f.kind === "tty") {
        const d = makeTtyFile(k, f, terminals);
        made.push(d);
        return d;
      }
      if (f.kind === "tcp" || f.kind === "udp" || f.kind === "ping") {
        const d = makeInetFile(k, f, inet);
        made.push(d);
        return d;
      }
      if (f.kind === "memfd") {
        const d = memfds.get(i)!;
        sealMemfd(d, f);
        return d;
      }
      if (f.kind === "mqueue") {
        const d = openMqueue(k, f, mqueues);
        made.push(d);
        return d;
      }
      if (f.kind === "netlink") {
        const d = makeNetlinkFile(k, f);
        made.push(d);
        return d;
      }
      if (f.kind === "pidfd") {
        const d = makeProcFile(k, f as SavedPidFd, groups);
        made.push(d);
        return d;
      }
      if (f.kind === "kernfile") {
        // A placeholder until the processes are the kernel's (reopenKernFiles, below).
        const d = new PipeEnd(new Pipe(), true, 0);
        made.push(d);
        return d;
      }
      if (f.kind === "unix") {
        const d = sockets[f.socket]!.incRef();
        made.push(d);
        return d;
      }
      if (isAnonFile(f)) {
        const d = makeAnonFile(k, f, groups);
        made.push(d);
        return d;
      }
      if (f.kind === "fifo") {
        const d = reopenFifo(k, f, s.pipes, pipes, fifoProbes);
        made.push(d);
        return d;
      }
      if (f.kind === "dir") {
        const d = restoreOpenDir(k, f);
        made.push(d);
        return d;
      }
      if (f.kind === "file") {
        const early = written.get(i);
        if (early !== undefined) return early;
        const d = restoreOpenFile(k, f, (o, flags) => orphanMaker.open(o, flags));
        made.push(d);
        return d;
      }
      if (f.kind === "gone") {
        const d = goneDescription(k, f.flags);
        made.push(d);
        return d;
      }
      const d = f.kind === "stdio" ? stdio[f.index]!.incRef() : new PipeEnd(pipes[f.pipe]!, f.reader, 0);
      // (checkShape: a plain pipe's ends never name a FIFO's pipe.)
      d.flags = f.flags;
      made.push(d);
      return d;
    });
    // The probes that found each FIFO's pipe go once the FIFO's own ends are counted, and the
    // holders of unlinked files once their descriptions exist.
    for (const d of fifoProbes.splice(0)) d.decRef();
    orphans.release();
    const fdTables = s.fdTables.map((t) => FdTable.load(t, (i) => files[i]!.incRef()));
    restoreLocks(k.fileLocks, s.locks ?? [], files, fdTables);
    for (const t of fdTables) t.users = 0;
    const fsContexts = s.fsContexts.map((f, i) => {
      let cwd, own = root;
      if (f.removed === true) {
        cwd = removedDir(k, f.cwd, i);
      } else {
        try {
          cwd = k.vfs.lookupDir({ root, creds: Credentials.root() }, root, f.cwd);
        } catch {
          throw new ImageError(`restore: the working directory ${f.cwd} is gone from the root filesystem`);
        }
      }
      if (f.root !== undefined) {
        try {
          own = k.vfs.lookupDir({ root, creds: Credentials.root() }, root, f.root);
        } catch {
          throw new ImageError(`restore: the root directory ${f.root} of a chrooted task is gone from the root filesystem`);
        }
      }
      return new FsContext(own, cwd, f.umask);
    });

    for (const [i, f] of s.files.entries()) {
      if (isAnonFile(f)) linkAnonFile(files[i]!, f, files);
    }
    attachRights(s.unixSockets, sockets, files);
    if (s.sysvIpc !== undefined) restoreSysvIpc(k.ipc, s.sysvIpc, memfds);

    for (const p of s.processes) {
      const tg = groups.get(p.tgid)!;
      const mm = tg.mm;
      for (const st of p.tasks) {
        // The address space's first thread is the stub's own; the others are new host threads.
        // (A failed restore releases each address space, which ends its threads with it.)
        const ctx = usedCtx.has(p.mm!) ? mm.as.newThread(firstCtx[p.mm!]!) : firstCtx[p.mm!]!;
        usedCtx.add(p.mm!);
        const creds = new Credentials(
          st.creds.uid, st.creds.gid, st.creds.euid, st.creds.egid, st.creds.suid, st.creds.sgid, st.creds.fsuid, st.creds.fsgid, st.creds.groups,
          st.creds.caps === undefined ? undefined : {
            inheritable: BigInt(`0x${st.creds.caps.inheritable}`) & CAP_FULL_SET,
            permitted: BigInt(`0x${st.creds.caps.permitted}`) & CAP_FULL_SET,
            effective: BigInt(`0x${st.creds.caps.effective}`) & CAP_FULL_SET,
            bounding: BigInt(`0x${st.creds.caps.bounding}`) & CAP_FULL_SET,
            ambient: BigInt(`0x${st.creds.caps.ambient}`) & CAP_FULL_SET,
            securebits: st.creds.caps.securebits & (SECURE_ALL_BITS | SECURE_ALL_LOCKS),
          },
        );
        const fdTable = fdTables[st.fdTable]!;
        fdTable.users++;
        const t = new Task({ kernel: k, tid: st.tid, tg, ctx, fdTable, fs: fsContexts[st.fs]!, creds, name: st.name });
        restoreTask(t, st);
        if (st.seccomp !== undefined) t.seccomp = seccompStates[st.seccomp]!;
        restoreTaskPolicies(t, st);
        if (st.sessionKeyring !== undefined) (t.sessionKeyring = keyrings.get(st.sessionKeyring)!).credHeld = true;
        if (st.threadKeyring !== undefined) (t.threadKeyring = keyrings.get(st.threadKeyring)!).credHeld = true;
        t.reqkeyDefault = st.reqkeyDefault ?? 0;
        tg.tasks.add(t);
        tasks.push(t);
      }
    }
    for (const p of s.processes) groups.get(p.tgid)!.tty = p.tty === null ? null : terminals[p.tty]!;
    for (const p of s.processes) {
      if (p.processKeyring !== undefined) (groups.get(p.tgid)!.processKeyring = keyrings.get(p.processKeyring)!).credHeld = true;
    }
    // (checkShape: each names a live process that shares its own table with nobody earlier.)
    for (const p of s.processes) if (p.handlersOf !== undefined) groups.get(p.tgid)!.handlers = groups.get(p.handlersOf)!.handlers;
    for (const p of s.processes) {
      if (p.parent === null) continue;
      const tg = groups.get(p.tgid)!, parent = groups.get(p.parent)!;
      tg.parent = parent;
      parent.children.add(tg);
    }
    // What the tables hold beyond the descriptors (a table no task uses) goes now.
    for (const t of fdTables) if (t.users === 0) t.removeAll();
    for (const f of made) f.decRef();
    made.length = 0;

    continueMonotonicFrom(s.monotonicNs);
    k.rootUts.hostname = s.hostname;
    if (s.nrOpen !== undefined) k.nrOpen = s.nrOpen;
    s.ucountMax?.forEach((v, kind) => k.ucounts.setLimit(INIT_USER_NS, kind, v));
    if (s.leaseSysctl !== undefined) Object.assign(k.leases, s.leaseSysctl);
    if (s.netSysctl !== undefined) Object.assign(k.net.sysctl, s.netSysctl);
    if (s.portRange !== undefined && s.portRange[0] <= s.portRange[1]) k.net.stack.ephemeralRange = s.portRange;
    k.adoptRestored(groups.get(s.init)!, [...groups.values()], s.nextTid);
    reopenKernFiles(k, s.files, s.fdTables, fdTables, groups);
    // The exec clients are gone: their terminals hang up (SIGHUP to their sessions' leaders).
    for (const i of s.execTerminals ?? []) hangUpExecTerminal(k, terminals[i]!);
    k.initStdio = [...o.stdio];
    for (const tg of groups.values()) if (tg.itimerReal !== null) k.addTimer(tg.itimerReal);
    for (const p of s.processes) if (p.zombie === null) restoreProcessTimers(k, groups.get(p.tgid)!, p.timers);
    for (const f of files) armAnonFile(k, f);
    // The restored connections wait in the stack's active set: its first poll runs their
    // timers and sends what they owe.
    if (s.tcpSockets.length > 0) k.net.armDeadline();
    contexts.length = 0;
  } finally {
    // Copy-on-write memory lives on in the address spaces that map it.
    cows?.release();
    orphans?.release();
    for (const f of made) f.decRef();
    for (const ctx of contexts.reverse()) ctx.addressSpace.release();
    for (const f of stdio) f.decRef();
  }
}

/**
 * What an `exec` client's descriptor becomes once the client is gone, as its going away leaves
 * it: a read end is a pipe's with no writer (end of file), a write end a pipe's with no reader
 * (EPIPE and SIGPIPE), a descriptor open for both a stream socket whose peer closed (both).
 */
function goneDescription(k: Kernel, flags: number): FileDescription {
  const status = flags & ~O_ACCMODE;
  const acc = flags & O_ACCMODE;
  if (acc === O_RDONLY || acc === O_WRONLY) {
    const end = new PipeEnd(new Pipe(), acc === O_RDONLY, 0);
    end.flags = flags;
    return end;
  }
  const owner = { pid: 0, uid: 0, gid: 0 };
  const { UnixSocket } = netModules(); // loaded for such a file (imageNeedsNetwork)
  const a = new UnixSocket({ ns: k.unixNames, type: SOCK_STREAM, protocol: 0, flags: 0, owner });
  const b = new UnixSocket({ ns: k.unixNames, type: SOCK_STREAM, protocol: 0, flags: 0, owner });
  a.state = b.state = "connected";
  a.peer = b;
  b.peer = a;
  b.decRef(); // the client's end closes
  a.flags = O_RDWR | status;
  return a;
}

/**
 * Reopens an end of a saved FIFO: the first end of a pipe finds the FIFO's own pipe (through a
 * probe end, O_RDWR|O_NONBLOCK, kept until every end is made so that the pipe never looks
 * abandoned) and fills it with the saved data.
 */
function reopenFifo(
  k: Kernel, f: Extract<SavedFile, { kind: "fifo" }>, saved: readonly SavedPipe[], pipes: (Pipe | null)[], probes: FileDescription[],
): FileDescription {
  const ctx = { root: k.vfs.root(), creds: Credentials.root() };
  let probe: FileDescription;
  try {
    probe = k.vfs.openAt(ctx, ctx.root, f.path, O_RDWR | O_NONBLOCK | O_NOFOLLOW, 0);
  } catch (err) {
    throw new ImageError(`restore: cannot reopen the FIFO ${f.path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  probes.push(probe);
  if (!(probe instanceof FifoEnd)) throw new ImageError(`restore: ${f.path} is no longer a FIFO`);
  if (pipes[f.pipe] === null) {
    try {
      probe.pipe.fill(saved[f.pipe]!);
    } catch {
      throw new ImageError(`restore: the FIFO ${f.path} holds data already`);
    }
    pipes[f.pipe] = probe.pipe;
  } else if (pipes[f.pipe] !== probe.pipe) {
    throw new ImageError(`restore: the image does not hold together: pipe ${f.pipe} is two FIFOs`);
  }
  return new FifoEnd(probe.pipe, probe.location()!, f.flags);
}

function isAnonFile(f: SavedFile): f is SavedAnonFile {
  return f.kind === "eventfd" || f.kind === "timerfd" || f.kind === "signalfd" || f.kind === "epoll" || f.kind === "inotify";
}

function loadSigInfo(s: SavedSigInfo): SigInfo {
  const i: SigInfo = { signo: s.signo, code: s.code };
  if (s.errno !== undefined) i.errno = s.errno;
  if (s.pid !== undefined) i.pid = s.pid;
  if (s.uid !== undefined) i.uid = s.uid;
  if (s.status !== undefined) i.status = s.status;
  if (s.addr !== undefined) i.addr = s.addr;
  if (s.value !== undefined) i.value = BigInt(`0x${s.value}`);
  if (s.overrun !== undefined) i.overrun = s.overrun;
  if (s.timerId !== undefined) i.timerId = s.timerId;
  if (s.timerSeq !== undefined) i.timerSeq = s.timerSeq;
  if (s.band !== undefined) i.band = s.band;
  if (s.fd !== undefined) i.fd = s.fd;
  if (s.syscall !== undefined) i.syscall = s.syscall;
  if (s.arch !== undefined) i.arch = s.arch;
  return i;
}

/** A /proc or /sys file is held by descriptors only (proc_files.ts checkProcFileHolders). */
function procFileHolders(s: SavedSandbox, bad: (why: string) => Error): void {
  checkProcFileHolders(
    s.files as { kind: string; items?: { file: number }[] }[], s.unixSockets.flatMap((so) => so.queue.flatMap((m) => m.rights ?? [])),
    (s.locks ?? []).flatMap((l) => [l.file, ...l.flocks.map((x) => x.file), ...l.records.flatMap((r) => r.ofd === undefined ? [] : [r.ofd])]), bad,
  );
}

/** What the schema cannot check: the parts refer to each other consistently. */
function checkShape(s: SavedSandbox, blobs: readonly ImageBlob[]): void {
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: ${why}`);
  const tgids = new Map<number, SavedProcess>();
  const tids = new Set<number>();
  const mmUsed = new Set<number>(), tablesUsed = new Set<number>(), fsUsed = new Set<number>();
  for (const p of s.processes) {
    if (tgids.has(p.tgid)) throw bad(`process ${p.tgid} twice`);
    tgids.set(p.tgid, p);
    if ((p.zombie === null) !== (p.tasks.length > 0) || (p.zombie === null) !== (p.mm !== null)) {
      throw bad(`process ${p.tgid}: a zombie has no threads and no memory, a live process both`);
    }
    if (p.mm !== null) {
      if (p.mm >= s.mms.length) throw bad(`process ${p.tgid} names address space ${p.mm}`);
      mmUsed.add(p.mm);
    }
    if (p.tasks.length > 0 && p.tasks[0]!.tid !== p.tgid) throw bad(`process ${p.tgid}'s first thread is not its leader`);
    for (const t of p.tasks) {
      if (tids.has(t.tid) || t.tid >= s.nextTid) throw bad(`thread ${t.tid} twice or past the next id`);
      tids.add(t.tid);
      if (t.fdTable >= s.fdTables.length || t.fs >= s.fsContexts.length) throw bad(`thread ${t.tid} names a missing table`);
      tablesUsed.add(t.fdTable);
      fsUsed.add(t.fs);
    }
    if (p.tgid >= s.nextTid) throw bad(`process ${p.tgid} is past the next id`);
  }
  for (const p of s.processes) {
    if (p.handlersOf === undefined) continue;
    const q = tgids.get(p.handlersOf);
    if (
      q === undefined || q === p || p.zombie !== null || q.zombie !== null || q.handlersOf !== undefined || q.tgid > p.tgid ||
      JSON.stringify(q.handlers) !== JSON.stringify(p.handlers)
    ) {
      throw bad(`process ${p.tgid} shares the signal handlers of ${p.handlersOf}, which is not an earlier live process with the same ones`);
    }
  }
  for (const p of s.processes) {
    if (!tids.has(p.tgid) && p.zombie === null) throw bad(`process ${p.tgid} has no leader`);
    if (p.zombie !== null && tids.has(p.tgid)) throw bad(`zombie ${p.tgid} has a thread`);
  }
  const init = tgids.get(s.init);
  if (init === undefined || init.parent !== null || init.zombie !== null) throw bad("init is missing, has a parent or is a zombie");
  for (const p of s.processes) {
    // Every parent chain ends at a process without a parent, within as many steps as there are processes.
    let q: SavedProcess | undefined = p;
    for (let steps = 0; q !== undefined && q.parent !== null; steps++) {
      if (steps > s.processes.length) throw bad(`process ${p.tgid}'s parents form a cycle`);
      const next = tgids.get(q.parent);
      if (next === undefined || next.zombie !== null) throw bad(`process ${q.tgid}'s parent ${q.parent} is missing or a zombie`);
      q = next;
    }
  }
  if (mmUsed.size !== s.mms.length || tablesUsed.size !== s.fdTables.length || fsUsed.size !== s.fsContexts.length) {
    throw bad("a table entry no process uses");
  }
  const filesUsed = new Set<number>();
  for (const t of s.fdTables) {
    const seen = new Set<number>();
    for (const slot of t.slots) {
      if (slot.file >= s.files.length) throw bad(`fd ${slot.fd} names file ${slot.file} of ${s.files.length}`);
      if (slot.fd >= t.limit || seen.has(slot.fd)) throw bad(`fd ${slot.fd} is out of the table or twice in it`);
      seen.add(slot.fd);
      filesUsed.add(slot.file);
    }
  }
  for (const m of s.mms) {
    for (const v of m.vmas) {
      if (v.memfd === undefined) continue;
      const f = s.files[v.memfd.file];
      if (f?.kind !== "memfd" || v.shared !== undefined || v.memfd.offset % PAGE_SIZE !== 0) {
        throw bad(`the shared mapping at 0x${v.start.toString(16)} names file ${v.memfd.file}, not a memfd at a page`);
      }
      filesUsed.add(v.memfd.file);
    }
    for (const v of m.vmas) {
      if (v.written === undefined) continue;
      const f = s.files[v.written.file];
      if (f?.kind !== "file" || f.host !== null || v.written.offset % PAGE_SIZE !== 0) {
        throw bad(`the shared mapping at 0x${v.start.toString(16)} names file ${v.written.file}, not a written file at a page`);
      }
      filesUsed.add(v.written.file);
    }
  }
  for (const so of s.unixSockets) {
    for (const m of so.queue) {
      for (const f of m.rights ?? []) {
        if (f >= s.files.length) throw bad(`a message in flight names file ${f} of ${s.files.length}`);
        filesUsed.add(f);
      }
    }
  }
  const fdFiles = new Set(s.fdTables.flatMap((t) => t.slots.map((x) => x.file)));
  checkIpcShape(
    s.sysvIpc, s.mqueues, s.files, fdFiles, new Set(s.processes.flatMap((p) => p.zombie === null ? [p.tgid] : [])), filesUsed, bad,
    { shm: IPC_LIMITS.shmmni, sem: IPC_LIMITS.semmni, msg: IPC_LIMITS.msgmni },
  );
  if (filesUsed.size !== s.files.length) throw bad("a file no descriptor, mapping or message holds");
  for (const f of s.files) if (f.kind === "pipe" && f.pipe >= s.pipes.length) throw bad(`a pipe end names pipe ${f.pipe}`);
  const fifoPipes = new Map<number, string>();
  for (const f of s.files) {
    if (f.kind !== "fifo") continue;
    if (f.pipe >= s.pipes.length || (fifoPipes.get(f.pipe) ?? f.path) !== f.path) throw bad(`a FIFO end names pipe ${f.pipe}`);
    if ((f.flags & O_ACCMODE) === 3) throw bad(`a FIFO end of ${f.path} has no access mode`);
    fifoPipes.set(f.pipe, f.path);
  }
  for (const f of s.files) if (f.kind === "pipe" && fifoPipes.has(f.pipe)) throw bad(`a pipe end names a FIFO's pipe ${f.pipe}`);
  const socketsHeld = new Set<number>();
  for (const f of s.files) {
    if (f.kind !== "unix") continue;
    if (f.socket >= s.unixSockets.length || socketsHeld.has(f.socket)) throw bad(`a file names Unix socket ${f.socket}`);
    socketsHeld.add(f.socket);
  }
  for (const p of s.pipes) {
    let used = 0;
    for (const b of p.bufs) used += Math.ceil((b.offset + b.data.length) / PAGE_SIZE);
    if (used > p.slots) throw bad("a pipe holds more than its capacity");
  }
  checkSeccompShape(
    s.seccompFilters ?? [], s.seccompStates ?? [],
    new Set(s.processes.flatMap((p) => p.tasks.flatMap((t) => t.seccomp === undefined ? [] : [t.seccomp]))), bad,
  );
  checkTtyShape(s.files, s.terminals, s.console, s.processes.map((p) => p.tty), bad, s.execTerminals ?? []);
  const used = new Set<number>();
  for (const m of s.mms) checkMemoryShape(m, blobs, used, bad);
  checkCowObjects(s.cowObjects, blobs, used, bad);
  const cowUsed = new Set<number>();
  for (const m of s.mms) checkCowPieces(m.cow ?? [], m.vmas, s.cowObjects, cowUsed, bad);
  if (cowUsed.size !== s.cowObjects.length) throw bad("a copy-on-write object no address space maps");
  for (const f of s.files) if (f.kind === "memfd") checkMemfdShape(f, blobs, used, bad);
  const orphans = s.orphans ?? [];
  checkOrphansShape(orphans, blobs, used, bad);
  const orphansHeld = new Set<number>();
  for (const f of s.files) {
    if (f.kind !== "file" || f.orphan === undefined) continue;
    if (f.orphan >= orphans.length || f.host !== null) throw bad(`a file names unlinked file ${f.orphan} of ${orphans.length}`);
    orphansHeld.add(f.orphan);
  }
  if (orphansHeld.size !== orphans.length) throw bad("an unlinked file no description holds");
  checkLocksShape(s.locks ?? [], s.files.length, s.fdTables.length, bad);
  procFileHolders(s, bad);
  checkKeyringsShape(s.keyrings, [
    ...s.processes.flatMap((p) => p.processKeyring === undefined ? [] : [p.processKeyring]),
    ...s.processes.flatMap((p) => p.tasks.flatMap((t) => [t.sessionKeyring, t.threadKeyring].filter((x) => x !== undefined))),
  ], bad);
  checkNetlinkShape(s.files as { kind: string; portId?: number }[], bad);
  for (const t of s.trees) {
    for (const [i, e] of t.entries.entries()) {
      if ((i === 0) !== (e.path === "") || (i === 0 && e.kind !== "dir")) throw bad(`the tree at ${t.at} does not start at its top directory`);
      if (e.linkTo !== null && (e.linkTo >= i || t.entries[e.linkTo]!.kind !== "file" || t.entries[e.linkTo]!.linkTo !== null)) {
        throw bad(`${e.path} links to entry ${e.linkTo}`);
      }
      for (const r of e.runs) {
        const b = blobs[r.blob];
        if (b === undefined || used.has(r.blob) || r.off + b.length > e.size) throw bad(`data of ${e.path} names blob ${r.blob}`);
        used.add(r.blob);
      }
      if ((e.socket !== undefined) !== (e.kind === "socket") || (e.rdev !== undefined) !== (e.kind === "chr" || e.kind === "blk")) {
        throw bad(`${e.path}: a socket's or device's fields on another kind of file`);
      }
      const so = e.socket === undefined || e.socket === null ? null : s.unixSockets[e.socket];
      if (so === undefined || (so !== null && (so.dead || so.embryo || so.address === null))) {
        throw bad(`the socket file ${e.path} names Unix socket ${e.socket}, which is not bound and open`);
      }
    }
  }
}

function checkMemoryShape(m: SavedMemory, blobs: readonly ImageBlob[], used: Set<number>, bad: (why: string) => ImageError): void {
  let prevEnd = 0;
  for (const v of m.vmas) {
    if (
      v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0 || v.start >= v.end || v.start < prevEnd ||
      (v.shared !== undefined && v.shared.offset % PAGE_SIZE !== 0) || (v.file !== undefined && v.file.offset % PAGE_SIZE !== 0)
    ) {
      throw bad(`mapping 0x${v.start.toString(16)}-0x${v.end.toString(16)} is unaligned, empty or overlaps`);
    }
    prevEnd = v.end;
  }
  for (const r of m.runs) {
    const b = blobs[r.blob];
    if (b === undefined || used.has(r.blob)) throw bad(`memory run at 0x${r.addr.toString(16)} names blob ${r.blob}`);
    used.add(r.blob);
    const v = m.vmas.find((v) => v.start <= r.addr && r.addr + b.length <= v.end);
    if (v === undefined || v.memfd !== undefined || v.written !== undefined) throw bad(`memory run at 0x${r.addr.toString(16)} is outside every mapping of its own memory`);
  }
}

function restoreMemory(
  k: Kernel, ctx: Context, m: SavedMemory, blobs: readonly ImageBlob[], mmIndex: number,
  shared: {
    placement: SharedPlacement; objects: Map<number, SharedAnon>; firstCtx: readonly Context[]; memfds: ReadonlyMap<number, MemFd>;
    written: ReadonlyMap<number, FileDescription>;
    cow: CowMemories;
    hostFiles: MappedHostFiles;
  },
): MemoryManager {
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: ${why}`);
  const as = ctx.addressSpace;
  for (const v of m.vmas) {
    if (v.start < as.minAddr || v.end > as.maxAddr || as.reserved.some((r) => v.start < r.end && r.start < v.end)) {
      throw bad(`mapping 0x${v.start.toString(16)}-0x${v.end.toString(16)} is outside the application's address range`);
    }
  }
  const mm = new MemoryManager(as);
  const copies: SavedCowPiece[] = [];
  // The mappings go to the stub in one round trip (flushed by the first write below).
  as.deferMappings(ctx);
  const vdso = vdsoOf(m);
  const kv = vdso === null ? null : k.vdso();
  const ownVdso = vdso !== null && kv !== null && kv.imageLen === vdso.image.end - vdso.image.start &&
    vdso.vvar.end - vdso.vvar.start === PAGE_SIZE;
  for (const v of m.vmas) {
    const special = v.name === "[vvar]" || v.name === "[vdso]";
    if (special && ownVdso) continue;
    const len = v.end - v.start, prot = v.prot | PROT_READ | PROT_WRITE;
    if (v.memfd !== undefined) {
      // (checkShape: the file is a memfd, the offset page-aligned, no memory run inside.)
      const f = shared.memfds.get(v.memfd.file)!;
      const e = as.mapHostFile(ctx, { addr: v.start, len, prot: v.prot, shared: true, hostFd: f.hostFdForMmap(), offset: v.memfd.offset });
      if (e !== 0) throw new ImageError(`restore: cannot map the memfd ${f.name} at 0x${v.start.toString(16)} (errno ${-e})`);
      mm.vmas.push({
        start: v.start, end: v.end, prot: v.prot, shared: true, object: sharedObject(f), file: f.incRef(), offset: v.memfd.offset,
        name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
      });
      continue;
    }
    if (v.written !== undefined) {
      // (checkShape: a file by path or unlinked, at a page, no memory run inside; the restore: of a written filesystem.)
      const f = shared.written.get(v.written.file)!;
      const e = as.mapHostFile(ctx, { addr: v.start, len, prot: v.prot, shared: true, hostFd: f.hostFdForMmap()!, offset: v.written.offset });
      if (e !== 0) throw new ImageError(`restore: cannot map ${f.path()} at 0x${v.start.toString(16)} (errno ${-e})`);
      mm.vmas.push({
        start: v.start, end: v.end, prot: v.prot, shared: true, object: sharedObject(f), file: f.incRef(), offset: v.written.offset,
        name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
      });
      continue;
    }
    let err: number;
    let object: SharedAnon | null = null;
    let file: FileDescription | null = null;
    if (v.shared !== undefined) {
      object = shared.objects.get(v.shared.object) ?? new SharedAnon();
      shared.objects.set(v.shared.object, object);
      const from = shared.placement.place(v.shared.object, mmIndex, v.start, v.shared.offset, len);
      if (from === "partial") throw bad(`shared memory at 0x${v.start.toString(16)} overlaps its other mappings in part`);
      err = from === null
        ? as.mapAnonymous(ctx, v.start, len, prot, true)
        : as.shareAnonymous(ctx, v.start, len, prot, shared.firstCtx[from.mm]!.addressSpace, from.addr);
    } else if (v.file !== undefined) {
      file = shared.hostFiles.open(v.file);
      // Held by the mapping from here (released with the address space if the restore fails).
      mm.vmas.push({
        start: v.start, end: v.end, prot: v.prot, shared: false, object: null, file, offset: v.file.offset,
        name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
        // A file on a noexec mount never becomes executable (mm.ts's mmap rule).
        ...(file.location()?.mount.noexec ? { mayExec: false } : {}),
      });
      err = as.mapHostFile(ctx, { addr: v.start, len, prot, shared: false, hostFd: file.hostFdForMmap()!, offset: v.file.offset });
    } else {
      err = mapPrivate(ctx, v.start, v.end, prot, m.cow ?? [], shared.cow, copies);
    }
    if (err !== 0) throw new ImageError(`restore: cannot map 0x${v.start.toString(16)}-0x${v.end.toString(16)} (errno ${-err})`);
    if (file !== null) continue;
    mm.vmas.push({
      start: v.start, end: v.end, prot: v.prot, shared: object !== null, object, file: null, offset: v.shared?.offset ?? 0,
      name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
      ...(v.anonName !== undefined ? { anonName: v.anonName } : {}),
    });
  }
  const flushed = as.flushMappings();
  if (flushed !== 0) throw new ImageError(`restore: cannot map the image's memory (errno ${-flushed})`);
  // Pieces of copy-on-write objects the platform could not share: copies, before the runs over them.
  for (const p of copies) {
    shared.cow.copyInto(p.object, p.offset, p.len, (off, bytes) => {
      if (as.write(p.addr + off, bytes) !== bytes.length) throw new ImageError(`restore: cannot write memory at 0x${(p.addr + off).toString(16)}`);
    });
  }
  for (const r of m.runs) {
    const b = blobs[r.blob]!;
    if (b instanceof Uint8Array) {
      if (as.write(r.addr, b) !== b.length) throw new ImageError(`restore: cannot write memory at 0x${r.addr.toString(16)}`);
      continue;
    }
    // A raw run still in the image file: read and written a piece at a time.
    const piece = restoreBuffer();
    for (let off = 0; off < b.length; off += piece.length) {
      const chunk = piece.subarray(0, Math.min(piece.length, b.length - off));
      b.readInto(chunk, off);
      if (as.write(r.addr + off, chunk) !== chunk.length) throw new ImageError(`restore: cannot write memory at 0x${(r.addr + off).toString(16)}`);
    }
  }
  as.deferMappings(ctx);
  for (const v of m.vmas) {
    if ((v.name === "[vvar]" || v.name === "[vdso]") && ownVdso) continue;
    if (v.memfd !== undefined || v.written !== undefined) continue; // mapped with its own protection
    if ((v.prot & (PROT_READ | PROT_WRITE)) !== (PROT_READ | PROT_WRITE)) as.protect(ctx, v.start, v.end - v.start, v.prot);
  }
  if (as.flushMappings() !== 0) throw new ImageError("restore: cannot protect the image's memory");
  if (vdso !== null) {
    if (ownVdso) {
      // This kernel's vDSO at the same addresses: its clock parameters are this sentry's.
      try {
        kv!.mapAt(mm, ctx, vdso.vvar.start);
      } catch {
        throw new ImageError(`restore: cannot map the vDSO at 0x${vdso.vvar.start.toString(16)}`);
      }
    } else {
      // No vDSO of the same size here: the program keeps an anonymous copy of the old one's
      // code, and its parameters page stays zero, which sends every clock read to the kernel.
      k.log.debug("restore: the image's vDSO differs from this kernel's: its clock reads take the syscall path");
    }
  }
  mm.vmas.sort((a, b) => a.start - b.start);
  mm.brkStart = m.brkStart;
  mm.brk = m.brk;
  mm.stackBottom = m.stackBottom;
  mm.argStart = m.argStart;
  mm.argEnd = m.argEnd;
  mm.envStart = m.envStart;
  mm.envEnd = m.envEnd;
  mm.executable = m.executable;
  if (m.auxv !== undefined) mm.auxv = Uint8Array.from(m.auxv.match(/../g) ?? [], (h) => parseInt(h, 16));
  mm.lockFuture = m.lockFuture === true;
  mm.membarrierRegistered = m.membarrierRegistered ?? 0;
  if (m.exe !== null) {
    try {
      const root = k.vfs.root();
      const e = k.vfs.openExecutable({ root, creds: Credentials.root() }, root, m.exe);
      mm.exe = e.location;
      e.file.decRef();
    } catch {
      mm.exe = null; // /proc/PID/exe reads as gone, as for a deleted executable
    }
  }
  return mm;
}

/**
 * Maps the private anonymous mapping [start, end): the pieces of copy-on-write objects inside
 * it from their objects (or, where the platform cannot share pages, as new memory listed in
 * `copies` for their contents to be written), the rest as new memory. Returns 0 or -errno.
 */
function mapPrivate(
  ctx: Context, start: number, end: number, prot: number, pieces: readonly SavedCowPiece[], cow: CowMemories, copies: SavedCowPiece[],
): number {
  // MAP_NORESERVE on the host: the program's own mmap was granted already (a 64 GiB
  // MAP_NORESERVE reservation must not meet the host's overcommit check on the way back).
  const as = ctx.addressSpace;
  let at = start;
  for (const p of pieces) {
    if (p.addr + p.len <= start || p.addr >= end) continue; // (checkShape: inside one mapping)
    if (p.addr > at) {
      const e = as.mapAnonymous(ctx, at, p.addr - at, prot, false, true);
      if (e !== 0) return e;
    }
    const mem = cow.get(p.object);
    const e = mem === null ? as.mapAnonymous(ctx, p.addr, p.len, prot, false, true) : as.mapCopyOnWrite(ctx, p.addr, p.len, prot, mem, p.offset);
    if (e !== 0) return e;
    if (mem === null) copies.push(p);
    at = p.addr + p.len;
  }
  return at < end ? as.mapAnonymous(ctx, at, end - at, prot, false, true) : 0;
}

/** Copies a memory blob to `write(offset, bytes)`: at once, or a raw run a piece at a time. */
function copyBlob(b: ImageBlob, write: (off: number, bytes: Uint8Array) => void): void {
  if (b instanceof Uint8Array) {
    write(0, b);
    return;
  }
  const piece = restoreBuffer();
  for (let off = 0; off < b.length; off += piece.length) {
    const chunk = piece.subarray(0, Math.min(piece.length, b.length - off));
    b.readInto(chunk, off);
    write(off, chunk);
  }
}

/** The one buffer raw memory runs pass through from the image file to an address space. */
let restorePiece: Uint8Array | null = null;
function restoreBuffer(): Uint8Array {
  return restorePiece ??= new Uint8Array(RUN_BYTES >>> 2);
}

/**
 * Opens again, read-only, a host file a private mapping was saved by reference to, refused
 * (ImageError) when it is gone, changed since the checkpoint (size, mtime), or cannot be mapped.
 */
/**
 * The host files of the lower layer that private mappings map by reference, each opened and
 * checked once per restore: an idle shell's two processes map 32 pieces of four files (dash,
 * sleep, libc, ld.so), each of which had its own path walk, stat and description. One description per file serves every mapping of it, in every address
 * space, as after a fork; the restore's own reference is one of `made`'s.
 */
class MappedHostFiles {
  readonly #open = new Map<string, { f: FileDescription; size: number; mtimeNs: string }>();
  constructor(private readonly k: Kernel, private readonly made: FileDescription[]) {}

  /** The file a mapping names, with a reference for the mapping; ImageError when it is gone or changed. */
  open(s: NonNullable<SavedMemory["vmas"][number]["file"]>): FileDescription {
    let o = this.#open.get(s.path);
    if (o === undefined) {
      const f = reopenMapped(this.k, s.path);
      this.made.push(f);
      const st = f.stat();
      o = { f, size: Number(st.size), mtimeNs: String(st.mtimeNs) };
      this.#open.set(s.path, o);
    }
    if (o.size !== s.size || o.mtimeNs !== s.mtimeNs) {
      throw new ImageError(`restore: the host file ${s.path} the program maps changed since the checkpoint`);
    }
    return o.f.incRef();
  }
}

/** The host file at path, opened for mapping (ImageError when it is gone or no longer a host file). */
function reopenMapped(k: Kernel, path: string): FileDescription {
  const ctx = { root: k.vfs.root(), creds: Credentials.root() };
  let f: FileDescription;
  try {
    f = k.vfs.openAt(ctx, ctx.root, path, O_RDONLY | O_NOFOLLOW, 0);
  } catch {
    throw new ImageError(`restore: the host file ${path} the program maps is gone`);
  }
  if (!hostBacked(f) || f.hostFdForMmap() === null) {
    f.decRef();
    throw new ImageError(`restore: the host file ${path} the program maps changed since the checkpoint`);
  }
  return f;
}

/** The [vvar] page and the [vdso] image of a saved address space, when it has them side by side. */
function vdsoOf(m: SavedMemory): { vvar: { start: number; end: number }; image: { start: number; end: number } } | null {
  const vvar = m.vmas.find((v) => v.name === "[vvar]");
  const image = m.vmas.find((v) => v.name === "[vdso]");
  if (vvar === undefined || image === undefined || vvar.end !== image.start) return null;
  return { vvar, image };
}

function restoreTask(t: Task, s: SavedTask): void {
  t.ctx.regs.bytes.set(s.regs);
  t.ctx.markRegsDirty();
  // The XSAVE layout is the host CPU's: an image from a CPU with other features cannot be used.
  if (t.ctx.getFpState().length !== s.fp.length) {
    throw new ImageError(`restore: the image's FP state is ${s.fp.length} bytes, this CPU's ${t.ctx.getFpState().length}: taken on another CPU`);
  }
  t.ctx.setFpState(s.fp);
  t.sigmask = BigInt(`0x${s.sigmask}`) & ~((1n << 8n) | (1n << 18n)); // SIGKILL, SIGSTOP never blocked
  for (const i of s.pending) t.pendingSignals.add(loadSigInfo(i));
  t.altStack = { ...s.altStack };
  t.clearChildTid = s.clearChildTid;
  t.robustList = s.robustList;
  t.pdeathSignal = s.pdeathSignal;
  if (s.timerSlack !== undefined) {
    t.timerSlackNs = s.timerSlack.ns;
    t.defaultTimerSlackNs = s.timerSlack.defaultNs;
  }
  t.noNewPrivs = s.noNewPrivs;
  t.nice = s.nice;
  t.ioprio = s.ioprio ?? 0;
  t.schedPolicy = s.sched.policy;
  t.schedPriority = s.sched.priority;
  t.schedResetOnFork = s.sched.resetOnFork;
  t.schedSliceNs = s.sched.sliceNs;
  t.schedDl = s.sched.dl ?? null;
  t.cpuBase = { ...s.cpu };
}

// ---- Files ---------------------------------------------------------------------------------

/**
 * Checkpoints a paused, quiescent sandbox into the image file `path` (written atomically);
 * `rootHostPath` is the host directory serving as its root filesystem.
 */
export function checkpointToFile(k: Kernel, path: string, o: { rootHostPath: string; sentryVersion: string }): void {
  // (loadEncoders first: writeImage needs cbor-x and node:zlib.)
  const { state, blobs } = saveSandbox(k);
  let root;
  try {
    root = rootIdentity(o.rootHostPath);
  } catch (e) {
    throw new CheckpointError(`cannot stat the root filesystem ${o.rootHostPath}: ${(e as Error).message}`);
  }
  writeImage(path, {
    header: { magic: IMAGE_MAGIC, formatVersion: IMAGE_FORMAT_VERSION, sentryVersion: o.sentryVersion, createdMs: Date.now(), root },
    state,
    blobs,
  });
}

/**
 * Reads and validates the image at `path` (nothing is created): see image.ts's readImage
 * (loadCodecs first).
 */
export function readSandboxImage(path: string, rootHostPath: string): Image<SavedSandbox> {
  const image = readImage(path, savedSandboxSchema);
  checkRoot(image.header, rootHostPath);
  return image;
}

/** {@linkcode readSandboxImage} for the restore: image.ts's readImageFast, which loads no codec it can do without. */
export async function readSandboxImageFast(path: string, rootHostPath: string): Promise<Image<SavedSandbox>> {
  const image = await readImageFast(path, savedSandboxSchema, plainSandbox);
  try {
    checkRoot(image.header, rootHostPath);
  } catch (err) {
    image.close?.();
    throw err;
  }
  return image;
}

/** Whether the sandbox changed /proc/sys/net/ipv4/ip_local_port_range. */
function portRangeChanged(k: Kernel): boolean {
  const [low, high] = k.net.stack.ephemeralRange;
  const { EPHEMERAL_LOW, EPHEMERAL_HIGH } = netModules();
  return low !== EPHEMERAL_LOW || high !== EPHEMERAL_HIGH;
}

/**
 * Whether a descriptor holds a network namespace other than the kernel's first: a socket, TUN
 * device or nsfs inode of one (what keeps a namespace alive besides its tasks).
 */
function otherNetNamespace(k: Kernel): boolean {
  for (const t of k.tasks.values()) {
    for (const fd of t.fdTable.fds()) {
      const f = t.fdTable.get(fd);
      const net = (f as { net?: unknown }).net;
      if (net instanceof Net && net !== k.net) return true;
      if (isUnixSocket(f) && f.ns !== k.unixNames) return true;
      const loc = f.location();
      if (loc !== null && nsfsNamespace(loc.dentry) instanceof Net) return true;
    }
  }
  return false;
}
