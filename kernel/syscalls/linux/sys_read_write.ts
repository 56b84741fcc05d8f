/**
 * Reading and writing open files: read(2), write(2), pread64(2), pwrite64(2), readv(2),
 * writev(2), preadv(2), pwritev(2), preadv2(2), pwritev2(2), lseek(2). The transfers are in _file_io.ts.
 *
 * @module
 */

import { EBADF, EINVAL, EOPNOTSUPP, ESPIPE } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_APPEND, O_NONBLOCK, O_PATH, SEEK_HOLE } from "../../../abi/linux/file.ts";
import type { FileDescription } from "../../../vfs/mod.ts";
import { copyInIovecs, type IoSegment, readSyscall, singleSegment, writeSyscall } from "./_file_io.ts";
import { type SyscallArgs, type SyscallEntry, type SyscallFn, type SyscallResult, supported } from "./support.ts";
import { SocketFile } from "../../socket/socket.ts";
import { netModules } from "../../net_load.ts";

/**
 * A socket's read or write (sys_socket.ts). A socket exists only once the network's modules are
 * loaded (kernel/net_load.ts), so these never wait for them.
 */
function socketRead(t: Task, file: SocketFile, segs: IoSegment[]): SyscallResult {
  return netModules().socketRead(t, file, segs);
}
function socketWrite(t: Task, file: SocketFile, segs: IoSegment[]): SyscallResult {
  return netModules().socketWrite(t, file, segs);
}

/** Implements read(2). A socket's is a recv (socketRead): it honours SO_RCVTIMEO. */
const sysRead: SyscallFn = (t, a) => {
  const file = t.file(a.fd(0));
  const segs = singleSegment(a.pointer(1), a.sizeT(2));
  if (file instanceof SocketFile) return socketRead(t, file, segs);
  return readSyscall(t, file, segs, null);
};

/** Implements write(2). A socket's is a send (socketWrite): a stream write blocks until all is sent. */
const sysWrite: SyscallFn = (t, a) => {
  const file = t.file(a.fd(0));
  const segs = singleSegment(a.pointer(1), a.sizeT(2));
  if (file instanceof SocketFile) return socketWrite(t, file, segs);
  return writeSyscall(t, file, segs, null);
};

/** The file behind fd for a positional transfer: EINVAL for a negative offset, ESPIPE for streams. */
function positional(t: Task, fd: number, offset: number): FileDescription {
  if (offset < 0) throw EINVAL;
  const file = t.file(fd);
  if (file.flags & O_PATH) throw EBADF;
  if (file.isStream) throw ESPIPE;
  return file;
}

/** Implements pread64(2). */
const sysPread64: SyscallFn = (t, a) => {
  const off = a.long(3);
  return readSyscall(t, positional(t, a.fd(0), off), singleSegment(a.pointer(1), a.sizeT(2)), off);
};

/** Implements pwrite64(2). */
const sysPwrite64: SyscallFn = (t, a) => {
  const off = a.long(3);
  return writeSyscall(t, positional(t, a.fd(0), off), singleSegment(a.pointer(1), a.sizeT(2)), off);
};

/** Implements readv(2). */
const sysReadv: SyscallFn = (t, a) => {
  const file = t.file(a.fd(0));
  if (!file.readable) throw EBADF;
  const segs = copyInIovecs(t, a.pointer(1), iovCount(a.sizeT(2)));
  if (file instanceof SocketFile) return socketRead(t, file, segs);
  return readSyscall(t, file, segs, null);
};

/** Implements writev(2). */
const sysWritev: SyscallFn = (t, a) => {
  const file = t.file(a.fd(0));
  if (!file.writable) throw EBADF;
  const segs = copyInIovecs(t, a.pointer(1), iovCount(a.sizeT(2)));
  if (file instanceof SocketFile) return socketWrite(t, file, segs);
  return writeSyscall(t, file, segs, null);
};

/** Implements preadv(2). On x86-64 the whole offset is in pos_l. */
const sysPreadv: SyscallFn = (t, a) => {
  const off = a.long(3);
  const file = positional(t, a.fd(0), off);
  if (!file.readable) throw EBADF;
  return readSyscall(t, file, copyInIovecs(t, a.pointer(1), iovCount(a.sizeT(2))), off);
};

/** Implements pwritev(2). */
const sysPwritev: SyscallFn = (t, a) => {
  const off = a.long(3);
  const file = positional(t, a.fd(0), off);
  if (!file.writable) throw EBADF;
  return writeSyscall(t, file, copyInIovecs(t, a.pointer(1), iovCount(a.sizeT(2))), off);
};

const RWF_NOWAIT = 0x8, RWF_APPEND = 0x10, RWF_NOAPPEND = 0x20;
/** RWF_HIPRI, RWF_DSYNC, RWF_SYNC (no effect on these files), RWF_NOWAIT, RWF_APPEND, RWF_NOAPPEND. */
const RWF_KNOWN = 0x3f;

/**
 * preadv2(2) and pwritev2(2): readv/writev at the file's offset when the offset is -1, else
 * preadv/pwritev; per-call flags (Linux's kiocb_set_rw_flags, checked after the descriptor and
 * the vectors): RWF_NOWAIT as O_NONBLOCK, RWF_APPEND and RWF_NOAPPEND as O_APPEND set or clear,
 * for this call; RWF_ATOMIC, RWF_DONTCACHE (which no file here supports) and unknown bits are
 * EOPNOTSUPP. On x86-64 the whole offset is in pos_l.
 */
function rwv2(t: Task, a: SyscallArgs, write: boolean): SyscallResult {
  const fd = a.fd(0), off = a.long(3), flags = a.uint(5);
  let file: FileDescription;
  if (off === -1) {
    file = t.file(fd);
    if (file.flags & O_PATH) throw EBADF;
  } else {
    file = positional(t, fd, off);
  }
  if (write ? !file.writable : !file.readable) throw EBADF;
  const segs = copyInIovecs(t, a.pointer(1), iovCount(a.sizeT(2)));
  if (flags & ~RWF_KNOWN) throw EOPNOTSUPP;
  if ((flags & RWF_NOWAIT) && !file.supportsNowait) throw EOPNOTSUPP;
  let set = 0, clear = 0;
  if (flags & RWF_NOWAIT) set |= O_NONBLOCK;
  if (write && (flags & RWF_APPEND)) set |= O_APPEND;
  else if (write && (flags & RWF_NOAPPEND)) clear |= O_APPEND;
  const changed = set | clear, saved = file.flags & changed;
  file.flags = (file.flags | set) & ~clear;
  try {
    const pos = off === -1 ? null : off;
    if (file instanceof SocketFile && pos === null) return write ? socketWrite(t, file, segs) : socketRead(t, file, segs);
    return write ? writeSyscall(t, file, segs, pos) : readSyscall(t, file, segs, pos);
  } finally {
    file.flags = (file.flags & ~changed) | saved;
  }
}

/** Implements preadv2(2). */
const sysPreadv2: SyscallFn = (t, a) => rwv2(t, a, false);

/** Implements pwritev2(2). */
const sysPwritev2: SyscallFn = (t, a) => rwv2(t, a, true);

/** iovcnt as a C int would be: values beyond IOV_MAX fail in copyInIovecs. */
function iovCount(n: number): number {
  return n > 0x7fffffff ? -1 : n;
}

/** Implements lseek(2). */
const sysLseek: SyscallFn = (t, a) => {
  const file = t.file(a.fd(0));
  if (file.flags & O_PATH) throw EBADF;
  const whence = a.uint(2);
  if (whence > SEEK_HOLE) throw EINVAL;
  return file.seek(a.long(1), whence);
};

export const table: Record<number, SyscallEntry> = {
  0: supported("read", sysRead),
  1: supported("write", sysWrite),
  8: supported("lseek", sysLseek),
  17: supported("pread64", sysPread64),
  18: supported("pwrite64", sysPwrite64),
  19: supported("readv", sysReadv),
  20: supported("writev", sysWritev),
  295: supported("preadv", sysPreadv),
  296: supported("pwritev", sysPwritev),
  327: supported("preadv2", sysPreadv2),
  328: supported("pwritev2", sysPwritev2),
};
