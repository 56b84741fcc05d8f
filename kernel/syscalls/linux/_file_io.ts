/**
 * Moving bytes between application memory and open files, for read(2), write(2) and their
 * positional and vectored forms. The one place that turns EAGAIN into a wait.
 *
 * Semantics kept from Linux:
 * - A transfer is cut at MAX_RW_COUNT bytes.
 * - Progress wins over errors: once some bytes moved, a later error (EAGAIN, EFAULT, EPIPE)
 *   ends the call with the count so far; with nothing moved the error is returned.
 * - A bad buffer is EFAULT only when nothing could be copied. A read asks the file for no
 *   more bytes than the destination can take (writable memory, from the task's VMA list), so
 *   a read into a bad buffer consumes nothing: the data stays in a pipe, the offset of a file
 *   does not move. If a copy still comes up short (the host disagreed), the bytes that landed
 *   count and a seekable file's offset is put back to match.
 *
 * @module
 */

import { EAGAIN, EFAULT, EFBIG, EINVAL, EPERM, EPIPE } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_APPEND, O_NONBLOCK, S_ISGID, S_ISUID, SEEK_CUR } from "../../../abi/linux/file.ts";
import { RLIMIT_FSIZE } from "../../../abi/linux/limits.ts";
import { SI_USER, SIGPIPE, SIGXFSZ } from "../../../abi/linux/signal.ts";
import { PROT_WRITE, TASK_SIZE } from "../../../abi/linux/mm.ts";
import { checkReadable, checkWritable, type FileDescription, type Location } from "../../../vfs/mod.ts";
import { PIPE_BUF, PipeEnd } from "../../../vfs/pipe.ts";
import { fsnotifyAccess, fsnotifyModify } from "../../../vfs/fsnotify.ts";
import { accessPerm, fanPermActive } from "../../fanotify_hooks.ts";
import type { PermRequest } from "../../fanotify.ts";
import { EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { block, type SyscallResult } from "./support.ts";
import { TtyFile } from "../../../vfs/tty/mod.ts";
import { ttyRead, ttyWrite } from "./_tty.ts";

/** Linux caps one read or write at INT_MAX rounded down to a page. */
export const MAX_RW_COUNT = 0x7fff_f000;
/** UIO_MAXIOV: the most iovecs one readv/writev takes. */
export const IOV_MAX = 1024;
/** Bytes moved per host call; larger transfers loop. */
const CHUNK = 1 << 20;
/**
 * The buffer every read goes through on its way to the application (file → here → process
 * memory). Reused: allocating a fresh 64 KiB ArrayBuffer per read cost more than the read
 * itself (about 40 µs of allocation and GC, measured). Safe because reads are synchronous and
 * no file keeps a reference to the buffer it fills. Writes still copy into a fresh buffer:
 * a pipe keeps the chunks it is given.
 */
const readScratch = new Uint8Array(CHUNK);

/** One contiguous piece of application memory. */
export interface IoSegment {
  addr: number;
  len: number;
}

/**
 * Runs op. If the file would block (EAGAIN) and is not O_NONBLOCK, waits on its queue for
 * events instead; the syscall then runs again from the start when woken.
 */
export function retryOrBlock(file: FileDescription, events: number, op: () => number): SyscallResult {
  try {
    return op();
  } catch (e) {
    if (e === EAGAIN && (file.flags & O_NONBLOCK) === 0) return block([file.waitQueue], events);
    throw e;
  }
}

/** Implements the common part of read(2), pread64(2), readv(2), preadv(2). */
export function readSyscall(t: Task, file: FileDescription, segs: IoSegment[], offset: number | null): SyscallResult {
  checkReadable(file);
  verifyRange(offset, segs);
  if (fanPermActive()) {
    // rw_verify_area's FAN_ACCESS_PERM: asked once per call, waited for killable only.
    const st = t.syscallState as { fanPerm?: PermRequest } | null;
    if (st?.fanPerm !== undefined) {
      if (!st.fanPerm.done) return block([st.fanPerm.queue], EVENT_IN, null, "killable");
      t.syscallState = null;
      if (st.fanPerm.denied) throw EPERM;
    } else {
      const req = accessPerm(t, file);
      if (req !== null) {
        t.syscallState = { fanPerm: req };
        return block([req.queue], EVENT_IN, null, "killable");
      }
    }
  }
  const r = file instanceof TtyFile
    ? ttyRead(t, file, segs, offset)
    : file instanceof PipeEnd
    ? pipeRead(t, file, segs)
    : retryOrBlock(file, EVENT_IN, () => readToUser(t, file, segs, offset));
  if (typeof r === "number") {
    // vfs_read's add_rchar and inc_syscr (a sleep is counted once, when the call completes).
    t.io.syscr++;
    t.io.rchar += r;
    if (r > 0) fsnotifyAccess(file);
  }
  return r;
}

/** Implements the common part of write(2), pwrite64(2), writev(2), pwritev(2). */
export function writeSyscall(t: Task, file: FileDescription, segs: IoSegment[], offset: number | null): SyscallResult {
  checkWritable(file);
  verifyRange(offset, segs);
  const loc = file.location();
  const limited = limitFileSize(t, file, loc, segs, offset);
  if (loc !== null && ((loc.dentry.mode & (S_ISUID | S_ISGID)) !== 0 || loc.dentry.fileCaps) && totalLength(limited) > 0) {
    t.kernel.vfs.removePrivs(t.creds, loc.dentry);
  }
  const r = file instanceof TtyFile
    ? ttyWrite(t, file, limited, offset)
    : file instanceof PipeEnd
    ? pipeWrite(t, file, limited)
    : retryOrBlock(file, EVENT_OUT, () => writeFromUser(t, file, limited, offset));
  if (typeof r === "number") {
    t.io.syscw++;
    t.io.wchar += r;
    if (r > 0) fsnotifyModify(file);
  }
  return r;
}

/**
 * RLIMIT_FSIZE, as Linux's generic_write_check_limits: a write to a regular file that starts
 * at or past the soft limit raises SIGXFSZ at the caller and fails with EFBIG; one that would
 * cross the limit is cut there. Empty writes pass.
 */
function limitFileSize(
  t: Task, file: FileDescription, loc: Location | null, segs: IoSegment[], offset: number | null,
): IoSegment[] {
  if (loc === null || !loc.dentry.isRegular) return segs;
  const limit = t.tg.limits.soft(RLIMIT_FSIZE);
  if (limit === Infinity) return segs;
  const total = totalLength(segs);
  if (total === 0) return segs;
  const pos = offset ?? ((file.flags & O_APPEND) ? file.stat().size : file.offset);
  if (pos >= limit) {
    raiseSigxfsz(t);
    throw EFBIG;
  }
  return pos + total <= limit ? segs : truncateSegments(segs, limit - pos);
}

/**
 * How many of `want` bytes a write into file at offset (null: its own position) may take under
 * RLIMIT_FSIZE, for the writes that do not go through writeSyscall (splice, sendfile,
 * copy_file_range): at the limit, SIGXFSZ and EFBIG (generic_write_check_limits).
 */
export function writeRoom(t: Task, file: FileDescription, offset: number | null, want: number): number {
  const loc = file.location();
  if (loc === null || !loc.dentry.isRegular || want === 0) return want;
  const limit = t.tg.limits.soft(RLIMIT_FSIZE);
  if (limit === Infinity) return want;
  const pos = offset ?? ((file.flags & O_APPEND) ? file.stat().size : file.offset);
  if (pos >= limit) {
    raiseSigxfsz(t);
    throw EFBIG;
  }
  return Math.min(want, limit - pos);
}

/** Sends SIGXFSZ to the calling thread (Linux's send_sig(SIGXFSZ, current, 0)). */
export function raiseSigxfsz(t: Task): void {
  t.kernel.sendSignal(t.tg, SIGXFSZ, { code: SI_USER, pid: t.tg.tgid, uid: t.creds.uid }, t);
}

/** The first n bytes of segs. */
function truncateSegments(segs: IoSegment[], n: number): IoSegment[] {
  const out: IoSegment[] = [];
  for (const s of segs) {
    if (n <= 0) break;
    out.push({ addr: s.addr, len: Math.min(s.len, n) });
    n -= s.len;
  }
  return out;
}

/**
 * What a blocking pipe write keeps between runs: the bytes already written. The kernel's
 * signal delivery reads `partial`: an interrupted write with progress returns that count.
 */
interface PipeWriteState {
  partial: number;
}

/**
 * write(2) to a pipe, as Linux's pipe_write: takes what fits (see vfs/pipe.ts for where bytes
 * go and why a write of at most PIPE_BUF bytes is atomic); without O_NONBLOCK, waits for room
 * until every byte is written, keeping the count in t.syscallState. Ends early with the count
 * so far: O_NONBLOCK and a full pipe, a signal (kernel), a bad buffer, no reader left (EPIPE
 * with nothing written; SIGPIPE in either case).
 */
function pipeWrite(t: Task, file: PipeEnd, segs: IoSegment[]): SyscallResult {
  const p = file.pipe;
  const total = totalLength(segs);
  if (total === 0) return 0;
  let done = (t.syscallState as PipeWriteState | null)?.partial ?? 0;
  for (;;) {
    if (p.readers === 0) {
      if (done === 0) throw EPIPE; // the kernel raises SIGPIPE for a write-family EPIPE
      t.kernel.sendSignal(t.tg, SIGPIPE, {}, t);
      return done;
    }
    const want = p.writable(total - done);
    if (want === 0) {
      if (file.flags & O_NONBLOCK) {
        if (done === 0) throw EAGAIN;
        return done;
      }
      t.syscallState = { partial: done } satisfies PipeWriteState;
      return block([file.waitQueue], EVENT_OUT);
    }
    // The writer's bytes are read straight into memory the pipe then owns: one host copy.
    const buf = p.allocate(want);
    const got = gatherPrefix(t, segs, done, buf);
    if (got < want) {
      // A fault: the whole pages before it go in (the count is Linux's up to the page).
      const k = got - (got % PIPE_BUF);
      if (k > 0) p.append(buf.subarray(0, k), k, file.packetMode, true);
      if (done + k === 0) throw EFAULT;
      return done + k;
    }
    p.append(buf, total - done, file.packetMode, true);
    done += want;
    if (done === total) return done;
  }
}

/**
 * read(2) from a pipe: what a read of the pipe returns (PipeEnd.read, Pipe.take), copied from
 * the pipe's own memory straight into the reader's, with no buffer in between: one
 * process_vm_writev per run of slots that lie back to back (the pages of one write), so a
 * 64 KiB read of a 64 KiB write is one host call. Asks for no more bytes than the segments
 * can take (as readToUser); a slot that does not land whole stays in the pipe.
 */
function pipeRead(t: Task, file: PipeEnd, segs: IoSegment[]): SyscallResult {
  const p = file.pipe;
  const total = totalLength(segs);
  if (total === 0) return 0;
  if (p.size === 0) {
    if (p.writers === 0) return 0;
    if (file.flags & O_NONBLOCK) throw EAGAIN;
    return block([file.waitQueue], EVENT_IN);
  }
  let room = 0;
  for (const s of segs) {
    const w = writablePrefix(t, s.addr, s.len);
    room += w;
    if (w < s.len) break;
  }
  if (room === 0) throw EFAULT;
  let seg = 0, segOff = 0;
  const n = p.takeVia(room, (src) => {
    let o = 0;
    while (o < src.length && seg < segs.length) {
      const s = segs[seg]!;
      const k = Math.min(s.len - segOff, src.length - o);
      const landed = k === 0 ? 0 : t.writeUser(s.addr + segOff, src.subarray(o, o + k));
      o += landed;
      segOff += landed;
      if (landed < k) break;
      if (segOff === s.len) {
        seg++;
        segOff = 0;
      }
    }
    return o;
  });
  if (n === 0) throw EFAULT;
  return n;
}

/** Copies bytes of the segments from position `from` on into buf; returns how many could be read. */
function gatherPrefix(t: Task, segs: IoSegment[], from: number, buf: Uint8Array): number {
  let pos = 0, o = 0;
  for (const s of segs) {
    if (o >= buf.length) break;
    if (pos + s.len <= from) {
      pos += s.len;
      continue;
    }
    const skip = Math.max(0, from - pos);
    const n = Math.min(s.len - skip, buf.length - o);
    const got = t.readUser(s.addr + skip, buf.subarray(o, o + n));
    o += got;
    pos += s.len;
    if (got < n) break;
  }
  return o;
}

/** Reads from file into the segments in order; see the module doc for partial results. */
export function readToUser(t: Task, file: FileDescription, segs: IoSegment[], offset: number | null): number {
  const none = file.readWithoutData();
  if (none !== null) return none;
  if (totalLength(segs) === 0) return file.read(new Uint8Array(0), offset);
  if (file.messageOriented) return readMessage(t, file, segs);
  let done = 0;
  let off = offset;
  for (const s of segs) {
    let segDone = 0;
    const room = writablePrefix(t, s.addr, s.len);
    while (segDone < s.len) {
      if (segDone >= room) {
        if (done === 0) throw EFAULT;
        return done;
      }
      const want = Math.min(room - segDone, CHUNK);
      let buf: Uint8Array = readScratch.subarray(0, want);
      let n: number;
      try {
        // A file that holds its data in memory already (a mapped host file) hands a view of
        // it, copied to the application in one step.
        const view = file.mappedRead(want, off);
        if (view !== null) buf = view;
        n = view !== null ? view.length : file.read(buf, off);
      } catch (e) {
        if (done > 0) return done;
        throw e;
      }
      if (n > 0) {
        const landed = t.writeUser(s.addr + segDone, buf.subarray(0, n));
        if (landed < n) {
          if (offset === null && !file.isStream) unread(file, n - landed);
          if (done + landed === 0) throw EFAULT;
          return done + landed;
        }
      }
      done += n;
      segDone += n;
      if (off !== null) off += n;
      if (n < want) return done;
    }
  }
  return done;
}

/** Writes the segments to file in order; see the module doc for partial results. */
export function writeFromUser(t: Task, file: FileDescription, segs: IoSegment[], offset: number | null): number {
  const blind = file.writeWithoutData(totalLength(segs));
  if (blind !== null) return blind;
  if (totalLength(segs) === 0) return file.write(new Uint8Array(0), offset);
  if (file.messageOriented) return file.write(gatherFromUser(t, segs), null);
  let done = 0;
  let off = offset;
  for (const s of segs) {
    let segDone = 0;
    while (segDone < s.len) {
      const want = Math.min(s.len - segDone, CHUNK);
      const buf = new Uint8Array(want);
      const got = t.readUser(s.addr + segDone, buf);
      // A pipe takes a chunk whole or not at all: a fault inside it is EFAULT (or the count
      // so far), as Linux's pipe_write. Regular files keep the bytes before the fault.
      if (got === 0 || (got < want && file.isStream)) {
        if (done > 0) return done;
        throw EFAULT;
      }
      let n: number;
      try {
        n = file.write(buf.subarray(0, got), off);
      } catch (e) {
        if (done > 0) return done;
        throw e;
      }
      done += n;
      segDone += n;
      if (off !== null) off += n;
      if (n < got || got < want) return done;
    }
  }
  return done;
}

/**
 * Gathers the segments into one buffer, for a message-oriented file: EFAULT if any byte of
 * them cannot be read (a message is never sent in part).
 */
export function gatherFromUser(t: Task, segs: IoSegment[]): Uint8Array {
  const buf = new Uint8Array(totalLength(segs));
  let o = 0;
  for (const s of segs) {
    if (s.len === 0) continue;
    if (t.readUser(s.addr, buf.subarray(o, o + s.len)) !== s.len) throw EFAULT;
    o += s.len;
  }
  return buf;
}

/**
 * Scatters data over the segments in order; returns the bytes that landed (EFAULT when none
 * did and there were some to copy).
 */
export function scatterToUser(t: Task, segs: IoSegment[], data: Uint8Array): number {
  let o = 0;
  for (const s of segs) {
    if (o >= data.length) break;
    const n = Math.min(s.len, data.length - o);
    if (n === 0) continue;
    const landed = t.writeUser(s.addr, data.subarray(o, o + n));
    o += landed;
    if (landed < n) {
      if (o === 0) throw EFAULT;
      break;
    }
  }
  return o;
}

/** One read() of a whole message into the segments (the rest of a longer message is lost). */
function readMessage(t: Task, file: FileDescription, segs: IoSegment[]): number {
  let room = 0;
  for (const s of segs) {
    const w = writablePrefix(t, s.addr, s.len);
    room += w;
    if (w < s.len) break;
  }
  if (room === 0) throw EFAULT;
  const buf = new Uint8Array(Math.min(room, totalLength(segs)));
  const n = file.read(buf, null);
  return scatterToUser(t, segs, buf.subarray(0, n));
}

/**
 * Reads an iovec array (struct iovec { void *base; size_t len; }). EINVAL for more than
 * IOV_MAX entries or a length that is negative as ssize_t; lengths are cut so the total stays
 * within MAX_RW_COUNT.
 */
export function copyInIovecs(t: Task, addr: number, count: number): IoSegment[] {
  if (count < 0 || count > IOV_MAX) throw EINVAL;
  if (count === 0) return [];
  const b = t.copyIn(addr, 16 * count);
  const v = new DataView(b.buffer);
  const segs: IoSegment[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const base = v.getBigUint64(16 * i, true);
    const len = v.getBigUint64(16 * i + 8, true);
    if (len >= 1n << 63n) throw EINVAL;
    // access_ok, as Linux's iovec import checks every segment before any I/O: one reaching
    // beyond the user address space is EFAULT, even with length 0.
    if (base + len > BigInt(TASK_SIZE)) throw EFAULT;
    const n = Math.min(Number(len), MAX_RW_COUNT - total);
    total += n;
    segs.push({ addr: Number(base), len: n });
  }
  return segs;
}

/** One segment of at most MAX_RW_COUNT bytes, for read(2) and write(2). */
export function singleSegment(addr: number, len: number): IoSegment[] {
  return [{ addr, len: Math.min(len, MAX_RW_COUNT) }];
}

/**
 * How many bytes from addr (up to len) lie in writable mappings, by the task's VMA list (or
 * below a MAP_GROWSDOWN one that the copy would grow down to them): no host call. If the list says none, one byte is probed on the host (read and written back), in
 * case the list and the host disagree; a host that accepts it gets the benefit of the doubt.
 */
function writablePrefix(t: Task, addr: number, len: number): number {
  const vmas = t.mm.vmas;
  let lo = 0, hi = vmas.length - 1, i = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = vmas[mid]!;
    if (addr < v.start) hi = mid - 1;
    else if (addr >= v.end) lo = mid + 1;
    else {
      i = mid;
      break;
    }
  }
  let end = addr;
  // Just below a writable MAP_GROWSDOWN mapping: the copy grows it down to addr (Task.writeUser).
  if (i === -1 && lo < vmas.length && (vmas[lo]!.prot & PROT_WRITE) !== 0 && t.growsDownAt(addr)) {
    i = lo;
    end = vmas[lo]!.start;
  }
  const want = addr + len;
  for (; i >= 0 && i < vmas.length && end < want; i++) {
    const v = vmas[i]!;
    if (v.start > end || (v.prot & PROT_WRITE) === 0) break;
    end = v.end;
  }
  if (end > addr) return Math.min(end, want) - addr;
  const probe = new Uint8Array(1);
  return t.mm.read(addr, probe) === 1 && t.mm.write(addr, probe) === 1 ? len : 0;
}

/**
 * rw_verify_area for a positional transfer: a range whose end passes 2^63 - 1 is EINVAL. The
 * offset came through a double (spaced 1024 apart below 2^63), so a range ending within about
 * 512 bytes of the limit may be refused where Linux would transfer it.
 */
function verifyRange(offset: number | null, segs: IoSegment[]): void {
  if (offset === null) return;
  const count = totalLength(segs);
  if (offset + count >= 2 ** 62 && BigInt(Math.trunc(offset)) + BigInt(count) > 0x7fffffffffffffffn) throw EINVAL;
}

function totalLength(segs: IoSegment[]): number {
  let n = 0;
  for (const s of segs) n += s.len;
  return n;
}

/** Moves a seekable file's offset back over bytes read that never reached the application. */
function unread(file: FileDescription, n: number): void {
  try {
    file.seek(-n, SEEK_CUR);
  } catch {
    // Not seekable after all: the bytes are lost, as on a pipe.
  }
}
