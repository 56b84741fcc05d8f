/**
 * hostfs: a host directory (the bundle's rootfs, or / for `sentry do`), read-only by default;
 * writable for the overlay's upper layer (`--overlay-upper DIR`) and rw bind mounts.
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
 * Host descriptors: a directory dentry opens an O_PATH descriptor of itself when it is
 * searched, kept in a bounded LRU cache ({@linkcode DIR_FD_CACHE} per filesystem): when the
 * cache evicts it, the next use opens it again relative to the parent's (re-opened the same
 * way up to the root, which stays open), one name at a time with O_PATH|O_DIRECTORY|O_NOFOLLOW,
 * and checks the device and inode numbers against those the lookup recorded: a directory
 * replaced on the host is ESTALE, a removed one ENOENT, a symlink put in its place ELOOP or
 * ENOTDIR; nothing leaves the root. Regular files are opened per open description. Every
 * descriptor goes through the sentry's budget (vfs/host_fds.ts).
 *
 * Writable mode ({@linkcode HostFilesystem.open} with `writable: true`): every change is one
 * host call relative to the held descriptor of the directory concerned, with a single name
 * and without following a final symlink: mkdirat, mknodat, symlinkat, unlinkat, renameat2,
 * linkat (no AT_SYMLINK_FOLLOW), fchownat/utimensat with AT_SYMLINK_NOFOLLOW, fchmodat with
 * AT_SYMLINK_NOFOLLOW (symlinks refused), and opens with O_NOFOLLOW for writes and truncation.
 * A directory's descriptor follows the directory itself, not its name: a directory renamed
 * (or swapped for a symlink) on the host behind the sandbox's back keeps receiving the
 * sandbox's changes where it is, and a name swapped for a symlink fails with ELOOP/ENOTDIR
 * instead of being followed. So nothing the sandbox writes can land outside the directory
 * tree it was given. The dentry cache is kept in step with the sandbox's own changes; the
 * host directory is assumed to be the sandbox's alone while it runs (runsc's exclusive mode).
 *
 * Owners: new files get the sandbox owner with fchownat. When the host refuses (the sentry
 * does not run as root on the host), the sandbox owner is kept in the dentry only and stat
 * reports it, so a non-root sentry still gives the sandbox Linux's ownership semantics.
 *
 * FIFOs and sockets made in a writable hostfs are host nodes whose I/O stays in the sentry: a
 * FIFO opens an in-sentry pipe held by the dentry, a socket node holds its bound endpoint.
 * Device nodes cannot be made (EPERM): the host would get a real device file.
 *
 * @module
 */

import { decodePath } from "../../abi/path_bytes.ts";
import {
  EACCES, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ENXIO, EPERM, EROFS, errnoFromNumber, ESTALE, EXDEV, LinuxError,
} from "../../kernel/errno.ts";
import {
  DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN, FIONREAD, O_ACCMODE, O_APPEND, O_CREAT,
  O_EXCL, O_WRONLY, PATH_MAX, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK,
  S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, S_ISUID,
} from "../../abi/linux/file.ts";
import * as ffi from "../../platform/ptrace/_ffi.ts";
import { Dentry, type Filesystem, type FsStat, type NewFile, type SetAttr } from "../dentry.ts";
import { Pipe } from "../pipe.ts";
import { openFifo } from "../fifo.ts";
import { type DirEntry, FileDescription, type MemoryIO, type Stat } from "../file_description.ts";
import { hostHoleData, LocatedFile, seekRegular } from "../located_file.ts";
import type { Location } from "../mount.ts";
import { HostStatBuffer } from "./host_stat.ts";
import { openMemoryDevice } from "../devices.ts";
import { hostFds, LruFdCache } from "../host_fds.ts";
import { UNMAPPED_HOST_ID } from "../../kernel/user_namespace.ts";

/** How many directory descriptors one hostfs keeps open (besides its root's). */
export const DIR_FD_CACHE = 256;

const HOST_O_NOCTTY = 0o400;
const HOST_O_NONBLOCK = 0o4000;
const HOST_EPERM = 1;
/** How a file of the host tree is opened for I/O: never follows, never becomes a tty, never waits. */
const HOST_OPEN_FLAGS = ffi.O_NOFOLLOW | ffi.O_CLOEXEC | HOST_O_NOCTTY | HOST_O_NONBLOCK;
/** Shared by every synchronous fstat/fstatat below; decoded before the next host call. */
const statBuf = new HostStatBuffer();
const linkBuf = new Uint8Array(PATH_MAX);
const direntBuf = new Uint8Array(32 * 1024);

/** Throws the LinuxError for a -errno result from the host. */
function hostError(r: number): LinuxError {
  return errnoFromNumber(-r);
}

/** Options of {@linkcode HostFilesystem.open}. */
export interface HostFsOptions {
  /** Allow changes (default false: every change is EROFS). */
  writable?: boolean;
  /** The host's ids as the container sees them (OCI linux.uidMappings/gidMappings); null: the same. */
  idMap?: HostIdMap | null;
}

/** One range of an OCI id mapping: container ids containerID.. are host ids hostID.. */
export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
}

/**
 * config.json's linux.uidMappings and gidMappings applied to host files, as a runtime's user
 * namespace applies them: a host owner in a range shows as its container id, any other as the
 * overflow id 65534 (nobody); a chown by the sandbox sets the mapped host id, and an id no range
 * maps is kept in the sandbox alone, as a refused host chown is.
 */
export class HostIdMap {
  constructor(readonly uids: readonly IdRange[], readonly gids: readonly IdRange[]) {}

  static #in(ranges: readonly IdRange[], host: number): number {
    for (const r of ranges) if (host >= r.hostID && host - r.hostID < r.size) return r.containerID + (host - r.hostID);
    // Not the overflow id itself (which the container may map and own): an id the sandbox's
    // namespace leaves unmapped, which it shows as 65534 and grants no capability over.
    return UNMAPPED_HOST_ID;
  }

  static #out(ranges: readonly IdRange[], id: number): number | null {
    for (const r of ranges) if (id >= r.containerID && id - r.containerID < r.size) return r.hostID + (id - r.containerID);
    return null;
  }

  uidIn(host: number): number {
    return HostIdMap.#in(this.uids, host);
  }

  gidIn(host: number): number {
    return HostIdMap.#in(this.gids, host);
  }

  uidOut(id: number): number | null {
    return HostIdMap.#out(this.uids, id);
  }

  gidOut(id: number): number | null {
    return HostIdMap.#out(this.gids, id);
  }
}

/** @savable A host directory tree, or a single host file (a file bind mount). */
export class HostFilesystem implements Filesystem {
  readonly name = "hostfs";
  /** Immutable. */
  readonly readonly: boolean;
  /** Immutable. The host path of the root, as boot gave it. */
  readonly hostRoot: string;
  readonly root: HostDentry;
  /** Immutable. The container's view of host ids (linux.uidMappings); null: the host's own. */
  readonly idMap: HostIdMap | null;
  /** @nosave The O_PATH descriptors of directories other than the root, least recently used first. */
  readonly dirFds = new LruFdCache<HostDentry>(DIR_FD_CACHE);
  /** @nosave The root's descriptor: always open (every re-walk starts there); -1 for a single file. */
  #rootFd: number;
  /**
   * @nosave A single-file tree: the O_PATH descriptor of the directory the file is named in,
   * always open; every host call about the file is relative to it, by its one name, without
   * following a symlink. -1 for a directory tree.
   */
  #fileParentFd: number;

  private constructor(
    hostRoot: string, rootFd: number, writable: boolean, file?: { parentFd: number; name: string }, idMap: HostIdMap | null = null,
  ) {
    this.hostRoot = hostRoot;
    this.readonly = !writable;
    this.idMap = idMap;
    this.#rootFd = rootFd;
    this.#fileParentFd = file?.parentFd ?? -1;
    const r = file === undefined
      ? ffi.hostFstat(rootFd, statBuf.bytes)
      : ffi.hostFstatat(file.parentFd, file.name, statBuf.bytes, ffi.AT_SYMLINK_NOFOLLOW);
    if (r < 0 || (file !== undefined && (statBuf.mode & S_IFMT) !== S_IFREG)) {
      hostFds.close(file?.parentFd ?? rootFd);
      throw r < 0 ? hostError(r) : EINVAL;
    }
    this.root = file === undefined
      ? new HostDentry(this, null, "", statBuf, rootFd)
      : new HostDentry(this, null, file.name, statBuf);
  }

  /**
   * Opens the host directory hostRoot (an absolute host path, the only multi-component path
   * the host ever sees from hostfs) as a filesystem, read-only unless o.writable. Throws a
   * LinuxError (ENOENT, ENOTDIR...).
   */
  static open(hostRoot: string, o: HostFsOptions = {}): HostFilesystem {
    const fd = hostFds.open(() => ffi.hostOpen(hostRoot, ffi.O_PATH | ffi.O_DIRECTORY | ffi.O_CLOEXEC));
    if (fd < 0) throw hostError(fd);
    return new HostFilesystem(hostRoot, fd, o.writable ?? false, undefined, o.idMap ?? null);
  }

  /**
   * Opens the host regular file hostPath (absolute, its last component not a symlink: boot
   * resolves it first) as a filesystem of that one file, read-only unless o.writable: the
   * source of a file bind mount. Its directory is opened once (O_PATH) and the file is then
   * reached by its name alone with O_NOFOLLOW, so a symlink put in its place on the host is
   * ELOOP, never followed. Throws a LinuxError (ENOENT, ELOOP; EINVAL if it is not a regular file).
   */
  static openFile(hostPath: string, o: HostFsOptions = {}): HostFilesystem {
    const slash = hostPath.lastIndexOf("/");
    const dir = slash <= 0 ? "/" : hostPath.slice(0, slash);
    const name = hostPath.slice(slash + 1);
    if (slash < 0 || name === "" || name === "." || name === "..") throw EINVAL;
    const fd = hostFds.open(() => ffi.hostOpen(dir, ffi.O_PATH | ffi.O_DIRECTORY | ffi.O_CLOEXEC));
    if (fd < 0) throw hostError(fd);
    return new HostFilesystem(hostPath, -1, o.writable ?? false, { parentFd: fd, name }, o.idMap ?? null);
  }

  /** The descriptor of the directory a single-file tree's file is named in. */
  fileParentFd(): number {
    if (this.#fileParentFd < 0) throw ENOENT;
    return this.#fileParentFd;
  }

  /**
   * Fills d, a new empty regular file of this (writable) filesystem, with len bytes of the host
   * descriptor src from offset 0: the overlay's copy-up, one host sendfile.
   */
  copyData(d: Dentry, src: number, len: number): void {
    const fd = (d as HostDentry).openHostFd(O_WRONLY);
    try {
      const n = ffi.hostSendfile(fd, src, 0, len);
      if (n < 0) throw hostError(n);
    } finally {
      hostFds.close(fd);
    }
  }

  /**
   * The host filesystem's figures (fstatfs of the held descriptor), as statfs(2) of a bind
   * mount shows them on Linux; generic ones once released or when the host refuses.
   */
  statfs(): FsStat {
    const buf = new Uint8Array(120);
    const fd = this.#rootFd >= 0 ? this.#rootFd : this.#fileParentFd;
    if (fd < 0 || ffi.hostFstatfs(fd, buf) !== 0) {
      return { type: 0x858458f6, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255 };
    }
    const v = new DataView(buf.buffer);
    const n = (i: number) => Number(v.getBigUint64(i * 8, true));
    // struct statfs (x86-64): f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid, f_namelen.
    return { type: n(0), bsize: n(1), blocks: n(2), bfree: n(3), bavail: n(4), files: n(5), ffree: n(6), namelen: n(8) };
  }

  release(): void {
    this.dirFds.clear();
    if (this.#rootFd >= 0) hostFds.close(this.#rootFd);
    if (this.#fileParentFd >= 0) hostFds.close(this.#fileParentFd);
    this.#rootFd = -1;
    this.#fileParentFd = -1;
    this.root.forget();
  }
}

/** @savable A file of the host tree. */
export class HostDentry extends Dentry {
  readonly #fs: HostFilesystem;
  /** Cached; refreshed after every change the sandbox makes. */
  #mode: number;
  /** The sandbox owner (see the module doc: it may differ from the host's when chown was refused). */
  #uid: number;
  #gid: number;
  readonly #ino: number;
  /** Immutable. The host's st_dev, checked with the inode number when a directory is re-opened. */
  readonly #dev: number;
  /** @nosave The O_PATH descriptor of a directory while searched (cached); -1 otherwise. */
  #dirFd: number;
  /** Cached children (positive lookups only). */
  #children = new Map<string, HostDentry>();
  /** Cached symlink target. */
  #target: string | null = null;
  /** The file was removed through the sandbox (rmdir, unlink, replaced by rename). */
  #removed = false;
  /** Writable mode: the in-sentry pipe of a FIFO, made on first open. */
  #pipe: Pipe | null = null;
  /** Writable mode: the endpoint bound to a socket node. */
  #socket: unknown = null;

  constructor(fs: HostFilesystem, parent: HostDentry | null, name: string, st: HostStatBuffer, dirFd = -1) {
    super(parent, name);
    this.#fs = fs;
    this.#mode = st.mode;
    const m = fs.idMap;
    this.#uid = m === null ? st.uid : m.uidIn(st.uid);
    this.#gid = m === null ? st.gid : m.gidIn(st.gid);
    this.#ino = st.ino;
    this.#dev = st.dev;
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

  /**
   * The held descriptor of the host directory this file is named in: the parent dentry's, or
   * for the root of a single-file tree the directory of the bound file.
   */
  #parentFd(): number {
    if (this.parent === null) return this.#fs.fileParentFd();
    return (this.parent as HostDentry).dirFd();
  }

  /**
   * The O_PATH descriptor of this directory, opened when not cached relative to the parent's
   * (which may be re-opened in turn, up to the root) and checked to be the directory the
   * lookup found (same device and inode: ESTALE otherwise). Valid until the next system call
   * begins (the cache may close it after that).
   * Preconditions:
   * - this is a directory.
   */
  dirFd(): number {
    if (this.#dirFd >= 0) {
      if (this.parent !== null) this.#fs.dirFds.touch(this);
      return this.#dirFd;
    }
    if (this.#removed) throw ENOENT;
    const parentFd = this.#parentFd();
    const fd = hostFds.open(() =>
      ffi.hostOpenat(parentFd, this.name, ffi.O_PATH | ffi.O_DIRECTORY | ffi.O_NOFOLLOW | ffi.O_CLOEXEC)
    );
    if (fd < 0) throw hostError(fd);
    const r = ffi.hostFstat(fd, statBuf.bytes);
    if (r < 0 || statBuf.ino !== this.#ino || statBuf.dev !== this.#dev) {
      hostFds.close(fd);
      throw r < 0 ? hostError(r) : ESTALE;
    }
    this.#dirFd = fd;
    this.#fs.dirFds.add(this, fd);
    return fd;
  }

  /** The cache closed this directory's descriptor. */
  fdEvicted(): void {
    this.#dirFd = -1;
  }

  lookup(name: string): HostDentry | null {
    const cached = this.#children.get(name);
    if (cached !== undefined) return cached;
    if (this.#removed) return null;
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
      : ffi.hostFstatat(this.#parentFd(), this.name, statBuf.bytes, ffi.AT_SYMLINK_NOFOLLOW);
    if (r < 0) throw hostError(r);
    const st = statBuf.decode();
    st.uid = this.#uid;
    st.gid = this.#gid;
    return st;
  }

  override readlink(): string {
    if ((this.#mode & S_IFMT) !== S_IFLNK) throw EINVAL;
    if (this.#target !== null) return this.#target;
    const n = ffi.hostReadlinkat(this.#parentFd(), this.name, linkBuf);
    if (n < 0) throw hostError(n);
    this.#target = decodePath(linkBuf.subarray(0, n));
    return this.#target;
  }

  children(): DirEntry[] {
    if (this.#removed) return [];
    const dfd = this.dirFd();
    const fd = hostFds.open(() => ffi.hostOpenat(dfd, ".", ffi.O_RDONLY | ffi.O_DIRECTORY | ffi.O_CLOEXEC));
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
          const name = decodePath(direntBuf.subarray(o + 19, nameEnd < 0 || nameEnd > o + reclen ? o + reclen : nameEnd));
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
      hostFds.close(fd);
    }
    return out;
  }

  override open(loc: Location, flags: number): FileDescription {
    switch (this.#mode & S_IFMT) {
      case S_IFDIR:
        return super.open(loc, flags);
      case S_IFREG: {
        const acc = this.#fs.readonly ? ffi.O_RDONLY : flags & O_ACCMODE;
        const dfd = this.#parentFd();
        const fd = hostFds.open(() => ffi.hostOpenat(dfd, this.name, acc | HOST_OPEN_FLAGS));
        if (fd < 0) throw fd === -ELOOP.errno ? ELOOP : hostError(fd);
        return new HostRegularFile(loc, flags, fd, this.#fs.readonly);
      }
      case S_IFSOCK:
        throw ENXIO;
      case S_IFCHR: {
        const dev = openMemoryDevice(loc, flags, this.stat().rdev);
        if (dev !== null) return dev;
        throw EACCES;
      }
      case S_IFIFO:
        if (!this.#fs.readonly) {
          this.#pipe ??= new Pipe();
          return openFifo(this.#pipe, loc, flags);
        }
        throw EACCES;
      default:
        // Other host devices and FIFOs of a read-only tree are not reachable from the sandbox:
        // devfs and in-sentry pipes provide them.
        throw EACCES;
    }
  }

  /**
   * A new host descriptor of this regular file (the overlay copies data up from it, or into
   * it), opened with access mode acc and O_NOFOLLOW; the caller closes it.
   */
  openHostFd(acc: number = ffi.O_RDONLY): number {
    const dfd = this.#parentFd();
    const fd = hostFds.open(() => ffi.hostOpenat(dfd, this.name, acc | HOST_OPEN_FLAGS));
    if (fd < 0) throw hostError(fd);
    return fd;
  }

  override hostPath(): string {
    if (this.parent === null && !this.isDir) return this.#fs.hostRoot;
    const names: string[] = [this.name];
    for (let d = this.parent; d !== null && d.parent !== null; d = d.parent) names.push(d.name);
    const root = this.#fs.hostRoot.endsWith("/") ? this.#fs.hostRoot.slice(0, -1) : this.#fs.hostRoot;
    return root + "/" + names.reverse().join("/");
  }

  override boundSocket(): unknown {
    return this.#socket;
  }
  /** A checkpoint's restore gives the socket file it made its restored socket (kernel/checkpoint/files.ts). */
  attachSocket(endpoint: unknown): void {
    this.#socket = endpoint;
  }


  /** Drops cached children (their descriptors are closed by the filesystem). */
  forget(): void {
    for (const c of this.#children.values()) c.forget();
    this.#children.clear();
    this.#dirFd = -1;
  }

  // ---- Writable mode (this is the parent directory unless said otherwise) --------------------

  #checkWritable(): void {
    if (this.#fs.readonly) throw EROFS;
  }

  /** The new child `name`, just made on the host: stat it (no follow) and cache it. */
  #added(name: string): HostDentry {
    const r = ffi.hostFstatat(this.dirFd(), name, statBuf.bytes, ffi.AT_SYMLINK_NOFOLLOW);
    if (r < 0) throw hostError(r);
    const c = new HostDentry(this.#fs, this, name, statBuf);
    this.#children.set(name, c);
    return c;
  }

  /**
   * Gives the new child c the sandbox owner and exact mode (the host's umask and a non-root
   * host user may have given others). chown comes first: it clears set-user-ID on the host.
   * Removes the child and throws when the host refuses anything but the owner.
   */
  #finishNew(c: HostDentry, attrs: NewFile): HostDentry {
    try {
      c.#chown(attrs.uid, attrs.gid);
      if ((attrs.mode & S_IFMT) !== S_IFLNK) c.#chmod(attrs.mode & 0o7777);
      c.#refresh();
    } catch (e) {
      ffi.hostUnlinkat(this.dirFd(), c.name, c.isDir ? ffi.AT_REMOVEDIR : 0);
      this.#children.delete(c.name);
      throw e;
    }
    return c;
  }

  /** Where host calls about this file are made: [dirfd, name, extra at-flags]. */
  #at(): [number, string, number] {
    if (this.parent === null && this.isDir) return [this.dirFd(), "", ffi.AT_EMPTY_PATH];
    return [this.#parentFd(), this.name, 0];
  }

  /** Sets the owner on the host; keeps it in the dentry alone when the host says EPERM. */
  #chown(uid: number, gid: number): void {
    if (uid === this.#uid && gid === this.#gid) return;
    const [dfd, name, f] = this.#at();
    const m = this.#fs.idMap;
    const hostUid = m === null ? uid : m.uidOut(uid), hostGid = m === null ? gid : m.gidOut(gid);
    const r = hostUid === null || hostGid === null
      ? -HOST_EPERM // an id the mapping does not reach: kept in the sandbox alone
      : ffi.hostFchownat(dfd, name, hostUid, hostGid, ffi.AT_SYMLINK_NOFOLLOW | f);
    if (r < 0 && r !== -HOST_EPERM) throw hostError(r);
    this.#uid = uid;
    this.#gid = gid;
  }

  #chmod(mode: number): void {
    if (this.isSymlink) return;
    // Never a set-user-ID or set-group-ID file on the host: a host user could run what the
    // sandbox left there with its owner's rights, root's included (a writable bind mount or
    // --overlay-upper is a host directory). The sandbox sees the bits gone, as after a chmod
    // on a nosuid mount's copy. A directory's set-group-ID (group inheritance) is kept.
    if (!this.isDir) mode &= ~(S_ISUID | S_ISGID);
    let r: number;
    if (this.parent === null && this.isDir) {
      // The root has no name to give fchmodat: a read-only open of the directory itself.
      const dfd = this.dirFd();
      const fd = hostFds.open(() => ffi.hostOpenat(dfd, ".", ffi.O_RDONLY | ffi.O_DIRECTORY | ffi.O_CLOEXEC));
      if (fd < 0) throw hostError(fd);
      r = ffi.hostFchmod(fd, mode);
      hostFds.close(fd);
    } else {
      r = ffi.hostFchmodat(this.#parentFd(), this.name, mode, ffi.AT_SYMLINK_NOFOLLOW);
    }
    if (r < 0) throw hostError(r);
  }

  /** Re-reads the mode (and checks the type did not change under us). */
  #refresh(): void {
    const [dfd, name, f] = this.#at();
    const r = ffi.hostFstatat(dfd, name, statBuf.bytes, ffi.AT_SYMLINK_NOFOLLOW | f);
    if (r < 0) throw hostError(r);
    if ((statBuf.mode & S_IFMT) !== (this.#mode & S_IFMT)) throw ENOENT;
    this.#mode = statBuf.mode;
  }

  override create(name: string, attrs: NewFile): Dentry {
    this.#checkWritable();
    const dfd = this.dirFd();
    const fd = hostFds.open(() => ffi.hostOpenat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | HOST_OPEN_FLAGS, 0o600));
    if (fd < 0) throw hostError(fd);
    hostFds.close(fd);
    return this.#finishNew(this.#added(name), { ...attrs, mode: S_IFREG | (attrs.mode & 0o7777) });
  }

  override mkdir(name: string, attrs: NewFile): Dentry {
    this.#checkWritable();
    const r = ffi.hostMkdirat(this.dirFd(), name, 0o700);
    if (r < 0) throw hostError(r);
    return this.#finishNew(this.#added(name), { ...attrs, mode: S_IFDIR | (attrs.mode & 0o7777) });
  }

  override mknod(name: string, attrs: NewFile): Dentry {
    this.#checkWritable();
    const type = attrs.mode & S_IFMT;
    if (type === 0 || type === S_IFREG) return this.create(name, attrs);
    if (type !== S_IFIFO && type !== S_IFSOCK) throw EPERM;
    const r = ffi.hostMknodat(this.dirFd(), name, type | 0o600, 0);
    if (r < 0) throw hostError(r);
    const c = this.#finishNew(this.#added(name), attrs);
    c.#socket = attrs.socket ?? null;
    return c;
  }

  override symlink(name: string, target: string, attrs: NewFile): Dentry {
    this.#checkWritable();
    const r = ffi.hostSymlinkat(target, this.dirFd(), name);
    if (r < 0) throw hostError(r);
    return this.#finishNew(this.#added(name), { ...attrs, mode: S_IFLNK | 0o777 });
  }

  override link(name: string, target: Dentry): Dentry {
    this.#checkWritable();
    if (!(target instanceof HostDentry) || target.#fs !== this.#fs || target.parent === null) throw EXDEV;
    if (target.isDir) throw EPERM;
    const r = ffi.hostLinkat(target.#parentFd(), target.name, this.dirFd(), name);
    if (r < 0) throw hostError(r);
    const c = this.#added(name);
    c.#uid = target.#uid;
    c.#gid = target.#gid;
    return c;
  }

  /** Forgets a child that the host no longer has under this name. */
  #gone(c: HostDentry): void {
    c.#removed = true;
    if (c.#dirFd >= 0) {
      this.#fs.dirFds.remove(c);
      c.#dirFd = -1;
    }
  }

  override unlink(name: string, child: Dentry): void {
    this.#checkWritable();
    if (child.isDir) throw EISDIR;
    const r = ffi.hostUnlinkat(this.dirFd(), name, 0);
    if (r < 0) throw hostError(r);
    this.#children.delete(name);
    (child as HostDentry).#removed = true;
  }

  override rmdir(name: string, child: Dentry): void {
    this.#checkWritable();
    if (!child.isDir) throw ENOTDIR;
    const r = ffi.hostUnlinkat(this.dirFd(), name, ffi.AT_REMOVEDIR);
    if (r < 0) throw hostError(r);
    this.#children.delete(name);
    this.#gone(child as HostDentry);
  }

  override rename(
    name: string,
    child: Dentry,
    newParent: Dentry,
    newName: string,
    replaced: Dentry | null,
    flags: number,
  ): void {
    this.#checkWritable();
    if (!(newParent instanceof HostDentry) || newParent.#fs !== this.#fs) throw EXDEV;
    const src = child as HostDentry;
    const dst = replaced as HostDentry | null;
    const r = ffi.hostRenameat2(
      this.dirFd(), name, newParent.dirFd(), newName, flags & (RENAME_NOREPLACE | RENAME_EXCHANGE),
    );
    if (r < 0) throw hostError(r);
    this.#children.delete(name);
    if (flags & RENAME_EXCHANGE) {
      if (dst !== null) {
        this.#children.set(name, dst);
        dst.parent = this;
        dst.name = name;
      }
    } else if (dst !== null) {
      newParent.#children.delete(newName);
      this.#gone(dst);
    }
    newParent.#children.set(newName, src);
    src.parent = newParent;
    src.name = newName;
  }

  /** On this file: truncate, chown, chmod, utimes, in that order (chown clears set-user-ID). */
  override setattr(a: SetAttr): void {
    this.#checkWritable();
    if (a.size !== undefined) {
      if (this.isDir) throw EISDIR;
      if (!this.isRegular) throw EINVAL;
      const fd = this.openHostFd(O_WRONLY);
      const r = ffi.hostFtruncate(fd, a.size);
      hostFds.close(fd);
      if (r < 0) throw hostError(r);
    }
    if (a.uid !== undefined || a.gid !== undefined) this.#chown(a.uid ?? this.#uid, a.gid ?? this.#gid);
    if (a.mode !== undefined) this.#chmod(a.mode & 0o7777);
    if (a.atimeNs !== undefined || a.mtimeNs !== undefined) {
      const [dfd, name, f] = this.#at();
      const r = ffi.hostUtimensat(dfd, name, a.atimeNs ?? null, a.mtimeNs ?? null, ffi.AT_SYMLINK_NOFOLLOW | f);
      if (r < 0) throw hostError(r);
    }
    this.#refresh();
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

/** Reads at least this long, of files at least MAP_MIN_FILE long, go through a mapping. */
const MAP_MIN_READ = 16 * 1024;
const MAP_MIN_FILE = 256 * 1024;

/** @savable An open regular file of the host tree. */
export class HostRegularFile extends LocatedFile {
  /** @nosave The host descriptor, open O_RDONLY; re-opened by path on restore. */
  #fd: number;
  /** Immutable. The file cannot change through the sandbox (a read-only tree). */
  readonly #fixed: boolean;
  /**
   * @nosave A read-only mapping of the whole file, made on the first large read of a large
   * file of a read-only tree (its size is fixed then): such reads are copied from it straight
   * into the application (process_vm_writev), one copy instead of pread's two. null: not
   * made; false: not possible.
   */
  #map: ffi.HostFileMapping | null | false = null;

  constructor(loc: Location, flags: number, hostFd: number, fixed: boolean) {
    super(loc, flags);
    this.#fd = hostFd;
    this.#fixed = fixed;
  }

  override mappedRead(len: number, offset: number | null): Uint8Array | null {
    if (!this.#fixed || len < MAP_MIN_READ || this.#map === false) return null;
    if (this.#map === null) {
      const size = this.#size();
      this.#map = size >= MAP_MIN_FILE ? ffi.hostMapFile(this.#fd, size) ?? false : false;
      if (this.#map === false) return null;
    }
    const off = offset ?? this.offset;
    // Only reads wholly inside the mapping: near the end, pread sees the file as it is now
    // (a host file under `sentry do` may grow).
    if (off < 0 || off + len > this.#map.bytes.length) return null;
    if (offset === null) this.offset += len;
    return this.#map.bytes.subarray(off, off + len);
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

  /** pwrite on the host descriptor; O_APPEND writes at the current end (pwrite too, as Linux). */
  override write(src: Uint8Array, offset: number | null): number {
    let off = offset ?? this.offset;
    if (this.flags & O_APPEND) off = this.#size();
    if (off < 0) throw EINVAL;
    if (src.length === 0) return 0;
    const n = ffi.hostPwrite(this.#fd, src, off);
    if (n < 0) throw hostError(n);
    if (offset === null) this.offset = off + n;
    return n;
  }

  /** fallocate(2) on the host file (modes as the host supports them). */
  override allocate(mode: number, off: number, len: number): void {
    const r = ffi.hostFallocate(this.#fd, mode, off, len);
    if (r < 0) throw hostError(r);
  }

  /** fsync(2)/fdatasync(2): the host file's data reaches its disk (writable trees only). */
  override sync(): void {
    if (!this.writable) return;
    const r = ffi.hostFsync(this.#fd);
    if (r < 0) throw hostError(r);
  }

  override seek(offset: number, whence: number): number {
    this.offset = seekRegular(this.offset, offset, whence, () => this.#size(), hostHoleData(this.#fd, ffi.hostLseek));
    return this.offset;
  }

  /** fstat of the host descriptor (right after unlink too), with the sandbox owner. */
  override stat(): Stat {
    const r = ffi.hostFstat(this.#fd, statBuf.bytes);
    if (r < 0) throw hostError(r);
    const st = statBuf.decode();
    st.uid = this.loc.dentry.uid;
    st.gid = this.loc.dentry.gid;
    return st;
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
    if (this.#map) ffi.hostUnmapFile(this.#map);
    this.#map = false;
    hostFds.close(this.#fd);
    this.#fd = -1;
  }

  #size(): number {
    const r = ffi.hostFstat(this.#fd, statBuf.bytes);
    if (r < 0) throw hostError(r);
    return statBuf.size;
  }
}
