/**
 * POSIX message queues as files of the mqueue filesystem, as Linux's ipc/mqueue.c: one instance
 * per IPC namespace (kernel/ipc.ts), whose root holds one file per queue. mq_open(3) and
 * mq_unlink(3) name queues in it (kernel/syscalls/linux/sys_mqueue.ts); `mount -t mqueue`
 * shows the same instance, where open(2) of a queue reads its status line, creat(2) makes a
 * queue with the default attributes and unlink(2) removes one.
 *
 * A queue keeps its messages by priority, highest first, in arrival order within one; a
 * description of it is ready for reading when a message waits and for writing while it is not
 * full. mq_notify's registration is here; the syscalls deliver it.
 *
 * @module
 */

import { EEXIST, EINVAL, ENAMETOOLONG, ENOSPC, EPERM } from "../kernel/errno.ts";
import { S_IFDIR, S_IFMT, S_IFREG } from "../abi/linux/file.ts";
import { Dentry, type Filesystem, type FsStat, type NewFile, type SetAttr } from "./dentry.ts";
import type { DirEntry, FileDescription, Stat } from "./file_description.ts";
import { LocatedFile } from "./located_file.ts";
import type { Location, Mount } from "./mount.ts";
import { EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM, WaitQueue } from "../waiter/mod.ts";
import { nowNs } from "./tmpfs/tmpfs.ts";
import type { UserNamespace } from "../kernel/user_namespace.ts";

export const MQUEUE_MAGIC = 0x19800202;
/** Linux's defaults: /proc/sys/fs/mqueue/msg_default, msgsize_default, and their maxima. */
export const MQ_DFLT_MAXMSG = 10, MQ_DFLT_MSGSIZE = 8192;
export const MQ_MSG_MAX = 10, MQ_MSGSIZE_MAX = 8192;
export const MQ_HARD_MSGMAX = 65536, MQ_HARD_MSGSIZEMAX = 16 * 1024 * 1024;
/** /proc/sys/fs/mqueue/queues_max. */
export const MQ_QUEUES_MAX = 256;
const NAME_MAX = 255;
/** What stat reports as a queue file's size (Linux's FILENT_SIZE). */
const FILENT_SIZE = 80;
let nextDev = 0x1800;

/** mq_notify's registration: who is told, and how, when a message comes to an empty queue. */
export interface MqNotify {
  /** The registering process (its tgid): only it may remove the registration. */
  tgid: number;
  /** SIGEV_SIGNAL (0), SIGEV_NONE (1) or SIGEV_THREAD (2). */
  how: number;
  signo: number;
  value: bigint;
  /**
   * SIGEV_THREAD: the netlink socket told, and the 32-byte cookie it gets (its last byte set to
   * NOTIFY_WOKENUP or NOTIFY_REMOVED), as Linux's notify_sock and notify_cookie.
   */
  thread?: { sock: { deliverFromKernel(data: Uint8Array): void }; cookie: Uint8Array };
}

/** @savable (kernel/checkpoint/ipc.ts) One message queue. */
export class MessageQueue {
  /** Immutable. */
  readonly maxmsg: number;
  /** Immutable. */
  readonly msgsize: number;
  /** Highest priority first; arrival order within a priority. */
  readonly messages: { prio: number; data: Uint8Array }[] = [];
  /** Bytes queued (QSIZE). */
  bytes = 0;
  /** Notified when a message comes or goes (readiness, and sleepers in send and receive). */
  readonly queue = new WaitQueue();
  notify: MqNotify | null = null;
  /**
   * The sleep states of receivers asleep in mq_timedreceive (a message for one of them notifies
   * nobody); stale ones (an interrupted call) are told apart by the syscalls.
   */
  readonly receivers = new Set<unknown>();
  /**
   * Whom its bytes count for, RLIMIT_MSGQUEUE's user (the creator's real uid in its user
   * namespace, Linux's info->ucounts): set by mq_open (kernel/syscalls/linux/sys_mqueue.ts), null
   * for a queue creat(2) made in an mqueue mount, which no task's limit is checked for here.
   */
  charge: readonly [ns: UserNamespace, uid: number] | null = null;

  constructor(maxmsg: number, msgsize: number) {
    this.maxmsg = maxmsg;
    this.msgsize = msgsize;
  }

  get full(): boolean {
    return this.messages.length >= this.maxmsg;
  }

  /**
   * What it holds of its user's RLIMIT_MSGQUEUE: its messages' room and the kernel's bookkeeping
   * for each (a struct msg_msg per message, a posix_msg_tree_node per possible priority, 48 bytes
   * each on x86-64), as mqueue_get_inode's mq_bytes.
   */
  get chargedBytes(): number {
    return this.maxmsg * this.msgsize + this.maxmsg * 48 + Math.min(this.maxmsg, 32768) * 48;
  }

  /** Adds a message after those of its priority and above. */
  push(prio: number, data: Uint8Array): void {
    let i = this.messages.length;
    while (i > 0 && this.messages[i - 1]!.prio < prio) i--;
    this.messages.splice(i, 0, { prio, data });
    this.bytes += data.length;
    this.queue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /** Takes the first message (the caller checked there is one). */
  shift(): { prio: number; data: Uint8Array } {
    const m = this.messages.shift()!;
    this.bytes -= m.data.length;
    this.queue.notify(EVENT_OUT | EVENT_WRNORM);
    return m;
  }

  /** The status line a read of the queue file gives (Linux's mqueue_read_file). */
  status(): string {
    const n = this.notify;
    const pad = (v: number, w: number) => String(v).padEnd(w, " ");
    return `QSIZE:${pad(this.bytes, 10)} NOTIFY:${pad(n !== null ? n.how : 0, 5)} ` +
      `SIGNO:${pad(n !== null && n.how === 0 ? n.signo : 0, 5)} NOTIFY_PID:${pad(n !== null ? n.tgid : 0, 6)}\n`;
  }
}

/** Attributes shared by the root and the queue files. */
export interface MqueueAttrs {
  mode: number;
  uid: number;
  gid: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

function attrsNow(mode: number, uid: number, gid: number): MqueueAttrs {
  const now = nowNs();
  return { mode, uid, gid, atimeNs: now, mtimeNs: now, ctimeNs: now };
}

function applySetAttr(a: MqueueAttrs, s: SetAttr): void {
  if (s.size !== undefined) throw EINVAL;
  if (s.mode !== undefined) a.mode = (a.mode & S_IFMT) | (s.mode & 0o7777);
  if (s.uid !== undefined) a.uid = s.uid;
  if (s.gid !== undefined) a.gid = s.gid;
  if (s.atimeNs !== undefined) a.atimeNs = s.atimeNs;
  if (s.mtimeNs !== undefined) a.mtimeNs = s.mtimeNs;
  a.ctimeNs = nowNs();
}

/** @savable (kernel/checkpoint/ipc.ts) The mqueue filesystem of one IPC namespace. */
export class MqueueFilesystem implements Filesystem {
  readonly name = "mqueue";
  readonly readonly = false;
  readonly root: MqueueRoot;
  /** Immutable. */
  readonly dev = nextDev++;
  /** The namespace's own mount of it, through which mq_open's descriptors see their queue. */
  internalMount: Mount | null = null;
  /**
   * RLIMIT_MSGQUEUE's charge of a queue creat(2) makes in a mount of it, for the creating task
   * (mqueue_create's mqueue_get_inode): set by the kernel when it mounts the filesystem.
   */
  chargeNew: ((q: MessageQueue) => void) | null = null;
  #nextIno = 2;

  constructor() {
    this.root = new MqueueRoot(this);
  }

  newIno(): number {
    return this.#nextIno++;
  }

  statfs(): FsStat {
    return { type: MQUEUE_MAGIC, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: NAME_MAX };
  }

  release(): void {}
}

/** @savable (kernel/checkpoint/ipc.ts) The directory of the queues. */
export class MqueueRoot extends Dentry {
  readonly #fs: MqueueFilesystem;
  readonly #attrs = attrsNow(S_IFDIR | 0o1777, 0, 0);
  readonly queues = new Map<string, MqueueFile>();

  constructor(fs: MqueueFilesystem) {
    super(null, "");
    this.#fs = fs;
  }

  get fs(): MqueueFilesystem {
    return this.#fs;
  }

  get mode(): number {
    return this.#attrs.mode;
  }

  get uid(): number {
    return this.#attrs.uid;
  }

  get gid(): number {
    return this.#attrs.gid;
  }

  get ino(): number {
    return 1;
  }

  stat(): Stat {
    const a = this.#attrs;
    return {
      dev: this.#fs.dev, ino: 1, mode: a.mode, nlink: 2, uid: a.uid, gid: a.gid, rdev: 0,
      size: FILENT_SIZE * this.queues.size, blksize: 4096, blocks: 0, atimeNs: a.atimeNs, mtimeNs: a.mtimeNs,
      ctimeNs: a.ctimeNs,
    };
  }

  lookup(name: string): MqueueFile | null {
    if (name.length > NAME_MAX) throw ENAMETOOLONG;
    return this.queues.get(name) ?? null;
  }

  children(): DirEntry[] {
    return [...this.queues].map(([name, q]) => ({ name, ino: q.ino, type: 8 /* DT_REG */ }));
  }

  /**
   * Makes a queue called name with the given attributes (default ones for creat(2) in a
   * mount); ENOSPC past queues_max unless the caller may (CAP_SYS_RESOURCE: `anyCount`), then
   * `charge` (RLIMIT_MSGQUEUE's EMFILE) before anything is made.
   */
  makeQueue(name: string, attrs: NewFile, q: MessageQueue, anyCount = false, charge?: () => void): MqueueFile {
    if (this.queues.has(name)) throw EEXIST;
    if (this.queues.size >= MQ_QUEUES_MAX && !anyCount) throw ENOSPC;
    charge?.();
    const f = new MqueueFile(this, name, q, attrsNow(S_IFREG | (attrs.mode & 0o7777), attrs.uid, attrs.gid));
    this.queues.set(name, f);
    this.#attrs.mtimeNs = this.#attrs.ctimeNs = nowNs();
    return f;
  }

  override create(name: string, attrs: NewFile): Dentry {
    const q = new MessageQueue(MQ_DFLT_MAXMSG, MQ_DFLT_MSGSIZE);
    const charge = this.#fs.chargeNew;
    return this.makeQueue(name, attrs, q, false, charge === null ? undefined : () => charge(q));
  }

  override unlink(name: string, child: Dentry): void {
    if (this.queues.get(name) !== child) return;
    this.queues.delete(name);
    this.#attrs.mtimeNs = this.#attrs.ctimeNs = nowNs();
  }

  override mkdir(): Dentry {
    throw EPERM;
  }

  override mknod(): Dentry {
    throw EPERM;
  }

  override symlink(): Dentry {
    throw EPERM;
  }

  override link(): Dentry {
    throw EPERM;
  }

  override setattr(a: SetAttr): void {
    applySetAttr(this.#attrs, a);
  }

  /** Its attributes, as a checkpoint saves them (kernel/checkpoint/ipc.ts). */
  get attrs(): Readonly<MqueueAttrs> {
    return this.#attrs;
  }

  /** Sets its attributes to a checkpoint's (the permission bits of a.mode; the type stays). */
  restoreAttrs(a: MqueueAttrs): void {
    Object.assign(this.#attrs, { ...a, mode: (this.#attrs.mode & S_IFMT) | (a.mode & 0o7777) });
  }
}

/** @savable (kernel/checkpoint/ipc.ts) One queue's file. */
export class MqueueFile extends Dentry {
  readonly #root: MqueueRoot;
  readonly #ino: number;
  readonly #attrs: MqueueAttrs;
  /** Immutable. */
  readonly queue: MessageQueue;

  constructor(root: MqueueRoot, name: string, queue: MessageQueue, attrs: MqueueAttrs) {
    super(root, name);
    this.#root = root;
    this.#ino = root.fs.newIno();
    this.#attrs = attrs;
    this.queue = queue;
  }

  get fs(): MqueueFilesystem {
    return this.#root.fs;
  }

  get mode(): number {
    return this.#attrs.mode;
  }

  get uid(): number {
    return this.#attrs.uid;
  }

  get gid(): number {
    return this.#attrs.gid;
  }

  get ino(): number {
    return this.#ino;
  }

  stat(): Stat {
    const a = this.#attrs;
    return {
      dev: this.#root.fs.dev, ino: this.#ino, mode: a.mode, nlink: 1, uid: a.uid, gid: a.gid, rdev: 0,
      size: FILENT_SIZE, blksize: 4096, blocks: 0, atimeNs: a.atimeNs, mtimeNs: a.mtimeNs, ctimeNs: a.ctimeNs,
    };
  }

  lookup(): Dentry | null {
    return null;
  }

  children(): DirEntry[] {
    return [];
  }

  override open(loc: Location, flags: number): FileDescription {
    return new MqueueDescription(loc, flags, this);
  }

  override setattr(a: SetAttr): void {
    applySetAttr(this.#attrs, a);
  }

  /** A send or receive changed the queue: mtime and ctime, as Linux's. */
  touch(): void {
    this.#attrs.mtimeNs = this.#attrs.ctimeNs = nowNs();
  }

  /** A read of the status line: atime. */
  touchAtime(): void {
    this.#attrs.atimeNs = nowNs();
  }

  /** Its attributes, as a checkpoint saves them (kernel/checkpoint/ipc.ts). */
  get attrs(): Readonly<MqueueAttrs> {
    return this.#attrs;
  }

  /** Sets its attributes to a checkpoint's (the permission bits of a.mode; the type stays). */
  restoreAttrs(a: MqueueAttrs): void {
    Object.assign(this.#attrs, { ...a, mode: (this.#attrs.mode & S_IFMT) | (a.mode & 0o7777) });
  }
}

/**
 * @savable (kernel/checkpoint/ipc.ts) An open queue: mq_open's descriptor, or open(2) of a queue file in an mqueue
 * mount. read(2) gives the status line (the position moves on, as a file); write(2) is EINVAL.
 */
export class MqueueDescription extends LocatedFile {
  /** Immutable. */
  readonly file: MqueueFile;

  /** mqueue_file_operations has no splice operations. */
  override get spliceable(): boolean {
    return false;
  }

  constructor(loc: Location, flags: number, file: MqueueFile) {
    super(loc, flags, file.queue.queue);
    this.file = file;
  }

  get queue(): MessageQueue {
    return this.file.queue;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    const text = new TextEncoder().encode(this.queue.status());
    const n = Math.max(Math.min(dst.length, text.length - off), 0);
    dst.set(text.subarray(off, off + n));
    if (offset === null) this.offset += n;
    this.file.touchAtime();
    return n;
  }

  override write(): number {
    throw EINVAL;
  }

  override readiness(mask: number): number {
    const q = this.queue;
    let r = 0;
    if (q.messages.length > 0) r |= EVENT_IN | EVENT_RDNORM;
    if (!q.full) r |= EVENT_OUT | EVENT_WRNORM;
    return r & mask;
  }

  override get epollable(): boolean {
    return true;
  }
}
