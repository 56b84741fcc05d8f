/**
 * Native asynchronous I/O: io_setup(2), io_destroy(2), io_submit(2), io_getevents(2),
 * io_pgetevents(2), io_cancel(2), in fs/aio.c's order of checks. The contexts and their rings
 * are kernel/aio.ts.
 *
 * A context's id is the address of its ring, and is looked up as Linux's lookup_ioctx does:
 * the ring's `id` is read at that address (a fault, such as a ring made PROT_NONE or unmapped,
 * is EINVAL), and the mapping there must be that context's ring, whole from its start (so an
 * id left behind by mremap no longer names it, and the moved one does).
 *
 * @module
 */

import { EAGAIN, EBADF, EFAULT, EINPROGRESS, EINVAL, EOPNOTSUPP, EPIPE, LinuxError } from "../../errno.ts";
import { SIGPIPE } from "../../../abi/linux/signal.ts";
import { SocketFile } from "../../socket/socket.ts";
import { MAP_SHARED, PROT_READ, PROT_WRITE, TASK_SIZE } from "../../../abi/linux/mm.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import { AIO_MAX_EVENTS, AIO_MAX_NR, type AioContext, AioPoll, AioTable, IO_EVENT_SIZE } from "../../aio.ts";
import { EventFd } from "../../../vfs/eventfd.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { EVENT_ERR, EVENT_HUP, EVENT_IN } from "../../../waiter/mod.ts";
import type { Task } from "../../task.ts";
import { copyInIovecs, type IoSegment, MAX_RW_COUNT, readSyscall, writeSyscall } from "./_file_io.ts";
import { expired, finish, pollState, readSigmask } from "./sys_poll.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const IOCB_CMD_PREAD = 0, IOCB_CMD_PWRITE = 1, IOCB_CMD_FSYNC = 2, IOCB_CMD_FDSYNC = 3, IOCB_CMD_POLL = 5;
const IOCB_CMD_PREADV = 7, IOCB_CMD_PWRITEV = 8;
const IOCB_FLAG_RESFD = 1;
/** RWF_HIPRI, DSYNC, SYNC, NOWAIT, APPEND, NOAPPEND, ATOMIC, DONTCACHE: what preadv2 knows. */
const RWF_SUPPORTED = 0xff;
const IOCB_SIZE = 64;
/** /proc/sys/fs/aio-max-nr, shown as Linux's default. */
const aioMaxNr = AIO_MAX_NR;

/** The context ctxId names (lookup_ioctx), or EINVAL. */
function lookup(t: Task, ctxId: number): AioContext {
  const table = t.mm.aio;
  if (table === null || !Number.isSafeInteger(ctxId) || ctxId <= 0) throw EINVAL;
  const v = t.mm.vmas.find((v) => v.start <= ctxId && ctxId < v.end);
  // get_user(id, &ring->id): what the program cannot read, the kernel does not either.
  if (v === undefined || (v.prot & PROT_READ) === 0 || ctxId + 4 > v.end) throw EINVAL;
  let id: number;
  try {
    id = new DataView(t.copyIn(ctxId, 4).buffer).getUint32(0, true);
  } catch {
    throw EINVAL;
  }
  const c = table.get(id);
  if (c === null || v.file !== c.ring || v.start !== ctxId || v.offset !== 0) throw EINVAL;
  return c;
}

/** Implements io_setup(2). */
const sysIoSetup: SyscallFn = (t, a) => {
  const nr = a.uint(0), ctxp = a.pointer(1);
  if (t.copyInU64(ctxp) !== 0n || nr === 0) throw EINVAL;
  if (nr > AIO_MAX_EVENTS) throw EINVAL;
  const table = t.mm.aio ?? (t.mm.aio = new AioTable());
  if (nr > aioMaxNr || table.requested + nr > aioMaxNr) throw EAGAIN;
  const c = table.create(nr);
  let addr: number;
  try {
    addr = t.mm.mmap(t.ctx, {
      addr: 0, len: c.size, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, file: c.ring, offset: 0,
      name: "/[aio] (deleted)", dontExpand: true,
    });
  } catch (e) {
    table.remove(c);
    throw e;
  }
  try {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(addr), true);
    t.copyOut(ctxp, b);
  } catch (e) {
    destroy(t, c);
    throw e;
  }
  return 0;
};

/** Ends a context: its ring's mappings go (wherever mremap moved them), its polls end. */
function destroy(t: Task, c: AioContext): void {
  for (const v of t.mm.vmas.filter((v) => v.file === c.ring)) t.mm.munmap(t.ctx, v.start, v.end - v.start);
  t.mm.aio?.remove(c);
}

/** Implements io_destroy(2). */
const sysIoDestroy: SyscallFn = (t, a) => {
  destroy(t, lookup(t, a.pointer(0)));
  return 0;
};

/** A user buffer for one transfer (import_ubuf): EFAULT beyond the user address space. */
function oneSegment(addr: bigint, len: number): IoSegment[] {
  if (addr + BigInt(len) > BigInt(TASK_SIZE)) throw EFAULT;
  return [{ addr: Number(addr), len: Math.min(len, MAX_RW_COUNT) }];
}

/**
 * Runs a read or write now, as a syscall would, but never sleeping: one that would block ends
 * with EAGAIN (see kernel/aio.ts). Returns the event's res.
 */
function transferNow(t: Task, file: FileDescription, write: boolean, run: () => SyscallResult): bigint {
  const saved = t.syscallState;
  const flags = file.flags;
  file.flags |= O_NONBLOCK;
  try {
    const r = run();
    return typeof r === "number" ? BigInt(r) : -BigInt(EAGAIN.errno);
  } catch (e) {
    if (!(e instanceof LinuxError)) throw e;
    // A write to a pipe or socket with no reader raises SIGPIPE, as pipe_write does itself.
    if (write && e === EPIPE && (!(file instanceof SocketFile) || file.sigpipeOnEpipe)) t.kernel.sendSignal(t.tg, SIGPIPE);
    return -BigInt(e.errno);
  } finally {
    file.flags = (file.flags & ~O_NONBLOCK) | (flags & O_NONBLOCK);
    t.syscallState = saved;
  }
}

/** One iocb (io_submit_one): 0 once it is submitted, or throws what io_submit returns. */
function submitOne(t: Task, c: AioContext, iocbAddr: number): void {
  const raw = t.copyIn(iocbAddr, IOCB_SIZE);
  const v = new DataView(raw.buffer);
  const data = v.getBigUint64(0, true);
  const rwFlags = v.getUint32(12, true);
  const opcode = v.getUint16(16, true);
  const fd = v.getInt32(20, true);
  const buf = v.getBigUint64(24, true);
  const nbytes = v.getBigUint64(32, true);
  const offset = v.getBigInt64(40, true);
  const reserved2 = v.getBigUint64(48, true);
  const flags = v.getUint32(56, true);
  const resfdNum = v.getInt32(60, true);
  if (reserved2 !== 0n) throw EINVAL;
  if (nbytes >= 1n << 63n) throw EINVAL;
  if (c.full) throw EAGAIN;
  const file = t.file(fd);
  let resfd: EventFd | null = null;
  if (flags & IOCB_FLAG_RESFD) {
    const f = t.file(resfdNum);
    if (!(f instanceof EventFd)) throw EINVAL;
    resfd = f;
  }
  // put_user(KIOCB_KEY, &iocb->aio_key): the key io_cancel checks.
  t.copyOut(iocbAddr + 8, new Uint8Array(4));
  const obj = BigInt(iocbAddr);
  const done = (res: bigint) => c.complete({ data, obj, res, res2: 0n }, resfd);
  switch (opcode) {
    case IOCB_CMD_PREAD:
    case IOCB_CMD_PREADV:
    case IOCB_CMD_PWRITE:
    case IOCB_CMD_PWRITEV: {
      if (rwFlags & ~RWF_SUPPORTED) throw EOPNOTSUPP;
      const write = opcode === IOCB_CMD_PWRITE || opcode === IOCB_CMD_PWRITEV;
      if (write ? !file.writable : !file.readable) throw EBADF;
      const vectored = opcode === IOCB_CMD_PREADV || opcode === IOCB_CMD_PWRITEV;
      const segs = vectored
        ? copyInIovecs(t, buf > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(buf), nbytes > 1024n ? -1 : Number(nbytes))
        : oneSegment(buf, Number(nbytes));
      // rw_verify_area: a negative position is EINVAL for every file, streams included.
      if (offset < 0n) throw EINVAL;
      const at = file.isStream ? null : Number(offset);
      done(transferNow(t, file, write, () => write ? writeSyscall(t, file, segs, at) : readSyscall(t, file, segs, at)));
      return;
    }
    case IOCB_CMD_FSYNC:
    case IOCB_CMD_FDSYNC: {
      if (buf !== 0n || offset !== 0n || nbytes !== 0n || rwFlags !== 0) throw EINVAL;
      if (file.isStream) throw EINVAL; // no f_op->fsync
      let res = 0n;
      try {
        file.sync();
      } catch (e) {
        if (!(e instanceof LinuxError)) throw e;
        res = -BigInt(e.errno);
      }
      done(res);
      return;
    }
    case IOCB_CMD_POLL: {
      if (buf > 0xffffn || offset !== 0n || nbytes !== 0n || rwFlags !== 0) throw EINVAL;
      const events = Number(buf) | EVENT_ERR | EVENT_HUP;
      const mask = file.readiness(events) & events;
      if (mask !== 0) {
        done(BigInt(mask));
        return;
      }
      const p = new AioPoll(c, file.incRef(), events, data, obj, resfd?.incRef() ?? null);
      c.polls.add(p);
      // Every event reaches the request (its wake filters): a completion carries the wake's
      // own events, as Linux's aio_poll_wake reports the key (a pipe's POLLIN|POLLRDNORM).
      file.waitQueue.register(p, 0x7fff_ffff);
      return;
    }
    default:
      throw EINVAL;
  }
}

/** Implements io_submit(2): the count submitted, or the first one's error. */
const sysIoSubmit: SyscallFn = (t, a) => {
  const nr = a.long(1), list = a.pointer(2);
  if (nr < 0) throw EINVAL;
  const c = lookup(t, a.pointer(0));
  const n = Math.min(nr, c.nr);
  let i = 0;
  for (; i < n; i++) {
    try {
      const p = t.copyInU64(list + 8 * i);
      submitOne(t, c, p > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(p));
    } catch (e) {
      if (i === 0) throw e;
      if (!(e instanceof LinuxError)) throw e;
      break;
    }
  }
  return i;
};

/** Implements io_cancel(2): a poll still waiting ends with res 0 (EINPROGRESS); nothing else can. */
const sysIoCancel: SyscallFn = (t, a) => {
  // The iocb's key first (EFAULT, EINVAL), then the context (Linux's io_cancel).
  const iocb = a.pointer(1);
  const key = new DataView(t.copyIn(iocb + 8, 4).buffer).getUint32(0, true);
  if (key !== 0) throw EINVAL;
  const c = lookup(t, a.pointer(0));
  for (const p of c.polls) {
    if (p.obj === BigInt(iocb)) {
      p.finish(0);
      throw EINPROGRESS;
    }
  }
  throw EINVAL;
};

/** The timeout of io_getevents as nanoseconds (unchecked, as Linux's): null to wait forever. */
function timeoutNs(t: Task, addr: number): number | null {
  if (addr === 0) return null;
  const v = new DataView(t.copyIn(addr, 16).buffer);
  const ns = Number(v.getBigInt64(0, true)) * 1e9 + Number(v.getBigInt64(8, true));
  return Math.max(0, ns);
}

/**
 * io_getevents and io_pgetevents: waits until min events are in the ring (or the timeout, or a
 * signal: EINTR), then takes up to max.
 */
function getEvents(t: Task, ctxId: number, min: number, max: number, eventsAddr: number, timeoutAddr: number, sigmask: () => bigint | null): SyscallResult {
  const st = pollState(t, () => timeoutNs(t, timeoutAddr), sigmask);
  let c: AioContext;
  try {
    c = lookup(t, ctxId);
    if (min < 0 || min > max) throw EINVAL;
  } catch (e) {
    finish(t, st, 0); // the caller's signal mask back
    throw e;
  }
  if (c.available < min && !expired(st)) return block([c.waitQueue], EVENT_IN, st.deadlineNs, "never");
  const { events, head } = c.peek(max);
  if (events.length > 0) {
    try {
      t.copyOut(eventsAddr, events);
    } catch (e) {
      finish(t, st, 0);
      throw e;
    }
    c.consume(head);
  }
  return finish(t, st, events.length / IO_EVENT_SIZE);
}

/** Implements io_getevents(2). */
const sysIoGetevents: SyscallFn = (t, a) => getEvents(t, a.pointer(0), a.long(1), a.long(2), a.pointer(3), a.pointer(4), () => null);

/** Implements io_pgetevents(2): io_getevents with a signal mask for the wait, as ppoll. */
const sysIoPgetevents: SyscallFn = (t, a) => {
  const usig = a.pointer(5);
  return getEvents(t, a.pointer(0), a.long(1), a.long(2), a.pointer(3), a.pointer(4), () => {
    if (usig === 0) return null;
    const v = new DataView(t.copyIn(usig, 16).buffer);
    return readSigmask(t, Number(v.getBigUint64(0, true)), Number(v.getBigUint64(8, true)));
  });
};

export const table: Record<number, SyscallEntry> = {
  206: supported("io_setup", sysIoSetup),
  207: supported("io_destroy", sysIoDestroy),
  208: supported("io_getevents", sysIoGetevents),
  209: supported("io_submit", sysIoSubmit),
  210: supported("io_cancel", sysIoCancel),
  333: supported("io_pgetevents", sysIoPgetevents),
};
