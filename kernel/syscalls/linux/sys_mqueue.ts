/**
 * POSIX message queues: mq_open(2), mq_unlink(2), mq_timedsend(2), mq_timedreceive(2),
 * mq_notify(2), mq_getsetattr(2), in the order of Linux's checks (ipc/mqueue.c). The queues are
 * files of the caller's IPC namespace's mqueue filesystem (vfs/mqueue.ts). glibc strips the
 * leading "/" of a name, so the syscalls see a bare name: "", "." and ".." and names with "/"
 * are EACCES, as Linux's lookup_one_len.
 *
 * Sleeping send and receive wait on the queue's wait queue with a deadline (the absolute
 * CLOCK_REALTIME timeout, as a monotonic instant) kept in t.syscallState, and run again.
 * A queue mq_open (or creat(2) in an mqueue mount) makes counts its bytes for its creator's
 * RLIMIT_MSGQUEUE while it lives.
 * SIGEV_THREAD notification sends its cookie to a netlink socket (glibc's helper thread reads it).
 *
 * @module
 */

import {
  EACCES, EAGAIN, EBADF, EBUSY, EEXIST, EINVAL, EMSGSIZE, ENAMETOOLONG, ENOENT, ENOTSOCK, ETIMEDOUT,
} from "../../errno.ts";
import { SocketFile } from "../../socket/socket.ts";
import { chargeQueue } from "../../mqueue_charge.ts";
import type { Task } from "../../task.ts";
import { O_ACCMODE, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } from "../../../abi/linux/file.ts";
import { CAP_SYS_RESOURCE } from "../../../abi/linux/capability.ts";
import {
  MessageQueue, MQ_HARD_MSGMAX, MQ_HARD_MSGSIZEMAX, MQ_MSG_MAX, MQ_MSGSIZE_MAX, MQ_DFLT_MAXMSG, MQ_DFLT_MSGSIZE,
  MqueueDescription, type MqueueFile, type MqNotify,
} from "../../../vfs/mqueue.ts";
import { Location } from "../../../vfs/mount.ts";
import { checkMayDelete, MAY_READ, MAY_WRITE, mayAccess } from "../../../vfs/permissions.ts";
import { sendSignal } from "../../task_signals.ts";
import { monotonicNs, realtimeNs } from "../../time.ts";
import { EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const MQ_PRIO_MAX = 32768;
const SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD = 2;
const SI_MESGQ = -3;
const NAME_MAX = 255;

/** The queue file a name (without glibc's "/") names in t's IPC namespace, or null. */
function lookupQueue(t: Task, name: string): MqueueFile | null {
  if (name === "" || name === "." || name === ".." || name.includes("/")) throw EACCES;
  return t.ipc.mqueue.root.lookup(name);
}

/** Copies a queue name in: PATH_MAX as getname (ENAMETOOLONG), a component as NAME_MAX. */
function copyInName(t: Task, addr: number): string {
  return t.copyInString(addr, 4095);
}

/** Reads struct mq_attr: [mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs]. */
function readAttr(t: Task, addr: number): bigint[] {
  const v = new DataView(t.copyIn(addr, 64).buffer);
  return [0, 8, 16, 24].map((o) => v.getBigInt64(o, true));
}

/** A new queue's attributes, or EINVAL (Linux's mq_attr_ok). */
function queueFromAttr(t: Task, attr: bigint[] | null): MessageQueue {
  if (attr === null) return new MessageQueue(MQ_DFLT_MAXMSG, MQ_DFLT_MSGSIZE);
  const [, maxmsg, msgsize] = attr as [bigint, bigint, bigint];
  if (maxmsg <= 0n || msgsize <= 0n) throw EINVAL;
  if (t.creds.hasCap(CAP_SYS_RESOURCE)) {
    if (maxmsg > BigInt(MQ_HARD_MSGMAX) || msgsize > BigInt(MQ_HARD_MSGSIZEMAX)) throw EINVAL;
  } else if (maxmsg > BigInt(MQ_MSG_MAX) || msgsize > BigInt(MQ_MSGSIZE_MAX)) {
    throw EINVAL;
  }
  return new MessageQueue(Number(maxmsg), Number(msgsize));
}

/** Implements mq_open(2): a close-on-exec descriptor of the queue, created with O_CREAT. */
const sysMqOpen: SyscallFn = (t, a) => {
  const oflag = a.int(1), mode = a.uint(2), attrAddr = a.pointer(3);
  const attr = attrAddr !== 0 ? readAttr(t, attrAddr) : null;
  const name = copyInName(t, a.pointer(0));
  const ns = t.ipc.mqueue;
  if (name.length > NAME_MAX) throw ENAMETOOLONG;
  let file = lookupQueue(t, name);
  const root = ns.root;
  let created = false;
  if (oflag & O_CREAT) {
    if (file !== null) {
      if (oflag & O_EXCL) throw EEXIST;
    } else {
      // vfs_mkobj's may_create: write and search on the directory.
      if (!mayAccess(t.creds, MAY_WRITE | 1, root.mode, root.uid, root.gid)) throw EACCES;
      const q = queueFromAttr(t, attr);
      file = root.makeQueue(name, { mode: mode & 0o777 & ~t.fs.umask, uid: t.creds.fsuid, gid: t.creds.fsgid }, q,
        t.creds.hasCap(CAP_SYS_RESOURCE), () => chargeQueue(t, q));
      created = true;
    }
  } else if (file === null) {
    throw ENOENT;
  }
  const acc = oflag & O_ACCMODE;
  if (acc === (O_RDWR | O_WRONLY)) throw EINVAL;
  if (!created) {
    const want = acc === O_RDONLY ? MAY_READ : acc === O_WRONLY ? MAY_WRITE : MAY_READ | MAY_WRITE;
    if (!mayAccess(t.creds, want, file.mode, file.uid, file.gid, file.acl)) throw EACCES;
  }
  // The namespace's own mount of its queues (Linux's ipc_ns->mq_mnt), made at the first open.
  ns.internalMount ??= t.kernel.vfs.detachedMount(ns, { readonly: false, source: "mqueue" });
  const f = file.open(new Location(ns.internalMount, file), oflag & (O_ACCMODE | O_NONBLOCK));
  return t.fdTable.install(f, true);
};

/** Implements mq_unlink(2). */
const sysMqUnlink: SyscallFn = (t, a) => {
  const name = copyInName(t, a.pointer(0));
  if (name.length > NAME_MAX) throw ENAMETOOLONG;
  const file = lookupQueue(t, name);
  if (file === null) throw ENOENT;
  const root = t.ipc.mqueue.root;
  checkMayDelete(t.creds, root, file);
  root.unlink(name, file);
  return 0;
};

/** The queue a descriptor is (EBADF for any other file). */
function queueFile(t: Task, fd: number): MqueueDescription {
  const f = t.fdTable.get(fd);
  if (!(f instanceof MqueueDescription)) throw EBADF;
  return f;
}

/** An absolute CLOCK_REALTIME timeout as a monotonic deadline; EINVAL for a bad timespec. */
function deadlineOf(t: Task, addr: number): number | null {
  if (addr === 0) return null;
  const b = t.copyIn(addr, 16);
  const v = new DataView(b.buffer);
  const sec = v.getBigInt64(0, true), nsec = v.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) throw EINVAL;
  const abs = sec * 1_000_000_000n + nsec;
  return monotonicNs() + Number(abs - realtimeNs());
}

/** A send or receive's progress across its runs: its deadline (null: none). */
interface MqSleep {
  deadlineNs: number | null;
  task: Task;
}

function sleepOf(t: Task, timeoutAddr: number): MqSleep {
  let st = t.syscallState as MqSleep | null;
  if (st === null) {
    st = { deadlineNs: deadlineOf(t, timeoutAddr), task: t };
    t.syscallState = st;
  }
  return st;
}

/**
 * Tells the registered process that a message came to an empty queue nobody waits on (Linux's
 * __do_notify): SIGEV_SIGNAL sends its signal (SI_MESGQ, the sender's pid and uid, the value);
 * either way the registration is used up.
 */
function notifyArrival(t: Task, q: MessageQueue): void {
  const n = q.notify;
  if (n === null || q.messages.length !== 1) return;
  for (const r of q.receivers) {
    const st = r as MqSleep;
    if (st.task.syscallState === st && st.task.state !== "dead") return;
  }
  q.notify = null;
  if (n.thread !== undefined) return threadNotify(n, NOTIFY_WOKENUP);
  if (n.how !== SIGEV_SIGNAL) return;
  const owner = t.kernel.tasks.get(n.tgid)?.tg;
  if (owner === undefined) return;
  sendSignal(owner, { signo: n.signo, code: SI_MESGQ, pid: t.tg.tgid, uid: t.creds.uid, value: n.value });
}

/** Implements mq_timedsend(2). */
const sysMqTimedsend: SyscallFn = (t, a): SyscallResult => {
  const st = sleepOf(t, a.pointer(4));
  const prio = a.uint(3);
  if (prio >= MQ_PRIO_MAX) throw EINVAL;
  const f = queueFile(t, a.fd(0));
  if (!f.writable) throw EBADF;
  const q = f.queue;
  const len = a.sizeT(2);
  if (len > q.msgsize) throw EMSGSIZE;
  const data = len === 0 ? new Uint8Array(0) : t.copyIn(a.pointer(1), len).slice();
  if (q.full) {
    if (f.flags & O_NONBLOCK) throw EAGAIN;
    if (st.deadlineNs !== null && monotonicNs() >= st.deadlineNs) throw ETIMEDOUT;
    return block([q.queue], EVENT_OUT, st.deadlineNs, "sys");
  }
  q.push(prio, data);
  f.file.touch();
  notifyArrival(t, q);
  return 0;
};

/** Implements mq_timedreceive(2): the oldest message of the highest priority. */
const sysMqTimedreceive: SyscallFn = (t, a): SyscallResult => {
  const st = sleepOf(t, a.pointer(4));
  const f = queueFile(t, a.fd(0));
  if (!f.readable) throw EBADF;
  const q = f.queue;
  if (a.sizeT(2) < q.msgsize) throw EMSGSIZE;
  if (q.messages.length === 0) {
    if (f.flags & O_NONBLOCK) throw EAGAIN;
    if (st.deadlineNs !== null && monotonicNs() >= st.deadlineNs) {
      q.receivers.delete(st);
      throw ETIMEDOUT;
    }
    q.receivers.add(st);
    return block([q.queue], EVENT_IN, st.deadlineNs, "sys");
  }
  q.receivers.delete(st);
  const m = q.shift();
  f.file.touch();
  t.copyOut(a.pointer(1), m.data);
  const prioAddr = a.pointer(3);
  if (prioAddr !== 0) t.copyOutU32(prioAddr, m.prio);
  return m.data.length;
};

/** The cookie's last byte: why the SIGEV_THREAD socket hears from the queue (ipc/mqueue.c). */
const NOTIFY_COOKIE_LEN = 32, NOTIFY_WOKENUP = 1, NOTIFY_REMOVED = 2;
const AF_NETLINK = 16;

/** Sends a SIGEV_THREAD registration's cookie to its netlink socket, `code` in its last byte. */
function threadNotify(n: MqNotify, code: number): void {
  const c = n.thread!.cookie;
  c[NOTIFY_COOKIE_LEN - 1] = code;
  n.thread!.sock.deliverFromKernel(c);
}

/**
 * Implements mq_notify(2): SIGEV_SIGNAL, SIGEV_NONE and SIGEV_THREAD (glibc's: the kernel sends
 * the 32-byte cookie at sigev_value to the netlink socket whose descriptor is sigev_signo; EFAULT,
 * then EBADF, ENOTSOCK, or EINVAL for another family, before the queue is looked up); a null
 * sevp removes the caller's (a SIGEV_THREAD socket hears NOTIFY_REMOVED).
 */
const sysMqNotify: SyscallFn = (t, a) => {
  const sevAddr = a.pointer(1);
  let reg: Omit<MqNotify, "tgid"> | null = null;
  if (sevAddr !== 0) {
    const v = new DataView(t.copyIn(sevAddr, 64).buffer);
    const value = v.getBigUint64(0, true), signo = v.getInt32(8, true), how = v.getInt32(12, true);
    if (how !== SIGEV_SIGNAL && how !== SIGEV_NONE && how !== SIGEV_THREAD) throw EINVAL;
    if (how === SIGEV_SIGNAL && (signo < 1 || signo > 64)) throw EINVAL;
    reg = { how, signo, value };
    if (how === SIGEV_THREAD) {
      const cookie = t.copyIn(Number(BigInt.asUintN(64, value) & 0xffff_ffff_ffffn), NOTIFY_COOKIE_LEN).slice();
      // netlink_getsockbyfd
      const f = t.fdTable.get(signo);
      if (!(f instanceof SocketFile)) throw ENOTSOCK;
      const sock = f as unknown as { family: number; deliverFromKernel?: (d: Uint8Array) => void };
      if (sock.family !== AF_NETLINK || sock.deliverFromKernel === undefined) throw EINVAL;
      reg.thread = { sock: sock as { deliverFromKernel(d: Uint8Array): void }, cookie };
    }
  }
  const q = queueFile(t, a.fd(0)).queue;
  if (reg === null) {
    if (q.notify !== null && q.notify.tgid === t.tg.tgid) {
      const n = q.notify;
      q.notify = null;
      if (n.thread !== undefined) threadNotify(n, NOTIFY_REMOVED);
    }
    return 0;
  }
  if (q.notify !== null && t.kernel.tasks.get(q.notify.tgid)?.tg.zombie === false) throw EBUSY;
  q.notify = { tgid: t.tg.tgid, ...reg };
  return 0;
};

/** Implements mq_getsetattr(2): only O_NONBLOCK of mq_flags can change. */
const sysMqGetsetattr: SyscallFn = (t, a) => {
  const newAddr = a.pointer(1), oldAddr = a.pointer(2);
  const next = newAddr !== 0 ? readAttr(t, newAddr) : null;
  if (next !== null && (next[0]! & ~BigInt(O_NONBLOCK)) !== 0n) throw EINVAL;
  const f = queueFile(t, a.fd(0));
  const q = f.queue;
  if (oldAddr !== 0) {
    const b = new Uint8Array(64);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, BigInt(f.flags & O_NONBLOCK), true);
    v.setBigInt64(8, BigInt(q.maxmsg), true);
    v.setBigInt64(16, BigInt(q.msgsize), true);
    v.setBigInt64(24, BigInt(q.messages.length), true);
    t.copyOut(oldAddr, b);
  }
  if (next !== null) f.flags = (f.flags & ~O_NONBLOCK) | (Number(next[0]) & O_NONBLOCK);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  240: supported("mq_open", sysMqOpen),
  241: supported("mq_unlink", sysMqUnlink),
  242: supported("mq_timedsend", sysMqTimedsend),
  243: supported("mq_timedreceive", sysMqTimedreceive),
  244: supported("mq_notify", sysMqNotify),
  245: supported("mq_getsetattr", sysMqGetsetattr),
};
