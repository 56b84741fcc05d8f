/** execve(2) and execveat(2). */

import { EAGAIN, EINVAL, ENOENT, ENOTDIR } from "../../errno.ts";
import { RLIMIT_NPROC } from "../../../abi/linux/limits.ts";
import { nprocOverlimit } from "../../task_clone.ts";
import type { ExecOpen } from "../../loader/load.ts";
import { copyInPath } from "./_path.ts";
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_RDONLY } from "../../../abi/linux/file.ts";
import { execFailedLate, execTask, inDeThread } from "../../task_exec.ts";
import { LinuxError } from "../../errno.ts";
import { PageReader } from "../../loader/exec_strings.ts";
import type { Task } from "../../task.ts";
import { supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

/** Linux's MAX_ARG_STRINGS. */
const MAX_ARG_STRINGS = 0x7fffffff;

function exec(t: Task, path: string, argvAddr: number, envpAddr: number, open?: ExecOpen): SyscallResult {
  // One host read per page of strings and pointers, not two per string.
  const mem = new PageReader((addr, dst) => t.mm.read(addr, dst));
  const argv = mem.stringArray(argvAddr, MAX_ARG_STRINGS);
  const envp = mem.stringArray(envpAddr, MAX_ARG_STRINGS);
  if (path === "") throw ENOENT;
  return execTask(t, open === undefined ? { path, argv, envp } : { path, argv, envp, open });
}

/**
 * An execve woken in de_thread's sleep reads its path and arguments again; past the point of
 * no return, failing to is fatal (task_exec.ts).
 */
function pastNoReturn(fn: SyscallFn): SyscallFn {
  return (t, a) => {
    if (!inDeThread(t)) return fn(t, a);
    try {
      return fn(t, a);
    } catch (e) {
      if (e instanceof LinuxError) return execFailedLate(t);
      throw e;
    }
  };
}

/**
 * do_execveat_common's first check once the name is read: a set*uid made the caller a user at
 * RLIMIT_NPROC (PF_NPROC_EXCEEDED), and the user still is over it: EAGAIN, the failure set*uid
 * deferred; under it (again), the flag goes.
 */
function checkNprocExceeded(t: Task): void {
  if (!t.nprocExceeded) return;
  const c = t.creds;
  if (nprocOverlimit(t.kernel, c.userNs, c.uid, 0, t.tg.limits.soft(RLIMIT_NPROC))) throw EAGAIN;
  t.nprocExceeded = false;
}

/** Implements execve(2). */
const sysExecve: SyscallFn = (t, a) => {
  const path = t.copyInString(a.pointer(0));
  checkNprocExceeded(t);
  return exec(t, path, a.pointer(1), a.pointer(2));
};

/**
 * Implements execveat(2) as Linux's do_execveat_common: the file is the path from dirfd (or
 * dirfd itself for an empty path with AT_EMPTY_PATH), a final symlink is ELOOP with
 * AT_SYMLINK_NOFOLLOW, and the program is named /dev/fd/N[/path] when it was reached through
 * a descriptor (what a script's interpreter then opens; ENOENT if the descriptor is
 * close-on-exec, as that path is gone by then).
 */
const sysExecveat: SyscallFn = (t, a) => {
  const dirfd = a.fd(0), flags = a.int(4);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) throw EINVAL;
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  const path = copyInPath(t, a.pointer(1), emptyPath);
  if (path === "" && !emptyPath) throw ENOENT;
  checkNprocExceeded(t);
  const nofollow = (flags & AT_SYMLINK_NOFOLLOW) !== 0;
  if (path.startsWith("/") || dirfd === AT_FDCWD) {
    return exec(t, path, a.pointer(2), a.pointer(3), { rel: path, nofollow, pathInaccessible: false });
  }
  const f = t.fdTable.get(dirfd);
  const pathInaccessible = t.fdTable.getCloexec(dirfd);
  if (path === "") {
    // The file is opened afresh from where dirfd names it (an O_PATH descriptor included), as
    // do_open_execat does with an empty name; one with no place in the tree is used as it is.
    const loc = f.location();
    const file = loc === null ? f.incRef() : loc.dentry.open(loc, O_RDONLY);
    try {
      return exec(t, `/dev/fd/${dirfd}`, a.pointer(2), a.pointer(3), { file, rel: "", nofollow, pathInaccessible });
    } finally {
      file.decRef();
    }
  }
  const dir = f.location();
  if (dir === null || !dir.isDir) throw ENOTDIR;
  return exec(t, `/dev/fd/${dirfd}/${path}`, a.pointer(2), a.pointer(3), { dir, rel: path, nofollow, pathInaccessible });
};


export const table: Record<number, SyscallEntry> = {
  59: supported("execve", pastNoReturn(sysExecve)),
  322: supported("execveat", pastNoReturn(sysExecveat)),
};
