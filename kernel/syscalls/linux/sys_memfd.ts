/**
 * memfd_create(2), and the fcntl(2) seal commands F_ADD_SEALS and F_GET_SEALS that sys_file.ts
 * hands over. The file is in vfs/memfd.ts.
 *
 * @module
 */

import { EINVAL, ENAMETOOLONG } from "../../errno.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { F_ADD_SEALS, F_GET_SEALS, MemFd, MFD_CLOEXEC, MFD_NAME_MAX_LEN } from "../../../vfs/memfd.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/** Implements memfd_create(2): flags are checked (by the host) before the name, as Linux. */
const sysMemfdCreate: SyscallFn = (t, a) => {
  const flags = a.uint(1);
  const f = MemFd.create(flags);
  let name: string;
  try {
    name = t.copyInString(a.pointer(0), MFD_NAME_MAX_LEN);
  } catch (e) {
    f.decRef();
    throw e === ENAMETOOLONG ? EINVAL : e;
  }
  f.name = name;
  return t.fdTable.install(f, (flags & MFD_CLOEXEC) !== 0);
};

/** fcntl(2)'s F_ADD_SEALS and F_GET_SEALS: EINVAL on anything but a memfd. */
export function fcntlSeals(file: FileDescription, cmd: number, arg: number): number {
  if (!(file instanceof MemFd)) throw EINVAL;
  return cmd === F_ADD_SEALS ? file.addSeals(arg) : file.getSeals();
}

export { F_ADD_SEALS, F_GET_SEALS };

export const table: Record<number, SyscallEntry> = {
  319: supported("memfd_create", sysMemfdCreate),
};
