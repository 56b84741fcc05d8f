/**
 * memfd_create(2) files, backed by a host memfd that only the sentry holds: reads and writes go
 * to it with pread/pwrite, and mmap maps it directly ({@linkcode MemFd.hostFdForMmap}), so a
 * MAP_SHARED mapping is coherent with read/write and between processes.
 *
 * Seals (F_ADD_SEALS, F_GET_SEALS) are the host memfd's own: the host enforces them on every
 * write, truncate and mapping the sentry makes for the application, with Linux's errors
 * (EPERM, EBUSY), because it is Linux.
 *
 * The file is at `/memfd:NAME (deleted)` as /proc/PID/fd shows it; it is in no directory.
 *
 * @module
 */

import { TMPFS_MAGIC } from "../abi/linux/file.ts";
import { EINVAL, EPERM, errnoFromNumber } from "../kernel/errno.ts";
import { O_APPEND, O_LARGEFILE, O_RDWR, S_IFREG, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET } from "../abi/linux/file.ts";
import * as ffi from "../platform/ptrace/_ffi.ts";
import { FileDescription, type Stat } from "./file_description.ts";
import { HostStatBuffer } from "./hostfs/host_stat.ts";
import { hostFds } from "./host_fds.ts";

export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
/** memfd_create's name limit in bytes, NUL excluded: NAME_MAX less the "memfd:" prefix. */
export const MFD_NAME_MAX_LEN = 249;

export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;

let nextIno = 1;

/**
 * @nosave The file behind one or more MemFd descriptions (memfd_create makes one; opening
 * /proc/PID/fd/N of it makes another, as Linux opens the same shmem inode anew). The host
 * memfd is closed with the last description.
 */
class MemfdInode {
  /** The name given to memfd_create (set once, after the host file exists). */
  name = "";
  readonly ino = nextIno++;
  readonly createdNs = BigInt(Date.now()) * 1_000_000n;
  /** Descriptions that hold it. */
  refs = 1;
  /** Immutable. The host memfd. */
  readonly fd: number;

  constructor(fd: number) {
    this.fd = fd;
  }
}

/**
 * @savable A memfd. The host descriptor is host-bound: a checkpoint must save the contents
 * and a restore recreate it.
 */
export class MemFd extends FileDescription {
  /** Linux keeps memfds on its internal tmpfs mount. */
  override get pseudoFsType(): number {
    return TMPFS_MAGIC;
  }

  /** @nosave Immutable. Shared with the descriptions reopened from this one. */
  readonly #inode: MemfdInode;
  /** @nosave Immutable. */
  readonly #fd: number;

  private constructor(inode: MemfdInode, flags: number) {
    super(flags);
    this.#inode = inode;
    this.#fd = inode.fd;
  }

  /** The name given to memfd_create. */
  get name(): string {
    return this.#inode.name;
  }

  set name(v: string) {
    this.#inode.name = v;
  }

  get ino(): number {
    return this.#inode.ino;
  }

  /** Other descriptions share this file (it was opened again through /proc/PID/fd). */
  get reopened(): boolean {
    return this.#inode.refs > 1;
  }

  /**
   * Creates the host memfd. `flags` are memfd_create's: the host checks them (so unknown flags
   * are EINVAL exactly as on this kernel); MFD_CLOEXEC is the descriptor's business, not the
   * host file's.
   */
  static create(flags: number): MemFd {
    const fd = hostFds.open(() => ffi.hostMemfdCreate(flags & ~MFD_CLOEXEC));
    if (fd < 0) throw errnoFromNumber(-fd);
    return new MemFd(new MemfdInode(fd), O_RDWR | O_LARGEFILE);
  }

  /**
   * An open of /proc/PID/fd/N that leads to this memfd, with the description flags open(2)
   * keeps: a new description of the same file, with its own offset and access mode.
   */
  reopen(flags: number): MemFd {
    this.#inode.refs++;
    return new MemFd(this.#inode, flags);
  }

  path(): string {
    return `/memfd:${this.name} (deleted)`;
  }

  #size(): number {
    const st = new HostStatBuffer();
    const r = ffi.hostFstat(this.#fd, st.bytes);
    if (r < 0) throw errnoFromNumber(-r);
    return st.size;
  }

  stat(): Stat {
    const t = this.#inode.createdNs;
    const size = this.#size();
    return {
      dev: 0x1, ino: this.ino, mode: S_IFREG | 0o777, nlink: 0, uid: 0, gid: 0, rdev: 0, size,
      blksize: 4096, blocks: Math.ceil(size / 512), atimeNs: t, mtimeNs: t, ctimeNs: t,
    };
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const at = offset ?? this.offset;
    const n = ffi.hostPread(this.#fd, dst, at);
    if (n < 0) throw errnoFromNumber(-n);
    if (offset === null) this.offset += n;
    return n;
  }

  override write(src: Uint8Array, offset: number | null): number {
    const at = offset ?? ((this.flags & O_APPEND) ? this.#size() : this.offset);
    const n = ffi.hostPwrite(this.#fd, src, at);
    if (n < 0) throw errnoFromNumber(-n);
    if (offset === null) this.offset = at + n;
    return n;
  }

  override seek(offset: number, whence: number): number {
    let base: number;
    switch (whence) {
      case SEEK_SET:
        base = 0;
        break;
      case SEEK_CUR:
        base = this.offset;
        break;
      case SEEK_END:
        base = this.#size();
        break;
      case SEEK_DATA:
      case SEEK_HOLE: {
        // The host memfd (shmem) knows the holes.
        const r = ffi.hostLseek(this.#fd, offset, whence);
        if (r < 0) throw errnoFromNumber(-r);
        return (this.offset = r);
      }
      default:
        throw EINVAL;
    }
    const pos = base + offset;
    if (pos < 0) throw EINVAL;
    return (this.offset = pos);
  }

  /** ftruncate(2); a bigint length is exact past 2^53 (up to tmpfs's MAX_LFS_FILESIZE, 2^63 - 1). */
  truncate(len: number | bigint): void {
    if (len < 0) throw EINVAL;
    const r = ffi.hostFtruncate(this.#fd, len);
    if (r < 0) throw errnoFromNumber(-r);
  }

  /** fallocate(2): the host memfd reserves, extends or punches (and applies the seals: EPERM). */
  override allocate(mode: number, off: number, len: number): void {
    const r = ffi.hostFallocate(this.#fd, mode, off, len);
    if (r < 0) throw errnoFromNumber(-r);
  }

  /** F_ADD_SEALS: EPERM unless opened for writing, as Linux's memfd_add_seals. */
  addSeals(seals: number): number {
    if (!this.writable) throw EPERM;
    const r = ffi.hostFcntl(this.#fd, F_ADD_SEALS, seals >>> 0);
    if (r < 0) throw errnoFromNumber(-r);
    return 0;
  }

  /** F_GET_SEALS. */
  getSeals(): number {
    const r = ffi.hostFcntl(this.#fd, F_GET_SEALS, 0);
    if (r < 0) throw errnoFromNumber(-r);
    return r;
  }

  override get shmem(): boolean {
    return true;
  }

  override hostFdForMmap(): number {
    return this.#fd;
  }

  protected override release(): void {
    if (--this.#inode.refs === 0) hostFds.close(this.#fd);
  }
}
