/**
 * Open file descriptions: what a file descriptor refers to. Analogous to Linux's struct file
 * and gVisor's vfs.FileDescription. Shared between descriptors (dup) and processes (fork), so
 * reference-counted: the last decRef() releases the implementation.
 *
 * The contract every implementation keeps:
 * - Every operation is synchronous and never blocks the sentry. An operation that would block
 *   throws EAGAIN (EWOULDBLOCK); the syscall layer then waits on {@linkcode waitQueue} for the
 *   events it needs (unless O_NONBLOCK) and runs the syscall again. No Promise is ever pending
 *   inside a file operation that a checkpoint would have to save.
 * - Errors are thrown as LinuxError singletons from kernel/errno.ts.
 * - Offsets: `offset` null means "the file's own offset, advanced"; a number means pread/pwrite.
 *
 * @module
 */

import { EBADF, EINVAL, ENOTDIR, ENOTTY, EOPNOTSUPP, ESPIPE, LinuxError } from "../kernel/errno.ts";
import { O_ACCMODE, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, PIPEFS_MAGIC, S_IFBLK, S_IFDIR, S_IFMT, S_IFREG } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_OUT, WaitQueue } from "../waiter/mod.ts";
import type { Waitable, Waker } from "../waiter/mod.ts";
import type { Location } from "./mount.ts";
import type { Credentials } from "../kernel/creds.ts";
import type { TimeSpec } from "./vfs.ts";
import { fsnotifyClose } from "./fsnotify.ts";
import type { InodeUse } from "./inode_use.ts";

/** What stat(2) reports, independent of the struct layout. Times in nanoseconds since the epoch. */
export interface Stat {
  dev: number;
  ino: number;
  mode: number; // file type and permission bits
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  btimeNs?: bigint;
  /** statx's stx_attributes (STATX_ATTR_*: the inode flags a filesystem reports), and which it can report. */
  attributes?: number;
  attributesMask?: number;
}

/** One entry of a directory listing. */
export interface DirEntry {
  name: string;
  ino: number;
  /** DT_* value. */
  type: number;
}

/**
 * Told when a description's last reference goes: epoll drops its registrations, flock and OFD
 * locks are released (vfs/epoll.ts, vfs/lock.ts). Plain objects, so that a checkpoint saves
 * them with the description.
 */
export interface FileWatcher {
  /** The last reference to f went (after f's own release()). */
  fileReleased(f: FileDescription): void;
}

/**
 * Whom O_ASYNC signals (F_SETOWN, F_SETOWN_EX): a thread, a process or a process group, and the
 * ids of who set it (the signal permission check uses them).
 */
export interface FileOwner {
  readonly type: "tid" | "pid" | "pgrp";
  readonly id: number;
  readonly uid: number;
  readonly euid: number;
}

/** An open file description. Subclasses override what their file type supports. */
export abstract class FileDescription implements Waitable {
  /** Access mode and status flags (O_APPEND, O_NONBLOCK, ...), as F_GETFL reports them. */
  flags: number;
  /** The file's own offset, for read/write/lseek without an explicit offset. */
  offset = 0;
  /**
   * The Landlock rights denied to the file when it was opened (Linux keeps the rights a file was
   * opened with): FS_TRUNCATE makes ftruncate(2) EACCES, FS_IOCTL_DEV most ioctls of a device.
   * Set only under a Landlock domain, which a checkpoint refuses.
   */
  landlockDenied = 0;
  #refs = 1;
  /**
   * Opened by an application's open(2) (vfs/fsnotify.ts): its close is an inotify event. A
   * filesystem's inner descriptions (an overlay's upper file) stay silent, as Linux's
   * FMODE_NONOTIFY.
   */
  notifies = false;
  /**
   * The credentials of the open(2) that made this description (Linux's f_cred), compared by
   * identity: linkat(AT_EMPTY_PATH) needs no CAP_DAC_READ_SEARCH from the same credentials.
   */
  openerCreds: Credentials | null = null;
  /**
   * The open counts of the regular file this description was opened on (vfs/inode_use.ts),
   * counted from its open by the VFS to its release; null for other files.
   */
  inodeUse: InodeUse | null = null;
  /** This description's open(2) created the file (Linux's FMODE_CREATED, fcntl F_CREATED_QUERY). */
  created = false;
  /**
   * F_SETOWN's target and F_SETSIG's signal (Linux's f_owner), and the O_ASYNC registration on
   * the wait queue (kernel/file_async.ts); the registration ends with the description.
   */
  owner: FileOwner | null = null;
  sigioSignal = 0;
  asyncWaker: Waker | null = null;
  /** Notified when readiness may have changed; shared by descriptions of one object (a pipe). */
  readonly waitQueue: WaitQueue;

  constructor(flags: number, waitQueue: WaitQueue = new WaitQueue()) {
    this.flags = flags;
    this.waitQueue = waitQueue;
  }

  /**
   * Whether O_ASYNC makes this file signal its owner (Linux's f_op->fasync): pipes, FIFOs,
   * sockets and terminals do; FIOASYNC on others is ENOTTY.
   */
  get supportsAsync(): boolean {
    return false;
  }

  /**
   * For a device that never touches the caller's buffer (Linux's read_null): what a read
   * returns without one; null for files that fill the buffer.
   */
  readWithoutData(): number | null {
    return null;
  }

  /**
   * For a device that never reads the caller's buffer (Linux's write_null, write_full): what a
   * write of `len` bytes returns (or throws) without reading it; null for files that use it.
   */
  writeWithoutData(_len: number): number | null {
    return null;
  }

  /** False for O_PATH descriptions, whatever the access mode bits say. */
  get readable(): boolean {
    const m = this.flags & O_ACCMODE;
    return (m === O_RDONLY || m === O_RDWR) && (this.flags & O_PATH) === 0;
  }

  get writable(): boolean {
    const m = this.flags & O_ACCMODE;
    return (m === O_WRONLY || m === O_RDWR) && (this.flags & O_PATH) === 0;
  }

  incRef(): this {
    this.#refs++;
    return this;
  }

  /** How many holders the description has (descriptors, mappings, the kernel's own). */
  get references(): number {
    return this.#refs;
  }

  decRef(): void {
    if (--this.#refs !== 0) return;
    if (this.asyncWaker !== null) {
      this.waitQueue.unregister(this.asyncWaker);
      this.asyncWaker = null;
    }
    fsnotifyClose(this);
    this.release();
    const ws = this.watchers;
    if (ws !== null) {
      this.watchers = null;
      for (const w of ws) w.fileReleased(this);
    }
  }

  /** Who must hear of the release; null (the common case) costs one check. */
  watchers: FileWatcher[] | null = null;

  addWatcher(w: FileWatcher): void {
    if (this.watchers === null) this.watchers = [w];
    else if (!this.watchers.includes(w)) this.watchers.push(w);
  }

  removeWatcher(w: FileWatcher): void {
    const ws = this.watchers;
    if (ws === null) return;
    const i = ws.indexOf(w);
    if (i >= 0) ws.splice(i, 1);
    if (ws.length === 0) this.watchers = null;
  }

  /** Called once, when the last reference goes. */
  protected release(): void {}

  /** Lines /proc/PID/fdinfo/N adds after the common ones (Linux's show_fdinfo); "" for most files. */
  fdinfoExtra(): string {
    return "";
  }

  /** The path this description was opened by, as /proc/PID/fd shows it. */
  abstract path(): string;

  /**
   * Where this file is in the tree, for fchdir(2) and dirfd-relative *at(2) calls; null for
   * files that are not in the tree (pipes, sockets, host stdio).
   */
  location(): Location | null {
    return null;
  }

  read(_dst: Uint8Array, _offset: number | null): number {
    throw EINVAL;
  }

  write(_src: Uint8Array, _offset: number | null): number {
    throw EINVAL;
  }

  /** lseek(2): returns the new offset. */
  seek(_offset: number, _whence: number): number {
    throw ESPIPE;
  }

  abstract stat(): Stat;

  /**
   * fchmod(2) of a file outside the tree (location() is null): changes the inode behind it where
   * it has one of its own (a socket's); the default changes nothing.
   */
  chmodOutsideTree(_creds: Credentials, _mode: number): void {}

  /** fchown(2) of a file outside the tree (-1 leaves an id), as {@linkcode chmodOutsideTree}. */
  chownOutsideTree(_creds: Credentials, _uid: number, _gid: number): void {}

  /**
   * statfs(2)'s f_type of a file outside the tree: the pseudo filesystem its inode is on
   * (pipefs unless the file says otherwise).
   */
  get pseudoFsType(): number {
    return PIPEFS_MAGIC;
  }

  /**
   * futimens(2) of a file outside the tree (both times "omit" never come here): changes the
   * times of the inode behind it where it keeps its own (a pipe's, a socket's); the default
   * changes nothing.
   */
  touchOutsideTree(_creds: Credentials, _atime: TimeSpec, _mtime: TimeSpec): void {}

  /**
   * Directory entries from position `cookie` on, at most until `accept` returns false (the
   * caller's buffer is full). Returns the cookie to continue from. Files that are not
   * directories throw ENOTDIR.
   */
  readdir(_cookie: number, _accept: (e: DirEntry, next: number) => boolean): number {
    throw ENOTDIR;
  }

  /** ioctl(2). `io` reads and writes the caller's memory. */
  ioctl(_cmd: number, _arg: number, _io: MemoryIO): number {
    throw ENOTTY;
  }

  readiness(mask: number): number {
    return mask & (EVENT_IN | EVENT_OUT);
  }

  /**
   * Whether epoll_ctl accepts the file (EPERM otherwise): Linux refuses files without a poll
   * operation, which regular files, directories and block devices (def_blk_fops) lack; a file
   * that has one overrides this.
   */
  get epollable(): boolean {
    const type = this.stat().mode & S_IFMT;
    return type !== S_IFREG && type !== S_IFDIR && type !== S_IFBLK;
  }

  /**
   * fallocate(2) on a regular file (the syscall layer has validated mode, range and access):
   * EOPNOTSUPP unless the file's filesystem supports it.
   */
  allocate(_mode: number, _off: number, _len: number): void {
    throw EOPNOTSUPP;
  }

  /**
   * For large reads: up to len bytes of the file at offset (the file's own offset when null,
   * advanced by what is returned) as a view of memory the file already holds, so the caller
   * copies them to the application in one step instead of reading them into a buffer first.
   * The view is valid until the next operation on this description. Null when the file has no
   * such memory (the caller uses read()); an empty view at the end of the file.
   */
  mappedRead(_len: number, _offset: number | null): Uint8Array | null {
    return null;
  }

  /** fsync(2)/fdatasync(2): push the data to stable storage where there is any (host files). */
  sync(): void {}

  /**
   * For a file whose mapping is memory another file holds (an io_uring's rings, kernel/io_uring.ts):
   * that file and the offset in it of a mapping of len bytes at `offset`; null maps this file
   * itself; `name` is what /proc/PID/maps shows for the mapping. Throws what mmap then fails
   * with (EINVAL for an offset it has nothing at).
   */
  mmapTarget(_offset: number, _len: number): { file: FileDescription; offset: number; name?: string } | null {
    return null;
  }

  /** A host descriptor whose contents mmap can map directly, or null (copy instead). */
  hostFdForMmap(): number | null {
    return null;
  }

  /**
   * For a file whose pages a mapping's first touch must charge against a size limit (a tmpfs
   * mounted with size=: Linux's shmem_fault allocates, and is SIGBUS when the limit is
   * reached): what a fault at page index pg finds. null when nothing is charged.
   */
  mappedPageCharge(): MappedPageCharge | null {
    return null;
  }

  /**
   * ftruncate(2) of a file in no directory that keeps its own size (secret memory, vfs/secretmem.ts):
   * true once done; false for a file without one (the tree's rules apply).
   */
  truncateOutsideTree(_len: bigint): boolean {
    return false;
  }

  /**
   * memfd_secret(2)'s memory (Linux's vma_is_secretmem for a mapping of it): mapped shared and
   * locked only, out of every other process's reach (process_vm_*, ptrace's memory access).
   */
  get secretMemory(): boolean {
    return false;
  }

  /** Linux's vma_is_shmem for a mapping of this file: a memfd or a tmpfs file (userfaultfd's minor mode). */
  get shmem(): boolean {
    return false;
  }

  /**
   * Linux's FMODE_NOWAIT: whether preadv2/pwritev2 take RWF_NOWAIT (EOPNOTSUPP otherwise). The
   * call then runs with O_NONBLOCK set, so a regular file that honours it can tell.
   */
  get supportsNowait(): boolean {
    return true;
  }

  /**
   * Whether splice(2) may read from or write into this file (Linux's f_op->splice_read and
   * splice_write): a file without them is EINVAL before any data moves.
   */
  get spliceable(): boolean {
    return true;
  }

  /** For sockets, pipes, etc.: true if this is not seekable. */
  get isStream(): boolean {
    return false;
  }

  /**
   * True for files that keep message boundaries (datagram and seqpacket sockets): readv and
   * writev then move one message with one read() or write() of the whole gathered length,
   * never one per iovec.
   */
  get messageOriented(): boolean {
    return false;
  }
}

/** See FileDescription.mappedPageCharge. */
export interface MappedPageCharge {
  /** Page pg is allocated to the file already (a touch there costs nothing). */
  allocated(pg: number): boolean;
  /** Allocates page pg for a mapping's touch; false when the limit has no room (SIGBUS). */
  charge(pg: number): boolean;
}

/** Access to the calling task's memory, for ioctl and friends. Throws EFAULT. */
export interface MemoryIO {
  copyIn(addr: number, len: number): Uint8Array;
  copyOut(addr: number, data: Uint8Array): void;
}

/**
 * read(2) of a file whose whole contents are `data` (rendered for this read, as a seq_file's
 * show): from `offset`, or from f's own offset, which it advances, when offset is null. The
 * caller refused a negative offset before rendering.
 */
export function readContents(f: FileDescription, dst: Uint8Array, offset: number | null, data: Uint8Array): number {
  const off = offset ?? f.offset;
  if (off >= data.length) return 0;
  const n = Math.min(dst.length, data.length - off);
  dst.set(data.subarray(off, off + n));
  if (offset === null) f.offset += n;
  return n;
}

export function checkReadable(f: FileDescription): void {
  if (!f.readable) throw EBADF;
}

export function checkWritable(f: FileDescription): void {
  if (!f.writable) throw EBADF;
}

export { LinuxError };
