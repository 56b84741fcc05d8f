/**
 * Names in the tree: mkdir(2), mkdirat(2), mknod(2), mknodat(2), rmdir(2), unlink(2),
 * unlinkat(2), link(2), linkat(2), symlink(2), symlinkat(2), rename(2), renameat(2),
 * renameat2(2). Each decodes its arguments and makes one VFS call; the checks are Linux's
 * fs/namei.c, in vfs/vfs.ts.
 *
 * @module
 */

import { EINVAL, ENOENT } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, S_IFMT } from "../../../abi/linux/file.ts";
import { copyInPath, pathCtx, sandboxPath, startDir } from "./_path.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { CAP_DAC_READ_SEARCH } from "../../../abi/linux/capability.ts";

/** The common part of mkdir(2) and mkdirat(2): permission bits and the sticky bit, less the umask. */
function mkdirAt(t: Task, dirfd: number, pathAddr: number, mode: number): number {
  const path = copyInPath(t, pathAddr);
  const dir = startDir(t, dirfd, path);
  t.kernel.vfs.mkdirAt(pathCtx(t), dir, path, mode & 0o1777);
  t.kernel.resources.activity?.fileCreated(sandboxPath(dir, path), t.tg.tgid);
  return 0;
}

/** Implements mkdir(2). */
const sysMkdir: SyscallFn = (t, a) => mkdirAt(t, AT_FDCWD, a.pointer(0), a.uint(1));

/** Implements mkdirat(2). */
const sysMkdirat: SyscallFn = (t, a) => mkdirAt(t, a.fd(0), a.pointer(1), a.uint(2));

/**
 * The common part of mknod(2) and mknodat(2). dev is the kernel's 32-bit encoding, which is
 * also what stat(2) reports as st_rdev for numbers that fit.
 */
function mknodAt(t: Task, dirfd: number, pathAddr: number, mode: number, dev: number): number {
  const path = copyInPath(t, pathAddr);
  const m = (mode & S_IFMT) | (mode & 0o7777);
  const dir = startDir(t, dirfd, path);
  t.kernel.vfs.mknodAt(pathCtx(t), dir, path, m, dev);
  t.kernel.resources.activity?.fileCreated(sandboxPath(dir, path), t.tg.tgid);
  return 0;
}

/** Implements mknod(2). */
const sysMknod: SyscallFn = (t, a) => mknodAt(t, AT_FDCWD, a.pointer(0), a.uint(1), a.uint(2));

/** Implements mknodat(2). */
const sysMknodat: SyscallFn = (t, a) => mknodAt(t, a.fd(0), a.pointer(1), a.uint(2), a.uint(3));

/** Implements rmdir(2). */
const sysRmdir: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  const dir = startDir(t, AT_FDCWD, path);
  t.kernel.vfs.rmdirAt(pathCtx(t), dir, path);
  t.kernel.resources.activity?.fileDeleted(sandboxPath(dir, path), t.tg.tgid);
  return 0;
};

/** Implements unlink(2). */
const sysUnlink: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  const dir = startDir(t, AT_FDCWD, path);
  t.kernel.vfs.unlinkAt(pathCtx(t), dir, path);
  t.kernel.resources.activity?.fileDeleted(sandboxPath(dir, path), t.tg.tgid);
  return 0;
};

/** Implements unlinkat(2): AT_REMOVEDIR makes it rmdir. */
const sysUnlinkat: SyscallFn = (t, a) => {
  const dirfd = a.fd(0), flags = a.int(2);
  if (flags & ~AT_REMOVEDIR) throw EINVAL;
  const path = copyInPath(t, a.pointer(1));
  const dir = startDir(t, dirfd, path);
  if (flags & AT_REMOVEDIR) t.kernel.vfs.rmdirAt(pathCtx(t), dir, path);
  else t.kernel.vfs.unlinkAt(pathCtx(t), dir, path);
  t.kernel.resources.activity?.fileDeleted(sandboxPath(dir, path), t.tg.tgid);
  return 0;
};

/** The common part of link(2) and linkat(2). */
function linkAt(t: Task, olddirfd: number, oldAddr: number, newdirfd: number, newAddr: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) throw EINVAL;
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  const oldPath = copyInPath(t, oldAddr, emptyPath);
  const newPath = copyInPath(t, newAddr);
  const ctx = pathCtx(t);
  let from;
  if (oldPath === "" && emptyPath) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, or (Linux 6.10+) a file opened with the
    // caller's very credentials (the working directory, AT_FDCWD, is not checked).
    const file = olddirfd === AT_FDCWD ? null : t.fdTable.get(olddirfd);
    if (file !== null && file.openerCreds !== t.creds && !t.creds.hasCap(CAP_DAC_READ_SEARCH)) throw ENOENT;
    from = startDir(t, olddirfd, oldPath, true);
  } else {
    from = t.kernel.vfs.resolve(ctx, startDir(t, olddirfd, oldPath), oldPath, {
      follow: (flags & AT_SYMLINK_FOLLOW) !== 0,
    });
  }
  const newDir = startDir(t, newdirfd, newPath);
  t.kernel.vfs.linkAt(ctx, from, newDir, newPath);
  t.kernel.resources.activity?.fileCreated(sandboxPath(newDir, newPath), t.tg.tgid);
  return 0;
}

/** Implements link(2): never follows a final symlink of oldpath. */
const sysLink: SyscallFn = (t, a) => linkAt(t, AT_FDCWD, a.pointer(0), AT_FDCWD, a.pointer(1), 0);

/** Implements linkat(2). */
const sysLinkat: SyscallFn = (t, a) => linkAt(t, a.fd(0), a.pointer(1), a.fd(2), a.pointer(3), a.int(4));

/** The common part of symlink(2) and symlinkat(2). */
function symlinkAt(t: Task, targetAddr: number, newdirfd: number, pathAddr: number): number {
  const target = copyInPath(t, targetAddr);
  const path = copyInPath(t, pathAddr);
  const dir = startDir(t, newdirfd, path);
  t.kernel.vfs.symlinkAt(pathCtx(t), target, dir, path);
  t.kernel.resources.activity?.fileCreated(sandboxPath(dir, path), t.tg.tgid);
  return 0;
}

/** Implements symlink(2). */
const sysSymlink: SyscallFn = (t, a) => symlinkAt(t, a.pointer(0), AT_FDCWD, a.pointer(1));

/** Implements symlinkat(2). */
const sysSymlinkat: SyscallFn = (t, a) => symlinkAt(t, a.pointer(0), a.fd(1), a.pointer(2));

/** The common part of rename(2), renameat(2), renameat2(2). */
function renameAt(t: Task, olddirfd: number, oldAddr: number, newdirfd: number, newAddr: number, flags: number): number {
  const oldPath = copyInPath(t, oldAddr);
  const newPath = copyInPath(t, newAddr);
  const oldDir = startDir(t, olddirfd, oldPath);
  const newDir = startDir(t, newdirfd, newPath);
  t.kernel.vfs.renameAt(pathCtx(t), oldDir, oldPath, newDir, newPath, flags);
  const log = t.kernel.resources.activity;
  if (log) {
    // RENAME_EXCHANGE (2) leaves both names in place.
    if (!(flags & 2)) log.fileDeleted(sandboxPath(oldDir, oldPath), t.tg.tgid);
    log.fileCreated(sandboxPath(newDir, newPath), t.tg.tgid);
  }
  return 0;
}

/** Implements rename(2). */
const sysRename: SyscallFn = (t, a) => renameAt(t, AT_FDCWD, a.pointer(0), AT_FDCWD, a.pointer(1), 0);

/** Implements renameat(2). */
const sysRenameat: SyscallFn = (t, a) => renameAt(t, a.fd(0), a.pointer(1), a.fd(2), a.pointer(3), 0);

/** Implements renameat2(2): RENAME_NOREPLACE and RENAME_EXCHANGE (RENAME_WHITEOUT is EINVAL). */
const sysRenameat2: SyscallFn = (t, a) => renameAt(t, a.fd(0), a.pointer(1), a.fd(2), a.pointer(3), a.uint(4));

export const table: Record<number, SyscallEntry> = {
  82: supported("rename", sysRename),
  83: supported("mkdir", sysMkdir),
  84: supported("rmdir", sysRmdir),
  86: supported("link", sysLink),
  87: supported("unlink", sysUnlink),
  88: supported("symlink", sysSymlink),
  133: supported("mknod", sysMknod),
  258: supported("mkdirat", sysMkdirat),
  259: supported("mknodat", sysMknodat),
  263: supported("unlinkat", sysUnlinkat),
  264: supported("renameat", sysRenameat),
  265: supported("linkat", sysLinkat),
  266: supported("symlinkat", sysSymlinkat),
  316: supported("renameat2", sysRenameat2),
};
