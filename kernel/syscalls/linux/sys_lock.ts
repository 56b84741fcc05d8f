/**
 * File locks: flock(2), and fcntl(2)'s F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK and
 * F_OFD_SETLKW (sys_file.ts hands those commands over). The lock table is vfs/lock.ts.
 *
 * Waits (LOCK_EX without LOCK_NB, F_SETLKW) sleep on the file's lock queue and are restarted
 * after an SA_RESTART handler, as Linux's ERESTARTSYS.
 *
 * @module
 */

import { EAGAIN, EBADF, EINVAL, EOVERFLOW } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { F_GETLK, F_SETLK, F_SETLKW, O_PATH, SEEK_CUR, SEEK_END, SEEK_SET } from "../../../abi/linux/file.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { F_RDLCK, F_UNLCK, F_WRLCK, type LockTable, OFFSET_MAX } from "../../../vfs/lock.ts";
import { EVENT_IN } from "../../../waiter/mod.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const LOCK_MAND = 32;

/** The sandbox's lock table. */
function locksOf(t: Task): LockTable {
  return t.kernel.fileLocks;
}

/** Implements flock(2). */
const sysFlock: SyscallFn = (t, a) => {
  const f = t.file(a.fd(0));
  const op = a.int(1);
  if (f.flags & O_PATH) throw EBADF;
  const cmd = op & ~LOCK_NB;
  if (cmd & LOCK_MAND) return 0; // removed in Linux 5.15: warned about and ignored
  if (cmd !== LOCK_SH && cmd !== LOCK_EX && cmd !== LOCK_UN) throw EINVAL;
  const table = locksOf(t);
  try {
    table.flock(f, cmd === LOCK_UN ? null : cmd === LOCK_EX);
    return 0;
  } catch (e) {
    if (e === EAGAIN && !(op & LOCK_NB)) return block([table.queueFor(f)], EVENT_IN);
    throw e;
  }
};

/** struct flock on x86-64: l_type, l_whence (i16), l_start, l_len (i64 at 8, 16), l_pid (i32 at 24). */
const FLOCK_SIZE = 32;

/** Turns a struct flock's range into [start, end] (Linux's flock64_to_posix_lock). */
function lockRange(f: FileDescription, whence: number, lStart: bigint, lLen: bigint): [bigint, bigint] {
  let base: bigint;
  switch (whence) {
    case SEEK_SET:
      base = 0n;
      break;
    case SEEK_CUR:
      try {
        base = BigInt(f.seek(0, SEEK_CUR));
      } catch {
        base = BigInt(f.offset); // not seekable (a pipe): Linux uses f_pos, which stays 0
      }
      break;
    case SEEK_END:
      base = BigInt(f.stat().size);
      break;
    default:
      throw EINVAL;
  }
  if (lStart > OFFSET_MAX - base) throw EOVERFLOW;
  let start = base + lStart;
  if (start < 0n) throw EINVAL;
  let end: bigint;
  if (lLen > 0n) {
    if (lLen - 1n > OFFSET_MAX - start) throw EOVERFLOW;
    end = start + lLen - 1n;
  } else if (lLen < 0n) {
    if (start + lLen < 0n) throw EINVAL;
    end = start - 1n;
    start += lLen;
  } else {
    end = OFFSET_MAX;
  }
  return [start, end];
}

/** fcntl(2)'s lock commands, in the order of Linux's fcntl_getlk/fcntl_setlk checks. */
export function fcntlLock(t: Task, f: FileDescription, cmd: number, addr: number): SyscallResult {
  const raw = t.copyIn(addr, FLOCK_SIZE);
  const v = new DataView(raw.buffer);
  const type = v.getInt16(0, true), whence = v.getInt16(2, true);
  const lStart = v.getBigInt64(8, true), lLen = v.getBigInt64(16, true), lPid = v.getInt32(24, true);
  const ofd = cmd === F_OFD_GETLK || cmd === F_OFD_SETLK || cmd === F_OFD_SETLKW;
  const owner: object = ofd ? f : t.fdTable;
  const table = locksOf(t);
  if (cmd === F_GETLK || cmd === F_OFD_GETLK) {
    if (type !== F_RDLCK && type !== F_WRLCK) throw EINVAL;
    const [start, end] = lockRange(f, whence, lStart, lLen);
    if (ofd && lPid !== 0) throw EINVAL;
    const c = table.test(f, owner, type, start, end);
    if (c === null) {
      v.setInt16(0, F_UNLCK, true);
    } else {
      v.setInt16(0, c.type, true);
      v.setInt16(2, SEEK_SET, true);
      v.setBigInt64(8, c.start, true);
      v.setBigInt64(16, c.end === OFFSET_MAX ? 0n : c.end - c.start + 1n, true);
      // The holder as the caller's PID namespace numbers it: 0 outside it (locks_translate_pid).
      v.setInt32(24, c.ofd ? -1 : t.vnr(c.pid), true);
    }
    t.copyOut(addr, raw);
    return 0;
  }
  if (type !== F_RDLCK && type !== F_WRLCK && type !== F_UNLCK) throw EINVAL;
  const [start, end] = lockRange(f, whence, lStart, lLen);
  if ((type === F_RDLCK && !f.readable) || (type === F_WRLCK && !f.writable)) throw EBADF;
  if (ofd && lPid !== 0) throw EINVAL;
  const wait = cmd === F_SETLKW || cmd === F_OFD_SETLKW;
  const lock = { owner, ofd, pid: ofd ? -1 : t.tg.tgid, type, start, end };
  try {
    table.setRecord(f, lock, wait ? t : null);
    return 0;
  } catch (e) {
    if (e !== EAGAIN || !wait) throw e;
    // Mark the sleep so that deadlock detection can tell it from a finished call.
    t.syscallState ??= { lockWait: true };
    if (!ofd) table.noteWaiting(owner, f, type, start, end, t);
    return block([table.queueFor(f)], EVENT_IN);
  }
}

/** The fcntl commands fcntlLock implements. */
export const LOCK_COMMANDS: ReadonlySet<number> = new Set([F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW]);

export const table: Record<number, SyscallEntry> = {
  73: supported("flock", sysFlock),
};
