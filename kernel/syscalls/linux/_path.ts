/**
 * Path arguments of the file syscalls: copying a path in, choosing the directory a
 * dirfd-relative path starts from, and the caller's {@linkcode PathContext}.
 *
 * @module
 */

import { EFAULT, ENOENT, ENOTDIR } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { AT_FDCWD } from "../../../abi/linux/file.ts";
import type { Location, PathContext } from "../../../vfs/mod.ts";
import { checkDeviceAccess } from "../../bpf/cgroup_progs.ts";
import { bpfHelper } from "../../bpf/helpers.ts";

/** The caller's root and credentials, for the VFS. */
export function pathCtx(t: Task): PathContext {
  const devices = t.kernel.bpf.attached > 0 ? deviceCheck(t) : null;
  return { root: t.fs.root, creds: t.creds, umask: t.fs.umask, landlock: t.landlock, devices };
}

/** The caller's device cgroup check, while any program is attached (kernel/bpf/cgroup_progs.ts). */
function deviceCheck(t: Task): (block: boolean, rdev: number, access: number) => void {
  const c = t.kernel.cgroups.cgroupOf(t.tg);
  return (block, rdev, access) => checkDeviceAccess(c, block, rdev, access, (id) => bpfHelper(t, id));
}

/**
 * Copies a path argument in (EFAULT, ENAMETOOLONG at PATH_MAX). A null pointer with
 * nullIsEmpty (AT_EMPTY_PATH on Linux 6.11 and later) reads as "".
 */
export function copyInPath(t: Task, addr: number, nullIsEmpty = false): string {
  if (addr === 0 && nullIsEmpty) return "";
  // Pointers beyond 2^53 decode as Infinity (SyscallArgs.pointer): never a valid address.
  if (!Number.isSafeInteger(addr)) throw EFAULT;
  return t.copyInString(addr);
}

/**
 * The directory a path starts from: the root for an absolute path (dirfd is then ignored, even
 * if invalid), the cwd for AT_FDCWD, else the location of dirfd (EBADF; ENOTDIR when dirfd is
 * not in the tree). An empty path is ENOENT unless emptyPath (AT_EMPTY_PATH), checked first as
 * Linux's getname() does.
 */
export function startDir(t: Task, dirfd: number, path: string, emptyPath = false): Location {
  if (path === "" && !emptyPath) throw ENOENT;
  if (path.charCodeAt(0) === 0x2f) return t.fs.root;
  if (dirfd === AT_FDCWD) return t.fs.cwd;
  const loc = t.fdTable.get(dirfd).location();
  if (loc === null) throw ENOTDIR;
  return loc;
}

/**
 * `path` as given relative to `dir`, made absolute and lexically normalized: how the run report
 * names a file (kernel/activity.ts). Symlinks in it are not followed.
 */
export function sandboxPath(dir: Location, path: string): string {
  const full = path.charCodeAt(0) === 0x2f ? path : `${dir.path()}/${path}`;
  const out: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}
