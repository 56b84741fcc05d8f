/**
 * hostfs: a read-only view of a host directory (the bundle's rootfs, or / for `sentry do`).
 *
 * Safety: the only host call that takes a path with more than one component is the open of the
 * root directory itself, given by boot. Every other call is relative to a descriptor the sentry
 * holds, names one component that the VFS walk produced (never "", "." or ".." and never
 * containing "/"), and never follows a symlink (AT_SYMLINK_NOFOLLOW, O_NOFOLLOW, or O_PATH with
 * O_DIRECTORY). Symlinks are read with readlinkat and resolved by the VFS walk inside the
 * sandbox's tree, so no host path outside the root is ever reached.
 *
 * Caching: like runsc with exclusive file access, the host tree is treated as unchanging while
 * the sandbox runs. Positive lookups are cached in the dentry tree along with the attributes
 * the walk checks (mode, owner, inode number) and symlink targets; so a walk through cached
 * directories makes no host call at all. stat(2) asks the host each time (sizes and times of
 * files under a shared / do change); negative lookups are not cached.
 *
 * Host descriptors: a directory dentry opens an O_PATH descriptor of itself the first time it
 * is searched, and keeps it until the filesystem is released. Regular files are opened per
 * open description.
 *
 * @module
 */

import { EACCES, ELOOP, ENOENT, ENXIO, errnoFromNumber, EINVAL, LinuxError } from "../../kernel/errno.ts";
import {
  DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN, FIONREAD, PATH_MAX, S_IFBLK,
  S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
} from "../../abi/linux/file.ts";
import * as ffi from "../../platform/ptrace/_ffi.ts";
import { Dentry, type Filesystem } from "../dentry.ts";
import { type DirEntry, FileDescription, type MemoryIO, type Stat } from "../file_description.ts";
import { LocatedFile, seekRegular } from "../located_file.ts";
import type { Location } from "../mount.ts";
import { HostStatBuffer } from "./host_stat.ts";
import { openMemoryDevice } from "../devices.ts";

const HOST_O_NOCTTY = 0o400;
const HOST_O_NONBLOCK = 0o4000;
/** Shared by every synchronous fstat/fstatat below; decoded before the next host call. */
const statBuf = new HostStatBuffer();
const linkBuf = new Uint8Array(PATH_MAX);
const direntBuf = new Uint8Array(32 * 1024);
const decoder = new TextDecoder();

/** Throws the LinuxError for a -errno result from the host. */
function hostError(r: number): LinuxError {
  return errnoFromNumber(-r);
}

/** @savable A host directory tree, read-only. */
export class HostFilesystem implements Filesystem {
  readonly name = "hostfs";
  readonly readonly = true;
  /** Immutable. The host path of the root, as boot gave it. */
  readonly hostRoot: string;
  readonly root: HostDentry;
  /** @nosave Every O_PATH directory descriptor the dentries hold, for release(). */
  readonly openDirFds = new Set<number>();

  private constructor(hostRoot: string, rootFd: number) {
    this.hostRoot = hostRoot;
    this.openDirFds.add(rootFd);
    const r = ffi.hostFstat(rootFd, statBuf.bytes);
    if (r < 0) {
      ffi.hostClose(rootFd);
      throw hostError(r);
    }
    this.root = new HostDentry(this, null, "", statBuf, rootFd);
  }

  /** Opens the host directory hostRoot as a filesystem. Throws a LinuxError (ENOENT, ENOTDIR...). */
  static open(hostRoot: string): HostFilesystem {
    const fd = ffi.hostOpen(hostRoot, ffi.O_PATH | ffi.O_DIRECTORY | ffi.O_CLOEXEC);
    if (fd < 0) throw hostError(fd);
    return new HostFilesystem(hostRoot, fd);
  }

  release(): void {
    for (const fd of this.openDirFds) ffi.hostClose(fd);
    this.openDirFds.clear();
    this.root.forget();
  }
}

/** @savable A file of the host tree. */
export class HostDentry extends Dentry {
  readonly #fs: HostFilesystem;
  readonly #mode: number;
  readonly #uid: number;
  readonly #gid: number;
  readonly #ino: number;
  /** @nosave The O_PATH descriptor of a directory, once searched; -1 before. */
  #dirFd: number;
  /** Cached children (positive lookups only). */
  #children = new Map<string, HostDentry>();
  /** Cached symlink target. */
  #target: string | null = null;

  constructor(fs: HostFilesystem, parent: HostDentry | null, name: string, st: HostStatBuffer, dirFd = -1) {
    super(parent, name);
    this.#fs = fs;
    this.#mode = st.mode;
    this.#uid = st.uid;
    this.#gid = st.gid;
    this.#ino = st.ino;
    this.#dirFd = dirFd;
  }

  get fs(): HostFilesystem {
    return this.#fs;
  }

  get mode(): number {
    return this.#mode;
  }

  get uid(): number {
    return this.#uid;
  }

  get gid(): number {
    return this.#gid;
  }

  get ino(): number {
    return this.#ino;
  }

  get #hostParent(): HostDentry {
    return this.parent as HostDentry;
  }

  /**
   * The O_PATH descriptor of this directory, opened on first use relative to the parent's.
   * Preconditions:
   * - this is a directory.
   */
  dirFd(): number {
    if (this.#dirFd >= 0) return this.#dirFd;
    const fd = ffi.hostOpenat(
      this.#hostParent.dirFd(),
      this.name,
      ffi.O_PATH | ffi.O_DIRECTORY | ffi.O_NOFOLLOW | ffi.O_CLOEXEC,
    );
    if (fd < 0) throw hostError(fd);
    this.#dirFd = fd;
    this.#fs.openDirFds.add(fd);
    return fd;
  }

  lookup(name: string): HostDentry | null {
    const cached = this.#children.get(name);
    if (cached !== undefined) return cached;
    const r = ffi.hostFstatat(this.dirFd(), name, statBuf.bytes, ffi.AT_SYMLINK_NOFOLLOW);
    if (r === -ENOENT.errno) return null;
    if (r < 0) throw hostError(r);
    const child = new HostDentry(this.#fs, this, name, statBuf);
    this.#children.set(name, child);
    return child;
  }

  stat(): Stat {
    const r = this.#dirFd >= 0
      ? ffi.hostFstat(this.#dirFd, statBuf.bytes)
      : ffi.hostFstatat(this.#hostParent.dirFd(), this.name, statBuf.bytes, ffi.AT_SYMLINK_NOFOLLOW);
    if (r < 0) throw hostError(r);
    return statBuf.decode();
  }

  override readlink(): string {
    if ((this.#mode & S_IFMT) !== S_IFLNK) throw EINVAL;
    if (this.#target !== null) return this.#target;
    const n = ffi.hostReadlinkat(this.#hostParent.dirFd(), this.name, linkBuf);
    if (n < 0) throw hostError(n);
    this.#target = decoder.decode(linkBuf.subarray(0, n));
    return this.#target;
  }

  children(): DirEntry[] {
    const fd = ffi.hostOpenat(this.dirFd(), ".", ffi.O_RDONLY | ffi.O_DIRECTORY | ffi.O_CLOEXEC);
    if (fd < 0) throw hostError(fd);
    const out: DirEntry[] = [];
    try {
      const v = new DataView(direntBuf.buffer);
      for (;;) {
        const n = ffi.hostGetdents64(fd, direntBuf);
        if (n < 0) throw hostError(n);
        if (n === 0) break;
        for (let o = 0; o < n;) {
          const reclen = v.getUint16(o + 16, true);
          const nameEnd = direntBuf.indexOf(0, o + 19);
          const name = decoder.decode(direntBuf.subarray(o + 19, nameEnd < 0 || nameEnd > o + reclen ? o + reclen : nameEnd));
          if (name !== "." && name !== "..") {
            const ino = v.getUint32(o + 4, true) * 0x1_0000_0000 + v.getUint32(o, true);
            let type = v.getUint8(o + 18);
            if (type === DT_UNKNOWN) type = dtFromMode(this.lookup(name)?.mode ?? 0);
            out.push({ name, ino, type });
          }
          o += reclen;
        }
      }
    } finally {
      ffi.hostClose(fd);
    }
    return out;
  }

  override open(loc: Location, flags: number): FileDescription {
    switch (this.#mode & S_IFMT) {
      case S_IFDIR:
        return super.open(loc, flags);
      case S_IFREG: {
        const fd = ffi.hostOpenat(
          this.#hostParent.dirFd(),
          this.name,
          ffi.O_RDONLY | ffi.O_NOFOLLOW | ffi.O_CLOEXEC | HOST_O_NOCTTY | HOST_O_NONBLOCK,
        );
        if (fd < 0) throw fd === -ELOOP.errno ? ELOOP : hostError(fd);
        return new HostRegularFile(loc, flags, fd);
      }
      case S_IFSOCK:
        throw ENXIO;
      case S_IFCHR: {
        const dev = openMemoryDevice(loc, flags, this.stat().rdev);
        if (dev !== null) return dev;
        throw EACCES;
      }
      default:
        // Other host devices and FIFOs are not reachable from the sandbox: devfs and in-sentry
        // pipes will provide them.
        throw EACCES;
    }
  }

  /**
   * A new read-only host descriptor of this regular file (the overlay copies data up from
   * it); the caller closes it.
   */
  openHostFd(): number {
    const fd = ffi.hostOpenat(
      this.#hostParent.dirFd(),
      this.name,
      ffi.O_RDONLY | ffi.O_NOFOLLOW | ffi.O_CLOEXEC | HOST_O_NOCTTY | HOST_O_NONBLOCK,
    );
    if (fd < 0) throw hostError(fd);
    return fd;
  }

  override hostPath(): string {
    const names: string[] = [];
    for (let d: Dentry | null = this; d !== null && d.parent !== null; d = d.parent) names.push(d.name);
    const root = this.#fs.hostRoot.endsWith("/") ? this.#fs.hostRoot.slice(0, -1) : this.#fs.hostRoot;
    return root + "/" + names.reverse().join("/");
  }

  /** Drops cached children (their descriptors are closed by the filesystem). */
  forget(): void {
    for (const c of this.#children.values()) c.forget();
    this.#children.clear();
    this.#dirFd = -1;
  }
}

/** The DT_* value of a file type. */
export function dtFromMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_UNKNOWN;
  }
}

/** @savable An open regular file of the host tree (read-only). */
export class HostRegularFile extends LocatedFile {
  /** @nosave The host descriptor, open O_RDONLY; re-opened by path on restore. */
  #fd: number;

  constructor(loc: Location, flags: number, hostFd: number) {
    super(loc, flags);
    this.#fd = hostFd;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    if (dst.length === 0) return 0;
    const n = ffi.hostPread(this.#fd, dst, off);
    if (n < 0) throw hostError(n);
    if (offset === null) this.offset += n;
    return n;
  }

  override seek(offset: number, whence: number): number {
    this.offset = seekRegular(this.offset, offset, whence, () => this.#size());
    return this.offset;
  }

  override stat(): Stat {
    const r = ffi.hostFstat(this.#fd, statBuf.bytes);
    if (r < 0) throw hostError(r);
    return statBuf.decode();
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== FIONREAD) return super.ioctl(cmd, arg, io);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, Math.min(Math.max(this.#size() - this.offset, 0), 0x7fffffff), true);
    io.copyOut(arg, b);
    return 0;
  }

  override hostFdForMmap(): number {
    return this.#fd;
  }

  protected override release(): void {
    if (this.#fd >= 0) ffi.hostClose(this.#fd);
    this.#fd = -1;
  }

  #size(): number {
    const r = ffi.hostFstat(this.#fd, statBuf.bytes);
    if (r < 0) throw hostError(r);
    return statBuf.size;
  }
}
