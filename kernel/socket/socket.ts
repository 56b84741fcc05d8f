/**
 * The socket layer's contract: what every socket file implements (AF_UNIX in
 * kernel/socket/unix/, AF_INET/AF_INET6 over netstack in kernel/socket/inet/, AF_NETLINK in
 * kernel/socket/netlink/), and the registry the socket syscalls use to create them. Analogous to
 * Linux's struct proto_ops and gVisor's socket.Socket interface.
 *
 * Blocking follows the FileDescription contract: an operation that would block throws EAGAIN
 * and the syscall layer (kernel/syscalls/linux/sys_socket.ts) waits on `waitQueue` for the
 * events it needs (EVENT_IN for recv/accept, EVENT_OUT for send/connect) unless the socket is
 * non-blocking or MSG_DONTWAIT is set, honouring SO_RCVTIMEO/SO_SNDTIMEO
 * (`recvTimeoutNs`/`sendTimeoutNs`). No socket operation awaits.
 *
 * Addresses cross this interface as raw `struct sockaddr` bytes, as the application wrote
 * them: each family parses its own.
 *
 * What the syscall layer does for every family, so families need not:
 * - `flags` of a RecvRequest/SendRequest include MSG_DONTWAIT when the description is
 *   O_NONBLOCK (as Linux's sock_recvmsg/sock_sendmsg do).
 * - MSG_WAITALL and blocking sends: a family returns what it has (recv) or took (send, a short
 *   count for streams); the syscall layer keeps the progress, waits and calls again.
 * - SOL_SOCKET options are one layer under every family (sockopt.ts, Linux's sk_setsockopt and
 *   sk_getsockopt) over the state SocketFile keeps; a family answers only what is its own through
 *   the `sock*` hooks, and its other levels through familyGetsockopt/familySetsockopt.
 *   SO_RCVTIMEO, SO_SNDTIMEO and the socket filters are the syscall layer's.
 * - SIGPIPE on EPIPE (see {@linkcode SocketFile.sigpipeOnEpipe}).
 * - read(2)/write(2)/readv/writev go to the FileDescription read/write methods, which each
 *   family implements (they have no task: AF_UNIX uses the socket owner's credentials there).
 *
 * @module
 */

import { FileDescription, type Stat } from "../../vfs/file_description.ts";
import { EOPNOTSUPP, ENOPROTOOPT, ENOTCONN } from "../errno.ts";
import type { Net } from "../net.ts";
import { NET_CORE, sockGetsockopt, sockSetsockopt } from "./sockopt.ts";
import type { Task } from "../task.ts";
import type { XtFamily } from "../netfilter/x_tables.ts";
import type { UserNamespace } from "../user_namespace.ts";
import type { SockFilter } from "./sock_filter.ts";
import { SOCK_STREAM, SOL_SOCKET } from "../../abi/linux/socket.ts";
import { S_IFSOCK, SOCKFS_MAGIC } from "../../abi/linux/file.ts";
import type { Credentials } from "../creds.ts";
import { checkUtimes, chmodBits, chownChange, explicitTimes, type InodeTimes, utimesApplied } from "../../vfs/permissions.ts";
import type { TimeSpec } from "../../vfs/vfs.ts";

/** st_dev of sockfs. */
const SOCKFS_DEV = 8;
/** Inode numbers of sockfs, one sequence for every family (/proc/PID/fd and /proc/net agree). */
let nextSocketIno = 1;

/** What fstat reports for a socket: a sockfs inode. */
export function sockfsStat(ino: number, uid: number, gid: number, timeNs: bigint): Stat {
  return {
    dev: SOCKFS_DEV, ino, mode: S_IFSOCK | 0o777, nlink: 1, uid, gid, rdev: 0, size: 0, blksize: 4096,
    blocks: 0, atimeNs: timeNs, mtimeNs: timeNs, ctimeNs: timeNs,
  };
}

/** Credentials carried by SCM_CREDENTIALS and reported by SO_PEERCRED. */
export interface UCred {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * Ancillary data of sendmsg/recvmsg, decoded (the syscall layer encodes and decodes cmsgs).
 *
 * References of `rights`: in a SendRequest they belong to the syscall layer, which drops them
 * when sendmsg returns or throws; a family that keeps them (AF_UNIX queues them with the
 * message) takes its own with incRef(). In a RecvResult they pass to the syscall layer, which
 * installs them in the receiver's fd table or drops them (MSG_CTRUNC, read(2)).
 */
export interface ControlMessages {
  /** SCM_RIGHTS: descriptions (see above for who holds their references). */
  rights?: FileDescription[];
  /** SCM_CREDENTIALS. */
  creds?: UCred;
  /** Other control messages received, as they go out: level, type and data (TCP_CM_INQ, IP_PKTINFO...). */
  other?: { level: number; type: number; data: Uint8Array }[];
}

export interface SendRequest {
  /** The bytes to send (iovecs gathered). */
  data: Uint8Array;
  /** sendto/sendmsg destination; null when none was given. */
  to: Uint8Array | null;
  control: ControlMessages;
  /** MSG_* flags (MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE, MSG_EOR, MSG_OOB...). */
  flags: number;
}

export interface RecvRequest {
  /** Capacity of the caller's buffers. */
  maxLen: number;
  /** MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_DONTWAIT, MSG_CMSG_CLOEXEC, MSG_ERRQUEUE... */
  flags: number;
}

export interface RecvResult {
  /** The bytes received (at most maxLen). */
  data: Uint8Array;
  /**
   * The datagram's real length, for MSG_TRUNC (recv returns it when MSG_TRUNC was requested on a
   * datagram socket); equal to data.length for streams.
   */
  fullLength: number;
  /** The sender's address, or null (connected streams). */
  from: Uint8Array | null;
  control: ControlMessages;
  /** msg_flags to report (MSG_TRUNC, MSG_CTRUNC, MSG_EOR, MSG_OOB). */
  msgFlags: number;
}

/**
 * A socket's file description. Subclasses implement their family; defaults are Linux's answers
 * for operations a family does not support. `t` is the calling task (credentials, the VFS for
 * filesystem-named AF_UNIX sockets, the fd table for SCM_RIGHTS).
 */
export abstract class SocketFile extends FileDescription {
  override get supportsAsync(): boolean {
    return true;
  }
  abstract readonly family: number;
  /** SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW (without SOCK_NONBLOCK/SOCK_CLOEXEC). */
  abstract readonly type: number;
  abstract readonly protocol: number;
  /** Immutable. The sockfs inode number: `socket:[ino]` in /proc/PID/fd, the inode in /proc/net. */
  readonly ino = nextSocketIno++;
  /**
   * SO_RCVTIMEO / SO_SNDTIMEO in nanoseconds; 0 means none, a negative value fail at once.
   * Kept here for the syscall layer, which alone reads and sets them.
   */
  recvTimeoutNs = 0;
  sendTimeoutNs = 0;
  /** SO_ATTACH_FILTER's program (sock_filter.ts), run on each packet before it is queued; null: none. */
  sockFilter: SockFilter | null = null;
  /** SO_LOCK_FILTER: the filter can be neither replaced nor removed. */
  filterLocked = false;

  abstract bind(t: Task, addr: Uint8Array): void;

  /**
   * Starts or completes a connection. Returns when connected (or, for datagrams, when the peer
   * is set). Throws EINPROGRESS when a stream connection has started but not finished; the
   * syscall layer then (blocking sockets) waits for EVENT_OUT and asks `connectResult()`.
   */
  abstract connect(t: Task, addr: Uint8Array): void;

  /** After EINPROGRESS: null while connecting, else 0 or a positive errno (as SO_ERROR). */
  connectResult(): number | null {
    return 0;
  }

  listen(_t: Task, _backlog: number): void {
    throw EOPNOTSUPP;
  }

  /** A new connected socket (flags: SOCK_NONBLOCK applies to it); throws EAGAIN when none. */
  accept(_t: Task, _flags: number): SocketFile {
    throw EOPNOTSUPP;
  }

  /** Returns the number of bytes taken (a short count for streams when the buffer is full). */
  abstract sendmsg(t: Task, req: SendRequest): number;

  abstract recvmsg(t: Task, req: RecvRequest): RecvResult;

  // read(2)/write(2) are recv/send without flags. No task is passed: they carry no address,
  // ancillary data or credentials a family would need one for (AF_UNIX overrides both).
  override read(dst: Uint8Array, _offset: number | null): number {
    const r = this.recvmsg(null as unknown as Task, { maxLen: dst.length, flags: 0 });
    dst.set(r.data);
    return r.data.length;
  }

  override write(src: Uint8Array, _offset: number | null): number {
    return this.sendmsg(null as unknown as Task, { data: src, to: null, control: {}, flags: 0 });
  }

  /**
   * Whether this stream socket implements sendVia/recvVia, which move bytes between the
   * application's memory and the socket's own queues with no buffer in between. The syscall
   * layer then uses them for send, recv (not MSG_PEEK), read(2) and write(2).
   */
  readonly streamVia: boolean = false;

  /**
   * sendmsg without a data buffer (only when streamVia): `fill` copies the application's next
   * bytes into the lent view and returns how many landed (a short count: a fault, which ends
   * the call). Returns the bytes taken, at most `max`; throws as sendmsg (EAGAIN when full).
   */
  sendVia(_t: Task, _max: number, _flags: number, _fill: (dst: Uint8Array) => number): number {
    throw EOPNOTSUPP;
  }

  /**
   * recvmsg without a data buffer (only when streamVia; never with MSG_PEEK): `take` copies
   * a view of queued bytes to the application and returns how many landed (a short count: a
   * fault, which ends the call); only those are consumed. Returns the bytes consumed (0 at
   * end of stream, or when `take` landed nothing); throws as recvmsg (EAGAIN when empty).
   */
  recvVia(_t: Task, _max: number, _flags: number, _take: (src: Uint8Array) => number): number {
    throw EOPNOTSUPP;
  }

  /**
   * The peer's address accept(2) reports for this new connection: getpeername's, except that
   * a connection already reset still has it (Linux's inet_getname with peer=2).
   */
  acceptedPeer(t: Task): Uint8Array {
    return this.getpeername(t);
  }

  /** Control messages for a stream read that went through recvVia (TCP_CM_INQ), or null. */
  viaControl(): ControlMessages | null {
    return null;
  }

  /** SHUT_RD, SHUT_WR, SHUT_RDWR. */
  shutdown(_t: Task, _how: number): void {
    throw ENOTCONN;
  }

  abstract getsockname(t: Task): Uint8Array;

  /** Throws ENOTCONN when there is no peer. */
  getpeername(_t: Task): Uint8Array {
    throw ENOTCONN;
  }

  // ---- Options. SOL_SOCKET is sockopt.ts's, over the state below (Linux's struct sock's). ----

  /** SO_SNDBUF / SO_RCVBUF as reported (Linux doubles what is set). */
  sndBuf: number = NET_CORE.wmemDefault;
  rcvBuf: number = NET_CORE.rmemDefault;
  reuseAddr = false;
  reusePort = false;
  keepalive = false;
  broadcast = false;
  lingerOn = false;
  /** SO_LINGER's seconds, kept when lingering is turned off (sk_lingertime). */
  lingerSecs = 0;
  /** SO_BINDTODEVICE / SO_BINDTOIFINDEX: the interface's index (Linux's sk_bound_dev_if), 0 for none. */
  boundDev = 0;
  /** SO_PASSCRED, where the family has it (sockPasscred). */
  passcred = false;
  /** The other SOL_SOCKET options, stored and read back as set (SO_PRIORITY, SO_MARK, SO_RCVLOWAT...), by name. */
  readonly sockOptions = new Map<number, number>();

  /** The option's value, at most optlen bytes of it (the syscall layer writes it and its length). */
  getsockopt(t: Task, level: number, name: number, optlen: number, optval = 0): Uint8Array {
    return level === SOL_SOCKET ? sockGetsockopt(this, t, name, optlen) : this.familyGetsockopt(t, level, name, optlen, optval);
  }

  setsockopt(t: Task, level: number, name: number, value: Uint8Array): void {
    if (level === SOL_SOCKET) sockSetsockopt(this, t, name, value);
    else this.familySetsockopt(t, level, name, value);
  }

  /** The options of the levels other than SOL_SOCKET: the family's and its protocols'. */
  /** optval: the caller's buffer, for the few options that read a question from it (PACKET_HDRLEN). */
  familyGetsockopt(_t: Task, _level: number, _name: number, _optlen: number, _optval = 0): Uint8Array {
    throw ENOPROTOOPT;
  }

  familySetsockopt(_t: Task, _level: number, _name: number, _value: Uint8Array): void {
    throw ENOPROTOOPT;
  }

  /** A SOL_SOCKET value the family answers itself (TCP's autotuned SO_SNDBUF), or null: the common one. */
  familySocketOpt(_t: Task, _name: number, _optlen: number): Uint8Array | null {
    return null;
  }

  /** SO_ERROR: the pending error as an errno, cleared (sock_error). */
  sockError(): number {
    return 0;
  }

  /** SO_ACCEPTCONN: whether it listens. */
  get sockListening(): boolean {
    return false;
  }

  /** SO_PEERCRED: the peer's credentials (global ids), or null for none. */
  sockPeerCred(): UCred | null {
    return null;
  }

  /** Whether SO_PASSCRED applies (Unix and netlink sockets; EOPNOTSUPP for the others). */
  get sockPasscred(): boolean {
    return false;
  }

  /** SO_PROTOCOL (Linux's sk_protocol). */
  get sockProtocol(): number {
    return this.protocol;
  }

  /** The network namespace the socket lives in (sock_net): SO_BINDTODEVICE's interfaces, SO_MARK's privilege. */
  sockNet(t: Task): Net {
    return t.net;
  }

  /** SO_RCVLOWAT's value as the family keeps it (TCP caps it), `v` not negative. */
  sockRcvlowat(v: number): number {
    return v;
  }

  /** A SOL_SOCKET option the family acts on was set (SO_REUSEADDR, SO_SNDBUF, SO_BINDTOIFINDEX...). */
  sockChanged(_name: number): void {}

  /**
   * For an option whose getsockopt optlen reads back its full size even when the value was cut
   * (NETLINK_LIST_MEMBERSHIPS): that size; null for the others (optlen is what was written).
   */
  getsockoptFullLength(_level: number, _name: number): number | null {
    return null;
  }

  /**
   * What a mmap(2) of the socket maps instead (a packet socket's PACKET_RX_RING); null: the
   * socket has no mmap (ENODEV). Throws the family's errno for a mapping it refuses.
   */
  mmapFile(_offset: number, _len: number): FileDescription | null {
    return null;
  }

  /**
   * The socket filter was attached or detached: a family that queues packets hands it to them
   * (UDP, raw and packet sockets); the others keep it without running it (README.md).
   */
  filterChanged(): void {}

  /**
   * The iptables (IPv4 or IPv6) of this socket's network namespace when (level, name) is one of
   * their options on it (kernel/netfilter/sockopt.ts, which reads and writes the value in the
   * caller's memory itself); null for every other option.
   */
  xtablesFor(_level: number, _name: number, _set: boolean): { fam: XtFamily; v6: boolean; owner: UserNamespace } | null {
    return null;
  }

  override get isStream(): boolean {
    return true;
  }

  /**
   * The largest message one send may carry (datagram and seqpacket sockets): the syscall layer
   * fails bigger ones with EMSGSIZE before copying them in, as Linux checks the size first.
   */
  maxMessageSize(): number {
    return Infinity;
  }

  /**
   * Whether a send that fails with EPIPE raises SIGPIPE (unless MSG_NOSIGNAL). Linux does it
   * for SOCK_STREAM only (unix and TCP); SOCK_SEQPACKET and datagram sockets never raise it,
   * even from write(2). The syscall layer and the kernel's write-family dispatcher ask this.
   */
  get sigpipeOnEpipe(): boolean {
    return this.type === SOCK_STREAM;
  }

  path(): string {
    return `socket:[${this.ino}]`;
  }

  /**
   * The sockfs inode's permission bits and owner once fchmod or fchown changed them (null: as
   * made, 0777 and the maker). bind(2) of a unix socket makes its file with these bits.
   */
  inodeAttrs: { mode: number; uid: number; gid: number } | null = null;
  /** The inode's times once futimens, fchmod or fchown changed them; null: the creation time. */
  inodeTimes: InodeTimes | null = null;

  /** The socket's inode as made: owned by root with zero times unless the family records its maker. */
  protected madeStat(): Stat {
    return sockfsStat(this.ino, 0, 0, 0n);
  }

  stat(): Stat {
    const st = this.madeStat();
    const a = this.inodeAttrs;
    const s = a === null ? st : { ...st, mode: S_IFSOCK | a.mode, uid: a.uid, gid: a.gid };
    return this.inodeTimes === null ? s : { ...s, ...this.inodeTimes };
  }

  /** futimens of a socket: its sockfs inode's times (sockfs_setattr, as any inode's). */
  override touchOutsideTree(creds: Credentials, atime: TimeSpec, mtime: TimeSpec): void {
    const st = this.stat();
    checkUtimes(creds, st, explicitTimes(atime, mtime));
    this.inodeTimes = utimesApplied(st, atime, mtime, BigInt(Date.now()) * 1_000_000n);
  }

  /** An attribute change (fchmod, fchown) moves ctime. */
  #changed(): void {
    const st = this.stat();
    this.inodeTimes = { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs, ctimeNs: BigInt(Date.now()) * 1_000_000n };
  }

  override get pseudoFsType(): number {
    return SOCKFS_MAGIC;
  }

  /** sockfs_setattr: the owner's (or CAP_FOWNER's) chmod, as any inode's. */
  override chmodOutsideTree(creds: Credentials, mode: number): void {
    const st = this.stat();
    this.inodeAttrs = { mode: chmodBits(creds, st, mode), uid: st.uid, gid: st.gid };
    this.#changed();
  }

  override chownOutsideTree(creds: Credentials, uid: number, gid: number): void {
    const st = this.stat();
    const c = chownChange(creds, st, uid, gid, false);
    this.inodeAttrs = { mode: c.mode ?? st.mode & 0o7777, uid: c.uid ?? st.uid, gid: c.gid ?? st.gid };
    this.#changed();
  }
}

/** Creates a socket of one family; throws EPROTONOSUPPORT / ESOCKTNOSUPPORT / EAFNOSUPPORT. */
export type SocketFactory = (t: Task, type: number, protocol: number, flags: number) => SocketFile;
/** socketpair(2) for families that have it (AF_UNIX); throws EOPNOTSUPP otherwise. */
export type SocketPairFactory = (t: Task, type: number, protocol: number, flags: number) => [SocketFile, SocketFile];

interface Family {
  create: SocketFactory;
  pair?: SocketPairFactory;
}

/**
 * Address family → implementation. Each family module registers itself when imported
 * (kernel/socket/mod.ts imports them all); families not registered give EAFNOSUPPORT.
 */
const families = new Map<number, Family>();

export function registerFamily(family: number, create: SocketFactory, pair?: SocketPairFactory): void {
  if (families.has(family)) throw new Error(`socket family ${family} registered twice`);
  families.set(family, pair ? { create, pair } : { create });
}

export function socketFamily(family: number): Family | undefined {
  return families.get(family);
}
