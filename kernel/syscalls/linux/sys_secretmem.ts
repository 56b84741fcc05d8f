/**
 * memfd_secret(2) (Linux 5.14, mm/secretmem.c): a descriptor of secret memory
 * (vfs/secretmem.ts). Only O_CLOEXEC may be given (EINVAL otherwise).
 *
 * @module
 */

import { EINVAL } from "../../errno.ts";
import { O_CLOEXEC } from "../../../abi/linux/file.ts";
import { SecretMemFile } from "../../../vfs/secretmem.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const sysMemfdSecret: SyscallFn = (t, a) => {
  const flags = a.u64(0);
  if (flags & ~BigInt(O_CLOEXEC)) throw EINVAL;
  return t.fdTable.install(new SecretMemFile(t.creds.fsuid, t.creds.fsgid), (Number(flags) & O_CLOEXEC) !== 0);
};

export const table: Record<number, SyscallEntry> = {
  447: supported("memfd_secret", sysMemfdSecret),
};
