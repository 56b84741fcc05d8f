/**
 * Saving a paused sandbox as data and rebuilding it in a new kernel (issue #13, first slice;
 * design in docs/checkpoint.md).
 *
 * What this slice covers: one process (init) with one thread; its registers (general and the
 * XSAVE area: x87, SSE, MXCSR, AVX), signal mask, alternate stack and handlers; its address space
 * (every private mapping with its contents: anonymous memory as it is, private file mappings as
 * anonymous copies of their current contents); its fd table when every descriptor is one of the
 * sentry's stdio host files (restored as the restoring caller's stdio); credentials, limits,
 * cwd, umask, brk and the /proc view of argv/env/exe. A task in a syscall (asleep, or stopped at
 * its syscall and not yet served) is saved with its registers wound back onto the `syscall`
 * instruction: the restored task runs the syscall again from the start (a sleep sleeps its whole
 * time again). Anything else the sandbox holds is refused at checkpoint time with a one-line
 * {@linkcode CheckpointError}, never silently dropped.
 *
 * @module
 */

import { z } from "zod";
import type { Kernel } from "../kernel.ts";
import { Task } from "../task.ts";
import { ThreadGroup } from "../thread_group.ts";
import { MemoryManager, type Vma } from "../mm/mm.ts";
import { FdTable, type SavedFdTable } from "../fd_table.ts";
import { FsContext } from "../fs_context.ts";
import { Credentials } from "../creds.ts";
import { Limits } from "../limits.ts";
import { SignalHandlers } from "../signals.ts";
import { HostFile } from "../../vfs/host_file.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { FPREGS_SIZE, type Context } from "../../platform/mod.ts";
import { USER_REGS_SIZE } from "../../platform/ptrace/regs_amd64.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { checkRoot, type Image, IMAGE_FORMAT_VERSION, IMAGE_MAGIC, ImageError, readImage, rootIdentity, writeImage } from "./image.ts";

const PROT_READ = 1, PROT_WRITE = 2;
/** The largest run of memory one blob holds (a larger run is split). */
const RUN_BYTES = 16 << 20;

/** Why a sandbox cannot be checkpointed (yet), in one line. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(`checkpoint: ${message}`);
    this.name = "CheckpointError";
  }
}

// ---- The saved state (format version IMAGE_FORMAT_VERSION) ---------------------------------

const u64 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const u32 = z.number().int().min(0).max(0xffff_ffff);
/** A 64-bit value (sigset, address, rlimit) as hex digits: CBOR's integers round-trip as doubles. */
const hex64 = z.string().regex(/^[0-9a-f]{1,16}$/);
const sized = (n: number) => z.instanceof(Uint8Array).refine((b) => b.length === n, `must be ${n} bytes`);
const absPath = z.string().max(4096).refine((p) => p.startsWith("/"), "must be absolute");

const fileSchema = z.discriminatedUnion("kind", [
  /** One of the sentry's stdio host files: the restoring caller's descriptor `index`. */
  z.object({ kind: z.literal("stdio"), index: z.union([z.literal(0), z.literal(1), z.literal(2)]), flags: u32 }).strict(),
]);

const vmaSchema = z.object({
  start: u64,
  end: u64,
  prot: z.number().int().min(0).max(7),
  name: z.string().max(4096),
  growsDown: z.boolean(),
}).strict();

const memorySchema = z.object({
  vmas: z.array(vmaSchema).max(65536),
  /** Memory contents: `blob` holds the bytes at `addr` (pages never written are not stored). */
  runs: z.array(z.object({ addr: u64, blob: u32 }).strict()),
  brkStart: u64,
  brk: u64,
  stackBottom: u64,
  argStart: u64,
  argEnd: u64,
  envStart: u64,
  envEnd: u64,
  executable: z.string().max(4096),
  exe: absPath.nullable(),
}).strict();

const fdTableSchema = z.object({
  limit: z.union([z.number().int().min(0).max(1 << 30), z.literal(Infinity)]),
  slots: z.array(z.object({ fd: z.number().int().min(0).max(1 << 30), file: u32, cloexec: z.boolean() }).strict()),
}).strict();

const taskSchema = z.object({
  tid: z.number().int().min(1).max(1 << 22),
  name: z.string().max(15),
  regs: sized(USER_REGS_SIZE),
  /** The XSAVE area (x87, SSE, AVX, ... and its header), as large as the host CPU makes it. */
  fp: z.instanceof(Uint8Array).refine((b) => b.length >= FPREGS_SIZE && b.length <= 1 << 16, "bad XSAVE size"),
  sigmask: hex64,
  altStack: z.object({ sp: u64, size: u64, flags: u32 }).strict(),
  clearChildTid: u64,
  robustList: u64,
  pdeathSignal: z.number().int().min(0).max(64),
  noNewPrivs: z.boolean(),
  nice: z.number().int().min(-20).max(19),
}).strict();

const processSchema = z.object({
  tgid: z.number().int().min(1).max(1 << 22),
  pgid: z.number().int().min(1).max(1 << 22),
  sid: z.number().int().min(1).max(1 << 22),
  creds: z.object({
    uid: u32, gid: u32, euid: u32, egid: u32, suid: u32, sgid: u32, fsuid: u32, fsgid: u32,
    groups: z.array(u32).max(65536),
  }).strict(),
  limits: z.array(z.tuple([z.number().int().min(0).max(15), hex64, hex64])).max(16),
  /** Index 0 unused, 1..64 the signals: handler, flags, restorer, mask. */
  handlers: z.array(z.tuple([hex64, u32, hex64, hex64])).length(65),
  cwd: absPath,
  umask: z.number().int().min(0).max(0o777),
  mm: memorySchema,
  fdTable: fdTableSchema,
  tasks: z.array(taskSchema).length(1),
}).strict();

/** The sandbox as a checkpoint image holds it. */
export const savedSandboxSchema = z.object({
  hostname: z.string().max(64),
  nextTid: z.number().int().min(2).max(1 << 22),
  files: z.array(fileSchema).max(3),
  processes: z.array(processSchema).length(1),
}).strict();

export type SavedSandbox = z.infer<typeof savedSandboxSchema>;
type SavedProcess = z.infer<typeof processSchema>;
type SavedTask = z.infer<typeof taskSchema>;
type SavedFile = z.infer<typeof fileSchema>;

// ---- Save ----------------------------------------------------------------------------------

/**
 * The state of a paused, quiescent sandbox (Kernel.pause, then Kernel.quiescent) and its
 * memory as blobs. Throws {@linkcode CheckpointError} for what this slice does not save.
 */
export function saveSandbox(k: Kernel): { state: SavedSandbox; blobs: Uint8Array[] } {
  if (!k.quiescent) throw new CheckpointError("the sandbox is not paused at its safe point");
  const init = k.init;
  if (init === null || init.zombie) throw new CheckpointError("the sandbox's init has exited");
  const live = [...k.threadGroups.values()].filter((tg) => !tg.zombie);
  if (live.length !== 1 || k.threadGroups.size !== 1) {
    throw new CheckpointError(`${k.threadGroups.size} processes: only a sandbox of one process is saved yet`);
  }
  const blobs: Uint8Array[] = [];
  const files: SavedFile[] = [];
  const fileIds = new Map<FileDescription, number>();
  const ref = (f: FileDescription, fd: number): number => {
    let id = fileIds.get(f);
    if (id !== undefined) return id;
    if (!(f instanceof HostFile) || fd > 2) {
      throw new CheckpointError(`fd ${fd} (${f.path()}): only the sentry's stdio is saved yet`);
    }
    id = files.length;
    files.push({ kind: "stdio", index: fd as 0 | 1 | 2, flags: f.flags });
    fileIds.set(f, id);
    return id;
  };
  const parked = k.parkedStops();
  const state: SavedSandbox = {
    hostname: k.hostname,
    nextTid: k.lastTid + 1,
    files,
    processes: [saveProcess(init, blobs, ref, parked)],
  };
  return { state, blobs };
}

function saveProcess(
  tg: ThreadGroup,
  blobs: Uint8Array[],
  ref: (f: FileDescription, fd: number) => number,
  parked: ReadonlyMap<Task, { kind: string }>,
): SavedProcess {
  if (tg.tasks.size !== 1) throw new CheckpointError(`process ${tg.tgid} has ${tg.tasks.size} threads: only one is saved yet`);
  const t = tg.leader!;
  if (tg.sharedPending.queue.length > 0 || t.pendingSignals.queue.length > 0) {
    throw new CheckpointError(`process ${tg.tgid} has pending signals: not saved yet`);
  }
  if (tg.itimerReal !== null || tg.itimerVirtual !== null || tg.itimerProf !== null || tg.posixTimers.size > 0 || tg.cpuLimitTimers.length > 0) {
    throw new CheckpointError(`process ${tg.tgid} has timers: not saved yet`);
  }
  if (tg.tty !== null) throw new CheckpointError(`process ${tg.tgid} has a controlling terminal: not saved yet`);
  if (tg.groupStop !== null || tg.stopped || tg.vforkPending) {
    throw new CheckpointError(`process ${tg.tgid} is stopped or in vfork: not saved yet`);
  }
  const handlers = tg.handlers.actions.map((a) => [hex(a.handler), a.flags, hex(a.restorer), hex(a.mask)] as [string, number, string, string]);
  const limits: [number, string, string][] = [];
  for (let r = 0; r < 16; r++) {
    const l = tg.limits.get(r);
    limits.push([r, hex(l.cur), hex(l.max)]);
  }
  const c = t.creds;
  const root = t.fs.root.path();
  if (root !== "/") throw new CheckpointError(`process ${tg.tgid} is chrooted (${root}): not saved yet`);
  return {
    tgid: tg.tgid,
    pgid: tg.pgid,
    sid: tg.sid,
    creds: {
      uid: c.uid, gid: c.gid, euid: c.euid, egid: c.egid, suid: c.suid, sgid: c.sgid, fsuid: c.fsuid, fsgid: c.fsgid,
      groups: [...c.groups],
    },
    limits,
    handlers,
    cwd: t.fs.cwd.path(),
    umask: t.fs.umask,
    mm: saveMemory(tg.mm, t.ctx, blobs),
    fdTable: saveFdTable(t.fdTable, ref),
    tasks: [saveTask(t, parked.get(t))],
  };
}

function saveFdTable(table: FdTable, ref: (f: FileDescription, fd: number) => number): SavedFdTable {
  // The table names each description once per descriptor; the first descriptor decides which
  // of the restorer's stdio a host file becomes.
  const firstFd = new Map<FileDescription, number>();
  for (const fd of table.fds()) {
    const f = table.get(fd);
    if (!firstFd.has(f)) firstFd.set(f, fd);
  }
  return table.save((f) => ref(f, firstFd.get(f)!));
}

function saveTask(t: Task, parkedStop: { kind: string } | undefined): SavedTask {
  if (t.state === "stopped" || t.state === "dead" || t.state === "user") {
    throw new CheckpointError(`task ${t.tid} is ${t.state}: not saved`);
  }
  if (t.savedMask !== null || t.sigWaitSet !== null) {
    throw new CheckpointError(`task ${t.tid} is in sigsuspend or sigtimedwait: not saved yet`);
  }
  const regs = t.ctx.regs.clone();
  // A syscall not yet served, or asleep: wind back onto the 2-byte `syscall` instruction so
  // that the restored thread issues it again (blocked syscalls are restartable by design).
  if (t.inSyscall || parkedStop?.kind === "syscall") {
    regs.set("rip", regs.get("rip") - 2);
    regs.set64("rax", regs.get64("orig_rax"));
  }
  regs.set("orig_rax", -1);
  return {
    tid: t.tid,
    name: t.name,
    regs: regs.bytes.slice(),
    fp: t.ctx.getFpState().slice(),
    sigmask: hex(t.sigmask),
    altStack: { ...t.altStack },
    clearChildTid: t.clearChildTid,
    robustList: t.robustList,
    pdeathSignal: t.pdeathSignal,
    noNewPrivs: t.noNewPrivs,
    nice: t.nice,
  };
}

function saveMemory(mm: MemoryManager, ctx: Context, blobs: Uint8Array[]): SavedProcess["mm"] {
  const runs: { addr: number; blob: number }[] = [];
  const vmas = mm.vmas.map((v: Vma) => {
    if (v.shared) throw new CheckpointError(`shared mapping at 0x${v.start.toString(16)} (${v.name}): not saved yet`);
    return { start: v.start, end: v.end, prot: v.prot, name: v.name, growsDown: v.growsDown };
  });
  for (const v of mm.vmas) {
    const unreadable = (v.prot & PROT_READ) === 0;
    if (unreadable && mm.as.protect(ctx, v.start, v.end - v.start, v.prot | PROT_READ) !== 0) {
      throw new CheckpointError(`cannot read the mapping at 0x${v.start.toString(16)}`);
    }
    try {
      for (let a = v.start; a < v.end; a += RUN_BYTES) {
        const buf = new Uint8Array(Math.min(RUN_BYTES, v.end - a));
        if (mm.read(a, buf) !== buf.length) throw new CheckpointError(`cannot read the mapping at 0x${a.toString(16)}`);
        // Only runs of pages holding something: untouched memory reads as zeros on restore.
        for (const [off, end] of nonZeroRuns(buf)) {
          runs.push({ addr: a + off, blob: blobs.length });
          blobs.push(buf.slice(off, end));
        }
      }
    } finally {
      if (unreadable) mm.as.protect(ctx, v.start, v.end - v.start, v.prot);
    }
  }
  return {
    vmas,
    runs,
    brkStart: mm.brkStart,
    brk: mm.brk,
    stackBottom: mm.stackBottom,
    argStart: mm.argStart,
    argEnd: mm.argEnd,
    envStart: mm.envStart,
    envEnd: mm.envEnd,
    executable: mm.executable,
    exe: mm.exe?.path() ?? null,
  };
}

/** [start, end) byte offsets of the maximal runs of pages in buf that are not all zero. */
function nonZeroRuns(buf: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  const words = new BigUint64Array(buf.buffer, buf.byteOffset, buf.length >>> 3);
  const perPage = PAGE_SIZE >>> 3;
  let runStart = -1;
  for (let p = 0; p * PAGE_SIZE < buf.length; p++) {
    let zero = true;
    for (let i = p * perPage; i < (p + 1) * perPage && i < words.length; i++) {
      if (words[i] !== 0n) {
        zero = false;
        break;
      }
    }
    if (!zero && runStart < 0) runStart = p * PAGE_SIZE;
    if (zero && runStart >= 0) {
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
}

/**
 * Rebuilds the saved sandbox in `k`, a new kernel with its filesystem mounted and no init: init
 * and its memory, registers and files, queued to run from where it was. Checks what the schema
 * cannot (references between parts, addresses against the platform's own ranges) before any
 * task can run; throws {@linkcode ImageError} when the image does not hold together.
 */
export function restoreSandbox(k: Kernel, image: Image<SavedSandbox>, o: RestoreOptions): void {
  const stdio = [...o.stdio];
  try {
    const s = image.state;
    const bad = (why: string) => new ImageError(`restore: the image does not hold together: ${why}`);
    const p = s.processes[0]!;
    const saved = p.tasks[0]!;
    if (p.tgid !== saved.tid || p.pgid !== p.tgid || p.sid !== p.tgid || saved.tid >= s.nextTid) {
      throw bad("init's ids disagree");
    }
    checkFdTable(p.fdTable, s.files.length, bad);
    checkMemoryShape(p.mm, image.blobs, bad);

    const creds = new Credentials(
      p.creds.uid, p.creds.gid, p.creds.euid, p.creds.egid, p.creds.suid, p.creds.sgid, p.creds.fsuid, p.creds.fsgid, p.creds.groups,
    );
    const root = k.vfs.root();
    let cwd;
    try {
      cwd = k.vfs.lookupDir({ root, creds }, root, p.cwd);
    } catch {
      throw new ImageError(`restore: the working directory ${p.cwd} is gone from the root filesystem`);
    }
    const limits = new Limits();
    for (const [r, cur, max] of p.limits) limits.set(r, { cur: BigInt(`0x${cur}`), max: BigInt(`0x${max}`) });
    const handlers = new SignalHandlers(
      p.handlers.map(([h, flags, r, m]) => ({ handler: BigInt(`0x${h}`), flags, restorer: BigInt(`0x${r}`), mask: BigInt(`0x${m}`) })),
    );

    const ctx = k.platform.newAddressSpace();
    try {
      const mm = restoreMemory(k, ctx, p.mm, image.blobs, creds, bad);
      const files = s.files.map((f) => stdio[f.index]!);
      const fdTable = FdTable.load(p.fdTable, (i) => files[i]!.incRef());
      const tg = new ThreadGroup({ tgid: p.tgid, mm, parent: null, limits, handlers, pgid: p.pgid, sid: p.sid });
      const t = new Task({ kernel: k, tid: saved.tid, tg, ctx, fdTable, fs: new FsContext(root, cwd, p.umask), creds, name: saved.name });
      restoreTask(t, saved);
      tg.leaderComm = saved.name;
      tg.tasks.add(t);
      k.hostname = s.hostname;
      k.adoptRestoredInit(tg, s.nextTid);
    } catch (e) {
      ctx.addressSpace.release();
      throw e;
    }
  } finally {
    for (const f of stdio) f.decRef();
  }
}

function checkFdTable(t: SavedFdTable, nfiles: number, bad: (why: string) => ImageError): void {
  const seen = new Set<number>();
  for (const s of t.slots) {
    if (s.file >= nfiles) throw bad(`fd ${s.fd} names file ${s.file} of ${nfiles}`);
    if (s.fd >= t.limit || seen.has(s.fd)) throw bad(`fd ${s.fd} is out of the table or twice in it`);
    seen.add(s.fd);
  }
}

function checkMemoryShape(m: SavedProcess["mm"], blobs: Uint8Array[], bad: (why: string) => ImageError): void {
  let prevEnd = 0;
  for (const v of m.vmas) {
    if (v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0 || v.start >= v.end || v.start < prevEnd) {
      throw bad(`mapping 0x${v.start.toString(16)}-0x${v.end.toString(16)} is unaligned, empty or overlaps`);
    }
    prevEnd = v.end;
  }
  const used = new Set<number>();
  for (const r of m.runs) {
    const b = blobs[r.blob];
    if (b === undefined || used.has(r.blob)) throw bad(`memory run at 0x${r.addr.toString(16)} names blob ${r.blob}`);
    used.add(r.blob);
    const v = m.vmas.find((v) => v.start <= r.addr && r.addr + b.length <= v.end);
    if (v === undefined) throw bad(`memory run at 0x${r.addr.toString(16)} is outside every mapping`);
  }
}

function restoreMemory(
  k: Kernel,
  ctx: Context,
  m: SavedProcess["mm"],
  blobs: Uint8Array[],
  creds: Credentials,
  bad: (why: string) => ImageError,
): MemoryManager {
  const as = ctx.addressSpace;
  for (const v of m.vmas) {
    if (v.start < as.minAddr || v.end > as.maxAddr || as.reserved.some((r) => v.start < r.end && r.start < v.end)) {
      throw bad(`mapping 0x${v.start.toString(16)}-0x${v.end.toString(16)} is outside the application's address range`);
    }
  }
  const mm = new MemoryManager(as);
  for (const v of m.vmas) {
    const err = as.mapAnonymous(ctx, v.start, v.end - v.start, v.prot | PROT_READ | PROT_WRITE, false);
    if (err !== 0) throw new ImageError(`restore: cannot map 0x${v.start.toString(16)}-0x${v.end.toString(16)} (errno ${-err})`);
    mm.vmas.push({ start: v.start, end: v.end, prot: v.prot, shared: false, object: null, file: null, offset: 0, name: v.name, growsDown: v.growsDown });
  }
  for (const r of m.runs) {
    const b = blobs[r.blob]!;
    if (as.write(r.addr, b) !== b.length) throw new ImageError(`restore: cannot write memory at 0x${r.addr.toString(16)}`);
  }
  for (const v of m.vmas) {
    if ((v.prot & (PROT_READ | PROT_WRITE)) !== (PROT_READ | PROT_WRITE) && as.protect(ctx, v.start, v.end - v.start, v.prot) !== 0) {
      throw new ImageError(`restore: cannot protect 0x${v.start.toString(16)}`);
    }
  }
  mm.brkStart = m.brkStart;
  mm.brk = m.brk;
  mm.stackBottom = m.stackBottom;
  mm.argStart = m.argStart;
  mm.argEnd = m.argEnd;
  mm.envStart = m.envStart;
  mm.envEnd = m.envEnd;
  mm.executable = m.executable;
  if (m.exe !== null) {
    try {
      const root = k.vfs.root();
      const e = k.vfs.openExecutable({ root, creds }, root, m.exe);
      mm.exe = e.location;
      e.file.decRef();
    } catch {
      mm.exe = null; // /proc/PID/exe reads as gone, as for a deleted executable
    }
  }
  return mm;
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
  t.altStack = { ...s.altStack };
  t.clearChildTid = s.clearChildTid;
  t.robustList = s.robustList;
  t.pdeathSignal = s.pdeathSignal;
  t.noNewPrivs = s.noNewPrivs;
  t.nice = s.nice;
}

// ---- Files ---------------------------------------------------------------------------------

/**
 * Checkpoints a paused, quiescent sandbox into the image file `path` (written atomically);
 * `rootHostPath` is the host directory serving as its root filesystem.
 */
export function checkpointToFile(k: Kernel, path: string, o: { rootHostPath: string; sentryVersion: string }): void {
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

/** Reads and validates the image at `path` (nothing is created): see image.ts's readImage. */
export function readSandboxImage(path: string, rootHostPath: string): Image<SavedSandbox> {
  const image = readImage(path, savedSandboxSchema);
  checkRoot(image.header, rootHostPath);
  return image;
}
