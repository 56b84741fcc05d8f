/**
 * Checkpoint of the sandbox's IPC namespace (issue #13; docs/checkpoint.md): System V shared
 * memory segments, semaphore sets with their SEM_UNDO adjustments, message queues
 * (kernel/ipc.ts), and POSIX message queues with their descriptors (vfs/mqueue.ts).
 *
 * System V objects are saved by kind, each with its id (which names its slot and sequence
 * number), key, ipc_perm and times, and each registry's next sequence number, so that ids and
 * keys a program kept go on naming the same objects. A segment's memory is a memfd: it is saved
 * as a file of the image (memfd.ts) that the segment names, and the segment's attachments are
 * the address spaces' MAP_SHARED mappings of that memfd, restored with the memory (sandbox.ts),
 * so shm_nattch (counted over the mappings) comes back by itself. A segment marked for
 * destruction (IPC_RMID while attached) keeps its mark. SEM_UNDO adjustments are saved per
 * process and applied when that process exits after the restore. Sleepers (semop, msgsnd,
 * msgrcv) are not saved: their syscalls run again.
 *
 * POSIX message queues are saved once each, in a table of their own, whether the namespace's
 * directory names them or only descriptors hold them (unlinked while open): name, attributes,
 * maxmsg, msgsize, every message with its priority in order, and the mq_notify registration.
 * A descriptor names its queue by index, with its flags and offset.
 *
 * The image is untrusted: ids that agree with their sequence numbers, one object per slot, one
 * per key, no more than the namespace allows, values within Linux's bounds, a segment's memfd
 * of its size and held by no descriptor, undo lists of live processes for sets of the image
 * and of their sizes, queues whose messages fit their attributes in priority order, names a
 * queue may have, one queue per name, and no queue that nothing holds.
 *
 * @module
 */

import { intIn, lazyKind, lazyObject, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import type { Task } from "../task.ts";
import {
  type IpcNamespace, IPCMNI, type IpcObject, type IpcPerm, type IpcRegistry, type Message, type MsgQueue, type SemSet,
  type ShmSegment,
} from "../ipc.ts";
import { IPC_PRIVATE, MSGMAX, SEMMSL, SEMVMX } from "../../abi/linux/ipc.ts";
import type { MemFd } from "../../vfs/memfd.ts";
import {
  MessageQueue, MQ_HARD_MSGMAX, MQ_HARD_MSGSIZEMAX, type MqueueAttrs, MqueueDescription, MqueueFile, type MqueueFilesystem,
} from "../../vfs/mqueue.ts";
import { Location } from "../../vfs/mount.ts";
import { WaitQueue } from "../../waiter/mod.ts";
import { INIT_USER_NS } from "../user_namespace.ts";
import { ImageError } from "./image.ts";

const u32 = intIn(0, 0xffff_ffff);
const i32 = intIn(-0x8000_0000, 0x7fff_ffff);
const u64 = intIn(0, Number.MAX_SAFE_INTEGER);
const sec = intIn(0, 2 ** 42);
const pid = intIn(0, 1 << 22);
const nsTime = z.string().regex(/^\d{1,20}$/);
const MQ_PRIO_MAX = 32768;
const SHM_DEST = 0o1000;

// The schemas below are built at the first such object an image holds (z.lazy, lazyObject,
// lazyKind): most hold none, and they were ~120 of the ~900 schemas a restore built.
const permSchema = z.lazy(() => z.object({
  key: i32,
  uid: u32,
  gid: u32,
  cuid: u32,
  cgid: u32,
  /** Permission bits, and SHM_DEST and SHM_LOCKED for a segment. */
  mode: intIn(0, 0o3777),
  seq: intIn(0, 0xffff),
}).strict());

const objectFields = { id: intIn(0, 0x7fff_ffff), perm: permSchema, ctimeSec: sec };

const shmSchema = z.lazy(() => z.object({
  ...objectFields,
  size: intIn(1, 2 ** 36),
  /** Its memory: a memfd, an index of the image's files (memfd.ts). */
  file: u32,
  atimeSec: sec,
  dtimeSec: sec,
  cpid: pid,
  lpid: pid,
  /** SHM_LOCK's: whose RLIMIT_MEMLOCK its pages count for, a kernel uid of the initial user namespace. */
  lockUid: u32.optional(),
}).strict());

const semSchema = z.lazy(() => z.object({
  ...objectFields,
  otimeSec: sec,
  /** Each semaphore: its value and the pid of the last semop on it. */
  sems: z.array(z.tuple([intIn(0, SEMVMX), pid])).min(1).max(SEMMSL),
}).strict());

const msgSchema = z.lazy(() => z.object({
  ...objectFields,
  messages: z.array(z.object({ type: intIn(1, Number.MAX_SAFE_INTEGER), data: z.instanceof(Uint8Array) }).strict()).max(1 << 20),
  qbytes: intIn(0, 0x7fff_ffff),
  stimeSec: sec,
  rtimeSec: sec,
  lspid: pid,
  lrpid: pid,
}).strict());

/** The System V objects of the sandbox's IPC namespace. */
export const sysvIpcSchema = lazyObject(() => z.object({
  /** Each registry's next sequence number. */
  seq: z.object({ shm: intIn(0, 0xffff), sem: intIn(0, 0xffff), msg: intIn(0, 0xffff) }).strict(),
  shm: z.array(shmSchema).max(IPCMNI),
  sem: z.array(semSchema).max(IPCMNI),
  msg: z.array(msgSchema).max(IPCMNI),
  /** SEM_UNDO adjustments: per process (tgid), per set (id), one per semaphore. */
  semUndo: z.array(z.object({
    tgid: intIn(1, 1 << 22),
    sets: z.array(z.object({ id: intIn(0, 0x7fff_ffff), adj: z.array(i32).min(1).max(SEMMSL) }).strict()).max(IPCMNI),
  }).strict()).max(1 << 15),
}).strict());

export type SavedSysvIpc = z.infer<typeof sysvIpcSchema>;

const attrsSchema = z.lazy(() => z.object({ mode: intIn(0, 0o7777), uid: u32, gid: u32, atimeNs: nsTime, mtimeNs: nsTime, ctimeNs: nsTime }).strict());

/** The POSIX message queues of the sandbox's IPC namespace. */
export const mqueuesSchema = lazyObject(() => z.object({
  /** The queues' directory's attributes (mode, owner, times). */
  root: attrsSchema,
  queues: z.array(z.object({
    name: z.string().min(1).max(255),
    /** Whether the directory names it (false: unlinked, held by descriptors only). */
    linked: z.boolean(),
    attrs: attrsSchema,
    maxmsg: intIn(1, MQ_HARD_MSGMAX),
    msgsize: intIn(1, MQ_HARD_MSGSIZEMAX),
    /** Highest priority first, arrival order within one. */
    messages: z.array(z.object({ prio: intIn(0, MQ_PRIO_MAX - 1), data: z.instanceof(Uint8Array) }).strict()).max(MQ_HARD_MSGMAX),
    /** mq_notify's registration: the process, SIGEV_SIGNAL (0) or SIGEV_NONE (1), its signal and value. */
    notify: z.object({ tgid: intIn(1, 1 << 22), how: z.union([z.literal(0), z.literal(1)]), signo: intIn(0, 64), value: z.string().regex(/^[0-9a-f]{1,16}$/) })
      .strict().nullable(),
    /** Whose RLIMIT_MSGQUEUE its bytes count for: a kernel uid of the initial user namespace (absent: nobody's). */
    chargeUid: u32.optional(),
  }).strict()).max(1 << 16),
}).strict());

export type SavedMqueues = z.infer<typeof mqueuesSchema>;

/** A descriptor of a POSIX message queue (mq_open): its queue, flags and offset. */
export const mqueueFileSchema = lazyKind("mqueue", () => z.object({ kind: z.literal("mqueue"), queue: u32, flags: u32, offset: u64 }).strict());
export type SavedMqueueFile = z.infer<typeof mqueueFileSchema>;

// ---- Save ----------------------------------------------------------------------------------

/** Every field of `o` beyond `known`: none, or the type says which are not saved (a drift guard for interfaces). */
function exhaustive<T extends object>(o: T, known: { [K in keyof T]-?: true }): void {
  void o;
  void known;
}

function savePerm(p: IpcPerm): SavedSysvIpc["shm"][number]["perm"] {
  exhaustive(p, { key: true, uid: true, gid: true, cuid: true, cgid: true, mode: true, seq: true });
  return { key: p.key, uid: p.uid, gid: p.gid, cuid: p.cuid, cgid: p.cgid, mode: p.mode, seq: p.seq };
}

/**
 * The System V objects of `ns`, or undefined when it has none; `memfd` saves a segment's
 * memory as a file of the image and returns its index. `refuse` makes the one-line error.
 */
export function saveSysvIpc(ns: IpcNamespace, memfd: (f: MemFd) => number, refuse: (what: string) => Error): SavedSysvIpc | undefined {
  for (const kind of ["shm", "msg", "sem"] as const) {
    if (ns[kind].nextId !== -1) throw refuse(`/proc/sys/kernel/${kind}_next_id set and not yet used`);
  }
  if (ns.empty && ns.semUndo.size === 0) return undefined;
  const shm = ns.shm.all().map((s: ShmSegment) => {
    exhaustive(s, {
      perm: true, id: true, removed: true, ctimeSec: true, size: true, file: true, atimeSec: true, dtimeSec: true, cpid: true,
      lpid: true, lockCharge: true,
    });
    if (s.lockCharge !== undefined && s.lockCharge[0] !== INIT_USER_NS) throw refuse("a System V segment locked in a user namespace of its own");
    return {
      id: s.id, perm: savePerm(s.perm), ctimeSec: s.ctimeSec, size: s.size, file: memfd(s.file), atimeSec: s.atimeSec,
      dtimeSec: s.dtimeSec, cpid: s.cpid, lpid: s.lpid, ...(s.lockCharge !== undefined ? { lockUid: s.lockCharge[1] } : {}),
    };
  });
  const sem = ns.sem.all().map((s: SemSet) => {
    // queue: its sleepers' syscalls run again after the restore.
    exhaustive(s, { perm: true, id: true, removed: true, ctimeSec: true, sems: true, otimeSec: true, queue: true });
    return {
      id: s.id, perm: savePerm(s.perm), ctimeSec: s.ctimeSec, otimeSec: s.otimeSec,
      sems: s.sems.map((x) => [x.value, x.pid] as [number, number]),
    };
  });
  const msg = ns.msg.all().map((q: MsgQueue) => {
    // bytes: recounted from the messages; queue: as a semaphore set's.
    exhaustive(q, {
      perm: true, id: true, removed: true, ctimeSec: true, messages: true, bytes: true, qbytes: true, stimeSec: true,
      rtimeSec: true, lspid: true, lrpid: true, queue: true,
    });
    return {
      id: q.id, perm: savePerm(q.perm), ctimeSec: q.ctimeSec,
      messages: q.messages.map((m: Message) => {
        exhaustive(m, { type: true, data: true });
        if (!Number.isSafeInteger(m.type)) throw refuse(`a System V message of type ${m.type} (past 2^53)`);
        return { type: m.type, data: m.data.slice() };
      }),
      qbytes: q.qbytes, stimeSec: q.stimeSec, rtimeSec: q.rtimeSec, lspid: q.lspid, lrpid: q.lrpid,
    };
  });
  const semUndo = [...ns.semUndo].map(([tgid, sets]) => ({ tgid, sets: [...sets].map(([id, adj]) => ({ id, adj: [...adj] })) }));
  return { seq: { shm: ns.shm.nextSeq, sem: ns.sem.nextSeq, msg: ns.msg.nextSeq }, shm, sem, msg, semUndo };
}

/**
 * A task woken from an IPC object removed since (IPC_RMID), whose syscall has not yet seen it:
 * run again after a restore it would find no object (EINVAL) where it owes EIDRM.
 */
export function wokenByRemoval(t: Task): boolean {
  const o = (t.syscallState as { object?: unknown } | null)?.object;
  return typeof o === "object" && o !== null && "perm" in o && (o as IpcObject).removed === true;
}

function saveAttrs(a: Readonly<MqueueAttrs>): SavedMqueues["root"] {
  exhaustive(a, { mode: true, uid: true, gid: true, atimeNs: true, mtimeNs: true, ctimeNs: true });
  return { mode: a.mode & 0o7777, uid: a.uid, gid: a.gid, atimeNs: String(a.atimeNs), mtimeNs: String(a.mtimeNs), ctimeNs: String(a.ctimeNs) };
}

/** The POSIX message queues of one namespace, each saved once, as descriptors and the directory name them. */
export class MqueueSaver {
  readonly #fs: MqueueFilesystem;
  readonly #index = new Map<MqueueFile, number>();
  readonly queues: SavedMqueues["queues"] = [];
  readonly #refuse: (what: string) => Error;

  /** `refuse` makes the one-line error for a queue that cannot be saved. */
  constructor(fs: MqueueFilesystem, refuse: (what: string) => Error) {
    this.#fs = fs;
    this.#refuse = refuse;
  }

  /** A descriptor of a queue of this namespace, through its own mount; else null (not one, or `refuse`). */
  saveFile(f: unknown, refuse: (what: string) => Error): SavedMqueueFile | null {
    if (!(f instanceof MqueueDescription)) return null;
    if (f.file.fs !== this.#fs || f.location().mount !== this.#fs.internalMount) {
      throw refuse("a POSIX message queue of another IPC namespace, or opened through a mount of the mqueue filesystem");
    }
    return { kind: "mqueue", queue: this.#ref(f.file), flags: f.flags, offset: f.offset };
  }

  #ref(file: MqueueFile): number {
    let i = this.#index.get(file);
    if (i !== undefined) return i;
    const q = file.queue;
    const n = q.notify;
    if (n !== null && n.thread !== undefined) throw this.#refuse("an mq_notify SIGEV_THREAD registration (a netlink socket's)");
    if (q.charge !== null && q.charge[0] !== INIT_USER_NS) {
      throw this.#refuse("a POSIX message queue made in a user namespace of its own");
    }
    i = this.queues.length;
    this.#index.set(file, i);
    this.queues.push({
      name: file.name,
      linked: this.#fs.root.queues.get(file.name) === file,
      attrs: saveAttrs(file.attrs),
      maxmsg: q.maxmsg,
      msgsize: q.msgsize,
      messages: q.messages.map((m) => ({ prio: m.prio, data: m.data.slice() })),
      notify: n === null ? null : { tgid: n.tgid, how: n.how === 0 ? 0 : 1, signo: n.signo, value: BigInt.asUintN(64, n.value).toString(16) },
      ...(q.charge !== null ? { chargeUid: q.charge[1] } : {}),
    });
    return i;
  }

  /** After every descriptor: the queues only the directory names too; undefined when there are none. */
  finish(): SavedMqueues | undefined {
    for (const file of this.#fs.root.queues.values()) this.#ref(file);
    if (this.queues.length === 0) return undefined;
    return { root: saveAttrs(this.#fs.root.attrs), queues: this.queues };
  }
}

// ---- Restore -------------------------------------------------------------------------------

/**
 * What the schema cannot check, before anything is made. `files` are the image's files,
 * `fdFiles` the indices descriptors hold, `live` the tgids of live processes, `filesUsed` takes
 * the indices segments hold.
 */
export function checkIpcShape(
  ipc: SavedSysvIpc | undefined, mq: SavedMqueues | undefined, files: readonly { kind: string; size?: number }[],
  fdFiles: ReadonlySet<number>, live: ReadonlySet<number>, filesUsed: Set<number>, bad: (why: string) => Error,
  limits: { shm: number; sem: number; msg: number },
): void {
  if (ipc !== undefined) {
    for (const kind of ["shm", "sem", "msg"] as const) {
      const slots = new Set<number>(), keys = new Set<number>();
      if (ipc[kind].length > limits[kind]) throw bad(`more System V ${kind} objects than the namespace allows`);
      for (const o of ipc[kind]) {
        const slot = o.id % IPCMNI;
        if (Math.floor(o.id / IPCMNI) !== o.perm.seq || slot >= limits[kind] || slots.has(slot)) {
          throw bad(`System V ${kind} id ${o.id} does not agree with its sequence number, or its slot is taken or past the limit`);
        }
        slots.add(slot);
        if (o.perm.key !== IPC_PRIVATE) {
          if (keys.has(o.perm.key)) throw bad(`System V ${kind} key ${o.perm.key} twice`);
          keys.add(o.perm.key);
        }
        if (kind !== "shm" && (o.perm.mode & ~0o777) !== 0) throw bad(`System V ${kind} id ${o.id} has a segment's mode bits`);
      }
    }
    const segmentFiles = new Set<number>();
    for (const s of ipc.shm) {
      const f = files[s.file];
      if (f?.kind !== "memfd" || f.size !== s.size || fdFiles.has(s.file) || segmentFiles.has(s.file)) {
        throw bad(`System V segment ${s.id} names file ${s.file}, not a memfd of its size held by it alone`);
      }
      if ((s.perm.mode & SHM_DEST) !== 0 && s.perm.key !== IPC_PRIVATE) throw bad(`System V segment ${s.id} is marked for destruction and keyed`);
      segmentFiles.add(s.file);
      filesUsed.add(s.file);
    }
    for (const q of ipc.msg) {
      let bytes = 0;
      for (const m of q.messages) {
        if (m.data.length > MSGMAX) throw bad(`a message of System V queue ${q.id} is longer than MSGMAX`);
        bytes += m.data.length;
      }
      if (bytes > Math.max(q.qbytes, 1 << 20)) throw bad(`System V queue ${q.id} holds more than it may`);
    }
    const sets = new Map(ipc.sem.map((s) => [s.id, s.sems.length]));
    const tgids = new Set<number>();
    for (const u of ipc.semUndo) {
      if (!live.has(u.tgid) || tgids.has(u.tgid)) throw bad(`SEM_UNDO adjustments of process ${u.tgid}, twice or not a live process`);
      tgids.add(u.tgid);
      const ids = new Set<number>();
      for (const a of u.sets) {
        if (sets.get(a.id) !== a.adj.length || ids.has(a.id)) throw bad(`SEM_UNDO adjustments of process ${u.tgid} name set ${a.id} wrongly`);
        ids.add(a.id);
      }
    }
  }
  if (mq !== undefined) {
    const names = new Set<string>();
    const held = new Set<number>();
    for (const [i, f] of files.entries()) {
      if (f.kind !== "mqueue") continue;
      const q = (f as SavedMqueueFile).queue;
      if (q >= mq.queues.length) throw bad(`a descriptor names message queue ${q} of ${mq.queues.length}`);
      if (!fdFiles.has(i)) continue;
      held.add(q);
    }
    for (const [i, q] of mq.queues.entries()) {
      if (q.name === "." || q.name === ".." || q.name.includes("/") || q.name.includes("\0")) throw bad(`a message queue named ${JSON.stringify(q.name)}`);
      if (q.linked) {
        if (names.has(q.name)) throw bad(`two message queues named ${q.name}`);
        names.add(q.name);
      } else if (!held.has(i)) {
        throw bad(`message queue ${i} is unlinked and no descriptor holds it`);
      }
      if (q.messages.length > q.maxmsg) throw bad(`message queue ${q.name} holds more messages than its maxmsg`);
      for (const [j, m] of q.messages.entries()) {
        if (m.data.length > q.msgsize || (j > 0 && q.messages[j - 1]!.prio < m.prio)) {
          throw bad(`message queue ${q.name}'s messages are longer than its msgsize or out of priority order`);
        }
      }
      if (q.notify !== null && q.notify.how === 0 && q.notify.signo === 0) throw bad(`message queue ${q.name} notifies with signal 0`);
    }
  }
}

/** Fills the (empty) namespace with the saved System V objects; segments take a reference to their memfds. */
export function restoreSysvIpc(ns: IpcNamespace, s: SavedSysvIpc, memfds: ReadonlyMap<number, MemFd>): void {
  const perm = (p: SavedSysvIpc["shm"][number]["perm"]): IpcPerm => ({ ...p });
  const shm: ShmSegment[] = s.shm.map((x) => ({
    perm: perm(x.perm), id: x.id, removed: false, ctimeSec: x.ctimeSec, size: x.size, file: memfds.get(x.file)!.incRef() as MemFd,
    atimeSec: x.atimeSec, dtimeSec: x.dtimeSec, cpid: x.cpid, lpid: x.lpid,
    ...(x.lockUid !== undefined ? { lockCharge: [INIT_USER_NS, x.lockUid] as const } : {}),
  }));
  const sem: SemSet[] = s.sem.map((x) => ({
    perm: perm(x.perm), id: x.id, removed: false, ctimeSec: x.ctimeSec, otimeSec: x.otimeSec, queue: new WaitQueue(),
    sems: x.sems.map(([value, pid]) => ({ value, pid })),
  }));
  const msg: MsgQueue[] = s.msg.map((x) => ({
    perm: perm(x.perm), id: x.id, removed: false, ctimeSec: x.ctimeSec, messages: x.messages.map((m) => ({ type: m.type, data: m.data.slice() })),
    bytes: x.messages.reduce((n, m) => n + m.data.length, 0), qbytes: x.qbytes, stimeSec: x.stimeSec, rtimeSec: x.rtimeSec,
    lspid: x.lspid, lrpid: x.lrpid, queue: new WaitQueue(),
  }));
  restoreRegistry(ns.shm, shm, s.seq.shm);
  restoreRegistry(ns.sem, sem, s.seq.sem);
  restoreRegistry(ns.msg, msg, s.seq.msg);
  for (const u of s.semUndo) ns.semUndo.set(u.tgid, new Map(u.sets.map((a) => [a.id, [...a.adj]])));
}

function restoreRegistry<T extends IpcObject>(r: IpcRegistry<T>, objects: T[], seq: number): void {
  r.restore(objects, seq);
}

function loadAttrs(a: SavedMqueues["root"]): MqueueAttrs {
  return { mode: a.mode, uid: a.uid, gid: a.gid, atimeNs: BigInt(a.atimeNs), mtimeNs: BigInt(a.mtimeNs), ctimeNs: BigInt(a.ctimeNs) };
}

/**
 * Makes the saved POSIX message queues in the kernel's (empty) namespace: unlinked ones made
 * and unlinked at once, then the named ones; returns them by index.
 */
export function makeMqueues(k: Kernel, s: SavedMqueues | undefined): MqueueFile[] {
  if (s === undefined) return [];
  const root = k.ipc.mqueue.root;
  const out: MqueueFile[] = new Array(s.queues.length);
  const order = [...s.queues.keys()].sort((a, b) => Number(s.queues[a]!.linked) - Number(s.queues[b]!.linked));
  for (const i of order) {
    const q = s.queues[i]!;
    const mq = new MessageQueue(q.maxmsg, q.msgsize);
    for (const m of q.messages) mq.push(m.prio, m.data.slice());
    if (q.chargeUid !== undefined) mq.charge = [INIT_USER_NS, q.chargeUid];
    if (q.notify !== null) mq.notify = { tgid: q.notify.tgid, how: q.notify.how, signo: q.notify.signo, value: BigInt(`0x${q.notify.value}`) };
    const attrs = loadAttrs(q.attrs);
    let file: MqueueFile;
    try {
      file = root.makeQueue(q.name, { mode: attrs.mode, uid: attrs.uid, gid: attrs.gid }, mq, true);
    } catch {
      throw new ImageError(`restore: cannot make the message queue ${q.name}`);
    }
    if (!q.linked) root.unlink(q.name, file);
    file.restoreAttrs(attrs);
    out[i] = file;
  }
  root.restoreAttrs(loadAttrs(s.root));
  return out;
}

/** A descriptor of a restored queue, through the namespace's own mount. */
export function openMqueue(k: Kernel, f: SavedMqueueFile, queues: readonly MqueueFile[]): MqueueDescription {
  const fs = k.ipc.mqueue;
  fs.internalMount ??= k.vfs.detachedMount(fs, { readonly: false, source: "mqueue" });
  const file = queues[f.queue]!;
  const d = file.open(new Location(fs.internalMount, file), f.flags) as MqueueDescription;
  d.flags = f.flags;
  d.offset = f.offset;
  return d;
}
