/**
 * epoll: epoll_create(2), epoll_create1(2), epoll_ctl(2), epoll_wait(2), epoll_pwait(2),
 * epoll_pwait2(2). The instance and its rules are in vfs/epoll.ts; this file decodes arguments,
 * applies Linux's order of checks, and waits on the instance's queue.
 *
 * A wait ends with EINTR when a signal handler runs (never restarted, as Linux's
 * ERESTARTNOHAND); a mask given to epoll_pwait/epoll_pwait2 is in force while waiting and put
 * back when the call returns (after the handler, when a signal ended it).
 *
 * @module
 */

import { EBADF, EINVAL, EPERM, LinuxError } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_CLOEXEC, O_PATH } from "../../../abi/linux/file.ts";
import { EPOLL_CTL_DEL, EpollInstance } from "../../../vfs/epoll.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { EVENT_IN } from "../../../waiter/mod.ts";
import { readTimespecNs } from "./_time.ts";
import { expired, finish, pollState, type PollState, readSigmask } from "./sys_poll.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

const EPOLL_CLOEXEC = O_CLOEXEC;
/** sizeof(struct epoll_event) on x86-64: packed u32 events, u64 data. */
const EVENT_SIZE = 12;
/** Linux's EP_MAX_EVENTS. */
const EP_MAX_EVENTS = Math.floor(0x7fffffff / EVENT_SIZE);

function newEpoll(t: Task, cloexec: boolean): number {
  return t.fdTable.install(new EpollInstance(0), cloexec);
}

/** Implements epoll_create(2): size only has to be positive. */
const sysEpollCreate: SyscallFn = (t, a) => {
  if (a.int(0) <= 0) throw EINVAL;
  return newEpoll(t, false);
};

/** Implements epoll_create1(2). */
const sysEpollCreate1: SyscallFn = (t, a) => {
  const flags = a.int(0);
  if (flags & ~EPOLL_CLOEXEC) throw EINVAL;
  return newEpoll(t, (flags & EPOLL_CLOEXEC) !== 0);
};

/** Files epoll refuses (no poll operation on Linux): regular files, directories, O_PATH. */
function canPoll(f: FileDescription): boolean {
  if (f.flags & O_PATH) return false;
  return f.epollable;
}

/** The epoll instance behind epfd: EBADF, or EINVAL when it is another kind of file. */
function epollOf(t: Task, epfd: number): EpollInstance {
  const f = t.file(epfd);
  if (!(f instanceof EpollInstance)) throw EINVAL;
  return f;
}

/** Implements epoll_ctl(2), in the order of Linux's do_epoll_ctl. */
const sysEpollCtl: SyscallFn = (t, a) => {
  const epfd = a.fd(0), op = a.int(1), fd = a.fd(2), evAddr = a.pointer(3);
  let events = 0, data = 0n;
  if (op !== EPOLL_CTL_DEL) {
    const b = t.copyIn(evAddr, EVENT_SIZE);
    const v = new DataView(b.buffer);
    events = v.getUint32(0, true);
    data = v.getBigUint64(4, true);
  }
  // fdget: an O_PATH descriptor is no descriptor here (EBADF), for either.
  const epf = t.fdTable.get(epfd);
  if (epf.flags & O_PATH) throw EBADF;
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw EBADF;
  if (!canPoll(file)) throw EPERM;
  if (!(epf instanceof EpollInstance)) throw EINVAL;
  epf.ctl(op, fd, file, events, data);
  return 0;
};

/**
 * The common part of the epoll_wait family. The arguments are checked on every run (the
 * descriptor may have been closed while waiting); the deadline and mask live in `st`.
 */
function doWait(t: Task, epfd: number, evAddr: number, max: number, st: PollState): SyscallResult {
  try {
    if (max <= 0 || max > EP_MAX_EVENTS) throw EINVAL;
    const ep = epollOf(t, epfd);
    const ready = ep.collect(max);
    if (ready.length > 0) {
      const b = new Uint8Array(ready.length * EVENT_SIZE);
      const v = new DataView(b.buffer);
      ready.forEach(([ev, data], i) => {
        v.setUint32(i * EVENT_SIZE, ev, true);
        v.setBigUint64(i * EVENT_SIZE + 4, data, true);
      });
      t.copyOut(evAddr, b);
      return finish(t, st, ready.length);
    }
    if (expired(st)) return finish(t, st, 0);
    return block([ep.waitQueue], EVENT_IN, st.deadlineNs, "never");
  } catch (e) {
    if (e instanceof LinuxError) finish(t, st, 0);
    throw e;
  }
}

/** Checks what Linux checks before it sleeps, so that errors come before any mask change. */
function precheck(t: Task, epfd: number, max: number): void {
  if (max <= 0 || max > EP_MAX_EVENTS) throw EINVAL;
  epollOf(t, epfd);
}

function msTimeout(ms: number): number | null {
  return ms < 0 ? null : ms * 1e6;
}

/** Implements epoll_wait(2). */
const sysEpollWait: SyscallFn = (t, a) => {
  const epfd = a.fd(0), max = a.int(2), ms = a.int(3);
  if (t.syscallState === null) precheck(t, epfd, max);
  const st = pollState(t, () => msTimeout(ms), () => null);
  return doWait(t, epfd, a.pointer(1), max, st);
};

/** Implements epoll_pwait(2): the mask is read (and its size checked) first, as Linux does. */
const sysEpollPwait: SyscallFn = (t, a) => {
  const epfd = a.fd(0), max = a.int(2), ms = a.int(3);
  let mask: bigint | null = null;
  if (t.syscallState === null) {
    mask = readSigmask(t, a.pointer(4), a.sizeT(5));
    precheck(t, epfd, max);
  }
  const st = pollState(t, () => msTimeout(ms), () => mask);
  return doWait(t, epfd, a.pointer(1), max, st);
};

/** Implements epoll_pwait2(2): a timespec timeout (NULL waits forever), then the mask. */
const sysEpollPwait2: SyscallFn = (t, a) => {
  const epfd = a.fd(0), max = a.int(2), tsAddr = a.pointer(3);
  let timeout: number | null = null, mask: bigint | null = null;
  if (t.syscallState === null) {
    timeout = tsAddr === 0 ? null : readTimespecNs(t, tsAddr);
    mask = readSigmask(t, a.pointer(4), a.sizeT(5));
    precheck(t, epfd, max);
  }
  const st = pollState(t, () => timeout, () => mask);
  return doWait(t, epfd, a.pointer(1), max, st);
};

export const table: Record<number, SyscallEntry> = {
  213: supported("epoll_create", sysEpollCreate),
  232: supported("epoll_wait", sysEpollWait),
  233: supported("epoll_ctl", sysEpollCtl),
  281: supported("epoll_pwait", sysEpollPwait),
  291: supported("epoll_create1", sysEpollCreate1),
  441: supported("epoll_pwait2", sysEpollPwait2),
};
