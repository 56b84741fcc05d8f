/**
 * The socket syscalls: socket(2), socketpair(2), bind(2), listen(2), accept(2), accept4(2),
 * connect(2), shutdown(2), getsockname(2), getpeername(2), sendto(2), recvfrom(2), sendmsg(2),
 * recvmsg(2), sendmmsg(2), recvmmsg(2), getsockopt(2), setsockopt(2). They decode arguments
 * and hand the work to the socket's family (kernel/socket/); memory formats are in
 * _socket_msg.ts.
 *
 * Blocking (see kernel/socket/socket.ts): a family throws EAGAIN; unless the description is
 * O_NONBLOCK or MSG_DONTWAIT is given, the task waits on the socket's queue, until
 * SO_RCVTIMEO/SO_SNDTIMEO if set (then EAGAIN, or EINPROGRESS for connect). The deadline and
 * the progress of a partly done transfer (a stream send, MSG_WAITALL) live in t.syscallState;
 * `partial` there is what the call returns if a signal ends it (Linux returns the bytes moved,
 * not EINTR). Without a timeout a signal handler with SA_RESTART restarts the call
 * (ERESTARTSYS); with one the call fails with EINTR, as Linux's sock_intr_errno.
 *
 * @module
 */

import {
  EAFNOSUPPORT, EAGAIN, EBADF, EDOM, EFAULT, EINPROGRESS, EINVAL, EMSGSIZE, ENOENT, ENOTSOCK, EOPNOTSUPP, EPERM, EPIPE,
  errnoFromNumber, LinuxError,
} from "../../errno.ts";
import type { Task } from "../../task.ts";
import { describeSockaddr } from "../../activity.ts";
import { O_NONBLOCK, O_PATH } from "../../../abi/linux/file.ts";
import { SI_USER, SIGPIPE } from "../../../abi/linux/signal.ts";
import {
  AF_INET, AF_INET6, AF_UNSPEC, MMSGHDR_LEN, MMSGHDR_SIZE, MSG_CMSG_CLOEXEC, MSG_DONTWAIT, MSG_ERRQUEUE, MSG_NOSIGNAL, MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL, MSG_WAITFORONE, MSGHDR, SO_RCVTIMEO_NEW, SO_RCVTIMEO_OLD,
  SO_SNDTIMEO_NEW, SO_SNDTIMEO_OLD, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, SOCK_TYPE_MASK,
  SOL_SOCKET, UIO_MAXIOV,
} from "../../../abi/linux/socket.ts";
import { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE } from "../../socket/inet/constants.ts";
import { checkLandlockNet, landlockHandlesNet, NET_BIND_TCP, NET_CONNECT_TCP } from "../../landlock.ts";
import { EVENT_ERR, EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { monotonicNs } from "../../time.ts";
import { type ControlMessages, SocketFile, socketFamily } from "../../socket/mod.ts";
import { intOption } from "../../socket/sockopt.ts";
import { BPF_MAXINSNS, SOCK_FPROG_SIZE, SockFilter } from "../../socket/sock_filter.ts";
import { type XtCaller, xtGetsockopt, xtSetsockopt } from "../../netfilter/sockopt.ts";
import { CAP_NET_ADMIN } from "../../../abi/linux/capability.ts";
import type { UserNamespace } from "../../user_namespace.ts";
import { gatherFromUser, type IoSegment, scatterToUser, singleSegment } from "./_file_io.ts";
import { readTimespecNs } from "./_time.ts";
import {
  copyInControl, copyInMsgHeader, copyInSockaddr, copyOutControl, copyOutSockaddr, dropRights, type MsgHeader,
} from "./_socket_msg.ts";
import { block, type SyscallFn, type SyscallResult } from "./support.ts";

/** SOCK_MAX: socket types at or above it are EINVAL before the family is asked. */
const SOCK_MAX = 11;
/** The most bytes one family send call is handed for a stream (the rest goes in further calls). */
const STREAM_CHUNK = 1 << 20;
/** A message larger than this cannot fit any socket buffer: EMSGSIZE without copying it. */
const MAX_MESSAGE = 1 << 24;

function socketOf(t: Task, fd: number): SocketFile {
  const f = t.file(fd);
  // sockfd_lookup's fdget: an O_PATH descriptor is EBADF, not ENOTSOCK.
  if (f.flags & O_PATH) throw EBADF;
  if (!(f instanceof SocketFile)) throw ENOTSOCK;
  return f;
}

/** The type argument of socket/socketpair: [type, SOCK_NONBLOCK|SOCK_CLOEXEC flags]. */
function splitType(type: number): [number, number] {
  const flags = type & ~SOCK_TYPE_MASK;
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) throw EINVAL;
  return [type & SOCK_TYPE_MASK, flags];
}

function familyOf(domain: number, type: number) {
  if (type >= SOCK_MAX) throw EINVAL;
  const f = socketFamily(domain);
  if (f === undefined) throw EAFNOSUPPORT;
  return f;
}

/** Implements socket(2). */
const sysSocket: SyscallFn = (t, a) => {
  const [type, flags] = splitType(a.int(1));
  const sock = familyOf(a.int(0), type).create(t, type, a.int(2), flags);
  return t.fdTable.install(sock, (flags & SOCK_CLOEXEC) !== 0);
};

/** Implements socketpair(2). */
const sysSocketpair: SyscallFn = (t, a) => {
  const [type, flags] = splitType(a.int(1));
  const family = familyOf(a.int(0), type);
  if (family.pair === undefined) {
    // As Linux's __sys_socketpair, the sockets are made first (so a type the family lacks is
    // its error, ESOCKTNOSUPPORT...), then the family has no socketpair: EOPNOTSUPP.
    family.create(t, type, a.int(2), flags).decRef();
    throw EOPNOTSUPP;
  }
  const [s0, s1] = family.pair(t, type, a.int(2), flags);
  const cloexec = (flags & SOCK_CLOEXEC) !== 0;
  let fd0: number;
  try {
    fd0 = t.fdTable.install(s0, cloexec);
  } catch (e) {
    s1.decRef();
    throw e;
  }
  let fd1: number;
  try {
    fd1 = t.fdTable.install(s1, cloexec);
  } catch (e) {
    t.fdTable.remove(fd0);
    throw e;
  }
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setInt32(0, fd0, true);
  v.setInt32(4, fd1, true);
  try {
    t.copyOut(a.pointer(3), b);
  } catch (e) {
    t.fdTable.remove(fd0);
    t.fdTable.remove(fd1);
    throw e;
  }
  return 0;
};

/** Implements bind(2). */
const sysBind: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const addr = copyInSockaddr(t, a.pointer(1), a.int(2));
  checkLandlockTcp(t, sock, addr, NET_BIND_TCP);
  sock.bind(t, addr);
  return 0;
};

/**
 * Landlock's TCP rights (Linux's current_check_access_socket, the security hook of bind and
 * connect): for a TCP socket of a task whose domain handles the access, the address's port must
 * be granted by a rule, EACCES otherwise; a short address is EINVAL, as is a family other than
 * the socket's (AF_UNSPEC aside: connect with it disconnects, always allowed; bind with it is
 * AF_INET's INADDR_ANY only). Other families go to the socket to refuse.
 */
function checkLandlockTcp(t: Task, sock: SocketFile, addr: Uint8Array, access: number): void {
  if (!landlockHandlesNet(t.landlock, access)) return;
  if ((sock.family !== AF_INET && sock.family !== AF_INET6) || sock.type !== SOCK_STREAM || sock.protocol !== IPPROTO_TCP) return;
  if (addr.length < 2) throw EINVAL;
  const family = addr[0]! | (addr[1]! << 8);
  if (family === AF_UNSPEC || family === AF_INET) {
    if (addr.length < 16) throw EINVAL;
  } else if (family === AF_INET6) {
    if (addr.length < 24) throw EINVAL; // SIN6_LEN_RFC2133
  } else {
    return;
  }
  if (family === AF_UNSPEC) {
    if (access === NET_CONNECT_TCP) return;
    if (sock.family !== AF_INET) throw EINVAL;
    if (addr[4]! | addr[5]! | addr[6]! | addr[7]!) throw EAFNOSUPPORT;
  } else if (family !== sock.family) {
    throw EINVAL;
  }
  checkLandlockNet(t.landlock, access, (addr[2]! << 8) | addr[3]!);
}

/** Implements listen(2). */
const sysListen: SyscallFn = (t, a) => {
  socketOf(t, a.fd(0)).listen(t, a.int(1));
  return 0;
};

// ---- Waiting ------------------------------------------------------------------------------

/** @savable What a blocking socket call keeps across re-runs. */
interface WaitState {
  /** Absolute deadline from SO_RCVTIMEO/SO_SNDTIMEO (or recvmmsg's timeout), or null. */
  deadlineNs: number | null;
  /** Bytes (or messages, for sendmmsg/recvmmsg) already moved: returned if a signal ends the call. */
  partial: number;
}

function waitState<S extends WaitState>(t: Task, timeoutNs: number, extra: Omit<S, keyof WaitState>): S {
  let st = t.syscallState as S | null;
  if (st === null) {
    st = { deadlineNs: timeoutNs !== 0 ? monotonicNs() + Math.max(timeoutNs, 0) : null, partial: 0, ...extra } as S;
    t.syscallState = st;
  }
  return st;
}

function nonBlocking(sock: SocketFile, flags: number): boolean {
  return (flags & MSG_DONTWAIT) !== 0 || (sock.flags & O_NONBLOCK) !== 0;
}

function expired(st: WaitState): boolean {
  return st.deadlineNs !== null && monotonicNs() >= st.deadlineNs;
}

/** Sleeps on the socket's queue; EINTR rather than a restart when a timeout is set. */
function sleep(sock: SocketFile, events: number, st: WaitState): SyscallResult {
  return block([sock.waitQueue], events, st.deadlineNs, st.deadlineNs === null ? "sys" : "never");
}

/** Implements accept(2) and accept4(2). */
function doAccept(t: Task, fd: number, addr: number, lenAddr: number, flags: number): SyscallResult {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) throw EINVAL;
  const sock = socketOf(t, fd);
  const st = waitState<WaitState>(t, sock.recvTimeoutNs, {});
  let conn: SocketFile;
  try {
    conn = sock.accept(t, flags);
  } catch (e) {
    if (e !== EAGAIN || nonBlocking(sock, 0) || expired(st)) throw e;
    return sleep(sock, EVENT_IN, st);
  }
  if (addr !== 0) {
    try {
      copyOutSockaddr(t, addr, lenAddr, conn.acceptedPeer(t));
    } catch (e) {
      conn.decRef();
      throw e;
    }
  }
  return t.fdTable.install(conn, (flags & SOCK_CLOEXEC) !== 0);
}

const sysAccept: SyscallFn = (t, a) => doAccept(t, a.fd(0), a.pointer(1), a.pointer(2), 0);
const sysAccept4: SyscallFn = (t, a) => doAccept(t, a.fd(0), a.pointer(1), a.pointer(2), a.int(3));

interface ConnectState extends WaitState {
  /** A stream connection is under way (EINPROGRESS seen): wait for connectResult(). */
  inProgress: boolean;
}

/** Implements connect(2). */
/** The run report's record of a connect(2) (kernel/activity.ts). */
function noteConnect(t: Task, addr: Uint8Array, result: string): void {
  const d = describeSockaddr(addr);
  t.kernel.resources.activity?.connected(t.tg.tgid, d.family, d.destination, result);
}

const sysConnect: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const st = waitState<ConnectState>(t, sock.sendTimeoutNs, { inProgress: false });
  if (st.inProgress) {
    const r = sock.connectResult();
    if (r === 0) return 0;
    if (r !== null) throw errnoFromNumber(r);
    if (expired(st)) throw EINPROGRESS;
    return sleep(sock, EVENT_OUT, st);
  }
  const addr = copyInSockaddr(t, a.pointer(1), a.int(2));
  checkLandlockTcp(t, sock, addr, NET_CONNECT_TCP);
  const log = t.kernel.resources.activity;
  try {
    sock.connect(t, addr);
    if (log) noteConnect(t, addr, "connected");
    return 0;
  } catch (e) {
    if (log) noteConnect(t, addr, e === EINPROGRESS ? "in progress" : e instanceof LinuxError ? e.symbol : "failed");
    if (e === EINPROGRESS) {
      if (nonBlocking(sock, 0)) throw e;
      st.inProgress = true;
      return sleep(sock, EVENT_OUT, st);
    }
    // AF_UNIX: the listener's backlog is full.
    if (e === EAGAIN && !nonBlocking(sock, 0) && !expired(st)) return sleep(sock, EVENT_OUT, st);
    throw e;
  }
};

/** Implements shutdown(2). */
const sysShutdown: SyscallFn = (t, a) => {
  socketOf(t, a.fd(0)).shutdown(t, a.int(1));
  return 0;
};

/** Implements getsockname(2). */
const sysGetsockname: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  copyOutSockaddr(t, a.pointer(1), a.pointer(2), sock.getsockname(t));
  return 0;
};

/** Implements getpeername(2). */
const sysGetpeername: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  copyOutSockaddr(t, a.pointer(1), a.pointer(2), sock.getpeername(t));
  return 0;
};

// ---- Sending ------------------------------------------------------------------------------

interface SendArgs {
  segs: IoSegment[];
  to: Uint8Array | null;
  /** The control buffer, decoded on each attempt until the first bytes go. */
  control: MsgHeader | null;
  flags: number;
}

/** Raises SIGPIPE for an EPIPE send, as Linux's stream protocols do, unless MSG_NOSIGNAL. */
function sigpipe(t: Task, sock: SocketFile, flags: number): void {
  if (sock.sigpipeOnEpipe && (flags & MSG_NOSIGNAL) === 0) {
    t.kernel.sendSignal(t.tg, SIGPIPE, { code: SI_USER, pid: t.tg.tgid, uid: t.creds.uid }, t);
  }
}

function totalLength(segs: IoSegment[]): number {
  let n = 0;
  for (const s of segs) n += s.len;
  return n;
}

/** The segments from byte `skip` on, at most `max` bytes of them. */
function segmentsFrom(segs: IoSegment[], skip: number, max: number): IoSegment[] {
  const out: IoSegment[] = [];
  for (const s of segs) {
    if (max <= 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const len = Math.min(s.len - skip, max);
    out.push({ addr: s.addr + skip, len });
    max -= len;
    skip = 0;
  }
  return out;
}

/**
 * One send: the whole message for datagram and seqpacket sockets; for streams, chunks until
 * every byte is taken (blocking sockets) or the buffer is full (non-blocking: a short count).
 * st.partial counts the bytes taken so far.
 */
function sendOne(t: Task, sock: SocketFile, m: SendArgs, st: WaitState): SyscallResult {
  const flags = m.flags | (sock.flags & O_NONBLOCK ? MSG_DONTWAIT : 0);
  const total = totalLength(m.segs);
  const stream = sock.type === SOCK_STREAM;
  if (!stream && (total > MAX_MESSAGE || total > sock.maxMessageSize())) throw EMSGSIZE;
  for (;;) {
    const first = st.partial === 0;
    const control: ControlMessages = first && m.control !== null ? copyInControl(t, m.control) : {};
    let n: number;
    let faulted = false;
    try {
      if (stream && sock.streamVia && m.control === null) {
        // Straight from the application's memory into the socket's queue.
        const src = userCursor(t, m.segs, st.partial, false);
        n = sock.sendVia(t, total - st.partial, flags, src.move);
        faulted = src.faulted;
        if (faulted && n === 0) throw EFAULT;
      } else if (stream) {
        // Up to a fault, in whole SEND_COPY_CHUNK units (see userCursor).
        const chunk = segmentsFrom(m.segs, st.partial, STREAM_CHUNK);
        const data = new Uint8Array(totalLength(chunk));
        const src = userCursor(t, chunk, 0, false);
        const got = src.move(data);
        faulted = src.faulted;
        if (faulted && got === 0) throw EFAULT;
        n = sock.sendmsg(t, { data: got < data.length ? data.subarray(0, got) : data, to: m.to, control, flags });
      } else {
        n = sock.sendmsg(t, { data: gatherFromUser(t, m.segs), to: m.to, control, flags });
      }
    } catch (e) {
      if (st.partial > 0) {
        if (e === EAGAIN && (flags & MSG_DONTWAIT) === 0 && !expired(st)) return sleep(sock, EVENT_OUT, st);
        return st.partial;
      }
      if (e === EAGAIN && (flags & MSG_DONTWAIT) === 0 && !expired(st)) return sleep(sock, EVENT_OUT, st);
      if (e === EPIPE) sigpipe(t, sock, flags);
      throw e;
    } finally {
      dropRights(control);
    }
    st.partial += n;
    if (!stream || st.partial >= total || faulted) return st.partial;
    if (flags & MSG_DONTWAIT) return st.partial;
  }
}

/**
 * A cursor over application memory for SocketFile.sendVia (toUser false) and recvVia (toUser
 * true): each call of move copies the next bytes of segs, from byte `from` on, into (out of)
 * the view it is lent, one host call per segment piece. `faulted` is set when a copy came up
 * short.
 */
function userCursor(t: Task, segs: IoSegment[], from: number, toUser: boolean): { move: (buf: Uint8Array) => number; faulted: boolean } {
  const c = { move: (_: Uint8Array) => 0, faulted: false };
  const pos = segmentCursor(segs, from);
  let before = 0; // bytes moved by earlier calls
  c.move = (buf) => {
    let o = 0;
    while (o < buf.length && pos.seg < segs.length) {
      const s = segs[pos.seg]!;
      const k = Math.min(s.len - pos.off, buf.length - o);
      const piece = buf.subarray(o, o + k);
      const moved = k === 0 ? 0 : toUser ? t.writeUser(s.addr + pos.off, piece) : t.readUser(s.addr + pos.off, piece);
      o += moved;
      pos.off += moved;
      if (moved < k) {
        c.faulted = true;
        break;
      }
      if (pos.off === s.len) {
        pos.seg++;
        pos.off = 0;
      }
    }
    if (c.faulted && !toUser) {
      // A send takes the application's bytes in chunks, as Linux's tcp_sendmsg copies them
      // into page fragments (skb_copy_to_page_nocache: a whole copy or -EFAULT), and the
      // chunk a fault falls in is not taken: EFAULT when it was the first.
      const at = from + before + o;
      o = Math.max(0, Math.floor(at / SEND_COPY_CHUNK) * SEND_COPY_CHUNK - from - before);
    }
    before += o;
    return o;
  };
  return c;
}

/**
 * The unit in which a stream send copies from the application (Linux's page fragment,
 * SKB_FRAG_PAGE_ORDER: 32 KiB), counted from the start of the call's data.
 */
const SEND_COPY_CHUNK = 32768;

function segmentCursor(segs: IoSegment[], from: number): { seg: number; off: number } {
  let seg = 0;
  while (seg < segs.length && from >= segs[seg]!.len) {
    from -= segs[seg]!.len;
    seg++;
  }
  return { seg, off: from };
}

/**
 * write(2) and writev(2) on a socket: a send without flags, address or ancillary data, as
 * Linux's sock_write_iter. So a blocking stream write waits until every byte is queued (or a
 * signal, SO_SNDTIMEO, an error ends it with the count so far), exactly as send(2). SIGPIPE for
 * EPIPE comes from the kernel's write-family rule, hence MSG_NOSIGNAL here.
 */
export function socketWrite(t: Task, sock: SocketFile, segs: IoSegment[]): SyscallResult {
  const st = waitState<WaitState>(t, sock.sendTimeoutNs, {});
  return sendOne(t, sock, { segs, to: null, control: null, flags: MSG_NOSIGNAL }, st);
}

/** Implements sendto(2). */
const sysSendto: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const addr = a.pointer(4);
  const to = addr === 0 ? null : copyInSockaddr(t, addr, a.int(5));
  const st = waitState<WaitState>(t, sock.sendTimeoutNs, {});
  return sendOne(t, sock, { segs: singleSegment(a.pointer(1), a.sizeT(2)), to, control: null, flags: a.int(3) }, st);
};

function sendArgs(t: Task, h: MsgHeader, flags: number): SendArgs {
  return {
    segs: h.segs,
    to: h.nameLen === 0 ? null : copyInSockaddr(t, h.name, h.nameLen),
    control: h.controlLen > 0 && h.control !== 0 ? h : null,
    flags,
  };
}

/** Implements sendmsg(2). */
const sysSendmsg: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const h = copyInMsgHeader(t, a.pointer(1));
  const st = waitState<WaitState>(t, sock.sendTimeoutNs, {});
  return sendOne(t, sock, sendArgs(t, h, a.int(2)), st);
};

interface MultiState extends WaitState {
  /** Messages done. */
  done: number;
  /** Progress inside the current message. */
  inner: WaitState;
}

/** Implements sendmmsg(2): each message as sendmsg; stops at the first error after one went. */
const sysSendmmsg: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const vec = a.pointer(1);
  const vlen = Math.min(a.uint(2), UIO_MAXIOV);
  const flags = a.int(3);
  const st = waitState<MultiState>(t, sock.sendTimeoutNs, { done: 0, inner: { deadlineNs: null, partial: 0 } });
  st.inner.deadlineNs = st.deadlineNs;
  while (st.done < vlen) {
    const at = vec + st.done * MMSGHDR_SIZE;
    let r: SyscallResult;
    try {
      r = sendOne(t, sock, sendArgs(t, copyInMsgHeader(t, at), flags), st.inner);
    } catch (e) {
      if (st.done > 0) return st.done;
      throw e;
    }
    if (typeof r !== "number") return r;
    t.copyOutU32(at + MMSGHDR_LEN, r);
    st.done++;
    st.partial = st.done;
    st.inner = { deadlineNs: st.deadlineNs, partial: 0 };
  }
  return st.done;
};

// ---- Receiving ----------------------------------------------------------------------------

interface RecvState extends WaitState {
  /** The sender's address from the first piece (MSG_WAITALL gathers several). */
  from: number[] | null;
  creds: { pid: number; uid: number; gid: number } | null;
  msgFlags: number;
}

interface RecvOutcome {
  /** The return value: bytes copied, or the datagram's length under MSG_TRUNC. */
  n: number;
  from: Uint8Array | null;
  control: ControlMessages;
  msgFlags: number;
}

/**
 * One receive into segs. For a stream under MSG_WAITALL it gathers until the buffer is full,
 * EOF, an error, or descriptors arrive; otherwise it returns what one family call gave.
 * Returns a block control while waiting.
 */
function recvOne(t: Task, sock: SocketFile, segs: IoSegment[], flags: number, st: RecvState): RecvOutcome | SyscallResult {
  // Reading an inet socket's error queue never waits (Linux's sock_recv_errqueue): EAGAIN
  // when empty, not a sleep on the data queue. Only UDP fills one (IP_RECVERR) here.
  if ((flags & MSG_ERRQUEUE) && (sock.family === AF_INET || sock.family === AF_INET6)) {
    if (sock.type !== SOCK_DGRAM || (sock.protocol !== IPPROTO_UDP && sock.protocol !== IPPROTO_UDPLITE)) throw EAGAIN;
    flags |= MSG_DONTWAIT;
  }
  flags |= sock.flags & O_NONBLOCK ? MSG_DONTWAIT : 0;
  const total = totalLength(segs);
  const stream = sock.type === SOCK_STREAM;
  const waitAll = stream && (flags & (MSG_WAITALL | MSG_PEEK)) === MSG_WAITALL;
  const via = stream && sock.streamVia && (flags & MSG_PEEK) === 0;
  for (;;) {
    if (via) {
      // Straight from the socket's queue into the application's memory.
      const dst = userCursor(t, segs, st.partial, true);
      let n: number;
      try {
        n = sock.recvVia(t, total - st.partial, flags, dst.move);
      } catch (e) {
        const canWait = e === EAGAIN && (flags & MSG_DONTWAIT) === 0 && !expired(st);
        if (canWait) return sleep(sock, EVENT_IN | EVENT_ERR, st);
        if (st.partial > 0) return finishRecv(st, {});
        throw e;
      }
      if (dst.faulted && st.partial + n === 0) throw EFAULT;
      st.partial += n;
      if (!waitAll || n === 0 || st.partial >= total || dst.faulted) return finishRecv(st, sock.viaControl() ?? {});
      continue;
    }
    let r;
    try {
      r = sock.recvmsg(t, { maxLen: total - st.partial, flags });
    } catch (e) {
      const canWait = e === EAGAIN && (flags & MSG_DONTWAIT) === 0 && !expired(st);
      if (canWait) return sleep(sock, EVENT_IN | EVENT_ERR, st); // an error ends the wait too
      if (st.partial > 0) return finishRecv(st, {});
      throw e;
    }
    let landed: number;
    try {
      // TCP's MSG_TRUNC (with MSG_PEEK here) copies nothing and counts the bytes (Linux's
      // tcp_recvmsg); the via path discards them itself.
      const discard = stream && (flags & MSG_TRUNC) !== 0 && (sock.family === AF_INET || sock.family === AF_INET6);
      landed = discard ? r.data.length : scatterToUser(t, segmentsFrom(segs, st.partial, r.data.length), r.data);
    } catch (e) {
      dropRights(r.control);
      if (st.partial > 0) return finishRecv(st, {});
      throw e;
    }
    if (st.partial === 0) {
      st.from = r.from === null ? null : [...r.from];
      st.creds = r.control.creds ?? null;
    }
    st.msgFlags |= r.msgFlags;
    st.partial += landed;
    const done = !waitAll || r.data.length === 0 || st.partial >= total || r.control.rights !== undefined ||
      landed < r.data.length;
    if (done) {
      const out = finishRecv(st, r.control);
      if (!stream && (flags & MSG_TRUNC)) out.n = r.fullLength;
      return out;
    }
    dropRights(r.control);
  }
}

function finishRecv(st: RecvState, control: ControlMessages): RecvOutcome {
  const c: ControlMessages = { ...control };
  if (st.creds !== null) c.creds = st.creds;
  return { n: st.partial, from: st.from === null ? null : Uint8Array.from(st.from), control: c, msgFlags: st.msgFlags };
}

function recvState(t: Task, sock: SocketFile, timeoutNs = sock.recvTimeoutNs): RecvState {
  return waitState<RecvState>(t, timeoutNs, { from: null, creds: null, msgFlags: 0 });
}

/**
 * read(2) and readv(2) on a socket: a recv without flags, as Linux's sock_read_iter, so a
 * blocking read waits only until SO_RCVTIMEO. An empty read returns 0 at once (Linux's "SYS5
 * behaviour"), whatever the socket's state.
 */
export function socketRead(t: Task, sock: SocketFile, segs: IoSegment[]): SyscallResult {
  if (!sock.readable) throw EBADF;
  if (totalLength(segs) === 0) return 0;
  const r = recvOne(t, sock, segs, 0, recvState(t, sock));
  if (!isOutcome(r)) return r;
  dropRights(r.control);
  return r.n;
}

/** Implements recvfrom(2). */
const sysRecvfrom: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const st = recvState(t, sock);
  const r = recvOne(t, sock, singleSegment(a.pointer(1), a.sizeT(2)), a.int(3), st);
  if (!isOutcome(r)) return r;
  dropRights(r.control);
  const addr = a.pointer(4);
  if (addr !== 0) copyOutSockaddr(t, addr, a.pointer(5), r.from ?? new Uint8Array(0));
  return r.n;
};

function isOutcome(r: RecvOutcome | SyscallResult): r is RecvOutcome {
  return typeof r === "object" && "n" in r;
}

/** Writes a received message's name, control data, lengths and flags into its msghdr. */
function completeMsg(t: Task, h: MsgHeader, r: RecvOutcome, flags: number): void {
  const c = copyOutControl(t, { addr: h.control, len: h.controlLen === Infinity ? 0 : h.controlLen }, r.control, flags);
  const msgFlags = r.msgFlags | c.msgFlags;
  if (h.name !== 0) copyOutSockaddr(t, h.name, h.addr + MSGHDR.namelen, r.from ?? new Uint8Array(0));
  const tail = new Uint8Array(16);
  const v = new DataView(tail.buffer);
  v.setBigUint64(0, BigInt(c.used), true);
  v.setInt32(8, msgFlags & ~MSG_CMSG_CLOEXEC, true);
  t.copyOut(h.addr + MSGHDR.controllen, tail.subarray(0, 12));
}

/** Implements recvmsg(2). */
const sysRecvmsg: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const h = copyInMsgHeader(t, a.pointer(1));
  const flags = a.int(2);
  const st = recvState(t, sock);
  const r = recvOne(t, sock, h.segs, flags, st);
  if (!isOutcome(r)) return r;
  completeMsg(t, h, r, flags);
  return r.n;
};

interface RecvMultiState extends WaitState {
  done: number;
  inner: RecvState;
  /** recvmmsg's own timeout, checked after each message as Linux does. */
  timeoutDeadlineNs: number | null;
}

/** Implements recvmmsg(2). */
const sysRecvmmsg: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const vec = a.pointer(1);
  const vlen = Math.min(a.uint(2), UIO_MAXIOV);
  const flags = a.int(3);
  const timeout = a.pointer(4);
  const fresh = t.syscallState === null;
  const st = waitState<RecvMultiState>(t, sock.recvTimeoutNs, {
    done: 0,
    inner: { deadlineNs: null, partial: 0, from: null, creds: null, msgFlags: 0 },
    timeoutDeadlineNs: null,
  });
  if (fresh) {
    st.inner.deadlineNs = st.deadlineNs;
    if (timeout !== 0) st.timeoutDeadlineNs = monotonicNs() + readTimespecNs(t, timeout);
  }
  while (st.done < vlen) {
    const at = vec + st.done * MMSGHDR_SIZE;
    const h = copyInMsgHeader(t, at);
    const f = st.done > 0 && (flags & MSG_WAITFORONE) ? flags | MSG_DONTWAIT : flags;
    let r: RecvOutcome | SyscallResult;
    try {
      r = recvOne(t, sock, h.segs, f, st.inner);
    } catch (e) {
      if (st.done > 0) return st.done;
      throw e;
    }
    if (!isOutcome(r)) return r;
    completeMsg(t, h, r, flags);
    t.copyOutU32(at + MMSGHDR_LEN, r.n);
    st.done++;
    st.partial = st.done;
    st.inner = { deadlineNs: st.deadlineNs, partial: 0, from: null, creds: null, msgFlags: 0 };
    if (st.timeoutDeadlineNs !== null && monotonicNs() >= st.timeoutDeadlineNs) break;
  }
  return st.done;
};

// ---- Options ------------------------------------------------------------------------------

const TIMEVAL_SIZE = 16;
/** recvTimeoutNs/sendTimeoutNs for a negative timeval: no wait at all. */
const TIMEOUT_AT_ONCE = -1;

function timevalOption(ns: number, optlen: number): Uint8Array {
  const b = new Uint8Array(TIMEVAL_SIZE);
  const v = new DataView(b.buffer);
  const us = Math.ceil(Math.max(ns, 0) / 1000);
  v.setBigInt64(0, BigInt(Math.floor(us / 1e6)), true);
  v.setBigInt64(8, BigInt(us % 1e6), true);
  return b.subarray(0, Math.min(optlen, TIMEVAL_SIZE));
}

/**
 * SO_RCVTIMEO/SO_SNDTIMEO's struct timeval as ns: 0 means none; a negative time is
 * TIMEOUT_AT_ONCE (Linux stores a zero timeout: the call fails at once, and getsockopt then
 * reads back zero).
 */
function timevalArgument(value: Uint8Array): number {
  if (value.length < TIMEVAL_SIZE) throw EINVAL;
  const v = new DataView(value.buffer, value.byteOffset, TIMEVAL_SIZE);
  const sec = v.getBigInt64(0, true), usec = v.getBigInt64(8, true);
  if (usec < 0n || usec >= 1_000_000n) throw EDOM;
  if (sec < 0n) return TIMEOUT_AT_ONCE;
  return Number(sec) * 1e9 + Number(usec) * 1e3;
}

/** SO_ATTACH_FILTER, SO_GET_FILTER (getsockopt), SO_DETACH_FILTER, SO_LOCK_FILTER (asm-generic/socket.h). */
const SO_ATTACH_FILTER = 26, SO_GET_FILTER = 26, SO_DETACH_FILTER = 27, SO_LOCK_FILTER = 44;

/**
 * The socket filter options, as sk_setsockopt has them for every socket: an int-sized value at
 * least; SO_ATTACH_FILTER's sock_fprog exactly (copy_bpf_fprog_from_user), EPERM once locked,
 * EINVAL for no or too many instructions or a program bpf_check_classic refuses; detaching with
 * none attached is ENOENT; a lock cannot be undone (EPERM).
 */
function setFilterOption(t: Task, sock: SocketFile, name: number, value: Uint8Array): void {
  if (value.length < 4) throw EINVAL;
  if (name === SO_LOCK_FILTER) {
    const on = new DataView(value.buffer, value.byteOffset, 4).getInt32(0, true) !== 0;
    if (sock.filterLocked && !on) throw EPERM;
    sock.filterLocked = on;
    return;
  }
  if (name === SO_DETACH_FILTER) {
    if (sock.filterLocked) throw EPERM;
    if (sock.sockFilter === null) throw ENOENT;
    sock.sockFilter = null;
    sock.filterChanged();
    return;
  }
  if (value.length !== SOCK_FPROG_SIZE) throw EINVAL;
  const v = new DataView(value.buffer, value.byteOffset, SOCK_FPROG_SIZE);
  const len = v.getUint16(0, true), prog = Number(v.getBigUint64(8, true));
  if (sock.filterLocked) throw EPERM;
  if (prog === 0 || len === 0 || len > BPF_MAXINSNS) throw EINVAL;
  sock.sockFilter = SockFilter.check(t.copyIn(prog, len * 8));
  sock.filterChanged();
}

/** What the iptables options need of the caller. */
function xtCaller(t: Task, owner: UserNamespace): XtCaller {
  return {
    io: t,
    // ns_capable over the user namespace that owns the socket's network namespace.
    netAdmin: t.creds.capableIn(owner, CAP_NET_ADMIN),
    notApplied: () =>
      t.kernel.log.once("iptables-not-applied", "iptables rules are kept and read back but not applied to packets"),
  };
}

/**
 * Implements getsockopt(2). The timeouts and filters are answered here, the rest of SOL_SOCKET by
 * the socket layer under the families (kernel/socket/sockopt.ts), the other levels by the family.
 */
const sysGetsockopt: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const level = a.int(1), name = a.int(2), optval = a.pointer(3), optlenAddr = a.pointer(4);
  const optlen = t.copyInU32(optlenAddr) | 0;
  if (optlen < 0) throw EINVAL;
  const xt = sock.xtablesFor(level, name, false);
  if (xt !== null) {
    // iptables: the request is in the buffer and the answer written there; optlen stays.
    xtGetsockopt(xtCaller(t, xt.owner), xt.fam, xt.v6, name, optval, optlen);
    t.copyOutU32(optlenAddr, optlen);
    return 0;
  }
  let value: Uint8Array;
  if (level === SOL_SOCKET && (name === SO_RCVTIMEO_OLD || name === SO_RCVTIMEO_NEW)) {
    value = timevalOption(sock.recvTimeoutNs, optlen);
  } else if (level === SOL_SOCKET && (name === SO_SNDTIMEO_OLD || name === SO_SNDTIMEO_NEW)) {
    value = timevalOption(sock.sendTimeoutNs, optlen);
  } else if (level === SOL_SOCKET && name === SO_GET_FILTER) {
    // sk_get_filter: optlen counts instructions; 0 asks for the count; none attached is 0.
    const f = sock.sockFilter;
    const n = f === null ? 0 : f.length;
    if (f !== null && optlen !== 0) {
      if (optlen < n) throw EINVAL;
      t.copyOut(optval, f.raw);
    }
    t.copyOutU32(optlenAddr, n);
    return 0;
  } else if (level === SOL_SOCKET && name === SO_LOCK_FILTER) {
    value = intOption(sock.filterLocked ? 1 : 0, optlen);
  } else value = sock.getsockopt(t, level, name, optlen, optval);
  if (value.length > optlen) value = value.subarray(0, optlen);
  if (value.length > 0) t.copyOut(optval, value);
  t.copyOutU32(optlenAddr, sock.getsockoptFullLength(level, name) ?? value.length);
  return 0;
};

/** The most bytes of an option value read in (larger values are cut; no option needs more). */
const MAX_OPTLEN = 65536;

/** Implements setsockopt(2). */
const sysSetsockopt: SyscallFn = (t, a) => {
  const sock = socketOf(t, a.fd(0));
  const level = a.int(1), name = a.int(2), optval = a.pointer(3), optlen = a.int(4);
  if (optlen < 0) throw EINVAL;
  const xt = sock.xtablesFor(level, name, true);
  if (xt !== null) {
    xtSetsockopt(xtCaller(t, xt.owner), xt.fam, name, optval, optlen);
    return 0;
  }
  const value = optlen === 0 ? new Uint8Array(0) : t.copyIn(optval, Math.min(optlen, MAX_OPTLEN));
  if (level === SOL_SOCKET && (name === SO_RCVTIMEO_OLD || name === SO_RCVTIMEO_NEW)) {
    sock.recvTimeoutNs = timevalArgument(value);
  } else if (level === SOL_SOCKET && (name === SO_SNDTIMEO_OLD || name === SO_SNDTIMEO_NEW)) {
    sock.sendTimeoutNs = timevalArgument(value);
  } else if (level === SOL_SOCKET && (name === SO_ATTACH_FILTER || name === SO_DETACH_FILTER || name === SO_LOCK_FILTER)) {
    setFilterOption(t, sock, name, value);
  } else sock.setsockopt(t, level, name, value);
  return 0;
};

/**
 * The socket syscalls' handlers, by number. Their table entries (names, support) are in
 * sys_socket_table.ts, which reaches these only once the network's modules are loaded
 * (kernel/net_load.ts).
 */
export const handlers: Record<number, SyscallFn> = {
  41: sysSocket,
  42: sysConnect,
  43: sysAccept,
  44: sysSendto,
  45: sysRecvfrom,
  46: sysSendmsg,
  47: sysRecvmsg,
  48: sysShutdown,
  49: sysBind,
  50: sysListen,
  51: sysGetsockname,
  52: sysGetpeername,
  53: sysSocketpair,
  54: sysSetsockopt,
  55: sysGetsockopt,
  288: sysAccept4,
  299: sysRecvmmsg,
  307: sysSendmmsg,
};

// ---- For io_uring (kernel/io_uring.ts) ----------------------------------------------------

/**
 * IORING_OP_SENDMSG and IORING_OP_SEND: one send that never sleeps. Returns the bytes sent,
 * or null when it would block (the ring waits for the socket and tries again). As io_uring's,
 * the send never raises SIGPIPE (MSG_NOSIGNAL).
 */
export function ringSend(t: Task, sock: SocketFile, msgAddr: number | null, segs: IoSegment[], flags: number): number | null {
  const saved = t.syscallState;
  try {
    const h = msgAddr === null ? null : copyInMsgHeader(t, msgAddr);
    const m: SendArgs = h === null
      ? { segs, to: null, control: null, flags: flags | MSG_NOSIGNAL | MSG_DONTWAIT }
      : sendArgs(t, h, flags | MSG_NOSIGNAL | MSG_DONTWAIT);
    const r = sendOne(t, sock, m, { deadlineNs: null, partial: 0 });
    return typeof r === "number" ? r : null;
  } catch (e) {
    if (e === EAGAIN) return null;
    throw e;
  } finally {
    t.syscallState = saved;
  }
}

/** IORING_OP_RECVMSG and IORING_OP_RECV: one receive that never sleeps (null: would block). */
export function ringRecv(t: Task, sock: SocketFile, msgAddr: number | null, segs: IoSegment[], flags: number): number | null {
  const saved = t.syscallState;
  try {
    const h = msgAddr === null ? null : copyInMsgHeader(t, msgAddr);
    const st: RecvState = { deadlineNs: null, partial: 0, from: null, creds: null, msgFlags: 0 };
    const r = recvOne(t, sock, h === null ? segs : h.segs, flags | MSG_DONTWAIT, st);
    if (!isOutcome(r)) return null;
    if (h !== null) completeMsg(t, h, r, flags);
    return r.n;
  } catch (e) {
    if (e === EAGAIN) return null;
    throw e;
  } finally {
    t.syscallState = saved;
  }
}
