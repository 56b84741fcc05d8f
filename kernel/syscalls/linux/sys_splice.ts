/**
 * Moving data between files without a trip through application memory: sendfile(2),
 * copy_file_range(2), splice(2), tee(2), vmsplice(2); and the descriptor calls that ride along
 * with them in the file API issue: close_range(2).
 *
 * The sentry has no page cache to splice pages between, so every transfer copies through a
 * sentry buffer; what Linux keeps are its rules, and those are kept here:
 * - splice needs a pipe on at least one side; a pipe side takes no offset (ESPIPE); a
 *   file side with an offset pointer reads/writes there and leaves the file offset alone.
 * - Nothing is lost: bytes are taken from a pipe only once the other side accepted them,
 *   and a file is read at most as much as the pipe has room for.
 * - Waits: an empty pipe with writers, or a full pipe, blocks unless SPLICE_F_NONBLOCK or the
 *   pipe's O_NONBLOCK (EAGAIN); an empty pipe without writers is end of file (0); a pipe
 *   without readers is EPIPE with SIGPIPE to the caller.
 * - sendfile reads a file that can be read at an offset (not a pipe: EINVAL) and writes any
 *   writable file but an O_APPEND one (EINVAL); copy_file_range takes regular files of one
 *   filesystem (EXDEV across filesystems, EINVAL for overlapping ranges of one file).
 *
 * @module
 */

import { fsnotifyAccess, fsnotifyModify } from "../../../vfs/fsnotify.ts";
import {
  EAGAIN, EBADF, EINVAL, EISDIR, EOPNOTSUPP, EPIPE, ESPIPE, EXDEV,
} from "../../errno.ts";
import type { Task } from "../../task.ts";
import {
  AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, O_APPEND, O_NONBLOCK, O_PATH, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, SEEK_CUR,
  SEEK_SET,
} from "../../../abi/linux/file.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { type Pipe, PipeEnd } from "../../../vfs/pipe.ts";
import { EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { copyInIovecs, MAX_RW_COUNT, readToUser, writeFromUser, writeRoom } from "./_file_io.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const SPLICE_F_MOVE = 1;
const SPLICE_F_NONBLOCK = 2;
const SPLICE_F_MORE = 4;
const SPLICE_F_GIFT = 8;
const SPLICE_F_ALL = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;
/** Bytes moved per step of a file-to-file copy. */
const CHUNK = 1 << 16;
const SIGPIPE = 13;

// ---- pipe helpers ---------------------------------------------------------------------------

function pipeOf(f: FileDescription): Pipe | null {
  return f instanceof PipeEnd ? f.pipe : null;
}

/** Drops n bytes from the front of the pipe (they were delivered) and wakes its writers. */
function consume(p: Pipe, n: number): void {
  if (n > 0) p.discard(n);
}

/** Appends bytes to the pipe (the caller checked the room) and wakes its readers. */
function append(p: Pipe, b: Uint8Array): void {
  p.append(b, b.length, false);
}

/** The caller wrote into a pipe without readers: SIGPIPE to the calling thread, then EPIPE. */
function brokenPipe(t: Task): never {
  t.kernel.sendSignal(t.tg, SIGPIPE, {}, t);
  throw EPIPE;
}

/** Waits for events of f, or EAGAIN when the call must not block. */
function waitOrAgain(f: FileDescription, events: number, nonblock: boolean): SyscallResult {
  if (nonblock) throw EAGAIN;
  return block([f.waitQueue], events);
}

// ---- offsets --------------------------------------------------------------------------------

function readOffset(t: Task, addr: number): number {
  const v = BigInt.asIntN(64, t.copyInU64(addr));
  if (v < 0n) throw EINVAL;
  return Number(v);
}

function writeOffset(t: Task, addr: number, v: number): void {
  t.copyOutU64(addr, BigInt(v));
}

// ---- splice(2) ------------------------------------------------------------------------------

/** Implements splice(2), in the order of Linux's checks (__do_splice, do_splice). */
const sysSplice: SyscallFn = (t, a) => {
  const fdIn = a.fd(0), offInAddr = a.pointer(1), fdOut = a.fd(2), offOutAddr = a.pointer(3);
  const len = Math.min(a.sizeT(4), MAX_RW_COUNT), flags = a.uint(5);
  if (len === 0) return 0;
  if (flags & ~SPLICE_F_ALL) throw EINVAL;
  const fin = t.file(fdIn), fout = t.file(fdOut);
  const ipipe = pipeOf(fin), opipe = pipeOf(fout);
  if ((ipipe && offInAddr !== 0) || (opipe && offOutAddr !== 0)) throw ESPIPE;
  const offOut = offOutAddr !== 0 ? readOffset(t, offOutAddr) : null;
  const offIn = offInAddr !== 0 ? readOffset(t, offInAddr) : null;
  if (!fin.readable || !fout.writable) throw EBADF;
  if (ipipe && opipe) {
    if (ipipe === opipe) throw EINVAL;
    const nonblock = (flags & SPLICE_F_NONBLOCK) !== 0 || ((fin.flags | fout.flags) & O_NONBLOCK) !== 0;
    return notified(fin, fout, pipeToPipe(t, fin, fout, ipipe, opipe, len, nonblock, true));
  }
  if (ipipe) {
    if (offOut !== null && fout.isStream) throw EINVAL;
    if (fout.flags & O_APPEND) throw EINVAL;
    // do_splice_from: no splice_write (a directory, an anonymous file): EINVAL, not a wait.
    if (!canSplice(fout)) throw EINVAL;
    const nonblock = (flags & SPLICE_F_NONBLOCK) !== 0 || (fin.flags & O_NONBLOCK) !== 0;
    const r = notified(fin, fout, pipeToFile(t, fin, ipipe, fout, offOut, len, nonblock));
    if (typeof r === "number" && offOutAddr !== 0) writeOffset(t, offOutAddr, (offOut ?? 0) + r);
    return r;
  }
  if (opipe) {
    if (offIn !== null && fin.isStream) throw EINVAL;
    if (!canSplice(fin)) throw EINVAL;
    const nonblock = (flags & SPLICE_F_NONBLOCK) !== 0 || (fout.flags & O_NONBLOCK) !== 0;
    const r = notified(fin, fout, fileToPipe(t, fin, offIn, fout, opipe, len, nonblock, (flags & SPLICE_F_NONBLOCK) !== 0));
    if (typeof r === "number" && offInAddr !== 0) writeOffset(t, offInAddr, (offIn ?? 0) + r);
    return r;
  }
  throw EINVAL;
};

/** Whether f has splice operations: not a directory, nor a file type without them. */
function canSplice(f: FileDescription): boolean {
  if (!f.spliceable) return false;
  try {
    return f.location()?.dentry.isDir !== true;
  } catch {
    return true;
  }
}

/**
 * After a transfer of some bytes, inotify hears the source read (IN_ACCESS) and the
 * destination written (IN_MODIFY), as Linux's splice, sendfile and copy_file_range notify.
 */
function notified(fin: FileDescription, fout: FileDescription, r: SyscallResult): SyscallResult {
  if (typeof r === "number" && r > 0) {
    fsnotifyAccess(fin);
    fsnotifyModify(fout);
  }
  return r;
}

/** Moves (or with tee, copies) up to len bytes from one pipe to another. */
function pipeToPipe(
  t: Task,
  fin: FileDescription,
  fout: FileDescription,
  ip: Pipe,
  op: Pipe,
  len: number,
  nonblock: boolean,
  move: boolean,
): SyscallResult {
  if (ip.size === 0) {
    if (ip.writers === 0) return 0;
    return waitOrAgain(fin, EVENT_IN, nonblock);
  }
  if (op.readers === 0) brokenPipe(t);
  const room = op.writable(Math.min(len, ip.size));
  if (room <= 0) return waitOrAgain(fout, EVENT_OUT, nonblock);
  const data = ip.peek(room);
  append(op, data);
  if (move) consume(ip, data.length);
  return data.length;
}

/** splice from a pipe into a file: bytes leave the pipe only once the file took them. */
function pipeToFile(
  t: Task,
  fin: FileDescription,
  ip: Pipe,
  fout: FileDescription,
  off: number | null,
  len: number,
  nonblock: boolean,
): SyscallResult {
  if (ip.size === 0) {
    if (ip.writers === 0) return 0;
    return waitOrAgain(fin, EVENT_IN, nonblock);
  }
  // RLIMIT_FSIZE: at the limit nothing leaves the pipe (EFBIG), short of it the write is cut.
  const data = ip.peek(writeRoom(t, fout, off, Math.min(len, ip.size)));
  let n: number;
  try {
    n = fout.write(data, off);
  } catch (e) {
    if (e === EPIPE) brokenPipe(t);
    if (e === EAGAIN) return waitOrAgain(fout, EVENT_OUT, nonblock || (fout.flags & O_NONBLOCK) !== 0);
    throw e;
  }
  consume(ip, n);
  return n;
}

/** splice from a file into a pipe: the file is read at most as much as the pipe has room for. */
function fileToPipe(
  t: Task,
  fin: FileDescription,
  off: number | null,
  fout: FileDescription,
  op: Pipe,
  len: number,
  nonblock: boolean,
  fileNonblock: boolean,
): SyscallResult {
  if (op.readers === 0) brokenPipe(t);
  const room = op.writable(Math.min(len, CHUNK * 16));
  if (room <= 0) return waitOrAgain(fout, EVENT_OUT, nonblock);
  const buf = new Uint8Array(room);
  let n: number;
  try {
    n = fin.read(buf, off);
  } catch (e) {
    if (e === EAGAIN) return waitOrAgain(fin, EVENT_IN, fileNonblock || (fin.flags & O_NONBLOCK) !== 0);
    throw e;
  }
  append(op, buf.subarray(0, n));
  return n;
}

// ---- tee(2) and vmsplice(2) -----------------------------------------------------------------

/** Implements tee(2): copies between two pipes without consuming the input. */
const sysTee: SyscallFn = (t, a) => {
  const len = Math.min(a.sizeT(2), MAX_RW_COUNT), flags = a.uint(3);
  if (flags & ~SPLICE_F_ALL) throw EINVAL;
  if (len === 0) return 0;
  const fin = t.file(a.fd(0)), fout = t.file(a.fd(1));
  const ip = pipeOf(fin), op = pipeOf(fout);
  if (!fin.readable || !fout.writable) throw EBADF;
  if (!ip || !op || ip === op) throw EINVAL;
  const nonblock = (flags & SPLICE_F_NONBLOCK) !== 0 || ((fin.flags | fout.flags) & O_NONBLOCK) !== 0;
  return pipeToPipe(t, fin, fout, ip, op, len, nonblock, false);
};

/**
 * Implements vmsplice(2): into a pipe's write end from memory, or out of a read end into
 * memory. The bytes are copied (Linux may map pages; the application cannot tell but by
 * SPLICE_F_GIFT, which is advisory).
 */
const sysVmsplice: SyscallFn = (t, a) => {
  const flags = a.uint(3);
  if (flags & ~SPLICE_F_ALL) throw EINVAL;
  const f = t.file(a.fd(0));
  if (f.flags & O_PATH || (!f.readable && !f.writable)) throw EBADF;
  const segs = copyInIovecs(t, a.pointer(1), a.sizeT(2) > 0x7fffffff ? -1 : a.sizeT(2));
  if (segs.every((s) => s.len === 0)) return 0;
  const p = pipeOf(f);
  if (!p) throw EBADF;
  const nonblock = (flags & SPLICE_F_NONBLOCK) !== 0 || (f.flags & O_NONBLOCK) !== 0;
  if (f.writable) {
    if (p.readers === 0) brokenPipe(t);
    const room = p.writable(segs.reduce((n, s) => n + s.len, 0));
    if (room <= 0) return waitOrAgain(f, EVENT_OUT, nonblock);
    // Linux fills the pipe with what fits: no PIPE_BUF atomicity here.
    const fitted = [];
    let left = room;
    for (const s of segs) {
      if (left === 0) break;
      const n = Math.min(s.len, left);
      fitted.push({ addr: s.addr, len: n });
      left -= n;
    }
    return writeFromUser(t, f, fitted, null);
  }
  if (p.size === 0) {
    if (p.writers === 0) return 0;
    return waitOrAgain(f, EVENT_IN, nonblock);
  }
  return readToUser(t, f, segs, null);
};

// ---- sendfile(2) and copy_file_range(2) -----------------------------------------------------

/** Implements sendfile(2). */
const sysSendfile: SyscallFn = (t, a) => {
  const fout = t.file(a.fd(0)), fin = t.file(a.fd(1));
  const offAddr = a.pointer(2), count = Math.min(a.sizeT(3), MAX_RW_COUNT);
  if (!fin.readable) throw EBADF;
  // rw_verify_area: a negative count, or an offset that count would carry past 2^63 - 1.
  const rawCount = BigInt.asIntN(64, a.u64(3));
  let off: number | null = null;
  if (offAddr !== 0) {
    if (fin.isStream) throw ESPIPE;
    const pos = BigInt.asIntN(64, t.copyInU64(offAddr));
    if (pos < 0n || rawCount < 0n || pos + rawCount > 0x7fff_ffff_ffff_ffffn) throw EINVAL;
    off = Number(pos);
  }
  if (rawCount < 0n) throw EINVAL;
  if (!fout.writable) throw EBADF;
  if (fout.flags & O_APPEND) throw EINVAL;
  // The input needs Linux's splice_read, which pipes and directories lack.
  if (isPipeLike(fin) || (fin.stat().mode & S_IFMT) === S_IFDIR) throw EINVAL;
  if (count === 0) return 0;
  const op = pipeOf(fout);
  let r: SyscallResult;
  if (op) {
    r = fileToPipe(t, fin, off, fout, op, count, (fout.flags & O_NONBLOCK) !== 0, false);
  } else {
    r = fileToFile(t, fin, off, fout, null, count);
  }
  notified(fin, fout, r);
  if (typeof r === "number" && offAddr !== 0) writeOffset(t, offAddr, (off ?? 0) + r);
  return r;
}

/** A pipe of the sandbox, or a host pipe (the sentry's stdin). */
function isPipeLike(f: FileDescription): boolean {
  return pipeOf(f) !== null || (f.isStream && (f.stat().mode & S_IFMT) === S_IFIFO);
}

/**
 * Copies up to count bytes between two files that are not pipes. With inOff null the input's
 * own offset is used; it is moved back over bytes the output did not take, so none are lost.
 */
function fileToFile(
  t: Task,
  fin: FileDescription,
  inOff: number | null,
  fout: FileDescription,
  outOff: number | null,
  count: number,
): SyscallResult {
  count = writeRoom(t, fout, outOff, count); // RLIMIT_FSIZE, as a write
  let done = 0;
  const chunk = new Uint8Array(Math.min(CHUNK, count));
  // A file copied onto its own end (sendfile(fd, fd, &off, n) with fd's offset at its end): see below.
  const selfCopy = inOff !== null && outOff === null && sameFile(fin, fout);
  while (done < count) {
    const buf = chunk.subarray(0, Math.min(chunk.length, count - done));
    let n: number;
    const outPos = selfCopy ? currentOffset(fout) : -1;
    try {
      n = fin.read(buf, inOff === null ? null : inOff + done);
    } catch (e) {
      if (done > 0) return done;
      if (e === EAGAIN) return waitOrAgain(fin, EVENT_IN, (fin.flags & O_NONBLOCK) !== 0);
      throw e;
    }
    if (n === 0) break;
    let w: number;
    try {
      w = fout.write(buf.subarray(0, n), outOff === null ? null : outOff + done);
    } catch (e) {
      if (inOff === null) unread(fin, n);
      if (done > 0) return done;
      if (e === EPIPE) brokenPipe(t);
      if (e === EAGAIN) return waitOrAgain(fout, EVENT_OUT, (fout.flags & O_NONBLOCK) !== 0);
      throw e;
    }
    if (w < n && inOff === null) unread(fin, n - w);
    done += w;
    if (w < n) break;
    // The read stopped at the end of a file whose end we write: every byte still to copy is
    // one this copy writes, n bytes earlier, so the rest repeats these n bytes (what a copy
    // byte by byte gives, as Linux's), written in whole chunks instead of n at a time.
    if (selfCopy && n < buf.length && outPos === inOff! + done) return done + repeatOnto(fout, buf.subarray(0, n), count - done);
  }
  return done;
}

/** Whether two descriptions are of one file. */
function sameFile(a: FileDescription, b: FileDescription): boolean {
  if (a === b) return true;
  const sa = a.stat(), sb = b.stat();
  return sa.dev === sb.dev && sa.ino === sb.ino && (sa.mode & S_IFMT) === S_IFREG;
}

/** A description's file offset, or -1 when it has none. */
function currentOffset(f: FileDescription): number {
  try {
    return f.seek(0, SEEK_CUR);
  } catch {
    return -1;
  }
}

/** Writes `left` bytes that repeat `pattern` at f's offset; returns how many it wrote. */
function repeatOnto(f: FileDescription, pattern: Uint8Array, left: number): number {
  const reps = Math.max(1, Math.floor(CHUNK / pattern.length));
  const block = new Uint8Array(Math.min(pattern.length * reps, left));
  for (let o = 0; o < block.length; o += pattern.length) block.set(pattern.subarray(0, Math.min(pattern.length, block.length - o)), o);
  let done = 0;
  while (done < left) {
    const want = Math.min(block.length, left - done);
    let w: number;
    try {
      w = f.write(block.subarray(0, want), null);
    } catch (e) {
      if (done > 0) return done;
      throw e;
    }
    done += w;
    if (w < want) break;
  }
  return done;
}

function unread(f: FileDescription, n: number): void {
  try {
    f.seek(-n, SEEK_CUR);
  } catch { /* not seekable: nothing to put back */ }
}

/** Implements copy_file_range(2). */
const sysCopyFileRange: SyscallFn = (t, a) => {
  const fin = t.file(a.fd(0)), offInAddr = a.pointer(1);
  const fout = t.file(a.fd(2)), offOutAddr = a.pointer(3);
  const len = Math.min(a.sizeT(4), MAX_RW_COUNT), flags = a.uint(5);
  if (flags !== 0) throw EINVAL;
  const offIn = offInAddr !== 0 ? readOffset(t, offInAddr) : null;
  const offOut = offOutAddr !== 0 ? readOffset(t, offOutAddr) : null;
  if ((fin.flags & O_PATH) || (fout.flags & O_PATH)) throw EBADF;
  const sin = fin.stat(), sout = fout.stat();
  const tin = sin.mode & S_IFMT, tout = sout.mode & S_IFMT;
  if (tin === S_IFDIR || tout === S_IFDIR) throw EISDIR;
  if (tin !== S_IFREG || tout !== S_IFREG) throw EINVAL;
  if (!fin.readable || !fout.writable || (fout.flags & O_APPEND)) throw EBADF;
  if (len === 0) return 0;
  if (sin.dev !== sout.dev) throw EXDEV;
  const startIn = offIn ?? fin.seek(0, SEEK_CUR), startOut = offOut ?? fout.seek(0, SEEK_CUR);
  if (sin.ino === sout.ino && sin.dev === sout.dev && startIn < startOut + len && startOut < startIn + len) throw EINVAL;
  // Explicit offsets leave the file offsets alone; otherwise both advance by what was copied.
  const n = notified(fin, fout, fileToFile(t, fin, startIn, fout, startOut, Math.min(len, Math.max(0, sin.size - startIn))));
  if (typeof n !== "number") return n;
  if (offInAddr !== 0) writeOffset(t, offInAddr, startIn + n);
  else fin.seek(startIn + n, SEEK_SET);
  if (offOutAddr !== 0) writeOffset(t, offOutAddr, startOut + n);
  else fout.seek(startOut + n, SEEK_SET);
  return n;
};

// ---- close_range(2) ---------------------------------------------------------------------

const CLOSE_RANGE_UNSHARE = 1 << 1;
const CLOSE_RANGE_CLOEXEC = 1 << 2;

/** Implements close_range(2). */
const sysCloseRange: SyscallFn = (t, a) => {
  const first = a.uint(0), last = a.uint(1), flags = a.uint(2);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) throw EINVAL;
  if (first > last) throw EINVAL;
  if ((flags & CLOSE_RANGE_UNSHARE) && t.fdTable.users > 1) {
    const own = t.fdTable.fork();
    t.fdTable.users--;
    t.fdTable = own;
  }
  for (const fd of t.fdTable.fds()) {
    if (fd < first || fd > last) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) t.fdTable.setCloexec(fd, true);
    else t.fdTable.remove(fd);
  }
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  40: supported("sendfile", sysSendfile),
  275: supported("splice", sysSplice),
  276: supported("tee", sysTee),
  278: supported("vmsplice", sysVmsplice),
  326: supported("copy_file_range", sysCopyFileRange),
  436: supported("close_range", sysCloseRange),
};
