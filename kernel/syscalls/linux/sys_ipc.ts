/**
 * System V IPC: shared memory (shmget, shmat, shmdt, shmctl), semaphores (semget, semop,
 * semtimedop, semctl) and message queues (msgget, msgsnd, msgrcv, msgctl), in the order of
 * Linux's checks (ipc/shm.c, sem.c, msg.c). The objects are kernel/ipc.ts.
 *
 * A segment is a memfd mapped MAP_SHARED by each shmat; its attach count is the number of
 * mappings of it (Linux counts VMAs too), so fork, munmap and exit need no hook. Sleeping
 * semop, msgsnd and msgrcv wait on the object's queue and run again; their state (the deadline,
 * the object they sleep on) is plain data in t.syscallState.
 *
 * @module
 */

import { shmAttachCount } from "../../ipc_proc.ts";
import { E2BIG, EAGAIN, EFBIG, EINVAL, ENOMEM, ENOMSG, ENOSPC, EPERM, ERANGE } from "../../errno.ts";
import { RLIMIT_MEMLOCK } from "../../../abi/linux/limits.ts";
import { type RlimitCharge, rlimitOverlimit, UCOUNT_RLIMIT_MEMLOCK } from "../../ucounts.ts";
import type { UserNamespace } from "../../user_namespace.ts";
import type { Task } from "../../task.ts";
import {
  checkIpcAccess, checkNotRemoved, type IpcObject, type IpcPerm, type MsgQueue, nowSec, type SemSet,
  type ShmSegment,
} from "../../ipc.ts";
import {
  IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, MSGMNB, MSGMNI, SEMMNS,
  SEMOPM, SEMVMX, SHMMIN,
} from "../../../abi/linux/ipc.ts";
import { CAP_IPC_LOCK, CAP_SYS_ADMIN, CAP_SYS_RESOURCE } from "../../../abi/linux/capability.ts";
import { MAP_FIXED, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from "../../../abi/linux/mm.ts";
import { MemFd } from "../../../vfs/memfd.ts";
import { WaitQueue } from "../../../waiter/mod.ts";
import { monotonicNs } from "../../time.ts";
import { readTimespecNs } from "./_time.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const PAGE = 4096;
const SHM_RDONLY = 0o10000, SHM_RND = 0o20000, SHM_REMAP = 0o40000, SHM_EXEC = 0o100000;
const SHM_DEST = 0o1000, SHM_LOCKED = 0o2000;
const SHM_LOCK = 11, SHM_UNLOCK = 12, SHM_STAT = 13, SHM_INFO = 14, SHM_STAT_ANY = 15;
const GETPID = 11, GETVAL = 12, GETALL = 13, GETNCNT = 14, GETZCNT = 15, SETVAL = 16, SETALL = 17;
const SEM_STAT = 18, SEM_INFO = 19, SEM_STAT_ANY = 20;
const SEM_UNDO = 0x1000;
const MSG_STAT = 11, MSG_INFO = 12, MSG_STAT_ANY = 13;
const SHM_HUGETLB = 0o4000;
const MSG_NOERROR = 0o10000, MSG_EXCEPT = 0o20000, MSG_COPY = 0o40000;
/** S_IRUGO, S_IWUGO, S_IXUGO as ipcperms takes them. */
const READ = 0o444, WRITE = 0o222, EXEC = 0o111;

// ---- Shared helpers ------------------------------------------------------------------------

/** The pages of a segment of `size` bytes. */
const pages = (size: number) => Math.ceil(size / 4096);

/**
 * What every user holds of RLIMIT_MEMLOCK through SHM_LOCK: the pages of each locked segment of
 * an IPC namespace some task is in (a removed segment gives them back, shm_destroy). mlock(2)
 * counts per process instead (kernel/syscalls/linux/sys_advice.ts), as Linux's mm->locked_vm.
 */
function* shmLockCharges(k: Task["kernel"]): Generator<RlimitCharge> {
  const namespaces = new Set([k.ipc]);
  for (const task of k.tasks.values()) namespaces.add(task.ipc);
  for (const ns of namespaces) {
    for (const s of ns.shm.all()) if (s.lockCharge !== undefined) yield [s.lockCharge[0], s.lockCharge[1], pages(s.size)];
  }
}

/**
 * user_shm_lock: the segment's pages count for the caller's user from now on, ENOMEM when they
 * would pass its RLIMIT_MEMLOCK (in whole pages) and it lacks CAP_IPC_LOCK (counted even then).
 */
function chargeLock(t: Task, s: ShmSegment): readonly [UserNamespace, number] {
  const c = t.creds;
  const limit = t.tg.limits.soft(RLIMIT_MEMLOCK);
  const over = rlimitOverlimit(
    shmLockCharges(t.kernel), c.userNs, c.uid, pages(s.size), limit === Infinity ? Infinity : Math.floor(limit / 4096),
    UCOUNT_RLIMIT_MEMLOCK,
  );
  if (over && !c.hasCap(CAP_IPC_LOCK)) throw ENOMEM;
  return [c.userNs, c.uid];
}

function ipc(t: Task) {
  return t.ipc;
}

/** struct ipc64_perm (48 bytes) at offset 0 of v, the ids as the caller's user namespace shows them. */
function putPerm(t: Task, v: DataView, p: IpcPerm): void {
  const ns = t.creds.userNs;
  v.setInt32(0, p.key, true);
  v.setUint32(4, ns.uidOf(p.uid), true);
  v.setUint32(8, ns.gidOf(p.gid), true);
  v.setUint32(12, ns.uidOf(p.cuid), true);
  v.setUint32(16, ns.gidOf(p.cgid), true);
  v.setUint32(20, p.mode, true);
  v.setUint16(24, p.seq, true);
}

/** IPC_SET's fields of a struct ipc64_perm: uid, gid and mode. */
function readPermSet(t: Task, addr: number, size: number): { uid: number; gid: number; mode: number; raw: DataView } {
  const b = t.copyIn(addr, size);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { uid: v.getUint32(4, true), gid: v.getUint32(8, true), mode: v.getUint32(20, true), raw: v };
}

/**
 * IPC_SET and IPC_RMID: the owner, the creator or CAP_SYS_ADMIN in the user namespace owning the
 * IPC namespace (Linux's ipcctl_obtain_check).
 */
function checkOwner(t: Task, o: IpcObject): void {
  const euid = t.creds.euid;
  if (euid !== o.perm.uid && euid !== o.perm.cuid && !t.creds.capableIn(t.ipc.owner, CAP_SYS_ADMIN)) throw EPERM;
}

/** IPC_SET's change (ipc_update_perm): the ids are the caller's namespace's, EINVAL when unmapped. */
function applySet(t: Task, o: IpcObject, s: { uid: number; gid: number; mode: number }): void {
  const ns = t.creds.userNs, uid = ns.kuid(s.uid), gid = ns.kgid(s.gid);
  if (uid < 0 || gid < 0) throw EINVAL;
  o.perm.uid = uid;
  o.perm.gid = gid;
  o.perm.mode = (o.perm.mode & ~0o777) | (s.mode & 0o777);
  o.ctimeSec = nowSec();
}

/** A deadline kept in t.syscallState across re-runs of a sleeping call. */
interface IpcSleep {
  deadlineNs: number | null;
  /** The object slept on: gone means EIDRM. */
  object: IpcObject | null;
  /** semop: which semaphore and whether for zero (GETNCNT, GETZCNT count the sleepers). */
  semNum?: number;
  semZero?: boolean;
}

function sleepState(t: Task, timeoutAddr = 0): IpcSleep {
  let st = t.syscallState as IpcSleep | null;
  if (st === null) {
    st = { deadlineNs: timeoutAddr !== 0 ? monotonicNs() + readTimespecNs(t, timeoutAddr) : null, object: null };
    t.syscallState = st;
  }
  return st;
}

/** A call that slept on an object that is gone since: EIDRM, as Linux's woken sleepers see. */
function checkSleptOn(t: Task): void {
  const o = (t.syscallState as IpcSleep | null)?.object;
  if (o) checkNotRemoved(o);
}

// ---- Shared memory ---------------------------------------------------------------------------

/** How many mappings of s exist (shm_nattch), over every address space. */
function attachCount(t: Task, s: ShmSegment): number {
  return shmAttachCount(t.kernel, s);
}

/** Frees segments marked for destruction that nothing maps any more (Linux does it at the last detach). */
function sweepSegments(t: Task): void {
  const ns = ipc(t);
  for (const s of ns.shm.all()) if ((s.perm.mode & SHM_DEST) && attachCount(t, s) === 0) ns.removeSegment(s);
}

const sysShmget: SyscallFn = (t, a) => {
  const key = a.int(0), size = a.sizeT(1), flags = a.int(2);
  sweepSegments(t);
  const ns = ipc(t);
  const s = ns.shm.getOrCreate(key, flags, t.creds, (o) => {
    if (o.size < size) throw EINVAL;
  }, () => {
    // newseg: the namespace's shmmax, then shmall against the pages of every segment.
    if (size < SHMMIN || a.u64(1) > ns.sysctls.shmmax) throw EINVAL;
    const pages = ns.shm.all().reduce((n, o) => n + Math.ceil(o.size / PAGE), 0);
    if (BigInt(pages + Math.ceil(size / PAGE)) > ns.sysctls.shmall) throw ENOSPC;
    // SHM_HUGETLB: the sandbox is a kernel without CONFIG_HUGETLBFS (/proc/config.gz), whose
    // newseg finds no huge page size (hstate_sizelog): EINVAL.
    if (flags & SHM_HUGETLB) throw EINVAL;
    const file = MemFd.create(0);
    try {
      file.truncate(size);
    } catch (e) {
      file.decRef();
      throw e;
    }
    const now = nowSec();
    try {
      return ns.shm.add(key, t.creds, flags, (perm, id) => {
        file.name = `SYSV${(perm.key >>> 0).toString(16).padStart(8, "0")}`;
        return { perm, id, removed: false, ctimeSec: now, size, file, atimeSec: 0, dtimeSec: 0, cpid: t.tg.tgid, lpid: 0 };
      });
    } catch (e) {
      file.decRef();
      throw e;
    }
  });
  return s.id;
};

const sysShmat: SyscallFn = (t, a) => {
  const id = a.int(0), flags = a.int(2);
  let addr = a.pointer(1);
  sweepSegments(t);
  const s = ipc(t).shm.get(id);
  let prot = PROT_READ, acc = READ;
  if (!(flags & SHM_RDONLY)) {
    prot |= PROT_WRITE;
    acc |= WRITE;
  }
  if (flags & SHM_EXEC) {
    prot |= PROT_EXEC;
    acc |= EXEC;
  }
  let mapFlags = MAP_SHARED;
  if (addr !== 0) {
    if (addr % PAGE !== 0) {
      if (!(flags & SHM_RND)) throw EINVAL;
      addr -= addr % PAGE;
      if (addr === 0 && (flags & SHM_REMAP)) throw EINVAL;
    }
    mapFlags |= MAP_FIXED;
  } else if (flags & SHM_REMAP) {
    throw EINVAL;
  }
  checkIpcAccess(t.creds, s.perm, acc, t.ipc.owner);
  const len = Math.ceil(s.size / PAGE) * PAGE;
  if ((mapFlags & MAP_FIXED) && !(flags & SHM_REMAP)) {
    if (t.mm.overlapping(addr, addr + len).length > 0) throw EINVAL;
  }
  const at = t.mm.mmap(t.ctx, {
    addr, len, prot, flags: mapFlags, file: s.file, offset: 0, readOnly: (flags & SHM_RDONLY) !== 0,
  });
  s.atimeSec = nowSec();
  s.lpid = t.tg.tgid;
  return at;
};

const sysShmdt: SyscallFn = (t, a) => {
  const addr = a.pointer(0);
  if (addr % PAGE !== 0) throw EINVAL;
  const ns = ipc(t);
  const start = t.mm.vmas.find((v) => v.start === addr && v.offset === 0 && v.file !== null);
  const s = start ? ns.shm.all().find((x) => x.file === start.file) : undefined;
  if (!start || !s) throw EINVAL;
  // Every mapping of the segment within its size from addr goes (the attach may have been split).
  const end = addr + Math.ceil(s.size / PAGE) * PAGE;
  for (const v of [...t.mm.vmas]) {
    if (v.file === s.file && v.start >= addr && v.end <= end && v.offset === v.start - addr) {
      t.mm.munmap(t.ctx, v.start, v.end - v.start);
    }
  }
  s.dtimeSec = nowSec();
  s.lpid = t.tg.tgid;
  sweepSegments(t);
  return 0;
};

function shmDs(t: Task, s: ShmSegment): Uint8Array {
  const b = new Uint8Array(112);
  const v = new DataView(b.buffer);
  putPerm(t, v, s.perm);
  v.setBigUint64(48, BigInt(s.size), true);
  v.setBigInt64(56, BigInt(s.atimeSec), true);
  v.setBigInt64(64, BigInt(s.dtimeSec), true);
  v.setBigInt64(72, BigInt(s.ctimeSec), true);
  v.setInt32(80, t.vnr(s.cpid), true); // as the caller's PID namespace numbers them
  v.setInt32(84, t.vnr(s.lpid), true);
  v.setBigUint64(88, BigInt(attachCount(t, s)), true);
  return b;
}

const sysShmctl: SyscallFn = (t, a) => {
  const id = a.int(0), cmd = a.int(1), buf = a.pointer(2);
  if (cmd < 0 || id < 0) throw EINVAL;
  sweepSegments(t);
  const ns = ipc(t);
  switch (cmd) {
    case IPC_INFO: {
      const b = new Uint8Array(72);
      const v = new DataView(b.buffer);
      v.setBigUint64(0, ns.sysctls.shmmax, true);
      v.setBigUint64(8, BigInt(SHMMIN), true);
      v.setBigUint64(16, BigInt(ns.sysctls.shmmni), true);
      v.setBigUint64(24, BigInt(ns.sysctls.shmmni), true); // shmseg
      v.setBigUint64(32, ns.sysctls.shmall, true);
      t.copyOut(buf, b);
      return Math.max(ns.shm.maxSlot, 0);
    }
    case SHM_INFO: {
      const b = new Uint8Array(48);
      const v = new DataView(b.buffer);
      const all = ns.shm.all();
      v.setInt32(0, all.length, true);
      const pages = all.reduce((n, s) => n + Math.ceil(s.size / PAGE), 0);
      v.setBigUint64(8, BigInt(pages), true);
      v.setBigUint64(16, BigInt(pages), true);
      t.copyOut(buf, b);
      return Math.max(ns.shm.maxSlot, 0);
    }
    case SHM_STAT:
    case SHM_STAT_ANY:
    case IPC_STAT: {
      const s = cmd === IPC_STAT ? ns.shm.get(id) : ns.shm.atSlot(id);
      if (cmd !== SHM_STAT_ANY) checkIpcAccess(t.creds, s.perm, READ, t.ipc.owner);
      t.copyOut(buf, shmDs(t, s));
      return cmd === IPC_STAT ? 0 : s.id;
    }
    case IPC_SET: {
      const set = readPermSet(t, buf, 112);
      const s = ns.shm.get(id);
      checkOwner(t, s);
      applySet(t, s, set);
      return 0;
    }
    case IPC_RMID: {
      const s = ns.shm.get(id);
      checkOwner(t, s);
      if (attachCount(t, s) === 0) ns.removeSegment(s);
      else {
        s.perm.mode |= SHM_DEST;
        ns.shm.unkey(s);
      }
      return 0;
    }
    case SHM_LOCK:
    case SHM_UNLOCK: {
      // shmctl_do_lock: the owner or creator, with a non-zero RLIMIT_MEMLOCK to lock, unless
      // CAP_IPC_LOCK over the namespace.
      const s = ns.shm.get(id);
      if (!t.creds.capableIn(t.ipc.owner, CAP_IPC_LOCK)) {
        if (t.creds.euid !== s.perm.uid && t.creds.euid !== s.perm.cuid) throw EPERM;
        if (cmd === SHM_LOCK && t.tg.limits.soft(RLIMIT_MEMLOCK) === 0) throw EPERM;
      }
      if (cmd === SHM_LOCK) {
        if (s.lockCharge === undefined) s.lockCharge = chargeLock(t, s);
        s.perm.mode |= SHM_LOCKED;
      } else {
        delete s.lockCharge;
        s.perm.mode &= ~SHM_LOCKED;
      }
      return 0;
    }
  }
  throw EINVAL;
};

// ---- Semaphores ------------------------------------------------------------------------------

const sysSemget: SyscallFn = (t, a) => {
  const key = a.int(0), nsems = a.int(1), flags = a.int(2);
  const ns = ipc(t);
  const [semmsl, semmns] = ns.sysctls.sem;
  if (nsems < 0 || nsems > semmsl) throw EINVAL;
  const s = ns.sem.getOrCreate(key, flags, t.creds, (o) => {
    if (nsems > o.sems.length) throw EINVAL;
  }, () => {
    if (nsems === 0) throw EINVAL;
    // newary: every set's semaphores together within semmns.
    if (ns.sem.all().reduce((n, o) => n + o.sems.length, 0) + nsems > semmns) throw ENOSPC;
    return ns.sem.add(key, t.creds, flags, (perm, id) => ({
      perm, id, removed: false, ctimeSec: nowSec(), otimeSec: 0, queue: new WaitQueue(),
      sems: Array.from({ length: nsems }, () => ({ value: 0, pid: 0 })),
    }));
  });
  return s.id;
};

function semop(t: Task, id: number, sopsAddr: number, nsops: number, timeoutAddr: number): SyscallResult {
  if (nsops < 1 || id < 0) throw EINVAL;
  if (nsops > t.ipc.sysctls.sem[2]) throw E2BIG;
  const st = sleepState(t, timeoutAddr);
  const raw = t.copyIn(sopsAddr, 6 * nsops);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const ops: { num: number; op: number; flg: number }[] = [];
  let max = 0, alter = false;
  for (let i = 0; i < nsops; i++) {
    const op = { num: v.getUint16(6 * i, true), op: v.getInt16(6 * i + 2, true), flg: v.getInt16(6 * i + 4, true) };
    ops.push(op);
    max = Math.max(max, op.num);
    if (op.op !== 0) alter = true;
  }
  checkSleptOn(t);
  const ns = ipc(t);
  const s = ns.sem.get(id);
  if (max >= s.sems.length) throw EFBIG;
  checkIpcAccess(t.creds, s.perm, alter ? WRITE : READ, t.ipc.owner);
  // All or nothing: try on a copy of the values.
  const vals = s.sems.map((x) => x.value);
  for (const o of ops) {
    const cur = vals[o.num]!;
    const blocks = o.op === 0 ? cur !== 0 : cur + o.op < 0;
    if (blocks) {
      if (o.flg & IPC_NOWAIT) throw EAGAIN;
      if (st.deadlineNs !== null && monotonicNs() >= st.deadlineNs) throw EAGAIN;
      st.object = s;
      st.semNum = o.num;
      st.semZero = o.op === 0;
      return block([s.queue], -1, st.deadlineNs, "never");
    }
    if (cur + o.op > SEMVMX) throw ERANGE;
    vals[o.num] = cur + o.op;
  }
  const pid = t.tg.tgid;
  for (const o of ops) {
    s.sems[o.num]!.value = vals[o.num]!;
    s.sems[o.num]!.pid = pid;
    if ((o.flg & SEM_UNDO) && o.op !== 0) {
      let undo = ns.semUndo.get(pid);
      if (undo === undefined) ns.semUndo.set(pid, undo = new Map());
      let adj = undo.get(s.id);
      if (adj === undefined) undo.set(s.id, adj = new Array<number>(s.sems.length).fill(0));
      adj[o.num]! -= o.op;
    }
  }
  s.otimeSec = nowSec();
  if (alter) s.queue.notify(-1);
  return 0;
}

const sysSemop: SyscallFn = (t, a) => semop(t, a.int(0), a.pointer(1), Math.min(a.sizeT(2), 0x80000000), 0);
const sysSemtimedop: SyscallFn = (t, a) =>
  semop(t, a.int(0), a.pointer(1), Math.min(a.sizeT(2), 0x80000000), a.pointer(3));

/** Tasks asleep in semop on semaphore num of s, waiting for zero (zero) or for an increase. */
function semWaiters(t: Task, s: SemSet, num: number, zero: boolean): number {
  let n = 0;
  for (const x of t.kernel.tasks.values()) {
    if (x.state !== "blocked") continue;
    const st = x.syscallState as IpcSleep | null;
    if (st?.object === s && st.semNum === num && st.semZero === zero) n++;
  }
  return n;
}

function semDs(t: Task, s: SemSet): Uint8Array {
  const b = new Uint8Array(104);
  const v = new DataView(b.buffer);
  putPerm(t, v, s.perm);
  v.setBigInt64(48, BigInt(s.otimeSec), true);
  v.setBigInt64(64, BigInt(s.ctimeSec), true);
  v.setBigUint64(80, BigInt(s.sems.length), true);
  return b;
}

/** A SETVAL or SETALL: the undo adjustments of those semaphores are void (Linux clears them). */
function clearUndo(t: Task, s: SemSet, num: number | null): void {
  for (const undo of ipc(t).semUndo.values()) {
    const adj = undo.get(s.id);
    if (adj === undefined) continue;
    if (num === null) adj.fill(0);
    else adj[num] = 0;
  }
}

const sysSemctl: SyscallFn = (t, a) => {
  const id = a.int(0), num = a.int(1), cmd = a.int(2);
  const arg = a.pointer(3);
  if (id < 0 || cmd < 0) throw EINVAL;
  const ns = ipc(t);
  switch (cmd) {
    case IPC_INFO:
    case SEM_INFO: {
      const b = new Uint8Array(40);
      const v = new DataView(b.buffer);
      const all = ns.sem.all();
      const info = cmd === SEM_INFO;
      const [semmsl, semmns, semopm, semmni] = ns.sysctls.sem;
      const vals = [SEMMNS, semmni, semmns, SEMMNS, semmsl, semopm, SEMOPM,
        info ? all.length : 20, SEMVMX, info ? all.reduce((n, s) => n + s.sems.length, 0) : SEMVMX];
      vals.forEach((x, i) => v.setInt32(4 * i, x, true));
      t.copyOut(arg, b);
      return Math.max(ns.sem.maxSlot, 0);
    }
    case SEM_STAT:
    case SEM_STAT_ANY:
    case IPC_STAT: {
      const s = cmd === IPC_STAT ? ns.sem.get(id) : ns.sem.atSlot(id);
      if (cmd !== SEM_STAT_ANY) checkIpcAccess(t.creds, s.perm, READ, t.ipc.owner);
      t.copyOut(arg, semDs(t, s));
      return cmd === IPC_STAT ? 0 : s.id;
    }
    case IPC_SET: {
      const set = readPermSet(t, arg, 104);
      const s = ns.sem.get(id);
      checkOwner(t, s);
      applySet(t, s, set);
      return 0;
    }
    case IPC_RMID: {
      const s = ns.sem.get(id);
      checkOwner(t, s);
      ns.removeSemSet(s);
      return 0;
    }
    case SETVAL: {
      const val = a.int(3);
      if (val > SEMVMX || val < 0) throw ERANGE;
      const s = ns.sem.get(id);
      if (num < 0 || num >= s.sems.length) throw EINVAL;
      checkIpcAccess(t.creds, s.perm, WRITE, t.ipc.owner);
      clearUndo(t, s, num);
      s.sems[num]!.value = val;
      s.sems[num]!.pid = t.tg.tgid;
      s.ctimeSec = nowSec();
      s.queue.notify(-1);
      return 0;
    }
    case GETVAL:
    case GETPID:
    case GETNCNT:
    case GETZCNT:
    case GETALL:
    case SETALL: {
      const s = ns.sem.get(id);
      checkIpcAccess(t.creds, s.perm, cmd === SETALL ? WRITE : READ, t.ipc.owner);
      if (cmd === GETALL) {
        const b = new Uint8Array(2 * s.sems.length);
        const v = new DataView(b.buffer);
        s.sems.forEach((x, i) => v.setUint16(2 * i, x.value, true));
        t.copyOut(arg, b);
        return 0;
      }
      if (cmd === SETALL) {
        const b = t.copyIn(arg, 2 * s.sems.length);
        const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const vals = s.sems.map((_, i) => v.getUint16(2 * i, true));
        if (vals.some((x) => x > SEMVMX)) throw ERANGE;
        clearUndo(t, s, null);
        vals.forEach((x, i) => {
          s.sems[i]!.value = x;
          s.sems[i]!.pid = t.tg.tgid;
        });
        s.ctimeSec = nowSec();
        s.queue.notify(-1);
        return 0;
      }
      if (num < 0 || num >= s.sems.length) throw EINVAL;
      if (cmd === GETVAL) return s.sems[num]!.value;
      if (cmd === GETPID) return t.vnr(s.sems[num]!.pid);
      return semWaiters(t, s, num, cmd === GETZCNT);
    }
  }
  throw EINVAL;
};

// ---- Message queues --------------------------------------------------------------------------

const sysMsgget: SyscallFn = (t, a) => {
  const key = a.int(0), flags = a.int(1);
  const ns = ipc(t);
  const q = ns.msg.getOrCreate(key, flags, t.creds, () => {}, () =>
    ns.msg.add(key, t.creds, flags, (perm, id) => ({
      perm, id, removed: false, ctimeSec: nowSec(), messages: [], bytes: 0, qbytes: ns.sysctls.msgmnb, stimeSec: 0, rtimeSec: 0,
      lspid: 0, lrpid: 0, queue: new WaitQueue(),
    })));
  return q.id;
};

const sysMsgsnd: SyscallFn = (t, a) => {
  const id = a.int(0), msgp = a.pointer(1), size = a.sizeT(2), flags = a.int(3);
  if (size > t.ipc.sysctls.msgmax || id < 0) throw EINVAL;
  const type = Number(new DataView(t.copyIn(msgp, 8).buffer).getBigInt64(0, true));
  if (type < 1) throw EINVAL;
  const data = t.copyIn(msgp + 8, size);
  const st = sleepState(t);
  checkSleptOn(t);
  const q = ipc(t).msg.get(id);
  checkIpcAccess(t.creds, q.perm, WRITE, t.ipc.owner);
  if (size + q.bytes > q.qbytes || q.messages.length + 1 > q.qbytes) {
    if (flags & IPC_NOWAIT) throw EAGAIN;
    st.object = q;
    return block([q.queue], -1, null, "never");
  }
  q.messages.push({ type, data: data.slice() });
  q.bytes += size;
  q.stimeSec = nowSec();
  q.lspid = t.tg.tgid;
  q.queue.notify(-1);
  return 0;
};

/** The index of the message msgrcv takes for msgtyp, or -1. */
function pickMessage(q: MsgQueue, type: number, except: boolean): number {
  if (type === 0) return q.messages.length > 0 ? 0 : -1;
  if (type > 0) return q.messages.findIndex((m) => except ? m.type !== type : m.type === type);
  let best = -1;
  q.messages.forEach((m, i) => {
    if (m.type <= -type && (best < 0 || m.type < q.messages[best]!.type)) best = i;
  });
  return best;
}

const sysMsgrcv: SyscallFn = (t, a) => {
  const id = a.int(0), msgp = a.pointer(1), flags = a.int(4);
  const size = Number(BigInt.asIntN(64, a.u64(2)));
  const type = a.long(3);
  if (id < 0 || size < 0) throw EINVAL;
  if ((flags & MSG_COPY) && ((flags & MSG_EXCEPT) || !(flags & IPC_NOWAIT))) throw EINVAL;
  const st = sleepState(t);
  checkSleptOn(t);
  const q = ipc(t).msg.get(id);
  checkIpcAccess(t.creds, q.perm, READ, t.ipc.owner);
  const i = flags & MSG_COPY ? (type >= 0 && type < q.messages.length ? type : -1) : pickMessage(q, type, (flags & MSG_EXCEPT) !== 0);
  if (i < 0) {
    if (flags & IPC_NOWAIT) throw ENOMSG;
    st.object = q;
    return block([q.queue], -1, null, "never");
  }
  const m = q.messages[i]!;
  // Too big: E2BIG, unless MSG_NOERROR truncates; a copy (MSG_COPY) is never truncated: EINVAL.
  if (m.data.length > size && !(flags & MSG_NOERROR)) throw E2BIG;
  if (m.data.length > size && (flags & MSG_COPY)) throw EINVAL;
  const n = Math.min(m.data.length, size);
  const out = new Uint8Array(8 + n);
  new DataView(out.buffer).setBigInt64(0, BigInt(m.type), true);
  out.set(m.data.subarray(0, n), 8);
  t.copyOut(msgp, out);
  if (!(flags & MSG_COPY)) {
    q.messages.splice(i, 1);
    q.bytes -= m.data.length;
    q.rtimeSec = nowSec();
    q.lrpid = t.tg.tgid;
    q.queue.notify(-1);
  }
  return n;
};

function msgDs(t: Task, q: MsgQueue): Uint8Array {
  const b = new Uint8Array(120);
  const v = new DataView(b.buffer);
  putPerm(t, v, q.perm);
  v.setBigInt64(48, BigInt(q.stimeSec), true);
  v.setBigInt64(56, BigInt(q.rtimeSec), true);
  v.setBigInt64(64, BigInt(q.ctimeSec), true);
  v.setBigUint64(72, BigInt(q.bytes), true);
  v.setBigUint64(80, BigInt(q.messages.length), true);
  v.setBigUint64(88, BigInt(q.qbytes), true);
  v.setInt32(96, t.vnr(q.lspid), true); // as the caller's PID namespace numbers them
  v.setInt32(100, t.vnr(q.lrpid), true);
  return b;
}

const sysMsgctl: SyscallFn = (t, a) => {
  const id = a.int(0), cmd = a.int(1), buf = a.pointer(2);
  if (id < 0 || cmd < 0) throw EINVAL;
  const ns = ipc(t);
  switch (cmd) {
    case IPC_INFO:
    case MSG_INFO: {
      const b = new Uint8Array(32);
      const v = new DataView(b.buffer);
      const all = ns.msg.all();
      const info = cmd === MSG_INFO;
      const pool = Math.floor(MSGMNI * MSGMNB / 1024);
      v.setInt32(0, info ? all.length : pool, true);
      v.setInt32(4, info ? all.reduce((n, q) => n + q.messages.length, 0) : MSGMNB, true);
      v.setInt32(8, ns.sysctls.msgmax, true);
      v.setInt32(12, ns.sysctls.msgmnb, true);
      v.setInt32(16, ns.sysctls.msgmni, true);
      v.setInt32(20, 16, true);
      v.setInt32(24, info ? all.reduce((n, q) => n + q.bytes, 0) : MSGMNB, true);
      v.setUint16(28, Math.min(Math.floor(pool * 1024 / 16), 0xffff), true);
      t.copyOut(buf, b);
      return Math.max(ns.msg.maxSlot, 0);
    }
    case MSG_STAT:
    case MSG_STAT_ANY:
    case IPC_STAT: {
      const q = cmd === IPC_STAT ? ns.msg.get(id) : ns.msg.atSlot(id);
      if (cmd !== MSG_STAT_ANY) checkIpcAccess(t.creds, q.perm, READ, t.ipc.owner);
      t.copyOut(buf, msgDs(t, q));
      return cmd === IPC_STAT ? 0 : q.id;
    }
    case IPC_SET: {
      const set = readPermSet(t, buf, 120);
      const qbytes = Number(set.raw.getBigUint64(88, true));
      const q = ns.msg.get(id);
      checkOwner(t, q);
      if (qbytes > ns.sysctls.msgmnb && !t.creds.hasCap(CAP_SYS_RESOURCE)) throw EPERM;
      q.qbytes = qbytes;
      applySet(t, q, set);
      q.queue.notify(-1);
      return 0;
    }
    case IPC_RMID: {
      const q = ns.msg.get(id);
      checkOwner(t, q);
      ns.removeMsgQueue(q);
      return 0;
    }
  }
  throw EINVAL;
};

export const table: Record<number, SyscallEntry> = {
  29: supported("shmget", sysShmget),
  30: supported("shmat", sysShmat),
  31: supported("shmctl", sysShmctl),
  64: supported("semget", sysSemget),
  65: supported("semop", sysSemop),
  66: supported("semctl", sysSemctl),
  67: supported("shmdt", sysShmdt),
  68: supported("msgget", sysMsgget),
  69: supported("msgsnd", sysMsgsnd),
  70: supported("msgrcv", sysMsgrcv),
  71: supported("msgctl", sysMsgctl),
  220: supported("semtimedop", sysSemtimedop),
};
