/**
 * Reading and writing open files: read(2), write(2), pread64(2), pwrite64(2), readv(2),
 * writev(2), preadv(2), pwritev(2), lseek(2). The transfers are in _file_io.ts.
 *
 * @module
 */

import { EBADF, EINVAL, ESPIPE } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_PATH, SEEK_HOLE } from "../../../abi/linux/file.ts";
import type { FileDescription } from "../../../vfs/mod.ts";
import { copyInIovecs, readSyscall, singleSegment, writeSyscall } from "./_file_io.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { SocketFile } from "../../socket/socket.ts";
import { socketRead, socketWrite } from "./sys_socket.ts";

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
};
