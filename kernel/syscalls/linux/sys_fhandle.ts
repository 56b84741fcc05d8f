/**
 * File handles: name_to_handle_at(2) and open_by_handle_at(2), in the order of Linux's checks
 * (fs/fhandle.c). What a handle holds and which filesystems decode one: vfs/fhandle.ts.
 *
 * @module
 */

import { EBADF, EINVAL, EOPNOTSUPP, EOVERFLOW, EPERM, ESTALE } from "../../errno.ts";
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_FOLLOW, O_CLOEXEC, O_LARGEFILE } from "../../../abi/linux/file.ts";
import { CAP_DAC_READ_SEARCH } from "../../../abi/linux/capability.ts";
import {
  decodeHandle, encodeHandle, FILEID_INVALID, FILEID_IS_CONNECTABLE, FILEID_IS_DIR, FILEID_USER_FLAGS_MASK,
  HANDLE_SIZE, MAX_HANDLE_SZ,
} from "../../../vfs/fhandle.ts";
import { Location } from "../../../vfs/mount.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import type { Task } from "../../task.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const AT_HANDLE_FID = 0x200;
const AT_HANDLE_MNT_ID_UNIQUE = 0x1;
const AT_HANDLE_CONNECTABLE = 0x2;
/** struct file_handle's fixed part: handle_bytes (u32), handle_type (int). */
const HEADER = 8;

/** Implements name_to_handle_at(2) (do_sys_name_to_handle). */
const sysNameToHandleAt: SyscallFn = (t, a) => {
  const dirfd = a.fd(0), handleAddr = a.pointer(2), mntIdAddr = a.pointer(3), flags = a.int(4);
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH | AT_HANDLE_FID | AT_HANDLE_MNT_ID_UNIQUE | AT_HANDLE_CONNECTABLE)) {
    throw EINVAL;
  }
  // FID means no decoding, CONNECTABLE a decoding to a known path; AT_EMPTY_PATH may name a
  // file whose parent is unknown.
  if ((flags & AT_HANDLE_CONNECTABLE) && (flags & (AT_HANDLE_FID | AT_EMPTY_PATH))) throw EINVAL;
  const emptyPath = (flags & AT_EMPTY_PATH) !== 0;
  const path = copyInPath(t, a.pointer(1), emptyPath);
  const loc = t.kernel.vfs.resolve(pathCtx(t), startDir(t, dirfd, path, emptyPath), path, {
    follow: (flags & AT_SYMLINK_FOLLOW) !== 0,
    emptyPath,
  });
  const h = encodeHandle(loc.dentry, (flags & AT_HANDLE_FID) !== 0, (flags & AT_HANDLE_CONNECTABLE) !== 0);
  if (h === null) throw EOPNOTSUPP;
  const given = t.copyInU32(handleAddr);
  if (given > MAX_HANDLE_SZ) throw EINVAL;
  let err: typeof EOVERFLOW | null = null;
  const out = new Uint8Array(HEADER + HANDLE_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(0, HANDLE_SIZE, true);
  let len = HEADER;
  if (HANDLE_SIZE > given) {
    // Only the fixed part goes back: the size needed and FILEID_INVALID.
    v.setInt32(4, FILEID_INVALID, true);
    err = EOVERFLOW;
  } else {
    v.setInt32(4, h.type | ((flags & AT_HANDLE_CONNECTABLE) ? FILEID_IS_CONNECTABLE : 0), true);
    out.set(h.bytes, HEADER);
    len += HANDLE_SIZE;
  }
  // The mount id is written whatever the size said, then the handle (not after an EFAULT).
  if (flags & AT_HANDLE_MNT_ID_UNIQUE) t.copyOutU64(mntIdAddr, loc.mount.id);
  else t.copyOutU32(mntIdAddr, loc.mount.id);
  t.copyOut(handleAddr, out.subarray(0, len));
  if (err !== null) throw err;
  return 0;
};

/** The mount a handle is decoded in (get_path_anchor): mount_fd's, or the cwd's. */
function anchor(t: Task, fd: number): Location | null {
  if (fd === AT_FDCWD) return t.fs.cwd;
  if (fd < 0) throw EBADF;
  // Any descriptor will do; one without a place in the tree (a pipe, a socket) is in a
  // filesystem that decodes nothing.
  return t.fdTable.get(fd).location();
}

/** Implements open_by_handle_at(2) (handle_to_path, do_handle_open). */
const sysOpenByHandleAt: SyscallFn = (t, a) => {
  const mountFd = a.int(0), handleAddr = a.pointer(1), flags = a.int(2) | O_LARGEFILE;
  const header = t.copyIn(handleAddr, HEADER);
  const hv = new DataView(header.buffer, header.byteOffset, HEADER);
  const bytes = hv.getUint32(0, true), type = hv.getInt32(4, true);
  if (bytes > MAX_HANDLE_SZ || bytes === 0) throw EINVAL;
  if (type < 0 || ((type & FILEID_USER_FLAGS_MASK) & ~(FILEID_IS_CONNECTABLE | FILEID_IS_DIR)) !== 0) throw EINVAL;
  const root = anchor(t, mountFd);
  // may_decode_fh: CAP_DAC_READ_SEARCH (the relaxed rule for a user namespace's own mounts is
  // not implemented: EPERM).
  if (!t.creds.hasCap(CAP_DAC_READ_SEARCH)) throw EPERM;
  const body = t.copyIn(handleAddr + HEADER, bytes);
  if (root === null) throw ESTALE;
  const d = decodeHandle(root.mount.fs, type & ~FILEID_USER_FLAGS_MASK, body);
  if (type & FILEID_IS_CONNECTABLE) {
    // A connectable handle opens only what lies under mount_fd (vfs_dentry_acceptable with
    // HANDLE_CHECK_SUBTREE).
    let c: typeof d | null = d;
    while (c !== null && c !== root.dentry) c = c.parent;
    if (c === null) throw ESTALE;
  }
  const file = t.kernel.vfs.openLocation(pathCtx(t), new Location(root.mount, d), flags);
  return t.fdTable.install(file, (flags & O_CLOEXEC) !== 0);
};

export const table: Record<number, SyscallEntry> = {
  303: supported("name_to_handle_at", sysNameToHandleAt),
  304: supported("open_by_handle_at", sysOpenByHandleAt),
};
