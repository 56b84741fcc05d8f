/**
 * The checkpoint image's state as zod's schemas say it (format version IMAGE_FORMAT_VERSION):
 * the types sandbox.ts restores and save.ts writes, and the schema a state is parsed with where
 * plain_state.ts's hand checks do not take it (readImageFast loads this module then, with zod)
 * or where no hand check is asked for (readSandboxImage, the tests' reader). A restore of an
 * image the hand checks take, as an idle shell's, never loads it: ~7 KB of the restore's
 * bundle chunk that were loaded and not run.
 *
 * @module
 */

import { intIn, lazyKind, lazyObject, withFastPath, z } from "./zod_tree.ts";
import { MAX_FILES, MAX_PROCESSES, MAX_TASKS, plainHandlers, plainRun, plainVma } from "./plain_state.ts";
import { UCOUNT_NAMES } from "../ucounts.ts";
import { FPREGS_SIZE } from "../../platform/mod.ts";
import { USER_REGS_SIZE } from "../../platform/ptrace/regs_amd64.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { openDirSchema, openFileSchema, treeSchema } from "./files.ts";
import { processTimersSchema } from "./timers.ts";
import { taskPolicySchemas } from "./task_policies.ts";
import { cowObjectSchema, cowPieceSchema } from "./cow.ts";
import { checkRoot, type Image, readImage } from "./image.ts";
import { loadedKinds as K } from "./sandbox.ts";


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
/** A signed count of ns beyond 2^53 (a time namespace's offset), in decimal. */
const signedNs = z.string().regex(/^-?\d{1,20}$/);

/**
 * A process's 65 signal actions, `[handler, flags, restorer, mask]` each: checked by hand, as
 * completely as `z.array(z.tuple([hex64, u32, hex64, hex64])).length(65)` would. They are 260 of
 * the ~1,600 values of an idle shell's state, most of them default, and zod's parse of them
 * cost ~1 ms a process (a schema run, a result object and an issue list per value).
 */
/** keys.ts's serial. */
const keyringSerial = intIn(3, 0x7fff_ffff);

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
  /** eventfd, timerfd, signalfd, epoll, inotify (anon_files.ts). */
  lazyKind("eventfd", () => K().anonFileSchemas[0]),
  lazyKind("timerfd", () => K().anonFileSchemas[1]),
  lazyKind("signalfd", () => K().anonFileSchemas[2]),
  lazyKind("epoll", () => K().anonFileSchemas[3]),
  lazyKind("inotify", () => K().anonFileSchemas[4]),
  /** An AF_UNIX socket: unixSockets[socket] (unix_sockets.ts). */
  z.object({ kind: z.literal("unix"), socket: u32 }).strict(),
  /** Either side of terminals[terminal] (ttys.ts). */
  lazyKind("tty", () => K().ttyFileSchema),
  /** A TCP or UDP socket file over tcpSockets[socket] or udpSockets[socket], or a ping socket (inet_sockets.ts). */
  lazyKind("tcp", () => K().inetFileSchemas[0]),
  lazyKind("udp", () => K().inetFileSchemas[1]),
  lazyKind("ping", () => K().inetFileSchemas[2]),
  /** A memfd with its contents (memfd.ts). */
  lazyKind("memfd", () => K().memfdSchema),
  /** An idle io_uring over its rings' memfd (io_uring.ts). */
  lazyKind("io_uring", () => K().ioUringFileSchema),
  /** A POSIX message queue's descriptor: mqueues.queues[queue] (ipc.ts). */
  lazyKind("mqueue", () => K().mqueueFileSchema),
  /** A file of /proc or /sys, or a pidfd (proc_files.ts). */
  lazyKind("kernfile", () => K().procFileSchemas[0]),
  lazyKind("pidfd", () => K().procFileSchemas[1]),
  /** A NETLINK_ROUTE socket (netlink.ts). */
  lazyKind("netlink", () => K().netlinkFileSchema),
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
  /** The time namespace of its tasks, whose offsets its [vvar] shows (index into timeNamespaces); absent: the first. */
  timeNs: u32.optional(),
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
  /** Pending without its siginfo: its user was at RLIMIT_SIGPENDING (it holds no place there). */
  lost: z.literal(true).optional(),
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
  /** rseq(2)'s registration (kernel/rseq.ts); absent: none. */
  rseq: z.object({ addr: u64, len: intIn(32, 0xffff_ffff), sig: u32 }).strict().optional(),
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
  /** Its time namespace and its children's (indices into timeNamespaces); absent: the sandbox's first. */
  timeNs: u32.optional(),
  timeNsForChildren: u32.optional(),
  /** Hardware breakpoints, DR6 and DR7 as ptrace set them (kernel/debug_regs.ts); absent: never written. */
  debugRegs: z.object({
    bps: z.array(z.object({ addr: hex64, len: intIn(0x40, 0x4f), type: intIn(0x80, 0x83), disabled: z.boolean() }).strict().nullable())
      .length(4),
    dr6: hex64,
    dr7: hex64,
  }).strict().optional(),
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
    loTag: i32.optional(), defaultTag: i32.optional(), pingGroupLow: intIn(0, 4294967294).optional(),
    pingGroupHigh: intIn(0, 4294967294).optional() }).strict().optional(),
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
  unixSockets: z.array(z.lazy(() => K().unixSocketSchema)).max(MAX_FILES),
  /** Pseudo-terminal pairs with their line disciplines (ttys.ts). */
  terminals: z.array(z.lazy(() => K().terminalSchema)).max(4096),
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
  tcpSockets: z.array(z.lazy(() => K().tcpSnapshotSchema)).max(MAX_FILES),
  udpSockets: z.array(z.lazy(() => K().udpSnapshotSchema)).max(MAX_FILES),
  mms: z.array(memorySchema).max(MAX_PROCESSES),
  /** Held file locks, by file (locks.ts); absent when none. */
  locks: z.array(z.lazy(() => K().fileLocksSchema)).max(MAX_FILES).optional(),
  /** Files unlinked while open with no name left, each once (orphans.ts); absent when none. */
  orphans: z.array(z.lazy(() => K().orphanSchema)).max(MAX_FILES).optional(),
  /** Private memory several address spaces share copy-on-write (cow.ts), each page once. */
  cowObjects: z.array(cowObjectSchema).max(MAX_FILES),
  fdTables: z.array(fdTableSchema).max(MAX_TASKS),
  /** cwd (`removed`: rmdir'd while in use, orphans.ts), umask and, for a chrooted task, its root (absent: the sandbox's). */
  fsContexts: z.array(z.object({ cwd: absPath, umask: intIn(0, 0o777), root: absPath.optional(), removed: z.literal(true).optional() }).strict())
    .max(MAX_TASKS),
  processes: z.array(processSchema).min(1).max(MAX_PROCESSES),
  /** seccomp filter programs and the states that list them, each once (seccomp.ts). */
  seccompFilters: z.array(z.lazy(() => K().seccompFilterSchema)).max(MAX_TASKS).optional(),
  seccompStates: z.array(z.lazy(() => K().seccompStateSchema)).max(MAX_TASKS).optional(),
  /** System V IPC objects and POSIX message queues of the sandbox's IPC namespace (ipc.ts). */
  sysvIpc: lazyObject(() => K().sysvIpcSchema).optional(),
  /** Every key and keyring, in creation order, and the key limits (keys.ts). */
  keyrings: lazyObject(() => K().keyringsSchema).optional(),
  mqueues: lazyObject(() => K().mqueuesSchema).optional(),
  /** Time namespaces other than the first (kernel/time_namespace.ts): their offsets, ns. */
  timeNamespaces: z.array(z.object({ monotonicNs: signedNs, boottimeNs: signedNs, frozen: z.boolean() }).strict())
    .max(MAX_TASKS).optional(),
}).strict();

export type SavedSandbox = z.infer<typeof savedSandboxSchema>;
export type SavedProcess = z.infer<typeof processSchema>;
export type SavedTask = z.infer<typeof taskSchema>;
export type SavedFile = z.infer<typeof fileSchema>;
export type SavedMemory = z.infer<typeof memorySchema>;
export type SavedSigInfo = z.infer<typeof sigInfoSchema>;
export type SavedPipe = z.infer<typeof pipeSchema>;

/** The image at `path` read and validated whole by the schemas (cbor-x and zod: loadCodecs first), taken on the root `rootHostPath`. */
export function readSandboxImage(path: string, rootHostPath: string): Image<SavedSandbox> {
  const image = readImage(path, savedSandboxSchema);
  checkRoot(image.header, rootHostPath);
  return image;
}
