/**
 * openat2(2): openat with its arguments in a struct open_how that is checked strictly (unknown
 * flag bits, a mode without O_CREAT/O_TMPFILE, a struct larger than Linux's with non-zero bytes
 * are errors, not ignored) and RESOLVE_* flags that restrict the path walk
 * (vfs/path_walk.ts). runc, crun and systemd resolve container paths with RESOLVE_IN_ROOT and
 * RESOLVE_BENEATH when the kernel has openat2, and fall back to racier walks of their own when not.
 *
 * @module
 */

import { E2BIG, EAGAIN, EINVAL } from "../../errno.ts";
import {
  O_CLOEXEC, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_TMPFILE, O_TRUNC, RESOLVE_BENEATH, RESOLVE_CACHED, RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
} from "../../../abi/linux/file.ts";
import { PAGE_SIZE } from "../../../abi/linux/mm.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { openAt } from "./sys_file.ts";

/** sizeof(struct open_how), its first and only version. */
const OPEN_HOW_SIZE_VER0 = 24;
/** Linux's VALID_OPEN_FLAGS on x86-64: the access mode's two bits and every O_* flag. */
const VALID_OPEN_FLAGS = 0o37777703n;
const VALID_RESOLVE_FLAGS = BigInt(
  RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED,
);
/** __O_TMPFILE alone (O_TMPFILE includes O_DIRECTORY). */
const O_TMPFILE_BIT = O_TMPFILE & ~O_DIRECTORY;
/** What O_PATH may come with (O_PATH_FLAGS). */
const O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;

/**
 * Implements openat2(2). The checks are Linux's, in its order: the size (EINVAL under the first
 * version, E2BIG over a page or with non-zero bytes past the struct), then build_open_flags's
 * (unknown flag or resolve bits, both scoping flags, a mode without creation or with bits past
 * 07777, O_CREAT with O_DIRECTORY, O_TMPFILE without write access, O_PATH with other flags, all
 * EINVAL; RESOLVE_CACHED with a creating or truncating open, EAGAIN), then the path.
 */
const sysOpenat2: SyscallFn = (t, a) => {
  const dirfd = a.fd(0), pathAddr = a.pointer(1), howAddr = a.pointer(2), size = a.sizeT(3);
  if (size < OPEN_HOW_SIZE_VER0) throw EINVAL;
  if (size > PAGE_SIZE) throw E2BIG;
  const raw = t.copyIn(howAddr, size);
  if (raw.subarray(OPEN_HOW_SIZE_VER0).some((b) => b !== 0)) throw E2BIG;
  const v = new DataView(raw.buffer, raw.byteOffset, OPEN_HOW_SIZE_VER0);
  const flags64 = v.getBigUint64(0, true), mode = v.getBigUint64(8, true), resolve64 = v.getBigUint64(16, true);
  // build_open_flags strips O_CLOEXEC before the check; what passes it fits 32 bits.
  if (flags64 & ~BigInt(O_CLOEXEC) & ~VALID_OPEN_FLAGS) throw EINVAL;
  if (resolve64 & ~VALID_RESOLVE_FLAGS) throw EINVAL;
  const flags = Number(flags64), resolve = Number(resolve64);
  if ((resolve & RESOLVE_BENEATH) && (resolve & RESOLVE_IN_ROOT)) throw EINVAL;
  if (flags & (O_CREAT | O_TMPFILE_BIT)) {
    if (mode & ~0o7777n) throw EINVAL;
  } else if (mode !== 0n) throw EINVAL;
  if ((flags & O_CREAT) && (flags & O_DIRECTORY)) throw EINVAL;
  if (flags & O_TMPFILE_BIT) {
    if ((flags & (O_TMPFILE_BIT | O_DIRECTORY | O_CREAT)) !== O_TMPFILE) throw EINVAL;
    if ((flags & 3) === 0) throw EINVAL; // ACC_MODE without MAY_WRITE (O_RDONLY; 3 means both)
  }
  if ((flags & O_PATH) && (flags & ~O_PATH_FLAGS)) throw EINVAL;
  if ((resolve & RESOLVE_CACHED) && (flags & (O_TRUNC | O_CREAT | O_TMPFILE_BIT))) throw EAGAIN;
  return openAt(t, dirfd, pathAddr, flags, Number(mode), resolve);
};

export const table: Record<number, SyscallEntry> = {
  437: supported("openat2", sysOpenat2),
};
