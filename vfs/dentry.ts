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

import { ENODATA, ENXIO, EINVAL, EOPNOTSUPP, EROFS } from "../kernel/errno.ts";
import { FS_APPEND_FL, FS_IMMUTABLE_FL, FS_NOATIME_FL, FS_NODUMP_FL, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../abi/linux/file.ts";
import type { DirEntry, FileDescription, Stat } from "./file_description.ts";
import type { Location } from "./mount.ts";
import { DirectoryFile } from "./directory_file.ts";
import type { InotifyWatch } from "./fsnotify.ts";
import type { Credentials } from "../kernel/creds.ts";
import { checkPermission } from "./permissions.ts";
import type { Acl, AclType } from "./posix_acl.ts";

/** The attributes of a file being created: type and permission bits (umask applied), owner. */
export interface NewFile {
  mode: number;
  uid: number;
  gid: number;
  /** Device number, for character and block devices. */
  rdev?: number;
  /** For S_IFSOCK: the bound socket (an AF_UNIX endpoint), see {@linkcode Dentry.boundSocket}. */
  socket?: unknown;
}

/**
 * A change of attributes (Linux's struct iattr). Absent fields stay; ctime becomes now whenever
 * anything is set. Times are nanoseconds since the epoch. The VFS has checked permissions.
 */
export interface SetAttr {
  /** Permission bits only (the type is kept). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Truncate or extend (regular files). */
  size?: number;
  atimeNs?: bigint;
  mtimeNs?: bigint;
}

/** What statfs(2) reports for a filesystem. */
export interface FsStat {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
}

/** One filesystem instance (a superblock). */
export interface Filesystem {
  /** The type name, as /proc/mounts shows it ("hostfs", "tmpfs", "proc"). */
  readonly name: string;
  /** True when the implementation cannot write at all, whatever the mount flags say. */
  readonly readonly: boolean;
  /**
   * The superblock's own read-only flag (SB_RDONLY) where it differs from `readonly`: set by a
   * mount(2) with MS_RDONLY that made the filesystem, a superblock remount, fsconfig's "ro"
   * (statmount's sb_flags, mountinfo's super options). Absent: `readonly`.
   */
  superReadonly?: boolean;
  readonly root: Dentry;
  /** Releases host resources (descriptors) when the last mount goes. */
  release(): void;
  /** Implements statfs(2); absent: the VFS reports generic figures. */
  statfs?(): FsStat;
  /**
   * The filesystem's options as /proc/PID/mounts shows them after rw/ro ("size=64k,mode=755"),
   * Linux's super_operations.show_options; absent or "": none.
   */
  showOptions?(): string;
  /**
   * The mount root's path within the filesystem as /proc/PID/mountinfo shows it, when the
   * filesystem decides it (Linux's super_operations.show_path; cgroup2's is relative to the
   * reader's cgroup namespace); absent: the dentry's path.
   */
  showPath?(root: Dentry): string;
  /**
   * True when a directory's lseek(SEEK_END) counts from a size of 0, as Linux's
   * generic_file_llseek does for procfs and kernfs directories; absent: EINVAL, as tmpfs's
   * dcache_dir_lseek.
   */
  readonly dirSeekEnd?: boolean;
}

/**
 * A node of a filesystem's tree. Subclasses implement the operations; the attributes used on
 * every walk step (mode, uid, gid) must be cheap, since they are read for each component.
 */
export abstract class Dentry {
  /** Null for the filesystem's root. Changed only by the filesystem's rename. */
  parent: Dentry | null;
  /** The name in parent ("" for a root). Changed only by the filesystem's rename. */
  name: string;

  /** The inotify watches on this file's inode, as last looked up (vfs/fsnotify.ts watchesOf). */
  inotify: InotifyWatch[] | null = null;
  /** The watch registry's generation that `inotify` was looked up in (0: never). */
  inotifyGeneration = 0;
  /**
   * Open descriptions of this dentry made by the VFS (O_PATH ones too): while there are any, an
   * unlinked file's IN_DELETE_SELF waits (Linux sends it when the last user drops the dentry).
   */
  users = 0;
  /** Removed from its directory by unlink, rmdir or a replacing rename (Linux's d_unlinked). */
  unlinked = false;

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
   * The inode's link count as the VFS keeps it (i_nlink: fsnotify's IN_DELETE_SELF at the last
   * user), which stat reports unless the filesystem says otherwise (overlayfs).
   */
  links(): number {
    return this.stat().nlink;
  }

  /**
   * The child called name, or null if there is none. name is a single component, never "",
   * "." or "..". Preconditions:
   * - this is a directory.
   */
  abstract lookup(name: string): Dentry | null;

  /** Every child, in a stable order, without "." and "..". Preconditions: this is a directory. */
  abstract children(): DirEntry[];

  /**
   * Throws EACCES unless creds may access this file as `want` (MAY_* bits) asks: the mode bits
   * with the capability overrides (vfs/permissions.ts), unless a filesystem has its own rule
   * (Linux's inode_operations.permission; /proc/sys's binds root too).
   */
  checkAccess(creds: Credentials, want: number): void {
    checkPermission(creds, want, this.mode, this.uid, this.gid, this.acl);
  }

  /**
   * The access ACL (vfs/posix_acl.ts) that permission checks on this file honour, or null (none,
   * or a filesystem without ACLs). Read on every check, so it must be cheap.
   */
  get acl(): Acl | null {
    return null;
  }

  /**
   * Whether the file carries file capabilities (the security.capability attribute), which a
   * write or truncate removes (Linux's security_inode_killpriv). Read on every write.
   */
  get fileCaps(): boolean {
    return false;
  }

  /**
   * The inode flags (FS_IOC_GETFLAGS: FS_IMMUTABLE_FL, FS_APPEND_FL, ...), or null when the
   * filesystem has no fileattr operations (the ioctls are then ENOTTY). Read on permission checks.
   */
  get inodeFlags(): number | null {
    return null;
  }

  /**
   * The inode flags FS_IOC_SETFLAGS may ask for: any other bit is EOPNOTSUPP (shmem_fileattr_set's
   * rule; tmpfs's four by default). A filesystem that ignores bits it does not keep, as ext2's
   * fileattr_set masks them, answers all of them and masks in setInodeFlags.
   */
  get settableInodeFlags(): number {
    return FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL;
  }

  /** Stores inode flags the caller has checked (FS_IOC_SETFLAGS). Preconditions: inodeFlags !== null. */
  setInodeFlags(_flags: number): void {
    throw EROFS;
  }

  /** A directory's default ACL, which files created in it inherit; null: none. */
  get defaultAcl(): Acl | null {
    return null;
  }

  /** Whether this file can hold ACLs (Linux's IS_POSIXACL with a set_acl): not symlinks. */
  get supportsAcl(): boolean {
    return false;
  }

  /**
   * Replaces the access or default ACL (null removes it) and moves ctime. The VFS has parsed,
   * validated and permission-checked it; it sets the mode after. `removal`: the caller asked
   * to remove it (removexattr, an empty value), not to set one the mode says all of.
   * EOPNOTSUPP without ACL support.
   */
  setAcl(_type: AclType, _acl: Acl | null, _removal = false): void {
    throw EOPNOTSUPP;
  }

  /** The target of a symlink; EINVAL for other files. */
  readlink(): string {
    throw EINVAL;
  }

  /**
   * A symlink was read through a mount with these flags, by readlink(2) or by following it
   * (Linux's touch_atime in do_readlinkat and pick_link): its atime moves as a file read's
   * does. Kept apart from readlink(), which the checkpoint and copy-up also call. No-op where
   * the file system keeps no times of its own.
   */
  symlinkRead(_mountFlags: number): void {}

  /**
   * A directory was listed (getdents): its atime moves as file_accessed's touch_atime moves
   * it, under the mount's flags (MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME, else relatime).
   * No-op where the file system keeps no times of its own.
   */
  dirListed(_mountFlags: number): void {}

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

  // ---- Writable operations ------------------------------------------------------------------
  //
  // Called by the VFS (vfs.ts) after every generic check Linux makes in fs/namei.c: the mount
  // is writable, the caller may write and search this directory, the sticky bit, the name is
  // a normal component, the child (when given) is this directory's child `name` and is not a
  // mount point, and for rename the types of source and target agree. A filesystem checks
  // only what it alone knows (ENOTEMPTY, ENOSPC, EMLINK) and does the change. Read-only
  // filesystems inherit these defaults (EROFS; the VFS reports EROFS from the mount first).

  /** Creates a regular file `name` (absent). Preconditions: this is a directory. */
  create(_name: string, _attrs: NewFile): Dentry {
    throw EROFS;
  }

  /**
   * Creates an unnamed regular file in this directory (open(2)'s O_TMPFILE): its dentry is
   * not among the children and its link count is 0; link() may give it a name unless
   * linkable is false (O_EXCL). EOPNOTSUPP where the filesystem cannot.
   */
  createTmpfile(_attrs: NewFile, _linkable: boolean): Dentry {
    throw EOPNOTSUPP;
  }

  /** Creates a directory `name` (absent). */
  mkdir(_name: string, _attrs: NewFile): Dentry {
    throw EROFS;
  }

  /** Creates a FIFO, socket, device or regular file `name` (absent), by attrs.mode's type. */
  mknod(_name: string, _attrs: NewFile): Dentry {
    throw EROFS;
  }

  /** Creates a symlink `name` (absent) to target. */
  symlink(_name: string, _target: string, _attrs: NewFile): Dentry {
    throw EROFS;
  }

  /** Makes `name` (absent) a new link to target, a non-directory of this filesystem (EXDEV otherwise). */
  link(_name: string, _target: Dentry): Dentry {
    throw EROFS;
  }

  /** Removes the non-directory child `name`. */
  unlink(_name: string, _child: Dentry): void {
    throw EROFS;
  }

  /** Removes the directory child `name` (ENOTEMPTY unless empty). */
  rmdir(_name: string, _child: Dentry): void {
    throw EROFS;
  }

  /**
   * Moves child `name` to `newName` in newParent (a directory of this filesystem), replacing
   * replaced (null when newName is absent; ENOTEMPTY for a non-empty directory). flags:
   * RENAME_EXCHANGE swaps the two (replaced is then present). The moved dentries get their new
   * parent and name.
   */
  rename(_name: string, _child: Dentry, _newParent: Dentry, _newName: string, _replaced: Dentry | null, _flags: number): void {
    throw EROFS;
  }

  /** Changes attributes (chmod, chown, utimes, truncate). */
  setattr(_attr: SetAttr): void {
    throw EROFS;
  }

  /** The value of extended attribute `name` (ENODATA if absent). */
  getxattr(_name: string): Uint8Array {
    throw ENODATA;
  }

  /** Sets extended attribute `name`; flags XATTR_CREATE (EEXIST) or XATTR_REPLACE (ENODATA). */
  setxattr(_name: string, _value: Uint8Array, _flags: number): void {
    throw EOPNOTSUPP;
  }

  /** The names of the extended attributes. */
  listxattr(): string[] {
    return [];
  }

  /** Removes extended attribute `name` (ENODATA if absent). */
  removexattr(_name: string): void {
    throw EOPNOTSUPP;
  }

  /**
   * For a socket file (S_IFSOCK): the endpoint bound to it by bind(2) (what the AF_UNIX
   * family passed in {@linkcode NewFile.socket}), or null (ECONNREFUSED for connect).
   */
  boundSocket(): unknown {
    return null;
  }

  /**
   * The last description of this dentry (O_PATH ones too: `users`) went after it was unlinked:
   * a filesystem that keeps an unlinked inode for its users (a disk filesystem's orphan) may
   * free it now. Linux's dput of the last reference, then evict.
   */
  lastUserGone(): void {}

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
