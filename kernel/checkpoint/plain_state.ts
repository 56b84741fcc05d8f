/**
 * The restore's hand checks of a checkpoint's state, for the shapes most images are made of
 * (an idle shell's, a job's without sockets, terminals or IPC): each accepts a value only when
 * the state's zod schema (sandbox_schema.ts savedSandboxSchema and the schemas it is made of) accepts
 * it unchanged, and says no to anything else, right or wrong, which then goes to the schema.
 * When {@linkcode plainSandbox} accepts a whole state, the restore neither loads zod nor builds
 * one of its schemas (zod_tree.ts): loading zod, building the ~580 schemas a restore reached
 * and zod's first parse with each were ~40% of a restore's CPU time before it ran anything.
 *
 * The schema stays the reference: what is checked here is what it says, field by field (a
 * field the schema gains that is not checked here makes the state "not plain": the object
 * checks below accept only the keys they know). tests/checkpoint_plain_test.ts holds the two to
 * agreement: every state these checks accept, valid or mutated, the schema accepts and returns
 * unchanged. Keep them in step when a schema changes.
 *
 * Stricter than the schema where that is simpler (plain objects only, no key present with an
 * undefined value, kinds of files, signals and timers that an idle shell never holds left to
 * the schema): a value refused here is only parsed by zod, never refused for that.
 *
 * @module
 */

import { isIntIn } from "./zod_tree.ts";
import { FPREGS_SIZE } from "../../platform/mod.ts";
import { USER_REGS_SIZE } from "../../platform/ptrace/regs_amd64.ts";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** sandbox.ts's bounds of the state's tables. */
export const MAX_PROCESSES = 1 << 15, MAX_TASKS = 1 << 15, MAX_FILES = 1 << 20;

const HEX64 = /^[0-9a-f]{1,16}$/;
const MTIME_NS = /^\d{1,20}$/;
const TIME_NS = /^-?[0-9]{1,20}$/;
/** sandbox.ts's auxv pattern `^([0-9a-f]{2}){0,1024}$` is this with an even length of at most 2048. */
const HEX = /^[0-9a-f]*$/;
const AFFINITY = /^[0-9a-f]{1,2048}$/;

type Obj = Record<string, unknown>;

/**
 * A plain object with only `keys`, none of them present with the value undefined (onlyKeys
 * and that in one pass: a plain object's `for in` is its own keys).
 */
function strict(v: unknown, keys: ReadonlySet<string>): v is Obj {
  if (typeof v !== "object" || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k in v) if (!keys.has(k) || (v as Obj)[k] === undefined) return false;
  return true;
}

const keys = (...k: string[]): ReadonlySet<string> => new Set(k);
const u64 = (v: unknown): boolean => isIntIn(v, 0, MAX_SAFE);
const u32 = (v: unknown): boolean => isIntIn(v, 0, 0xffff_ffff);
const id = (v: unknown): boolean => isIntIn(v, 1, 1 << 22);
const bool = (v: unknown): boolean => typeof v === "boolean";
/** (Most of a state's hex values are "0": the default signal actions' four.) */
const hex64 = (v: unknown): boolean => v === "0" || (typeof v === "string" && HEX64.test(v));
/** `z.number().min(0).max(2 ** 62)`. */
const ns = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 2 ** 62;
const str = (v: unknown, max: number): boolean => typeof v === "string" && v.length <= max;
/** sandbox.ts's absPath. */
const absPath = (v: unknown): boolean => typeof v === "string" && v.length <= 4096 && v.startsWith("/");
/** files.ts's absPath: no empty, "." or ".." name. */
const treePath = (v: unknown): boolean =>
  typeof v === "string" && v.length <= 4096 && v.startsWith("/") &&
  (v === "/" || v.slice(1).split("/").every((n) => n !== "" && n !== "." && n !== ".."));
/** files.ts's relPath. */
const relPath = (v: unknown): boolean =>
  typeof v === "string" && v.length <= 4096 &&
  (v === "" || v.split("/").every((n) => n !== "" && n !== "." && n !== ".." && !n.includes("\0")));
const emptyArray = (v: unknown): boolean => Array.isArray(v) && v.length === 0;
/** An array of at most `max` elements, each accepted by `each`. */
function arrayOf(v: unknown, max: number, each: (e: unknown) => boolean): boolean {
  if (!Array.isArray(v) || v.length > max) return false;
  for (const e of v) if (!each(e)) return false;
  return true;
}
/** An optional member: absent, or accepted by `check`. */
const opt = (o: Obj, k: string, check: (v: unknown) => boolean): boolean => !(k in o) || check(o[k]);

/**
 * A process's 65 signal actions, `[handler, flags, restorer, mask]` each: as
 * `z.array(z.tuple([hex64, u32, hex64, hex64])).length(65)` (sandbox.ts handlersSchema uses it).
 */
export function plainHandlers(v: unknown): boolean {
  if (!Array.isArray(v) || v.length !== 65) return false;
  for (const a of v) {
    if (!Array.isArray(a) || a.length !== 4) return false;
    const [h, f, r, m] = a as unknown[];
    if (!hex64(h) || !hex64(r) || !hex64(m) || !u32(f)) return false;
  }
  return true;
}

const PLAIN_VMA_KEYS = keys("start", "end", "prot", "name", "growsDown", "locked", "file");
const VMA_FILE_KEYS = keys("path", "offset", "size", "mtimeNs");

/**
 * The common mapping, anonymous or of a lower host file by reference and nothing else (every
 * mapping of an idle shell), as sandbox.ts's vmaSchema checks it.
 */
export function plainVma(v: unknown): boolean {
  if (!strict(v, PLAIN_VMA_KEYS)) return false;
  if (!u64(v.start) || !u64(v.end) || !isIntIn(v.prot, 0, 7) || !str(v.name, 4096) || !bool(v.growsDown)) return false;
  if (!opt(v, "locked", bool)) return false;
  const f = v.file;
  if (f === undefined) return true;
  return strict(f, VMA_FILE_KEYS) && absPath(f.path) && u64(f.offset) && u64(f.size) &&
    typeof f.mtimeNs === "string" && MTIME_NS.test(f.mtimeNs);
}

const RUN_KEYS = keys("addr", "blob");
/** A memory run, as sandbox.ts's runSchema. */
export const plainRun = (v: unknown): boolean => strict(v, RUN_KEYS) && u64(v.addr) && u32(v.blob);

const OFF_BLOB = keys("off", "blob");
const offBlob = (v: unknown): boolean => strict(v, OFF_BLOB) && u64(v.off) && u32(v.blob);
const COW_PIECE = keys("addr", "len", "object", "offset");
const cowPiece = (v: unknown): boolean => strict(v, COW_PIECE) && u64(v.addr) && u64(v.len) && u32(v.object) && u64(v.offset);
const COW_OBJECT = keys("length", "runs");
/** cow.ts's cowObjectSchema. */
const cowObject = (v: unknown): boolean => strict(v, COW_OBJECT) && u64(v.length) && arrayOf(v.runs, Infinity, offBlob);

const MEMORY = keys(
  "vmas", "runs", "cow", "brkStart", "brk", "stackBottom", "argStart", "argEnd", "envStart", "envEnd", "executable", "exe", "auxv",
  "lockFuture", "membarrierRegistered",
);
/** sandbox.ts's memorySchema. */
function memory(v: unknown): boolean {
  if (!strict(v, MEMORY)) return false;
  if (!arrayOf(v.vmas, 65536, plainVma) || !arrayOf(v.runs, Infinity, plainRun) || !opt(v, "cow", (c) => arrayOf(c, 65536, cowPiece))) return false;
  for (const k of ["brkStart", "brk", "stackBottom", "argStart", "argEnd", "envStart", "envEnd"]) if (!u64(v[k])) return false;
  if (!str(v.executable, 4096) || !(v.exe === null || absPath(v.exe))) return false;
  return opt(v, "auxv", (a) => typeof a === "string" && a.length % 2 === 0 && a.length <= 2048 && HEX.test(a)) && opt(v, "lockFuture", bool) &&
    opt(v, "membarrierRegistered", (m) => isIntIn(m, 0, 0x3ff));
}

const SLOT = keys("fd", "file", "cloexec");
const slot = (v: unknown): boolean => strict(v, SLOT) && isIntIn(v.fd, 0, 1 << 30) && u32(v.file) && bool(v.cloexec);
const FD_TABLE = keys("limit", "arraySize", "slots");
/** sandbox.ts's fdTableSchema. */
const fdTable = (v: unknown): boolean =>
  strict(v, FD_TABLE) && (isIntIn(v.limit, 0, 1 << 30) || v.limit === Infinity) && opt(v, "arraySize", (n) => isIntIn(n, 64, 1 << 30)) &&
  arrayOf(v.slots, 1 << 20, slot);

const FS_CONTEXT = keys("cwd", "umask", "root", "removed");
const fsContext = (v: unknown): boolean =>
  strict(v, FS_CONTEXT) && absPath(v.cwd) && isIntIn(v.umask, 0, 0o777) && opt(v, "root", absPath) && opt(v, "removed", (r) => r === true);

const STDIO = keys("kind", "index", "flags");
/** Of sandbox.ts's fileSchema, the sentry's stdio only. */
const file = (v: unknown): boolean => strict(v, STDIO) && v.kind === "stdio" && (v.index === 0 || v.index === 1 || v.index === 2) && u32(v.flags);

const ENTRY_KINDS: ReadonlySet<unknown> = new Set(["dir", "file", "symlink", "fifo", "socket", "chr", "blk"]);
const ENTRY = keys("path", "kind", "mode", "uid", "gid", "atimeNs", "mtimeNs", "size", "runs", "target", "linkTo", "rdev", "socket");
const timeNs = (v: unknown): boolean => typeof v === "string" && TIME_NS.test(v);
/** files.ts's entrySchema, without ACLs. */
const entry = (v: unknown): boolean =>
  strict(v, ENTRY) && relPath(v.path) && ENTRY_KINDS.has(v.kind) && isIntIn(v.mode, 0, 0o7777) && u32(v.uid) && u32(v.gid) &&
  timeNs(v.atimeNs) && timeNs(v.mtimeNs) && u64(v.size) && arrayOf(v.runs, 1 << 20, offBlob) && str(v.target, 4096) &&
  (v.linkTo === null || u32(v.linkTo)) && opt(v, "rdev", u32) && opt(v, "socket", (s) => s === null || u32(s));
const TREE = keys("at", "entries", "whiteouts", "opaque");
/** files.ts's treeSchema. */
const tree = (v: unknown): boolean =>
  strict(v, TREE) && treePath(v.at) && arrayOf(v.entries, 1 << 22, entry) && arrayOf(v.whiteouts, 1 << 22, treePath) &&
  arrayOf(v.opaque, 1 << 22, treePath);

const CAPS = keys("inheritable", "permitted", "effective", "bounding", "ambient", "securebits");
const caps = (v: unknown): boolean =>
  strict(v, CAPS) && hex64(v.inheritable) && hex64(v.permitted) && hex64(v.effective) && hex64(v.bounding) && hex64(v.ambient) &&
  u32(v.securebits);
const CREDS = keys("uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid", "groups", "caps");
/** sandbox.ts's credsSchema. */
const creds = (v: unknown): boolean =>
  strict(v, CREDS) && u32(v.uid) && u32(v.gid) && u32(v.euid) && u32(v.egid) && u32(v.suid) && u32(v.sgid) && u32(v.fsuid) &&
  u32(v.fsgid) && arrayOf(v.groups, 65536, u32) && opt(v, "caps", caps);

const ALT_STACK = keys("sp", "size", "flags");
const TIMER_SLACK = keys("ns", "defaultNs");
const RSEQ = keys("addr", "len", "sig");
const DL = keys("runtime", "deadline", "period");
const SCHED = keys("policy", "priority", "resetOnFork", "sliceNs", "dl");
const sched = (v: unknown): boolean =>
  strict(v, SCHED) && isIntIn(v.policy, 0, 7) && isIntIn(v.priority, 0, 99) && bool(v.resetOnFork) && u64(v.sliceNs) &&
  opt(v, "dl", (d) => d === null || (strict(d, DL) && u64(d.runtime) && u64(d.deadline) && u64(d.period)));
const TASK_CPU = keys("userNs", "sysNs");
const keyringSerial = (v: unknown): boolean => isIntIn(v, 3, 0x7fff_ffff);
const TASK = keys(
  "tid", "name", "regs", "fp", "sigmask", "pending", "altStack", "clearChildTid", "robustList", "rseq", "pdeathSignal", "timerSlack",
  "noNewPrivs", "nice", "ioprio", "sched", "creds", "fdTable", "fs", "seccomp", "affinity", "sessionKeyring", "threadKeyring", "reqkeyDefault", "cpu",
);
/** sandbox.ts's taskSchema, without queued signals or a memory policy. */
function task(v: unknown): boolean {
  if (!strict(v, TASK)) return false;
  if (!id(v.tid) || !str(v.name, 15) || !(v.regs instanceof Uint8Array) || v.regs.length !== USER_REGS_SIZE) return false;
  if (!(v.fp instanceof Uint8Array) || v.fp.length < FPREGS_SIZE || v.fp.length > 1 << 16) return false;
  if (!hex64(v.sigmask) || !emptyArray(v.pending)) return false;
  const a = v.altStack;
  if (!strict(a, ALT_STACK) || !u64(a.sp) || !u64(a.size) || !u32(a.flags)) return false;
  if (!u64(v.clearChildTid) || !u64(v.robustList) || !isIntIn(v.pdeathSignal, 0, 64)) return false;
  if (!opt(v, "rseq", (r) => strict(r, RSEQ) && u64(r.addr) && isIntIn(r.len, 32, 0xffff_ffff) && u32(r.sig))) return false;
  if (!opt(v, "timerSlack", (t) => strict(t, TIMER_SLACK) && u64(t.ns) && u64(t.defaultNs))) return false;
  if (!bool(v.noNewPrivs) || !isIntIn(v.nice, -20, 19) || !opt(v, "ioprio", (p) => isIntIn(p, 0, 0xffff)) || !sched(v.sched)) return false;
  if (!creds(v.creds) || !u32(v.fdTable) || !u32(v.fs) || !opt(v, "seccomp", u32)) return false;
  if (!opt(v, "affinity", (m) => typeof m === "string" && AFFINITY.test(m))) return false;
  if (!opt(v, "sessionKeyring", keyringSerial) || !opt(v, "threadKeyring", keyringSerial) || !opt(v, "reqkeyDefault", (d) => isIntIn(d, 1, 7))) {
    return false;
  }
  const c = v.cpu;
  return strict(c, TASK_CPU) && ns(c.userNs) && ns(c.sysNs);
}

const LIMIT = (v: unknown): boolean => Array.isArray(v) && v.length === 3 && isIntIn(v[0], 0, 15) && hex64(v[1]) && hex64(v[2]);
const JOB_STOP = keys("groupStop", "stopped", "stopReport", "continuedReport");
const jobStop = (v: unknown): boolean =>
  strict(v, JOB_STOP) && (v.groupStop === null || isIntIn(v.groupStop, 1, 64)) && bool(v.stopped) && isIntIn(v.stopReport, 0, 64) &&
  bool(v.continuedReport) && (!v.stopped || v.groupStop !== null);
const DEADLINE = keys("deadlineNs", "intervalNs");
const CPU_TIMER = keys("expiresNs", "intervalNs");
const cpuTimer = (v: unknown): boolean => v === null || (strict(v, CPU_TIMER) && ns(v.expiresNs) && ns(v.intervalNs));
const TIMERS = keys("itimerVirtual", "itimerProf", "cpuLimit", "posix");
/** timers.ts's processTimersSchema, without RLIMIT_CPU's or POSIX timers. */
const timers = (v: unknown): boolean =>
  strict(v, TIMERS) && cpuTimer(v.itimerVirtual) && cpuTimer(v.itimerProf) && emptyArray(v.cpuLimit) && emptyArray(v.posix);
const PROCESS_CPU = keys("userNs", "sysNs", "childUserNs", "childSysNs", "maxRssKb", "childMaxRssKb");
const PROCESS = keys(
  "tgid", "parent", "pgid", "sid", "exitSignal", "leaderComm", "zombie", "limits", "handlers", "handlersOf", "processKeyring", "mm", "tty",
  "jobStop", "itimerReal", "pending", "dumpable", "subreaper", "execed", "oomScoreAdj", "coredumpFilter", "thpDisable", "timerSeq", "timers",
  "cpu", "tasks",
);
/** sandbox.ts's processSchema, for a live process without queued signals. */
function process(v: unknown): boolean {
  if (!strict(v, PROCESS)) return false;
  if (!id(v.tgid) || !(v.parent === null || id(v.parent)) || !isIntIn(v.pgid, 0, 1 << 22) || !isIntIn(v.sid, 0, 1 << 22)) return false;
  if (!isIntIn(v.exitSignal, 0, 64) || !str(v.leaderComm, 15) || v.zombie !== null) return false;
  if (!arrayOf(v.limits, 16, LIMIT) || !plainHandlers(v.handlers) || !opt(v, "handlersOf", id) || !opt(v, "processKeyring", keyringSerial)) return false;
  if (!(v.mm === null || u32(v.mm)) || !(v.tty === null || u32(v.tty)) || !jobStop(v.jobStop)) return false;
  const it = v.itimerReal;
  if (!(it === null || (strict(it, DEADLINE) && ns(it.deadlineNs) && ns(it.intervalNs))) || !emptyArray(v.pending)) return false;
  if (!isIntIn(v.dumpable, 0, 2) || !bool(v.subreaper) || !bool(v.execed) || !isIntIn(v.oomScoreAdj, -1000, 1000)) return false;
  if (!opt(v, "coredumpFilter", (f) => isIntIn(f, 0, 0x1ff)) || !opt(v, "thpDisable", (t) => isIntIn(t, 0, 3)) || !u32(v.timerSeq)) return false;
  if (!timers(v.timers)) return false;
  const c = v.cpu;
  if (!strict(c, PROCESS_CPU) || !ns(c.userNs) || !ns(c.sysNs) || !ns(c.childUserNs) || !ns(c.childSysNs)) return false;
  if (!u64(c.maxRssKb) || !u64(c.childMaxRssKb)) return false;
  return arrayOf(v.tasks, MAX_TASKS, task);
}

const SANDBOX = keys(
  "hostname", "nrOpen", "nextTid", "monotonicNs", "init", "trees", "files", "pipes", "unixSockets", "terminals", "console", "execTerminals",
  "unixAutobind", "tcpSockets", "udpSockets", "mms", "cowObjects", "fdTables", "fsContexts", "processes",
);

/**
 * Whether the state `v` is of the common shapes and valid as sandbox_schema.ts's savedSandboxSchema
 * says, which would then return it unchanged; false for anything else (left to the schema).
 * Not plain: sockets, pipes, terminals, files other than stdio, zombies, queued signals, timers
 * beyond the itimers, file locks, orphans, seccomp, IPC, keyrings, sysctls, memory policies,
 * ACLs, and mappings other than anonymous and lower host files.
 */
export function plainSandbox(v: unknown): boolean {
  if (!strict(v, SANDBOX)) return false;
  if (!str(v.hostname, 64) || !opt(v, "nrOpen", (n) => isIntIn(n, 64, 2147483584)) || !isIntIn(v.nextTid, 2, 1 << 22)) return false;
  if (!ns(v.monotonicNs) || !id(v.init) || !arrayOf(v.trees, 64, tree) || !arrayOf(v.files, MAX_FILES, file)) return false;
  if (!emptyArray(v.pipes) || !emptyArray(v.unixSockets) || !emptyArray(v.terminals) || !(v.console === null || u32(v.console))) return false;
  if (!opt(v, "execTerminals", (t) => arrayOf(t, 4096, u32)) || !isIntIn(v.unixAutobind, 0, 0xfffff)) return false;
  if (!emptyArray(v.tcpSockets) || !emptyArray(v.udpSockets) || !arrayOf(v.mms, MAX_PROCESSES, memory)) return false;
  if (!arrayOf(v.cowObjects, MAX_FILES, cowObject) || !arrayOf(v.fdTables, MAX_TASKS, fdTable)) return false;
  if (!arrayOf(v.fsContexts, MAX_TASKS, fsContext)) return false;
  const ps = v.processes;
  return Array.isArray(ps) && ps.length >= 1 && arrayOf(ps, MAX_PROCESSES, process);
}
