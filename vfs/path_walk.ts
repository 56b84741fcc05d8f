/**
 * Path resolution, one component at a time, as Linux's link_path_walk() (fs/namei.c).
 *
 * Every path an application names is resolved here, inside the sentry, against dentries: the
 * host never sees a path with more than one component, so nothing resolves outside the
 * sandbox's root. The rules:
 * - An absolute path, and an absolute symlink target, start at the caller's root.
 * - `..` at the caller's root stays there; `..` at a mount's root crosses to its mount point.
 * - A dentry with a mount on it is replaced by the mounted root.
 * - Each directory searched needs search (exec) permission; a non-directory in the middle of a
 *   path is ENOTDIR; a component longer than NAME_MAX is ENAMETOOLONG.
 * - Symlinks are followed in the middle of a path always, at the end when asked or when the
 *   path ends with a slash; more than MAXSYMLINKS (40) in one walk is ELOOP.
 * - A trailing slash requires the result to be a directory (ENOTDIR).
 * - openat2's RESOLVE_* flags (`PathContext.resolve`) restrict the walk as Linux's LOOKUP_*
 *   flags do: a scoped walk (BENEATH, IN_ROOT) takes the starting directory as its root, BENEATH
 *   refuses every way out of it (an absolute path or symlink, ".." at it) with EXDEV where
 *   IN_ROOT clamps them there; NO_XDEV refuses crossing a mount in either direction (EXDEV);
 *   NO_SYMLINKS refuses following any symlink, NO_MAGICLINKS a magic link (ELOOP), and a scoped
 *   walk never follows a magic link (EXDEV).
 *
 * @module
 */

import { encodedPathLength } from "../abi/path_bytes.ts";
import type { LandlockDomain } from "../kernel/landlock.ts";
import { EACCES, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EXDEV } from "../kernel/errno.ts";
import type { Credentials } from "../kernel/creds.ts";
import {
  MAXSYMLINKS, NAME_MAX, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
  S_IFDIR, S_IFLNK, S_IFMT,
} from "../abi/linux/file.ts";
import { MS_NOSYMFOLLOW } from "../abi/linux/mount.ts";
import { Location, type Mount } from "./mount.ts";
import type { Dentry } from "./dentry.ts";
import { MAY_EXEC, mayAccess } from "./permissions.ts";

/** Who resolves a path and where "/" is for them. */
export interface PathContext {
  /** The caller's root directory (chroot). */
  root: Location;
  /** Whose permissions the walk checks. */
  creds: Credentials;
  /**
   * The caller's umask, which creation applies to the mode it is given unless the directory has
   * a default ACL (Linux's posix_acl_create). Absent: 0 (the mode is final).
   */
  umask?: number;
  /** The caller's Landlock domain (kernel/landlock.ts), checked by the VFS's operations; absent: none. */
  landlock?: LandlockDomain | null;
  /**
   * The caller's device cgroup (Linux's devcgroup_inode_permission and devcgroup_inode_mknod,
   * kernel/bpf/cgroup_progs.ts): throws EPERM when it refuses `access` (BPF_DEVCG_ACC_* bits) to
   * a block or character device; absent: every device is allowed.
   */
  devices?: ((block: boolean, rdev: number, access: number) => void) | null;
  /** openat2's RESOLVE_* flags for this walk; absent: 0 (every other call). */
  resolve?: number;
  /**
   * Linux's break_lease, called by open(2) and truncate(2) of an existing regular file once
   * every check has passed, before it is truncated or opened (write: for writing): breaks the
   * file's conflicting leases (vfs/lease.ts) and throws when the caller must wait
   * (kernel/syscalls/linux/sys_lease.ts). Absent: no lease is held in the sandbox.
   */
  breakLease?: ((d: Dentry, write: boolean) => void) | null;
}

/** A walk whose final component does not exist, for callers that create it. */
export interface MissingFinal {
  /** The directory that would contain the file. */
  parent: Location;
  /** The final component (never "", "." or ".."). */
  name: string;
  /** The path ended with a slash. */
  mustBeDir: boolean;
}

/** A walk to the directory holding a path's last component, for unlink, rmdir, rename, mkdir... */
export interface ParentWalk {
  /** The directory that holds (or would hold) the last component. */
  parent: Location;
  /**
   * The last component, not looked up: a normal name, or "." or ".." (Linux's LAST_DOT,
   * LAST_DOTDOT), or "/" for a path of slashes only (LAST_ROOT).
   */
  name: string;
  /** The path ended with a slash. */
  trailingSlash: boolean;
}

const SLASH = 0x2f;

/**
 * Resolves path from start (ignored for an absolute path). follow: follow a symlink in the
 * final component. Throws ENOENT for "" (callers handle AT_EMPTY_PATH first).
 */
export function walk(ctx: PathContext, start: Location, path: string, follow: boolean): Location {
  return walkImpl(ctx, start, path, follow, false) as Location;
}

/**
 * As {@linkcode walk}, but a missing final component (with an existing parent directory) is
 * reported as a {@linkcode MissingFinal} instead of ENOENT.
 */
export function walkOrMissing(
  ctx: PathContext,
  start: Location,
  path: string,
  follow: boolean,
): Location | MissingFinal {
  return walkImpl(ctx, start, path, follow, true);
}

/**
 * Resolves every component of path but the last, as Linux's filename_parentat(): the last one
 * is returned unresolved (never followed). ENOTDIR when the parent is not a directory;
 * ENAMETOOLONG for a last component over NAME_MAX. Search permission on the parent itself is
 * the caller's to check (with the lookup it makes).
 */
export function walkParent(ctx: PathContext, start: Location, path: string): ParentWalk {
  if (path.length === 0) throw ENOENT;
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === SLASH) end--;
  const trailingSlash = end < path.length;
  if (end === 0) return { parent: ctx.root, name: "/", trailingSlash };
  const slash = path.lastIndexOf("/", end - 1);
  const name = path.slice(slash + 1, end);
  if (name.length > NAME_MAX || (name.length > NAME_MAX / 3 && encodedPathLength(name) > NAME_MAX)) {
    throw ENAMETOOLONG;
  }
  let parent: Location;
  if (slash < 0) parent = start;
  else if (slash === 0) parent = ctx.root;
  else parent = walkImpl(ctx, start, path.slice(0, slash + 1), true, false) as Location;
  if ((parent.dentry.mode & S_IFMT) !== S_IFDIR) throw ENOTDIR;
  return { parent, name, trailingSlash };
}

/** Throws EACCES unless creds may search the directory d. */
export function checkSearch(creds: Credentials, d: Dentry): void {
  const mode = d.mode;
  if ((mode & 0o111) === 0o111) return; // The common case: searchable by everyone.
  if (!mayAccess(creds, MAY_EXEC, mode, d.uid, d.gid, d.acl)) throw EACCES;
}

function walkImpl(
  ctx: PathContext,
  start: Location,
  path: string,
  follow: boolean,
  allowMissing: boolean,
): Location | MissingFinal {
  if (path.length === 0) throw ENOENT;
  let m: Mount = start.mount;
  let d: Dentry = start.dentry;
  const resolve = ctx.resolve ?? 0;
  // A scoped walk's root is where it starts (Linux's path_init with LOOKUP_IS_SCOPED).
  const scoped = (resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) !== 0;
  const rootM = scoped ? start.mount : ctx.root.mount;
  const rootD = scoped ? start.dentry : ctx.root.dentry;
  // Whether Linux's walk has its root set (nd->root): from the start when scoped, else by an
  // absolute path or a "..". Under NO_XDEV an absolute symlink met before that is EXDEV
  // (nd_jump_root compares with a root not yet set).
  let rootSet = scoped;
  if (path.charCodeAt(0) === SLASH) {
    // An absolute path argument may start on another mount even under NO_XDEV (nd_jump_root
    // has no current path yet); BENEATH refuses it.
    if (resolve & RESOLVE_BENEATH) throw EXDEV;
    rootSet = true;
    m = rootM;
    d = rootD;
  }
  // Components still to walk, the next one last.
  const stack: string[] = [];
  pushComponents(stack, path);
  let mustBeDir = path.charCodeAt(path.length - 1) === SLASH;
  let links = 0;

  while (stack.length > 0) {
    const name = stack.pop()!;
    const final = stack.length === 0;
    if ((d.mode & S_IFMT) !== S_IFDIR) throw ENOTDIR;
    checkSearch(ctx.creds, d);
    if (name === ".") continue;
    if (name === "..") {
      // Linux's follow_dotdot: stop at the caller's root, climb out of mounts, then go up.
      if (m === rootM && d === rootD && (resolve & RESOLVE_BENEATH)) throw EXDEV;
      rootSet = true;
      while (!(m === rootM && d === rootD)) {
        if (d !== m.root) {
          d = d.parent!;
          break;
        }
        if (m.parent === null || m.mountpoint === null) break;
        if (resolve & RESOLVE_NO_XDEV) throw EXDEV;
        d = m.mountpoint;
        m = m.parent;
      }
      continue;
    }
    if (name.length > NAME_MAX || (name.length > NAME_MAX / 3 && encodedPathLength(name) > NAME_MAX)) {
      throw ENAMETOOLONG;
    }
    const child = d.lookup(name);
    if (child === null) {
      if (final && allowMissing) return { parent: new Location(m, d), name, mustBeDir };
      throw ENOENT;
    }
    let cm = m;
    let cd = child;
    for (let over = cm.children.get(cd); over !== undefined; over = cm.children.get(cd)) {
      if (resolve & RESOLVE_NO_XDEV) throw EXDEV;
      over.expiryMark = false; // used: a pending MNT_EXPIRE starts over
      cm = over;
      cd = over.root;
    }
    if ((cd.mode & S_IFMT) === S_IFLNK && (!final || follow || mustBeDir)) {
      if (resolve & RESOLVE_NO_SYMLINKS) throw ELOOP;
      if (++links > MAXSYMLINKS) throw ELOOP;
      // pick_link: no symlink is followed on a nosymfollow mount (readlink still reads it).
      if (cm.flags & MS_NOSYMFOLLOW) throw ELOOP;
      const jump = cd.magicLink();
      if (jump !== null) {
        // A magic link (/proc/PID/fd/N) leads to a place, not to a path: no "..", no root.
        // nd_jump_link's checks, in its order.
        if (resolve & RESOLVE_NO_MAGICLINKS) throw ELOOP;
        if ((resolve & RESOLVE_NO_XDEV) && jump.mount !== m) throw EXDEV;
        if (scoped) throw EXDEV;
        m = jump.mount;
        d = jump.dentry;
        continue;
      }
      const target = cd.readlink();
      cd.symlinkRead(cm.flags);
      if (target.length === 0) throw ENOENT;
      if (target.charCodeAt(0) === SLASH) {
        // nd_jump_root from inside the walk: BENEATH refuses it, NO_XDEV unless already on the root's mount.
        if (resolve & RESOLVE_BENEATH) throw EXDEV;
        if ((resolve & RESOLVE_NO_XDEV) && (!rootSet || m !== rootM)) throw EXDEV;
        rootSet = true;
        m = rootM;
        d = rootD;
      }
      if (final && target.charCodeAt(target.length - 1) === SLASH) mustBeDir = true;
      pushComponents(stack, target);
      continue;
    }
    m = cm;
    d = cd;
  }
  if (mustBeDir && (d.mode & S_IFMT) !== S_IFDIR) throw ENOTDIR;
  return new Location(m, d);
}

/** Pushes path's non-empty components onto stack so that the first one is popped first. */
function pushComponents(stack: string[], path: string): void {
  let end = path.length;
  for (let i = path.length - 1; i >= -1; i--) {
    if (i === -1 || path.charCodeAt(i) === SLASH) {
      if (end > i + 1) stack.push(path.slice(i + 1, end));
      end = i;
    }
  }
}
