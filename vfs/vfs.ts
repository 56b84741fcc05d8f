/**
 * The virtual filesystem: the mount tree and the path-based operations the syscalls use
 * (open, stat, readlink, access, chdir, exec). Analogous to gVisor's vfs.VirtualFilesystem and
 * to the path half of Linux's fs/open.c, fs/stat.c and fs/namei.c.
 *
 * Every operation takes a {@linkcode PathContext} (the caller's root and credentials) and a
 * start directory (the caller's cwd or dirfd); the syscall layer decides those. Errors are
 * thrown as LinuxError singletons in Linux's order of checks.
 *
 * Synchronous on purpose: no operation awaits, so the tree cannot change under a walk.
 *
 * @module
 */

import {
  EACCES, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM, EROFS,
} from "../kernel/errno.ts";
import { Credentials } from "../kernel/creds.ts";
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, O_ACCMODE, O_CLOEXEC, O_CREAT, O_DIRECTORY,
  O_EXCL, O_LARGEFILE, O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_PATH, O_RDONLY, O_TMPFILE, O_TRUNC,
  O_WRONLY, S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
} from "../abi/linux/file.ts";
import type { Dentry, Filesystem } from "./dentry.ts";
import type { FileDescription, Stat } from "./file_description.ts";
import { Location, Mount } from "./mount.ts";
import { OPathFile } from "./opath_file.ts";
import { type PathContext, walk, walkOrMissing } from "./path_walk.ts";
import { checkPermission, MAY_EXEC, MAY_READ, MAY_WRITE, mayAccess } from "./permissions.ts";
import { HostFilesystem } from "./hostfs/hostfs.ts";
import { hostStdio } from "./host_file.ts";

/** Flags an O_PATH open keeps (Linux's O_PATH_FLAGS); the rest are ignored. */
const O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;
/** Flags that act at open time only and are not kept in the description (F_GETFL). */
const OPEN_ONLY_FLAGS = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

/** What {@linkcode VirtualFilesystem.openExecutable} returns to the ELF loader. */
export interface Executable {
  /** Open for reading (even when the file is execute-only, as execve's open is). */
  file: FileDescription;
  location: Location;
  /** The file's host path, for diagnostics; null when it has none. */
  hostPath: string | null;
}

/** @savable The mount tree and the operations on paths. */
export class VirtualFilesystem {
  /** Immutable. */
  readonly #rootMount: Mount;
  #nextMountId = 1;

  private constructor(rootFs: Filesystem, readonly: boolean) {
    this.#rootMount = new Mount({
      id: this.#nextMountId++, fs: rootFs, root: rootFs.root, parent: null, mountpoint: null, readonly,
    });
  }

  /**
   * A tree whose root is the host directory rootHostPath. It is read-only until the overlay
   * exists (readonly: false is accepted and changes nothing yet). Throws a LinuxError when the
   * directory cannot be opened.
   */
  static create(o: { rootHostPath: string; readonly: boolean }): VirtualFilesystem {
    return new VirtualFilesystem(HostFilesystem.open(o.rootHostPath), o.readonly);
  }

  /** The root of the whole tree (init's root and cwd start here). */
  root(): Location {
    return new Location(this.#rootMount, this.#rootMount.root);
  }

  /**
   * Mounts fs (its root, or the subtree at root) on the directory at. Stacks on an existing
   * mount there. Permission checks are the caller's (mount(2) needs CAP_SYS_ADMIN).
   */
  mount(
    at: Location,
    fs: Filesystem,
    o: { readonly: boolean; root?: Dentry; flags?: number; source?: string },
  ): Mount {
    if (!at.isDir) throw ENOTDIR;
    const m = new Mount({
      id: this.#nextMountId++, fs, root: o.root ?? fs.root, parent: at.mount, mountpoint: at.dentry,
      readonly: o.readonly, flags: o.flags ?? 0, source: o.source ?? fs.name,
    });
    at.mount.children.set(at.dentry, m);
    return m;
  }

  /** Every mount, parents before children (for /proc/PID/mounts). */
  mounts(): Mount[] {
    const out: Mount[] = [];
    const visit = (m: Mount): void => {
      out.push(m);
      for (const c of m.children.values()) visit(c);
    };
    visit(this.#rootMount);
    return out;
  }

  /**
   * Implements the path part of openat(2). mode is the creation mode with the umask already
   * applied. Returns a new description (one reference, for the caller to install).
   */
  openAt(ctx: PathContext, dir: Location, path: string, flags: number, mode: number): FileDescription {
    void mode; // Used once a writable filesystem exists.
    if ((flags & O_TMPFILE) === O_TMPFILE) return this.#openTmpfile(ctx, dir, path, flags);
    if (flags & O_PATH) {
      const f = flags & O_PATH_FLAGS;
      const loc = walk(ctx, dir, path, (f & O_NOFOLLOW) === 0);
      if ((f & O_DIRECTORY) && !loc.isDir) throw ENOTDIR;
      return new OPathFile(loc, f & ~O_CLOEXEC);
    }
    if ((flags & (O_CREAT | O_DIRECTORY)) === (O_CREAT | O_DIRECTORY)) throw EINVAL;

    let loc: Location;
    if (flags & O_CREAT) {
      const r = walkOrMissing(ctx, dir, path, (flags & (O_EXCL | O_NOFOLLOW)) === 0);
      if (!(r instanceof Location)) {
        if (r.mustBeDir) throw EISDIR;
        if (r.parent.mount.isReadonly) throw EROFS;
        // No writable filesystem exists yet: every one that is not read-only creates here.
        throw EROFS;
      }
      if (flags & O_EXCL) throw EEXIST;
      loc = r;
      if (loc.isDir) throw EISDIR;
    } else {
      loc = walk(ctx, dir, path, (flags & O_NOFOLLOW) === 0);
    }

    const d = loc.dentry;
    const type = d.mode & S_IFMT;
    if (type === S_IFLNK) throw ELOOP; // Only reachable with O_NOFOLLOW.
    if ((type === S_IFCHR || type === S_IFBLK) && loc.mount.nodev) throw EACCES;
    if ((flags & O_DIRECTORY) && type !== S_IFDIR) throw ENOTDIR;
    const acc = flags & O_ACCMODE;
    let want = acc === O_WRONLY ? 0 : MAY_READ;
    if (acc !== O_RDONLY || (flags & O_TRUNC)) want |= MAY_WRITE;
    if (type === S_IFDIR && (want & MAY_WRITE)) throw EISDIR;
    if ((want & MAY_WRITE) && (type === S_IFREG || type === S_IFDIR) && loc.mount.isReadonly) throw EROFS;
    checkPermission(ctx.creds, want, d.mode, d.uid, d.gid);
    if ((flags & O_NOATIME) && ctx.creds.fsuid !== d.uid && !ctx.creds.hasDacOverride) throw EPERM;
    return d.open(loc, (flags & ~OPEN_ONLY_FLAGS) | O_LARGEFILE);
  }

  #openTmpfile(ctx: PathContext, dir: Location, path: string, flags: number): FileDescription {
    if ((flags & O_ACCMODE) === O_RDONLY) throw EINVAL;
    const loc = walk(ctx, dir, path, true);
    if (!loc.isDir) throw ENOTDIR;
    checkPermission(ctx.creds, MAY_WRITE | MAY_EXEC, loc.dentry.mode, loc.dentry.uid, loc.dentry.gid);
    if (loc.mount.isReadonly) throw EROFS;
    throw EOPNOTSUPP;
  }

  /**
   * Implements the path part of stat(2), lstat(2), newfstatat(2), statx(2). emptyPath: an
   * empty path names dir itself (AT_EMPTY_PATH).
   */
  statAt(ctx: PathContext, dir: Location, path: string, opts: { follow: boolean; emptyPath: boolean }): Stat {
    if (path === "") {
      if (!opts.emptyPath) throw ENOENT;
      return dir.dentry.stat();
    }
    return walk(ctx, dir, path, opts.follow).dentry.stat();
  }

  /** Implements readlinkat(2): EINVAL if not a symlink. An empty path names dir (ENOENT if not a link). */
  readlinkAt(ctx: PathContext, dir: Location, path: string): string {
    if (path === "") {
      if (!dir.dentry.isSymlink) throw ENOENT;
      return dir.dentry.readlink();
    }
    const loc = walk(ctx, dir, path, false);
    if (!loc.dentry.isSymlink) throw EINVAL;
    return loc.dentry.readlink();
  }

  /**
   * Implements faccessat2(2). mode: F_OK or a mask of R_OK, W_OK, X_OK (validated by the
   * caller). flags: AT_EACCESS, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. Without AT_EACCESS the
   * check uses the real uid and gid, for the walk too, as Linux's access_override_creds().
   */
  accessAt(ctx: PathContext, dir: Location, path: string, mode: number, flags: number): void {
    const c = ctx.creds;
    const creds = (flags & AT_EACCESS) || (c.fsuid === c.uid && c.fsgid === c.gid)
      ? c
      : new Credentials(c.uid, c.gid, c.euid, c.egid, c.suid, c.sgid, c.uid, c.gid, c.groups);
    const actx = creds === c ? ctx : { root: ctx.root, creds };
    let loc: Location;
    if (path === "" && (flags & AT_EMPTY_PATH)) loc = dir;
    else loc = walk(actx, dir, path, (flags & AT_SYMLINK_NOFOLLOW) === 0);
    if (mode === 0) return;
    const d = loc.dentry;
    const type = d.mode & S_IFMT;
    if ((mode & MAY_WRITE) && (type === S_IFREG || type === S_IFDIR || type === S_IFLNK) && loc.mount.isReadonly) {
      throw EROFS;
    }
    checkPermission(creds, mode, d.mode, d.uid, d.gid);
  }

  /** Resolves a directory to change into (chdir(2), the initial cwd): ENOTDIR, EACCES. */
  lookupDir(ctx: PathContext, dir: Location, path: string): Location {
    const loc = walk(ctx, dir, path, true);
    this.checkChdir(ctx, loc);
    return loc;
  }

  /** The checks fchdir(2) makes on a location it already has. */
  checkChdir(ctx: PathContext, loc: Location): void {
    const d = loc.dentry;
    if (!d.isDir) throw ENOTDIR;
    checkPermission(ctx.creds, MAY_EXEC, d.mode, d.uid, d.gid);
  }

  /**
   * Resolves and opens a file for execve(2) and the ELF interpreter: it must be a regular file
   * the caller may execute (EACCES otherwise, as Linux for directories and devices).
   */
  openExecutable(ctx: PathContext, dir: Location, path: string): Executable {
    const loc = walk(ctx, dir, path, true);
    const d = loc.dentry;
    if (!d.isRegular || loc.mount.noexec) throw EACCES;
    if (!mayAccess(ctx.creds, MAY_EXEC, d.mode, d.uid, d.gid)) throw EACCES;
    return { file: d.open(loc, O_RDONLY | O_LARGEFILE), location: loc, hostPath: d.hostPath() };
  }

  /** The sentry's own stdin, stdout or stderr as a description; see vfs/host_file.ts. */
  hostStdio(fd: 0 | 1 | 2): FileDescription {
    return hostStdio(fd);
  }

  /** Releases every filesystem's host resources. The tree must not be used afterwards. */
  release(): void {
    for (const m of this.mounts().reverse()) m.fs.release();
  }
}
