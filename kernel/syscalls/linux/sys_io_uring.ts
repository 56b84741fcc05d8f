/**
 * io_uring_setup(2), io_uring_enter(2), io_uring_register(2), and the operations a ring runs
 * (kernel/io_uring.ts holds the rings), in the order of Linux's checks (io_uring/io_uring.c,
 * rw.c, net.c, timeout.c, poll.c, register.c).
 *
 * @module
 */

import {
  EAGAIN, EBADF, EBUSY, EFAULT, EINVAL, ENOENT, ENOTSOCK, ENXIO, EOPNOTSUPP, EPERM, EPIPE, LinuxError,
} from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_NONBLOCK, O_RDWR } from "../../../abi/linux/file.ts";
import { SIGPIPE } from "../../../abi/linux/signal.ts";
import { TASK_SIZE } from "../../../abi/linux/mm.ts";
import { CAP_SYS_ADMIN, CAP_SYS_NICE } from "../../../abi/linux/capability.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { EventFd } from "../../../vfs/eventfd.ts";
import { EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { SocketFile } from "../../socket/socket.ts";
import { clockNs, CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, monotonicNs } from "../../time.ts";
import {
  CQ_FLAGS, CQ_HEAD, CQ_OVERFLOW, CQ_RING_ENTRIES, CQ_RING_MASK, CQ_TAIL, CQES, FEATURES, IORING_MAX_CQ_ENTRIES,
  IORING_MAX_ENTRIES, IORING_OP_ASYNC_CANCEL, IORING_OP_CLOSE, IORING_OP_FSYNC, IORING_OP_LAST, IORING_OP_NOP, IORING_OP_POLL_ADD,
  IORING_OP_POLL_REMOVE, IORING_OP_READ, IORING_OP_READ_FIXED, IORING_OP_READV, IORING_OP_RECV, IORING_OP_RECVMSG,
  IORING_OP_SEND, IORING_OP_SENDMSG, IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE, IORING_OP_WRITE,
  IORING_OP_WRITE_FIXED, IORING_OP_WRITEV, IORING_SETUP_CLAMP, IORING_SETUP_CQSIZE, IORING_SETUP_SUBMIT_ALL,
  IOSQE_BUFFER_SELECT, IOSQE_FIXED_FILE, IOSQE_IO_HARDLINK, IOSQE_IO_LINK, IoUring, type IssueResult, Request,
  RingTimeout, setRingIssuer, SQ_DROPPED, SQ_FLAGS, SQ_HEAD, SQ_RING_ENTRIES, SQ_RING_MASK, SQ_TAIL, type Sqe, SUPPORTED_OPS,
  SUPPORTED_SETUP_FLAGS,
} from "../../io_uring.ts";
import { copyInIovecs, type IoSegment, MAX_RW_COUNT, readSyscall, writeSyscall } from "./_file_io.ts";
import { ringRecv, ringSend } from "./sys_socket.ts";
import { expired, finish, pollState, readSigmask } from "./sys_poll.ts";
import { block, partial, type SyscallEntry, type SyscallFn } from "./support.ts";

const PARAMS_SIZE = 120;
const IORING_ENTER_GETEVENTS = 1 << 0, IORING_ENTER_SQ_WAKEUP = 1 << 1, IORING_ENTER_SQ_WAIT = 1 << 2;
const IORING_ENTER_EXT_ARG = 1 << 3, IORING_ENTER_REGISTERED_RING = 1 << 4, IORING_ENTER_ABS_TIMER = 1 << 5;
const IORING_ENTER_EXT_ARG_REG = 1 << 6, IORING_ENTER_NO_IOWAIT = 1 << 7;
/** Linux 6.18's IORING_ENTER_FLAGS. */
const ENTER_FLAGS = 0xff;
const GETEVENTS_ARG_SIZE = 24;
const ECANCELED = 125, ETIME = 62;

const IORING_REGISTER_BUFFERS = 0, IORING_UNREGISTER_BUFFERS = 1, IORING_REGISTER_FILES = 2;
const IORING_UNREGISTER_FILES = 3, IORING_REGISTER_EVENTFD = 4, IORING_UNREGISTER_EVENTFD = 5;
const IORING_REGISTER_EVENTFD_ASYNC = 7, IORING_REGISTER_PROBE = 8;
const IORING_REGISTER_USE_REGISTERED_RING = 1 << 31;
const IORING_REGISTER_LAST = 36;
const IORING_MAX_REG_BUFFERS = 1 << 14;
const IORING_MAX_FIXED_FILES = 1 << 20;

const IORING_FSYNC_DATASYNC = 1;
const IORING_TIMEOUT_ABS = 1 << 0, IORING_TIMEOUT_BOOTTIME = 1 << 2, IORING_TIMEOUT_REALTIME = 1 << 3;
const IORING_TIMEOUT_ETIME_SUCCESS = 1 << 5;
const IORING_NOP_INJECT_RESULT = 1 << 0;
/** The RWF_* flags preadv2 knows: what a read or write takes. */
const RWF_SUPPORTED = 0xff;
const RWF_NOWAIT = 0x8;

function ioUringOf(t: Task, fd: number): IoUring {
  const f = t.fdTable.get(fd);
  if (!(f instanceof IoUring)) throw EOPNOTSUPP;
  return f;
}

function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Implements io_uring_setup(2). */
const sysIoUringSetup: SyscallFn = (t, a) => {
  let entries = a.uint(0);
  const paddr = a.pointer(1);
  const raw = t.copyIn(paddr, PARAMS_SIZE);
  const p = new DataView(raw.buffer);
  for (let i = 28; i < 40; i++) if (raw[i] !== 0) throw EINVAL; // resv
  const flags = p.getUint32(8, true);
  if (flags & ~SUPPORTED_SETUP_FLAGS) throw EINVAL;
  if (entries === 0) throw EINVAL;
  if (entries > IORING_MAX_ENTRIES) {
    if (!(flags & IORING_SETUP_CLAMP)) throw EINVAL;
    entries = IORING_MAX_ENTRIES;
  }
  const sq = roundUpPow2(entries);
  let cq: number;
  if (flags & IORING_SETUP_CQSIZE) {
    let want = p.getUint32(4, true);
    if (want === 0) throw EINVAL;
    if (want > IORING_MAX_CQ_ENTRIES) {
      if (!(flags & IORING_SETUP_CLAMP)) throw EINVAL;
      want = IORING_MAX_CQ_ENTRIES;
    }
    cq = roundUpPow2(want);
    if (cq < sq) throw EINVAL;
  } else {
    cq = 2 * sq;
  }
  const k = t.kernel;
  const ring = new IoUring(sq, cq, flags, O_RDWR, { add: (d) => k.addDeadline(d), remove: (d) => k.removeDeadline(d) });
  try {
    p.setUint32(0, sq, true);
    p.setUint32(4, cq, true);
    p.setUint32(20, FEATURES, true);
    // io_sqring_offsets at 40, io_cqring_offsets at 80 (user_addr 0: the kernel's memory).
    const sqOff = [SQ_HEAD, SQ_TAIL, SQ_RING_MASK, SQ_RING_ENTRIES, SQ_FLAGS, SQ_DROPPED, ring.sqArrayOffset, 0];
    sqOff.forEach((v, i) => p.setUint32(40 + 4 * i, v, true));
    p.setBigUint64(72, 0n, true);
    const cqOff = [CQ_HEAD, CQ_TAIL, CQ_RING_MASK, CQ_RING_ENTRIES, CQ_OVERFLOW, CQES, CQ_FLAGS, 0];
    cqOff.forEach((v, i) => p.setUint32(80 + 4 * i, v, true));
    p.setBigUint64(112, 0n, true);
    t.copyOut(paddr, raw);
  } catch (e) {
    ring.decRef();
    throw e;
  }
  // io_uring_install_fd: O_RDWR | O_CLOEXEC.
  return t.fdTable.install(ring, true);
};

/** The wait's signal mask and timeout: io_uring_enter's argp (a sigset, or with EXT_ARG an io_uring_getevents_arg). */
function waitArgs(t: Task, flags: number, argp: number, argsz: number): { mask: bigint | null; timeoutNs: number | null } {
  if (!(flags & IORING_ENTER_EXT_ARG)) return { mask: readSigmask(t, argp, argsz), timeoutNs: null };
  if (flags & IORING_ENTER_EXT_ARG_REG) throw EINVAL; // no registered wait regions
  if (argp === 0) return { mask: null, timeoutNs: null };
  if (argsz !== GETEVENTS_ARG_SIZE) throw EINVAL;
  const v = new DataView(t.copyIn(argp, GETEVENTS_ARG_SIZE).buffer);
  const sigAddr = Number(v.getBigUint64(0, true));
  const sigSz = v.getUint32(8, true);
  const tsAddr = v.getBigUint64(16, true);
  let timeoutNs: number | null = null;
  if (tsAddr !== 0n) {
    const ts = new DataView(t.copyIn(Number(tsAddr), 16).buffer);
    const sec = ts.getBigInt64(0, true), nsec = ts.getBigInt64(8, true);
    if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) throw EINVAL;
    timeoutNs = Number(sec) * 1e9 + Number(nsec);
    if (flags & IORING_ENTER_ABS_TIMER) timeoutNs = Math.max(0, timeoutNs - Number(clockNs(CLOCK_MONOTONIC, t.timeNs)));
  }
  return { mask: sigAddr === 0 ? null : readSigmask(t, sigAddr, sigSz), timeoutNs };
}

interface EnterState {
  /** The requests taken from the SQ by the first run: what a signal or the wait returns. */
  partial: number;
  submitted: boolean;
}

/** Implements io_uring_enter(2): submits, then (GETEVENTS) waits until min_complete CQEs are there. */
const sysIoUringEnter: SyscallFn = (t, a) => {
  const fd = a.fd(0), toSubmit = a.uint(1), flags = a.uint(3), argp = a.pointer(4), argsz = a.sizeT(5);
  let minComplete = a.uint(2);
  if (flags & ~ENTER_FLAGS) throw EINVAL;
  if (flags & IORING_ENTER_REGISTERED_RING) throw EBADF; // no ring descriptors are registered
  const ring = ioUringOf(t, fd);
  let st = t.syscallState as (EnterState & ReturnType<typeof pollState>) | null;
  if (st === null || !(st as Partial<EnterState>).submitted) {
    const submitted = toSubmit > 0 ? submitSqes(t, ring, toSubmit) : 0;
    if (!(flags & IORING_ENTER_GETEVENTS)) return submitted;
    let args;
    try {
      args = waitArgs(t, flags, argp, argsz);
    } catch (e) {
      if (submitted > 0) return submitted;
      throw e;
    }
    t.syscallState = null;
    st = pollState(t, () => args.timeoutNs, () => args.mask) as EnterState & ReturnType<typeof pollState>;
    st.partial = submitted;
    st.submitted = true;
  }
  void IORING_ENTER_SQ_WAKEUP, IORING_ENTER_SQ_WAIT, IORING_ENTER_NO_IOWAIT; // no SQ thread: nothing to wake or wait for
  minComplete = Math.min(minComplete, ring.cqEntries);
  ring.flushOverflow();
  if (ring.cqReady() < minComplete) {
    if (!expired(st)) return block([ring.waitQueue], EVENT_IN, st.deadlineNs, "never");
    // io_cqring_wait's timeout: -ETIME, unless requests went in.
    return finish(t, st, st.partial > 0 ? st.partial : -ETIME);
  }
  return finish(t, st, st.partial);
};

/**
 * io_submit_sqes: takes up to n SQEs and submits each; a request that fails its preparation
 * gets its CQE and ends the batch (unless IORING_SETUP_SUBMIT_ALL), counted as submitted.
 * IOSQE_IO_LINK requests are gathered into a chain that starts when its last member arrives.
 */
function submitSqes(t: Task, ring: IoUring, n: number): number {
  const sqes = ring.takeSqes(n);
  let count = 0, consumed = 0, dropped = 0;
  let head: Request | null = null, last: Request | null = null, chainFailed = false;
  for (const sqe of sqes) {
    consumed++;
    if (sqe === null) {
      dropped++;
      break;
    }
    count++;
    const err = prep(t, ring, sqe);
    const req = new Request(ring, t, sqe, null);
    const linked = (sqe.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)) !== 0;
    if (head !== null) {
      last!.next = req;
      last = req;
      ring.inFlight.add(req);
      if (err !== 0) {
        // A member that fails: it gets its error, the rest of the chain -ECANCELED.
        chainFailed = true;
        req.state = err;
      }
      if (!linked) {
        const h = head;
        head = last = null;
        if (chainFailed) failChain(ring, h);
        else ring.submit(h);
        chainFailed = false;
        if (err !== 0 && !(ring.setupFlags & IORING_SETUP_SUBMIT_ALL)) break;
      }
      continue;
    }
    if (err !== 0) {
      if (linked) {
        head = last = req;
        ring.inFlight.add(req);
        req.state = err;
        chainFailed = true;
        continue;
      }
      ring.inFlight.add(req);
      ring.complete(req, err);
      if (!(ring.setupFlags & IORING_SETUP_SUBMIT_ALL)) break;
      continue;
    }
    if (linked) {
      head = last = req;
      ring.inFlight.add(req);
      continue;
    }
    ring.submit(req);
  }
  ring.consumeSqes(consumed, dropped);
  // A chain the batch ended in the middle of is submitted as it is (io_submit_state_end).
  if (head !== null) {
    if (chainFailed) failChain(ring, head);
    else ring.submit(head);
  }
  return count;
}

/** A chain with a member that failed its preparation: that one gets its error, the others -ECANCELED. */
function failChain(ring: IoUring, head: Request): void {
  for (let r: Request | null = head; r !== null;) {
    const next: Request | null = r.next;
    r.next = null;
    ring.complete(r, typeof r.state === "number" ? r.state : -ECANCELED);
    r = next;
  }
}

/** io_init_req and the opcode's prep: 0, or the -errno the request completes with. */
function prep(t: Task, ring: IoUring, s: Sqe): number {
  if (s.opcode >= IORING_OP_LAST) return -EINVAL.errno;
  if (s.flags & ~0x7f) return -EINVAL.errno;
  if (s.flags & IOSQE_BUFFER_SELECT) return -EOPNOTSUPP.errno; // no provided buffers
  if (!SUPPORTED_OPS.has(s.opcode)) return -EINVAL.errno;
  if (s.personality !== 0) return -EINVAL.errno; // no registered personalities
  switch (s.opcode) {
    case IORING_OP_NOP:
      if (s.opFlags & ~IORING_NOP_INJECT_RESULT) return -EINVAL.errno;
      return 0;
    case IORING_OP_READV:
    case IORING_OP_WRITEV:
    case IORING_OP_READ:
    case IORING_OP_WRITE:
    case IORING_OP_READ_FIXED:
    case IORING_OP_WRITE_FIXED:
      if (s.ioprio !== 0) {
        const e = ioprioCheck(t, s.ioprio);
        if (e !== 0) return e;
      }
      if (s.opFlags & ~RWF_SUPPORTED) return -EOPNOTSUPP.errno;
      if ((s.opcode === IORING_OP_READ_FIXED || s.opcode === IORING_OP_WRITE_FIXED)) {
        if (ring.buffers === null || s.bufIndex >= ring.buffers.length) return -EFAULT.errno;
      }
      return 0;
    case IORING_OP_FSYNC:
      if (s.addr !== 0n || s.bufIndex !== 0 || s.spliceFdIn !== 0) return -EINVAL.errno;
      if (s.opFlags & ~IORING_FSYNC_DATASYNC) return -EINVAL.errno;
      return 0;
    case IORING_OP_TIMEOUT: {
      if (s.bufIndex !== 0 || s.len !== 1 || s.spliceFdIn !== 0) return -EINVAL.errno;
      const known = IORING_TIMEOUT_ABS | IORING_TIMEOUT_BOOTTIME | IORING_TIMEOUT_REALTIME | IORING_TIMEOUT_ETIME_SUCCESS;
      if (s.opFlags & ~known) return -EINVAL.errno;
      if ((s.opFlags & IORING_TIMEOUT_BOOTTIME) && (s.opFlags & IORING_TIMEOUT_REALTIME)) return -EINVAL.errno;
      return 0;
    }
    case IORING_OP_TIMEOUT_REMOVE:
    case IORING_OP_POLL_REMOVE:
    case IORING_OP_ASYNC_CANCEL:
      if (s.opFlags !== 0 && s.opcode !== IORING_OP_ASYNC_CANCEL) return -EINVAL.errno;
      return 0;
    case IORING_OP_CLOSE:
      if (s.off !== 0n || s.addr !== 0n || s.len !== 0 || s.opFlags !== 0 || s.bufIndex !== 0) return -EINVAL.errno;
      if (s.flags & IOSQE_FIXED_FILE) return -EBADF.errno;
      // file_index names a registered file's slot (1-based) instead of a descriptor.
      if (s.spliceFdIn !== 0 && s.fd !== 0) return -EINVAL.errno;
      return 0;
    default:
      return 0;
  }
}

/** Linux's ioprio_check_cap. */
function ioprioCheck(t: Task, ioprio: number): number {
  const cls = ioprio >> 13, level = ioprio & 7;
  switch (cls) {
    case 1: // RT
      if (!t.creds.hasCap(CAP_SYS_NICE) && !t.creds.hasCap(CAP_SYS_ADMIN)) return -EPERM.errno;
    // falls through
    case 2: // BE
      return (ioprio & 0x1ff8) === 0 ? 0 : -EINVAL.errno;
    case 3: // IDLE
      return 0;
    case 0: // NONE
      return level !== 0 || (ioprio & 0x1fff) !== 0 ? -EINVAL.errno : 0;
    default:
      return -EINVAL.errno;
  }
}

/** The file a request works on: its registered one (IOSQE_FIXED_FILE) or its descriptor's, with a reference. */
function requestFile(t: Task, ring: IoUring, s: Sqe): FileDescription {
  if (s.flags & IOSQE_FIXED_FILE) {
    const f = ring.files?.[s.fd] ?? null;
    if (s.fd < 0 || f === null) throw EBADF;
    return f.incRef();
  }
  return t.fdTable.get(s.fd).incRef();
}

const NEEDS_FILE: ReadonlySet<number> = new Set([
  IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_POLL_ADD,
  IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_SEND, IORING_OP_RECV,
]);

/** Runs a request's operation (the ring's Issuer). */
function issue(ring: IoUring, req: Request): IssueResult {
  const t = req.task, s = req.sqe;
  let file = req.file;
  try {
    if (file === null && NEEDS_FILE.has(s.opcode)) {
      file = requestFile(t, ring, s);
      (req as { file: FileDescription | null }).file = file;
    }
    switch (s.opcode) {
      case IORING_OP_NOP:
        return (s.opFlags & IORING_NOP_INJECT_RESULT) ? (s.len | 0) : 0;
      case IORING_OP_READV:
      case IORING_OP_WRITEV:
      case IORING_OP_READ:
      case IORING_OP_WRITE:
      case IORING_OP_READ_FIXED:
      case IORING_OP_WRITE_FIXED:
        return readWrite(t, ring, s, file!);
      case IORING_OP_FSYNC:
        if (file!.isStream) return -EINVAL.errno;
        file!.sync();
        return 0;
      case IORING_OP_SENDMSG:
      case IORING_OP_SEND:
      case IORING_OP_RECVMSG:
      case IORING_OP_RECV:
        return socketOp(t, s, file!);
      case IORING_OP_POLL_ADD: {
        const events = (s.opFlags & 0xffff) | EVENT_ERR | EVENT_HUP;
        const ready = file!.readiness(events);
        return ready !== 0 ? ready : { wait: file!.waitQueue, events };
      }
      case IORING_OP_TIMEOUT:
        return startTimeout(t, ring, req);
      case IORING_OP_TIMEOUT_REMOVE: {
        for (const to of ring.timeouts) {
          if (to.req.sqe.userData !== s.addr) continue;
          ring.dropTimeout(to);
          ring.cancelLater(to.req);
          return 0;
        }
        return -ENOENT.errno;
      }
      case IORING_OP_POLL_REMOVE:
      case IORING_OP_ASYNC_CANCEL:
        return cancel(ring, req, s.opcode === IORING_OP_POLL_REMOVE);
      case IORING_OP_CLOSE:
        return closeOp(t, ring, s);
      default:
        return -EINVAL.errno;
    }
  } catch (e) {
    if (e instanceof LinuxError) return -e.errno;
    throw e;
  }
}

/** IORING_OP_CLOSE (io_close): a descriptor (never a ring's own), or a registered file's slot. */
function closeOp(t: Task, ring: IoUring, s: Sqe): number {
  if (s.spliceFdIn !== 0) {
    const slot = (s.spliceFdIn >>> 0) - 1;
    if (ring.files === null || slot >= ring.files.length) return -EINVAL.errno;
    const f = ring.files[slot];
    if (f === null || f === undefined) return -EBADF.errno;
    ring.files[slot] = null;
    f.decRef();
    return 0;
  }
  if (!t.fdTable.has(s.fd) || t.fdTable.get(s.fd) instanceof IoUring) return -EBADF.errno;
  t.fdTable.remove(s.fd);
  return 0;
}

/** IORING_OP_ASYNC_CANCEL and POLL_REMOVE: ends the request whose user_data is sqe.addr. */
function cancel(ring: IoUring, req: Request, pollOnly: boolean): number {
  for (const r of ring.inFlight) {
    if (r === req || r.done || r.sqe.userData !== req.sqe.addr) continue;
    if (pollOnly && r.sqe.opcode !== IORING_OP_POLL_ADD) continue;
    ring.cancelLater(r);
    return 0;
  }
  return -ENOENT.errno;
}

function startTimeout(t: Task, ring: IoUring, req: Request): IssueResult {
  const s = req.sqe;
  if (req.state instanceof RingTimeout) return "pending";
  const ts = new DataView(t.copyIn(Number(s.addr > BigInt(TASK_SIZE) ? -1 : s.addr), 16).buffer);
  const sec = ts.getBigInt64(0, true), nsec = ts.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n) return -EINVAL.errno;
  let ns = Number(sec) * 1e9 + Number(nsec);
  if (s.opFlags & IORING_TIMEOUT_ABS) {
    const clock = (s.opFlags & IORING_TIMEOUT_REALTIME) ? CLOCK_REALTIME : (s.opFlags & IORING_TIMEOUT_BOOTTIME) ? CLOCK_BOOTTIME : CLOCK_MONOTONIC;
    ns = Math.max(0, ns - Number(clockNs(clock, t.timeNs)));
  }
  const count = Number(s.off);
  const to = new RingTimeout(req, monotonicNs() + ns, count > 0 ? ring.completions + count : null, (s.opFlags & IORING_TIMEOUT_ETIME_SUCCESS) !== 0);
  req.state = to;
  ring.addTimeout(to);
  return "pending";
}

/** The memory of a read or write: its iovecs, its buffer, or a registered buffer's part. */
function segments(t: Task, ring: IoUring, s: Sqe): IoSegment[] {
  if (s.opcode === IORING_OP_READV || s.opcode === IORING_OP_WRITEV) {
    return copyInIovecs(t, s.addr > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(s.addr), s.len);
  }
  if (s.addr + BigInt(s.len) > BigInt(TASK_SIZE)) throw EFAULT;
  if (s.opcode === IORING_OP_READ_FIXED || s.opcode === IORING_OP_WRITE_FIXED) {
    const b = ring.buffers?.[s.bufIndex];
    if (b === undefined) throw EFAULT;
    // io_import_fixed: the range must lie inside the registered buffer.
    if (s.addr < BigInt(b[0]) || s.addr + BigInt(s.len) > BigInt(b[0] + b[1])) throw EFAULT;
  }
  return [{ addr: Number(s.addr), len: Math.min(s.len, MAX_RW_COUNT) }];
}

/** A read or write through the file, never sleeping: one that would block waits for the file. */
function readWrite(t: Task, ring: IoUring, s: Sqe, file: FileDescription): IssueResult {
  const write = s.opcode === IORING_OP_WRITEV || s.opcode === IORING_OP_WRITE || s.opcode === IORING_OP_WRITE_FIXED;
  if (write ? !file.writable : !file.readable) return -EBADF.errno;
  const segs = segments(t, ring, s);
  // io_kiocb_update_pos: -1 is the file's own position (IORING_FEAT_RW_CUR_POS); a stream has none.
  const off = BigInt.asIntN(64, s.off);
  let at: number | null;
  if (file.isStream) at = null;
  else if (off === -1n) at = null;
  else if (off < 0n) return -EINVAL.errno;
  else at = Number(off);
  // O_NONBLOCK is not a reason to fail: Linux waits for a file that supports NOWAIT.
  const nowait = (s.opFlags & RWF_NOWAIT) !== 0;
  const saved = t.syscallState;
  const flags = file.flags;
  file.flags |= O_NONBLOCK;
  try {
    t.syscallState = null;
    const r = write ? writeSyscall(t, file, segs, at) : readSyscall(t, file, segs, at);
    if (typeof r === "number") return r;
  } catch (e) {
    if (!(e instanceof LinuxError)) throw e;
    if (e !== EAGAIN) {
      if (write && e === EPIPE && !(file instanceof SocketFile)) t.kernel.sendSignal(t.tg, SIGPIPE);
      return -e.errno;
    }
  } finally {
    file.flags = (file.flags & ~O_NONBLOCK) | (flags & O_NONBLOCK);
    t.syscallState = saved;
  }
  if (nowait) return -EAGAIN.errno;
  return { wait: file.waitQueue, events: (write ? EVENT_OUT : EVENT_IN) | EVENT_ERR | EVENT_HUP };
}

/** SENDMSG, SEND, RECVMSG, RECV: one socket call that never sleeps. */
function socketOp(t: Task, s: Sqe, file: FileDescription): IssueResult {
  if (!(file instanceof SocketFile)) return -ENOTSOCK.errno;
  const send = s.opcode === IORING_OP_SENDMSG || s.opcode === IORING_OP_SEND;
  const msg = s.opcode === IORING_OP_SENDMSG || s.opcode === IORING_OP_RECVMSG;
  if (s.addr > BigInt(Number.MAX_SAFE_INTEGER)) return -EFAULT.errno;
  const addr = Number(s.addr);
  const segs: IoSegment[] = msg ? [] : [{ addr, len: Math.min(s.len, MAX_RW_COUNT) }];
  const r = send ? ringSend(t, file, msg ? addr : null, segs, s.opFlags) : ringRecv(t, file, msg ? addr : null, segs, s.opFlags);
  if (r !== null) return r;
  if (s.opFlags & 0x40 /* MSG_DONTWAIT */) return -EAGAIN.errno;
  return { wait: file.waitQueue, events: (send ? EVENT_OUT : EVENT_IN) | EVENT_ERR | EVENT_HUP };
}

/** Implements io_uring_register(2) for buffers, files, eventfds and the probe. */
const sysIoUringRegister: SyscallFn = (t, a) => {
  const fd = a.fd(0), arg = a.pointer(2), nr = a.uint(3);
  let opcode = a.uint(1);
  if (opcode & IORING_REGISTER_USE_REGISTERED_RING) throw EBADF; // no ring descriptors are registered
  const ring = ioUringOf(t, fd);
  opcode >>>= 0;
  if (opcode >= IORING_REGISTER_LAST) throw EINVAL;
  switch (opcode) {
    case IORING_REGISTER_BUFFERS: {
      if (ring.buffers !== null) throw EBUSY;
      if (nr === 0 || nr > IORING_MAX_REG_BUFFERS) throw EINVAL;
      const v = new DataView(t.copyIn(arg, 16 * nr).buffer);
      const bufs: [number, number][] = [];
      for (let i = 0; i < nr; i++) {
        const base = v.getBigUint64(16 * i, true), len = v.getBigUint64(16 * i + 8, true);
        // io_buffer_validate: a NULL base only with no length; otherwise 1..1 GiB, in user space.
        if (base === 0n) {
          if (len !== 0n) throw EFAULT;
        } else if (len === 0n || len > 1n << 30n || base + len > BigInt(TASK_SIZE)) {
          throw EFAULT;
        }
        bufs.push([Number(base), Number(len)]);
      }
      ring.buffers = bufs;
      return 0;
    }
    case IORING_UNREGISTER_BUFFERS:
      if (arg !== 0 || nr !== 0) throw EINVAL;
      if (ring.buffers === null) throw ENXIO;
      ring.buffers = null;
      return 0;
    case IORING_REGISTER_FILES: {
      if (ring.files !== null) throw EBUSY;
      if (nr === 0 || nr > IORING_MAX_FIXED_FILES) throw EINVAL;
      const v = new DataView(t.copyIn(arg, 4 * nr).buffer);
      const files: (FileDescription | null)[] = [];
      try {
        for (let i = 0; i < nr; i++) {
          const f = v.getInt32(4 * i, true);
          if (f === -1) files.push(null);
          else {
            const file = t.fdTable.get(f);
            if (file === ring) throw EBADF; // a ring cannot hold itself
            files.push(file.incRef());
          }
        }
      } catch (e) {
        for (const f of files) f?.decRef();
        throw e;
      }
      ring.files = files;
      return 0;
    }
    case IORING_UNREGISTER_FILES:
      if (arg !== 0 || nr !== 0) throw EINVAL;
      if (ring.files === null) throw ENXIO;
      for (const f of ring.files) f?.decRef();
      ring.files = null;
      return 0;
    case IORING_REGISTER_EVENTFD:
    case IORING_REGISTER_EVENTFD_ASYNC: {
      if (nr !== 1) throw EINVAL;
      if (ring.eventFd !== null) throw EBUSY;
      const efd = t.fdTable.get(t.copyInU32(arg) | 0);
      if (!(efd instanceof EventFd)) throw EINVAL;
      ring.eventFd = efd.incRef();
      ring.eventFdAsync = opcode === IORING_REGISTER_EVENTFD_ASYNC;
      return 0;
    }
    case IORING_UNREGISTER_EVENTFD:
      if (arg !== 0 || nr !== 0) throw EINVAL;
      if (ring.eventFd === null) throw ENXIO;
      ring.eventFd.decRef();
      ring.eventFd = null;
      return 0;
    case IORING_REGISTER_PROBE: {
      // struct io_uring_probe (16 bytes) and nr io_uring_probe_ops (8 bytes each), all zero on entry.
      const n = Math.min(nr, IORING_OP_LAST);
      const size = 16 + 8 * n;
      const raw = t.copyIn(arg, size);
      if (raw.some((b) => b !== 0)) throw EINVAL;
      raw[0] = IORING_OP_LAST - 1;
      raw[1] = n;
      for (let i = 0; i < n; i++) {
        raw[16 + 8 * i] = i;
        if (SUPPORTED_OPS.has(i)) raw[16 + 8 * i + 2] = 1; // IO_URING_OP_SUPPORTED
      }
      t.copyOut(arg, raw);
      return 0;
    }
    default:
      throw EINVAL;
  }
};

setRingIssuer(issue);

export const table: Record<number, SyscallEntry> = {
  425: partial("io_uring_setup", sysIoUringSetup, "no SQPOLL or IOPOLL (EINVAL); kernel/io_uring.ts"),
  426: partial("io_uring_enter", sysIoUringEnter, "requests run through the sentry's files; kernel/io_uring.ts"),
  427: partial("io_uring_register", sysIoUringRegister, "buffers, files, eventfds and the probe"),
};

