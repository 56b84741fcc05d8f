/** execve(2) and execveat(2). */

import { EINVAL, ENOENT } from "../../errno.ts";
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW } from "../../../abi/linux/file.ts";
import { execTask } from "../../task_exec.ts";
import { PageReader } from "../../loader/exec_strings.ts";
import type { Task } from "../../task.ts";
import { NORETURN, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

/** Linux's MAX_ARG_STRINGS. */
const MAX_ARG_STRINGS = 0x7fffffff;

function exec(t: Task, path: string, argvAddr: number, envpAddr: number): SyscallResult {
  // One host read per page of strings and pointers, not two per string.
  const mem = new PageReader((addr, dst) => t.mm.read(addr, dst));
  const argv = mem.stringArray(argvAddr, MAX_ARG_STRINGS);
  const envp = mem.stringArray(envpAddr, MAX_ARG_STRINGS);
  if (path === "") throw ENOENT;
  execTask(t, { path, argv, envp });
  return NORETURN;
}

/** Implements execve(2). */
const sysExecve: SyscallFn = (t, a) => exec(t, t.copyInString(a.pointer(0)), a.pointer(1), a.pointer(2));

/** Implements execveat(2) for AT_FDCWD and absolute paths; other dirfds are resolved by path. */
const sysExecveat: SyscallFn = (t, a) => {
  const dirfd = a.fd(0), flags = a.int(4);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) throw EINVAL;
  let path = t.copyInString(a.pointer(1));
  if (!path.startsWith("/") && dirfd !== AT_FDCWD) {
    const f = t.fdTable.get(dirfd);
    const base = f.path();
    if (path === "" && (flags & AT_EMPTY_PATH)) path = base;
    else path = `${base}/${path}`;
  }
  return exec(t, path, a.pointer(2), a.pointer(3));
};


export const table: Record<number, SyscallEntry> = {
  59: supported("execve", sysExecve),
  322: supported("execveat", sysExecveat),
};
