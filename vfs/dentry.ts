/**
 * Dentries and filesystems: the nodes of the file tree, independent of any implementation.
 * Analogous to Linux's struct dentry plus the inode operations a path walk needs, and to
 * gVisor's vfs.Dentry with its FilesystemImpl.
 *
 * Unlike gVisor, the path walk is not delegated to each filesystem: the VFS walks one component
 * at a time (vfs/path_walk.ts, as Linux's namei.c does) and asks the current dentry for a child.
 * A filesystem therefore implements only per-dentry operations, and mounts, `..`, symlinks and
 * permission checks are handled once for every filesystem.
 *
 * Identity: a filesystem returns the same Dentry object for the same file for as long as the
 * dentry is cached, so dentries compare with `===` (the walk relies on it for `..` at a root and
 * for mount points).
 *
 * @module
 */

import { ENXIO, EINVAL } from "../kernel/errno.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../abi/linux/file.ts";
import type { DirEntry, FileDescription, Stat } from "./file_description.ts";
import type { Location } from "./mount.ts";
import { DirectoryFile } from "./directory_file.ts";

/** One filesystem instance (a superblock). */
export interface Filesystem {
  /** The type name, as /proc/mounts shows it ("hostfs", "tmpfs", "proc"). */
  readonly name: string;
  /** True when the implementation cannot write at all, whatever the mount flags say. */
  readonly readonly: boolean;
  readonly root: Dentry;
  /** Releases host resources (descriptors) when the last mount goes. */
  release(): void;
}

/**
 * A node of a filesystem's tree. Subclasses implement the operations; the attributes used on
 * every walk step (mode, uid, gid) must be cheap, since they are read for each component.
 */
export abstract class Dentry {
  /** Immutable. Null for the filesystem's root. */
  readonly parent: Dentry | null;
  /** Immutable. The name in parent ("" for a root). */
  readonly name: string;

  constructor(parent: Dentry | null, name: string) {
    this.parent = parent;
    this.name = name;
  }

  abstract get fs(): Filesystem;
  /** File type and permission bits (st_mode). */
  abstract get mode(): number;
  abstract get uid(): number;
  abstract get gid(): number;
  /** Inode number, for getdents' d_ino of "." and "..". */
  abstract get ino(): number;

  /** Implements stat(2) of this file. */
  abstract stat(): Stat;

  /**
   * The child called name, or null if there is none. name is a single component, never "",
   * "." or "..". Preconditions:
   * - this is a directory.
   */
  abstract lookup(name: string): Dentry | null;

  /** Every child, in a stable order, without "." and "..". Preconditions: this is a directory. */
  abstract children(): DirEntry[];

  /** The target of a symlink; EINVAL for other files. */
  readlink(): string {
    throw EINVAL;
  }

  /**
   * For /proc's "magic links" (fd/N, cwd, root, exe): where following this symlink leads,
   * without reading its target as a path (Linux's nd_jump_link). Null for ordinary symlinks.
   * Throws (EACCES, ENOENT) when the link may not or cannot be followed.
   */
  magicLink(): Location | null {
    return null;
  }

  /**
   * Opens this file for I/O (never with O_PATH: the VFS makes those itself). The VFS has done
   * every permission and flag check. Directories get a {@linkcode DirectoryFile} by default;
   * other types must be overridden.
   */
  open(loc: Location, flags: number): FileDescription {
    if (this.isDir) return new DirectoryFile(loc, flags);
    throw ENXIO;
  }

  /** The file's path on the host, for diagnostics and the loader; null if it has none. */
  hostPath(): string | null {
    return null;
  }

  get type(): number {
    return this.mode & S_IFMT;
  }

  get isDir(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }

  get isSymlink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }

  get isRegular(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
}
