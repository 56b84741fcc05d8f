/**
 * System V IPC objects (Linux's ipc/util.c, shm.c, sem.c, msg.c): one registry per kind, each
 * object with its ipc_perm, ids that encode a slot and a sequence number, and Linux's
 * permission rule. The syscalls are kernel/syscalls/linux/sys_ipc.ts.
 *
 * All state is plain data (numbers, arrays, Maps) except a segment's memory, a memfd; a
 * checkpoint saves the sandbox's first namespace's objects (kernel/checkpoint/ipc.ts).
 *
 * @module
 */

import { EACCES, EEXIST, EIDRM, EINVAL, ENOENT, ENOSPC } from "./errno.ts";
import type { Credentials } from "./creds.ts";
import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";

/** The nsfs inode of the sandbox's first IPC namespace (PROC_IPC_INIT_INO). */
export const IPC_NS_INIT_INO = 4026531839;
import { CAP_IPC_OWNER } from "../abi/linux/capability.ts";
import {
  IPC_CREAT, IPC_EXCL, IPC_PRIVATE, MSGMAX, MSGMNB, MSGMNI, SEMMNI, SEMMNS, SEMMSL, SEMOPM, SHMALL, SHMMAX, SHMMNI,
} from "../abi/linux/ipc.ts";
import type { WaitQueue } from "../waiter/mod.ts";
import type { MemFd } from "../vfs/memfd.ts";
import { MqueueFilesystem } from "../vfs/mqueue.ts";

/** How many objects of each System V kind a namespace may hold (Linux's defaults). */
export const IPC_LIMITS = { shmmni: SHMMNI, semmni: SEMMNI, msgmni: MSGMNI } as const;

/**
 * One IPC namespace's /proc/sys/kernel limits, as Linux's ipc_namespace keeps them: shmmax
 * (largest segment), shmall (pages of all segments), shmmni, msgmax (largest message), msgmnb
 * (a new queue's bytes), msgmni, and sem's semmsl, semmns, semopm, semmni. The object counts
 * are also their registries' `max`.
 */
export class IpcSysctls {
  shmmax = SHMMAX;
  shmall = SHMALL;
  shmmni = SHMMNI;
  msgmax = MSGMAX;
  msgmnb = MSGMNB;
  msgmni = MSGMNI;
  /** semmsl, semmns, semopm, semmni. */
  sem: [number, number, number, number] = [SEMMSL, SEMMNS, SEMOPM, SEMMNI];

  /** Whether any differs from Linux's defaults (a checkpoint refuses: not saved yet). */
  get changed(): boolean {
    return this.shmmax !== SHMMAX || this.shmall !== SHMALL || this.shmmni !== SHMMNI || this.msgmax !== MSGMAX ||
      this.msgmnb !== MSGMNB || this.msgmni !== MSGMNI || this.sem.join() !== [SEMMSL, SEMMNS, SEMOPM, SEMMNI].join();
  }
}

/** Linux's IPCMNI: an id is seq * IPCMNI + slot. */
export const IPCMNI = 32768;

/** struct kern_ipc_perm. */
export interface IpcPerm {
  key: number;
  uid: number;
  gid: number;
  cuid: number;
  cgid: number;
  /** Permission bits, plus SHM_DEST / SHM_LOCKED for segments. */
  mode: number;
  seq: number;
}

export interface IpcObject {
  perm: IpcPerm;
  /** The full id semget/shmget/msgget returned. */
  id: number;
  /** Set once removed: sleepers see EIDRM. */
  removed: boolean;
  ctimeSec: number;
}

/** A shared memory segment. */
export interface ShmSegment extends IpcObject {
  size: number;
  /**
   * Set while SHM_LOCK holds it: the user whose RLIMIT_MEMLOCK its pages count for (the
   * locker's real uid in its user namespace, Linux's shp->mlock_ucounts).
   */
  lockCharge?: readonly [ns: UserNamespace, uid: number];
  /** The memory, a memfd the registry holds one reference to; attachments map it shared. */
  file: MemFd;
  atimeSec: number;
  dtimeSec: number;
  cpid: number;
  lpid: number;
}

export interface Semaphore {
  value: number;
  /** The pid of the last semop on it (GETPID). */
  pid: number;
}

export interface SemSet extends IpcObject {
  sems: Semaphore[];
  otimeSec: number;
  /** @nosave Woken whenever a value changes or the set goes. */
  queue: WaitQueue;
}

export interface Message {
  type: number;
  data: Uint8Array;
}

export interface MsgQueue extends IpcObject {
  messages: Message[];
  bytes: number;
  qbytes: number;
  stimeSec: number;
  rtimeSec: number;
  lspid: number;
  lrpid: number;
  /** @nosave Woken on every send, receive and removal. */
  queue: WaitQueue;
}

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

/** One kind's ids and keys (Linux's struct ipc_ids). */
export class IpcRegistry<T extends IpcObject> {
  readonly #slots: (T | undefined)[] = [];
  readonly #byKey = new Map<number, T>();
  #seq = 0;
  #count = 0;
  /**
   * /proc/sys/kernel/{shm,msg,sem}_next_id (CONFIG_CHECKPOINT_RESTORE): the id the next object
   * is to take, -1 for none. Taken by the next object made (ipc_idr_alloc): its sequence number
   * from the id, its slot the first free one from the id's.
   */
  nextId = -1;

  constructor(
    /** How many objects it may hold (/proc/sys/kernel/shmmni, msgmni, sem's semmni). */
    public max: number,
    /** The user namespace owning the IPC namespace: CAP_IPC_OWNER counts there. */
    readonly owner: UserNamespace = INIT_USER_NS,
  ) {}

  get count(): number {
    return this.#count;
  }

  /** The highest slot in use, or -1 (IPC_INFO and *_INFO return it). */
  get maxSlot(): number {
    for (let i = this.#slots.length - 1; i >= 0; i--) if (this.#slots[i] !== undefined) return i;
    return -1;
  }

  all(): T[] {
    return this.#slots.filter((o): o is T => o !== undefined);
  }

  /** The object with this id: EINVAL when there is none (or the slot was reused). */
  get(id: number): T {
    if (id < 0) throw EINVAL;
    const o = this.#slots[id % IPCMNI];
    if (o === undefined || o.id !== id) throw EINVAL;
    return o;
  }

  /** The object in this slot (SHM_STAT, SEM_STAT, MSG_STAT take a slot), or EINVAL. */
  atSlot(slot: number): T {
    const o = slot >= 0 && slot < IPCMNI ? this.#slots[slot] : undefined;
    if (o === undefined) throw EINVAL;
    return o;
  }

  findKey(key: number): T | undefined {
    return this.#byKey.get(key);
  }

  /** Adds an object made by make(perm, id): ENOSPC beyond the kind's limit. */
  add(key: number, creds: Credentials, mode: number, make: (perm: IpcPerm, id: number) => T): T {
    if (this.#count >= this.max) throw ENOSPC;
    let slot: number, seq: number;
    if (this.nextId >= 0) {
      // idr_alloc from the id's slot up, the sequence number the id's; the request is used up.
      const want = this.nextId;
      this.nextId = -1;
      slot = want % IPCMNI;
      while (this.#slots[slot] !== undefined) slot++;
      if (slot >= IPCMNI) throw ENOSPC;
      seq = Math.floor(want / IPCMNI);
    } else {
      // The lowest free slot (a loop: indexOf skips the holes a next_id's slot leaves).
      slot = 0;
      while (slot < this.#slots.length && this.#slots[slot] !== undefined) slot++;
      seq = this.#seq;
      this.#seq = (this.#seq + 1) % 65536;
    }
    const perm: IpcPerm = {
      key, uid: creds.euid, gid: creds.egid, cuid: creds.euid, cgid: creds.egid, mode: mode & 0o777, seq,
    };
    const o = make(perm, seq * IPCMNI + slot);
    this.#slots[slot] = o;
    if (key !== IPC_PRIVATE) this.#byKey.set(key, o);
    this.#count++;
    return o;
  }

  /** Takes o out of the registry (its key becomes free at once, as Linux's ipc_rmid). */
  remove(o: T): void {
    const slot = o.id % IPCMNI;
    if (this.#slots[slot] !== o) return;
    this.#slots[slot] = undefined;
    while (this.#slots.length > 0 && this.#slots[this.#slots.length - 1] === undefined) this.#slots.pop();
    if (this.#byKey.get(o.perm.key) === o) this.#byKey.delete(o.perm.key);
    this.#count--;
    o.removed = true;
  }

  /** The sequence number the next object takes (saved by a checkpoint). */
  get nextSeq(): number {
    return this.#seq;
  }

  /**
   * Fills an empty registry with a checkpoint's objects, each in the slot its id names, and
   * the next sequence number (kernel/checkpoint/ipc.ts checked them: slots and keys unique,
   * ids that agree with their sequence numbers, no more than `max`).
   */
  restore(objects: readonly T[], nextSeq: number): void {
    if (this.#count !== 0) throw new Error("Cannot restore IPC objects: the registry is not empty");
    for (const o of objects) {
      this.#slots[o.id % IPCMNI] = o;
      if (o.perm.key !== IPC_PRIVATE) this.#byKey.set(o.perm.key, o);
      this.#count++;
    }
    this.#seq = nextSeq;
  }

  /** Forgets o's key, leaving it reachable by id (a segment marked for destruction). */
  unkey(o: T): void {
    if (this.#byKey.get(o.perm.key) === o) this.#byKey.delete(o.perm.key);
    o.perm.key = IPC_PRIVATE;
  }

  /**
   * Linux's ipcget: IPC_PRIVATE always creates; otherwise the object with key, checked by
   * `existing` (size or count rules) and for access, or a new one with IPC_CREAT.
   */
  getOrCreate(
    key: number,
    flags: number,
    creds: Credentials,
    existing: (o: T) => void,
    create: () => T,
  ): T {
    if (key === IPC_PRIVATE) return create();
    const o = this.#byKey.get(key);
    if (o === undefined) {
      if (!(flags & IPC_CREAT)) throw ENOENT;
      return create();
    }
    if ((flags & IPC_CREAT) && (flags & IPC_EXCL)) throw EEXIST;
    existing(o);
    if (!ipcPermits(creds, o.perm, flags, this.owner)) throw EACCES;
    return o;
  }
}

/**
 * Linux's ipcperms: the owner (or creator) bits, else the group bits, else the others'; the
 * requested bits are any of flag's three triplets; CAP_IPC_OWNER in the user namespace owning
 * the IPC namespace (`owner`) overrides.
 */
export function ipcPermits(creds: Credentials, perm: IpcPerm, flag: number, owner: UserNamespace = INIT_USER_NS): boolean {
  const requested = ((flag >> 6) | (flag >> 3) | flag) & 7;
  let granted = perm.mode;
  if (creds.euid === perm.cuid || creds.euid === perm.uid) granted >>= 6;
  else if (inGroup(creds, perm.cgid) || inGroup(creds, perm.gid)) granted >>= 3;
  return (requested & ~granted & 7) === 0 || creds.capableIn(owner, CAP_IPC_OWNER);
}

function inGroup(creds: Credentials, gid: number): boolean {
  return creds.egid === gid || creds.groups.includes(gid);
}

/** Throws EACCES unless ipcPermits. */
export function checkIpcAccess(creds: Credentials, perm: IpcPerm, flag: number, owner: UserNamespace = INIT_USER_NS): void {
  if (!ipcPermits(creds, perm, flag, owner)) throw EACCES;
}

/** Throws EIDRM for an object removed while the caller slept on it. */
export function checkNotRemoved(o: IpcObject): void {
  if (o.removed) throw EIDRM;
}

/**
 * The IPC objects of one IPC namespace: System V's and the POSIX message queues (the mqueue
 * filesystem, vfs/mqueue.ts). The sandbox starts with one (Kernel.ipc); unshare(2) or clone(2)
 * with CLONE_NEWIPC give a task a new, empty one (Task.ipc).
 */
export class IpcNamespace {
  readonly mqueue = new MqueueFilesystem();
  /** Its /proc/sys/kernel limits (Linux keeps them per IPC namespace; a new one starts with the defaults). */
  readonly sysctls = new IpcSysctls();
  readonly shm: IpcRegistry<ShmSegment>;
  readonly sem: IpcRegistry<SemSet>;
  readonly msg: IpcRegistry<MsgQueue>;
  /** SEM_UNDO adjustments: tgid -> semaphore set id -> one adjustment per semaphore. */
  readonly semUndo = new Map<number, Map<number, number[]>>();

  constructor(
    limits: { shmmni: number; semmni: number; msgmni: number },
    /** The user namespace that owns it: CAP_IPC_OWNER and CAP_SYS_ADMIN over its objects count there. */
    readonly owner: UserNamespace = INIT_USER_NS,
    /** Its nsfs inode number (/proc/PID/ns/ipc). */
    readonly ino: number = IPC_NS_INIT_INO,
  ) {
    this.shm = new IpcRegistry(limits.shmmni, owner);
    this.sem = new IpcRegistry(limits.semmni, owner);
    this.msg = new IpcRegistry(limits.msgmni, owner);
  }

  get empty(): boolean {
    return this.shm.count === 0 && this.sem.count === 0 && this.msg.count === 0;
  }

  /** Removes a semaphore set: sleepers wake to EIDRM, undo entries go. */
  removeSemSet(s: SemSet): void {
    this.sem.remove(s);
    for (const m of this.semUndo.values()) m.delete(s.id);
    s.queue.notify(-1);
  }

  removeMsgQueue(q: MsgQueue): void {
    this.msg.remove(q);
    q.messages.length = 0;
    q.queue.notify(-1);
  }

  /** Frees a segment: its memory goes when the last attachment (a VMA's reference) goes. */
  removeSegment(s: ShmSegment): void {
    this.shm.remove(s);
    s.file.decRef();
  }

  /**
   * At a process's exit (Linux's exit_sem): its SEM_UNDO adjustments are applied, each value
   * clamped to [0, SEMVMX], and sleepers are woken.
   */
  exitSem(tgid: number, pid: number, semvmx: number): void {
    const undo = this.semUndo.get(tgid);
    if (undo === undefined) return;
    this.semUndo.delete(tgid);
    for (const [id, adj] of undo) {
      let s: SemSet;
      try {
        s = this.sem.get(id);
      } catch {
        continue;
      }
      let changed = false;
      adj.forEach((a, i) => {
        if (a === 0 || i >= s.sems.length) return;
        const sem = s.sems[i]!;
        sem.value = Math.min(Math.max(sem.value + a, 0), semvmx);
        sem.pid = pid;
        changed = true;
      });
      if (changed) {
        s.otimeSec = nowSec();
        s.queue.notify(-1);
      }
    }
  }
}
