/**
 * The working directory: getcwd(2), chdir(2), fchdir(2).
 *
 * @module
 */

import { encodePath } from "../../../abi/path_bytes.ts";
import { ENOTDIR, ERANGE } from "../../errno.ts";
import { AT_FDCWD } from "../../../abi/linux/file.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";


/**
 * Implements getcwd(2): the length including the NUL, ERANGE if size is too small. A cwd
 * outside the caller's root reads "(unreachable)/...", as Linux.
 */
const sysGetcwd: SyscallFn = (t, a) => {
  const buf = a.pointer(0), size = a.sizeT(1);
  const cwd = t.fs.cwd;
  const path = cwd.pathFrom(t.fs.root) ?? "(unreachable)" + cwd.path();
  const bytes = encodePath(path + "\0");
  if (size < bytes.length) throw ERANGE;
  t.copyOut(buf, bytes);
  return bytes.length;
};

/** Implements chdir(2). */
const sysChdir: SyscallFn = (t, a) => {
  const path = copyInPath(t, a.pointer(0));
  t.fs.cwd = t.kernel.vfs.lookupDir(pathCtx(t), startDir(t, AT_FDCWD, path), path);
  return 0;
};

/** Implements fchdir(2): also for O_PATH descriptors of directories. */
const sysFchdir: SyscallFn = (t, a) => {
  const loc = t.fdTable.get(a.fd(0)).location();
  if (loc === null) throw ENOTDIR;
  t.kernel.vfs.checkChdir(pathCtx(t), loc);
  t.fs.cwd = loc;
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  79: supported("getcwd", sysGetcwd),
  80: supported("chdir", sysChdir),
  81: supported("fchdir", sysFchdir),
};
