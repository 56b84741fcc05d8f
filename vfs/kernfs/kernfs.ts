/**
 * kernfs: the building blocks of synthetic filesystems (procfs, devfs, sysfs), whose files are
 * computed by the sentry rather than stored anywhere. Analogous to gVisor's fsimpl/kernfs and
 * Linux's seq_file + simple_* helpers.
 *
 * - {@linkcode KernFilesystem}: one instance (superblock) with an anonymous device number and
 *   stable inode numbers by key (the same file gets the same number each time it is looked up,
 *   so `find` and `du` see no false loops).
 * - {@linkcode KDentry}: attributes kept as plain fields. Dynamic directories build fresh
 *   dentries on every lookup (a /proc/PID directory must vanish with its process); static ones
 *   ({@linkcode StaticDir}) hold their children.
 * - {@linkcode GeneratedFile}: contents rendered when the file is opened, then read from that
 *   snapshot ({@linkcode SnapshotFile}), so one open sees one consistent text, as seq_file does.
 * - {@linkcode KSymlink}: a symlink whose target is computed on each readlink.
 *
 * Dentries hold only plain data (kind names, ids): what a file shows is decided by code, never
 * by closures, so that the tree stays checkpointable.
 *
 * @module
 */

import { encodePath } from "../../abi/path_bytes.ts";
import { EACCES, EINVAL, EIO, ENOTDIR, EPERM, EROFS, type LinuxError } from "../../kernel/errno.ts";
import {
  O_ACCMODE, O_RDONLY, O_TRUNC, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET,
} from "../../abi/linux/file.ts";
import { Dentry, type Filesystem, type FsStat, type NewFile, type SetAttr } from "../dentry.ts";
import type { DirEntry, FileDescription, Stat } from "../file_description.ts";
import { readContents } from "../file_description.ts";
import { LocatedFile } from "../located_file.ts";
import type { Location } from "../mount.ts";
import { dtFromMode } from "../hostfs/hostfs.ts";
import type { Credentials } from "../../kernel/creds.ts";
import type { WaitQueue } from "../../waiter/mod.ts";

/** Minor numbers of anonymous devices (major 0), as Linux's get_anon_bdev(). */
let nextAnonMinor = 32;

/** statfs(2) f_type values (include/uapi/linux/magic.h). */
export const RAMFS_MAGIC = 0x858458f6;
export const PROC_SUPER_MAGIC = 0x9fa0;
export const SYSFS_MAGIC = 0x62656572;
export const TMPFS_MAGIC = 0x01021994;
export { ANON_INODE_FS_MAGIC } from "../../abi/linux/file.ts";

/** A new anonymous device number (major 0) for a synthetic filesystem. */
export function allocAnonDev(): number {
  return nextAnonMinor++;
}

/** @savable A synthetic filesystem instance. */
export class KernFilesystem implements Filesystem {
  readonly name: string;
  readonly readonly = false;
  /** Immutable. st_dev of every file. */
  readonly dev: number;
  /** Immutable. The times every file reports. */
  readonly createdNs: bigint;
  /** Set once by the subclass constructor. */
  root!: KDentry;
  readonly #inos = new Map<string, number>();
  #nextIno = 1;

  /** Immutable. statfs(2)'s f_type. */
  readonly magic: number;
  /**
   * What creating a name here fails with: Linux's procfs lookups fail before any create
   * (ENOENT), sysfs has no create operation (EACCES); the default is EROFS.
   */
  createError: LinuxError = EROFS;
  /** See Filesystem.dirSeekEnd: true for procfs and sysfs, not for devtmpfs (a tmpfs). */
  readonly dirSeekEnd: boolean;

  constructor(name: string, magic = RAMFS_MAGIC) {
    this.dirSeekEnd = magic === PROC_SUPER_MAGIC || magic === SYSFS_MAGIC;
    this.name = name;
    this.magic = magic;
    this.dev = allocAnonDev();
    this.createdNs = BigInt(Date.now()) * 1_000_000n;
  }

  /** The inode number of the file called key (any string unique within this filesystem). */
  inoFor(key: string): number {
    let ino = this.#inos.get(key);
    if (ino === undefined) {
      ino = this.#nextIno++;
      this.#inos.set(key, ino);
    }
    return ino;
  }

  /** Forgets the inode number of key (a process went away). */
  forgetIno(key: string): void {
    this.#inos.delete(key);
  }

  /** Implements statfs(2): no blocks, no inode limit, as Linux's pseudo filesystems. */
  statfs(): FsStat {
    return { type: this.magic, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255 };
  }

  release(): void {}
}

/** Attributes of a new {@linkcode KDentry}. */
export interface KAttrs {
  /** File type and permission bits. */
  mode: number;
  uid?: number;
  gid?: number;
  /** Device number, for device nodes. */
  rdev?: number;
  /** Inode key; default: the parent's key + "/" + name. */
  key?: string;
}

/**
 * Linux's sysctl permission rule (fs/proc/proc_sysctl.c, test_perm): root (euid 0) gets the
 * owner bits, a member of group 0 the group bits, anyone else the other bits, and no
 * capability overrides them: a 0444 sysctl is not writable, not even by root. Regular files
 * are never executable.
 */
function sysctlCheck(creds: Credentials, want: number, mode: number): void {
  if ((want & 1) && (mode & S_IFMT) === S_IFREG) throw EACCES;
  let bits = mode;
  if (creds.euid === 0) bits >>= 6;
  else if (creds.egid === 0 || creds.groups.includes(0)) bits >>= 3;
  if ((want & ~bits & 7) !== 0) throw EACCES;
}

/** @savable A node of a synthetic filesystem. */
export abstract class KDentry extends Dentry {
  readonly kfs: KernFilesystem;
  readonly key: string;
  readonly #mode: number;
  readonly #uid: number;
  readonly #gid: number;
  readonly rdev: number;

  constructor(kfs: KernFilesystem, parent: KDentry | null, name: string, a: KAttrs) {
    super(parent, name);
    this.kfs = kfs;
    this.key = a.key ?? (parent === null ? "" : `${parent.key}/${name}`);
    this.#mode = a.mode;
    this.#uid = a.uid ?? 0;
    this.#gid = a.gid ?? 0;
    this.rdev = a.rdev ?? 0;
  }

  /** Set on /proc/sys's files and directories: their mode binds root too (sysctlCheck). */
  sysctl = false;

  override checkAccess(creds: Credentials, want: number): void {
    if (this.sysctl) sysctlCheck(creds, want, this.mode);
    else super.checkAccess(creds, want);
  }

  override create(): Dentry {
    throw this.kfs.createError;
  }

  override mkdir(_name: string, _attrs: NewFile): Dentry {
    throw this.kfs.createError;
  }

  override mknod(): Dentry {
    throw this.kfs.createError;
  }

  override symlink(): Dentry {
    throw this.kfs.createError;
  }

  get fs(): KernFilesystem {
    return this.kfs;
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
    return this.kfs.inoFor(this.key);
  }

  stat(): Stat {
    const t = this.kfs.createdNs;
    return {
      dev: this.kfs.dev, ino: this.ino, mode: this.mode, nlink: this.isDir ? 2 : 1, uid: this.uid,
      gid: this.gid, rdev: this.rdev, size: 0, blksize: 1024, blocks: 0, atimeNs: t, mtimeNs: t,
      ctimeNs: t,
    };
  }

  lookup(_name: string): Dentry | null {
    throw ENOTDIR;
  }

  children(): DirEntry[] {
    throw ENOTDIR;
  }
}

/** The listing entry of a dentry. */
export function dirEntry(d: KDentry): DirEntry {
  return { name: d.name, ino: d.ino, type: dtFromMode(d.mode) };
}

/** @savable A directory whose children are fixed once built. */
export class StaticDir extends KDentry {
  readonly entries = new Map<string, KDentry>();

  constructor(kfs: KernFilesystem, parent: KDentry | null, name: string, mode = 0o555) {
    super(kfs, parent, name, { mode: S_IFDIR | (mode & 0o7777) });
  }

  /** Adds a child built by make(this) and returns it. */
  add<T extends KDentry>(child: T): T {
    this.entries.set(child.name, child);
    return child;
  }

  /** A new empty subdirectory. */
  dir(name: string, mode = 0o555): StaticDir {
    return this.add(new StaticDir(this.kfs, this, name, mode));
  }

  override lookup(name: string): Dentry | null {
    return this.entries.get(name) ?? null;
  }

  override children(): DirEntry[] {
    return [...this.entries.values()].map(dirEntry);
  }
}

/** @savable A symlink whose target is computed when read. */
export abstract class KSymlink extends KDentry {
  constructor(kfs: KernFilesystem, parent: KDentry | null, name: string, a: Partial<KAttrs> = {}) {
    super(kfs, parent, name, { ...a, mode: S_IFLNK | 0o777 });
  }

  abstract target(): string;

  override readlink(): string {
    return this.target();
  }
}

/** @savable A symlink with a fixed target. */
export class FixedSymlink extends KSymlink {
  constructor(kfs: KernFilesystem, parent: KDentry | null, name: string, readonly fixedTarget: string) {
    super(kfs, parent, name);
  }

  target(): string {
    return this.fixedTarget;
  }
}

/**
 * @savable A regular file whose contents are rendered at open. Writable files override
 * {@linkcode GeneratedFile.writeContents}; the others refuse to be opened for writing.
 */
export abstract class GeneratedFile extends KDentry {
  constructor(kfs: KernFilesystem, parent: KDentry | null, name: string, a: Partial<KAttrs> = {}) {
    super(kfs, parent, name, { ...a, mode: S_IFREG | ((a.mode ?? 0o444) & 0o7777) });
  }

  /** The file's contents now. */
  abstract render(): string | Uint8Array;

  /** True if writes are accepted ({@linkcode writeContents} is implemented). */
  get writable(): boolean {
    return false;
  }

  /**
   * Handles one write(2) of data (the whole buffer; the offset is ignored as in procfs); the
   * count the write returns, or nothing for all of data.
   */
  writeContents(_data: Uint8Array): number | void {
    throw EINVAL;
  }

  /**
   * open(O_TRUNC) of a writable file (`echo 5 > /proc/self/oom_score_adj`) truncates nothing,
   * as procfs; other attribute changes are EPERM.
   */
  override setattr(attr: SetAttr): void {
    const onlySize = attr.mode === undefined && attr.uid === undefined && attr.gid === undefined &&
      attr.atimeNs === undefined && attr.mtimeNs === undefined;
    if (onlySize && this.writable) return;
    throw EPERM;
  }

  /**
   * In procfs the VFS's mode check decides (root passes a 0444 file's, as on Linux, except in
   * /proc/sys): a file without writeContents opens for writing all the same, and its writes
   * fail (EINVAL, EIO for /proc's own files, as proc_reg_write). sysfs and the others refuse
   * such an open (kernfs_fop_open: EACCES).
   */
  override open(loc: Location, flags: number): FileDescription {
    const wantsWrite = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (wantsWrite && !this.writable && this.kfs.magic !== PROC_SUPER_MAGIC) throw EACCES;
    return new SnapshotFile(loc, flags, this);
  }
}


/** @savable An open {@linkcode GeneratedFile}: the contents as they were at open. */
export class SnapshotFile extends LocatedFile {
  readonly #file: GeneratedFile;
  /** Rendered at the first read (not at open: an O_WRONLY open never renders). */
  #data: Uint8Array | null = null;

  constructor(loc: Location, flags: number, file: GeneratedFile, waitQueue?: WaitQueue) {
    super(loc, flags, waitQueue);
    this.#file = file;
  }

  /** The file it reads. */
  get generator(): GeneratedFile {
    return this.#file;
  }

  /** The contents reads come from (null: not rendered yet), as a checkpoint saves them. */
  get snapshot(): Uint8Array | null {
    return this.#data;
  }

  /** Sets the contents to a checkpoint's snapshot: reads go on in what the program was reading. */
  restoreSnapshot(data: Uint8Array | null): void {
    this.#data = data;
  }

  #contents(): Uint8Array {
    if (this.#data === null) {
      const r = this.#file.render();
      this.#data = typeof r === "string" ? encodePath(r) : r;
    }
    return this.#data;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    const data = this.#contents();
    return readContents(this, dst, offset, data);
  }

  override write(src: Uint8Array, offset: number | null): number {
    const n = this.#file.writeContents(src) ?? src.length;
    this.#data = null;
    if (offset === null) this.offset += n;
    return n;
  }

  override seek(offset: number, whence: number): number {
    let pos: number;
    if (whence === SEEK_SET) pos = offset;
    else if (whence === SEEK_CUR) pos = this.offset + offset;
    // procfs's files are seq_files, whose seq_lseek knows no SEEK_END.
    else if (whence === SEEK_END && this.#file.kfs.magic !== PROC_SUPER_MAGIC) pos = this.#contents().length + offset;
    else throw EINVAL;
    if (pos < 0) throw EINVAL;
    this.offset = pos;
    return pos;
  }
}

/** A file with fixed contents. */
export class FixedFile extends GeneratedFile {
  constructor(kfs: KernFilesystem, parent: KDentry | null, name: string, readonly contents: string, mode = 0o444) {
    super(kfs, parent, name, { mode });
  }

  render(): string {
    return this.contents;
  }

  /** A fixed /proc file has no write operation (proc_reg_write's EIO). */
  override writeContents(_data: Uint8Array): void {
    throw EIO;
  }
}
