/**
 * AF_UNIX sockets: SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET, as Linux's net/unix/af_unix.c.
 *
 * Model: every socket owns a receive queue of {@linkcode Message}s (a datagram, or one send's
 * segment of a stream) and a wait queue. A sender puts messages straight into the receiver's
 * queue and charges their size to its own send buffer (`wmem`, limited by SO_SNDBUF, as Linux
 * charges skbs to the sender); the receiver releases the charge as it consumes them and wakes
 * the sender. A listening socket's queue holds embryo sockets: connect(2) creates the server
 * side at once, already connected to the client, and accept(2) hands it out.
 *
 * Linux rules kept (checked against the host by tests/unix_test.ts):
 * - A stream read merges segments, stops after one carrying SCM_RIGHTS, and (with SO_PASSCRED)
 *   never merges segments of different senders.
 * - A datagram is read whole or cut (MSG_TRUNC); SEQPACKET keeps boundaries over a connection.
 * - close(2) of one end: the other sees EOF (shutdown in both directions), ECONNRESET first if
 *   the closing end had unread data; a send to it is EPIPE (SIGPIPE only for SOCK_STREAM).
 *   A datagram socket whose peer died gets ECONNREFUSED on its next send, then ENOTCONN.
 * - The listen backlog holds backlog+1 connections; connect then blocks or fails with EAGAIN.
 * - A datagram is refused (EAGAIN / blocks) when the receiver holds more than
 *   net.unix.max_dgram_qlen of them, unless the receiver is connected back to the sender.
 * - Filesystem names are socket files in the VFS (bindSocketAt holds this socket in the inode;
 *   connect finds it with lookupSocketAt). The file outlives the socket, as on Linux: connect
 *   to it after close is ECONNREFUSED, and bind to it EADDRINUSE until it is unlinked.
 * - Descriptors in flight hold a reference until received or until the queue is dropped.
 *   (Linux also collects unreachable cycles of in-flight sockets; this does not.)
 *
 * @module
 */

import { type LandlockDomain, landlockScoped, SCOPE_ABSTRACT_UNIX_SOCKET } from "../../landlock.ts";
import {
  EADDRINUSE, EAGAIN, ECONNREFUSED, ECONNRESET, EINVAL, EISCONN, EMSGSIZE, ENOTCONN, EOPNOTSUPP,
  EPERM, EPIPE, EPROTOTYPE, ESPIPE, errnoFromNumber,
} from "../../errno.ts";
import { O_NONBLOCK, O_RDWR } from "../../../abi/linux/file.ts";
import {
  AF_UNIX, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, SHUT_RD, SHUT_RDWR, SHUT_WR, SIOCINQ, SIOCOUTQ, SO_SNDBUF, SOCK_NONBLOCK,
  SOCK_SEQPACKET, SOCK_STREAM,
} from "../../../abi/linux/socket.ts";
import type { FileDescription, MemoryIO, Stat } from "../../../vfs/file_description.ts";
import {
  EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_OUT, EVENT_RDHUP, EVENT_RDNORM, EVENT_WRBAND, EVENT_WRNORM,
} from "../../../waiter/mod.ts";
import type { Task } from "../../task.ts";
import { type RecvRequest, type RecvResult, type SendRequest, SocketFile, sockfsStat, type UCred } from "../socket.ts";
import { intOption, NET_CORE } from "../sockopt.ts";
import { abstractAddress, parseUnixAddress, UNNAMED_ADDRESS, type UnixAddress } from "./address.ts";
import type { UnixNamespace } from "./namespace.ts";

/** What each queued message costs its sender's buffer beyond its bytes (Linux: skb truesize). */
const MESSAGE_OVERHEAD = 512;
/** The most bytes one stream segment carries (Linux: about SKB_MAX_ALLOC plus page frags). */
const MAX_SEGMENT = 65536;
/** sk_shutdown bits. */
const RCV_SHUTDOWN = 1;
const SEND_SHUTDOWN = 2;
const SHUTDOWN_MASK = 3;
/** What SO_PEERCRED reports when there is no peer: pid 0, uid and gid (uid_t)-1. */
const NO_CRED: UCred = { pid: 0, uid: -1, gid: -1 };
/**
 * What SCM_CREDENTIALS reports for a message that carries none (neither end had SO_PASSCRED
 * when it was sent): pid 0 and the overflow ids, as Linux's scm_recv maps a missing pid and
 * INVALID_UID/GID.
 */
const NO_SCM_CRED: UCred = { pid: 0, uid: 65534, gid: 65534 };

/** The credentials a send offers: SCM_CREDENTIALS as given (or null), and the sender's own. */
interface SendCreds {
  explicit: UCred | null;
  implicit: UCred;
}

/** @savable One datagram, or one segment of a stream, in a receive queue. */
interface Message {
  /** The unread bytes (a stream read may consume a segment in parts). */
  data: Uint8Array;
  /** SCM_RIGHTS: one reference each, owned by the message. */
  rights: FileDescription[] | null;
  /**
   * The sender's credentials, attached at send time when the sender gave SCM_CREDENTIALS or
   * either end had SO_PASSCRED (Linux's unix_maybe_add_creds); null otherwise.
   */
  creds: UCred | null;
  /** The sender's address when it was bound; null otherwise. */
  from: Uint8Array | null;
  /** Whose send buffer this message is charged to. */
  sender: UnixSocket;
  /** Bytes still charged to sender.wmem. */
  charge: number;
}

type State = "unconnected" | "listening" | "connected";

/**
 * The address recvfrom reports for m: its sender's as it is now, as Linux's unix_copy_addr
 * reads skb->sk (a sender that bound after sending is reported bound); what it was at the
 * send when the sender is no longer known.
 */
function senderAddress(m: Message): Uint8Array | null {
  return m.sender.fromAddress() ?? m.from;
}

/**
 * Landlock's scope of abstract unix sockets: EPERM when t's domain scopes them and the socket
 * bound at an abstract name was made outside that domain (Linux's hook_unix_stream_connect and
 * hook_unix_may_send). Sockets bound to a path, or to none, are not scoped.
 */
function checkLandlockUnix(t: Task, other: UnixSocket): void {
  if (t.landlock === null || other.address?.kind !== "abstract") return;
  if (landlockScoped(t.landlock, other.landlock, SCOPE_ABSTRACT_UNIX_SOCKET)) throw EPERM;
}

/** @savable An AF_UNIX socket. Analogous to Linux's struct unix_sock. */
export class UnixSocket extends SocketFile {
  readonly family = AF_UNIX;
  readonly type: number;
  readonly protocol: number;
  readonly ns: UnixNamespace;
  /** Credentials of the creating task: the owner in fstat, and the sender of write(2)s. */
  readonly ownerCred: UCred;
  /**
   * The creating task's Landlock domain (Linux looks at the socket file's f_cred): what decides
   * whether a task scoped from abstract sockets may reach this one.
   */
  readonly landlock: LandlockDomain | null;

  state: State = "unconnected";
  /** The connected peer (kept after it closes, as Linux keeps unix_peer for streams). */
  peer: UnixSocket | null = null;
  /** The bound name, or null. */
  address: UnixAddress | null = null;
  /** SO_PEERCRED. */
  peerCred: UCred = NO_CRED;
  /** Set by close(2); a dead socket takes no more messages. */
  dead = false;
  /** An embryo: created by connect(2), not yet accepted. */
  embryo = false;

  readonly queue: Message[] = [];
  /** Bytes of data (not overhead) in queue, for FIONREAD. */
  queuedBytes = 0;
  /** Listening: connections not yet accepted. */
  readonly acceptQueue: UnixSocket[] = [];
  backlog = 0;
  /** Sockets that found this socket's queue full and wait for room (Linux's peer_wait). */
  readonly roomWaiters = new Set<UnixSocket>();

  shutdownMask = 0;
  /** sk_err: a pending error (ECONNRESET), reported once. */
  error = 0;
  /** Bytes (with overhead) this socket has in other sockets' queues. */
  wmem = 0;

  constructor(o: { ns: UnixNamespace; type: number; protocol: number; flags: number; owner: UCred; landlock?: LandlockDomain | null }) {
    super(O_RDWR | (o.flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));
    this.ns = o.ns;
    this.type = o.type;
    this.protocol = o.protocol;
    this.ownerCred = o.owner;
    this.landlock = o.landlock ?? null;
    this.ns.open.add(this);
  }

  get #isStream(): boolean {
    return this.type === SOCK_STREAM;
  }

  get #connectionOriented(): boolean {
    return this.type === SOCK_STREAM || this.type === SOCK_SEQPACKET;
  }

  /** Datagram and seqpacket sockets keep message boundaries: readv/writev move one message. */
  override get messageOriented(): boolean {
    return !this.#isStream;
  }

  /** Owned by its maker; zero times, as Linux's sock_alloc sets none on a sockfs inode. */
  protected override madeStat(): Stat {
    return sockfsStat(this.ino, this.ownerCred.uid, this.ownerCred.gid, 0n);
  }

  // ---- Names ------------------------------------------------------------------------------

  bind(t: Task, raw: Uint8Array): void {
    const addr = parseUnixAddress(raw, true);
    // A bare family asks for autobind, which leaves an already bound socket alone.
    if (addr.kind === "unnamed") {
      if (this.address === null) this.#autobind();
      return;
    }
    if (addr.kind === "path") {
      this.#bindPath(t, addr);
      return;
    }
    if (this.address !== null) throw EINVAL;
    const key = this.#abstractKey(addr.key);
    if (this.ns.abstract.has(key)) throw EADDRINUSE;
    this.ns.abstract.set(key, this);
    this.address = addr;
  }

  /**
   * bind(2) to a filesystem name: the VFS creates a socket file holding this socket (the
   * socket's own mode, 0777 unless fchmod changed it, less the umask). As Linux, the file is created before the socket's own state is looked at,
   * so path errors (EADDRINUSE, ENOENT, EROFS, EACCES) come first; an already bound socket
   * then removes the new file again and fails with EINVAL.
   */
  #bindPath(t: Task, addr: UnixAddress & { kind: "path" }): void {
    const vfs = t.kernel.vfs;
    const ctx = { root: t.fs.root, creds: t.creds };
    const dir = addr.path.startsWith("/") ? t.fs.root : t.fs.cwd;
    vfs.bindSocketAt(ctx, dir, addr.path, this.stat().mode & 0o7777 & ~t.fs.umask, this);
    if (this.address !== null) {
      vfs.unlinkAt(ctx, dir, addr.path);
      throw EINVAL;
    }
    this.address = addr;
  }

  /**
   * The namespace key of an abstract name: Linux hashes abstract names with the socket type,
   * so a stream and a datagram socket may hold the same name and never find each other.
   */
  #abstractKey(name: string): string {
    return `${this.type}:${name}`;
  }

  /** Binds to a free abstract name of five hex digits (bind with the family only, SO_PASSCRED). */
  #autobind(): void {
    const name = this.ns.autobindName(this.type);
    if (name === null) throw EADDRINUSE;
    const bytes = abstractAddress(name);
    const key = String.fromCharCode(...name);
    this.ns.abstract.set(this.#abstractKey(key), this);
    this.address = { kind: "abstract", key, bytes };
  }

  /** Datagrams (and seqpacket records) larger than the send buffer allows are EMSGSIZE. */
  override maxMessageSize(): number {
    return this.#isStream ? Infinity : this.sndBuf - 32;
  }

  getsockname(_t: Task): Uint8Array {
    return this.#name();
  }

  #name(): Uint8Array {
    const a = this.address;
    return a === null || a.kind === "unnamed" ? UNNAMED_ADDRESS : a.bytes;
  }

  /** The address a receiver reports for messages from this socket: null when unbound. */
  fromAddress(): Uint8Array | null {
    const a = this.address;
    return a === null || a.kind === "unnamed" ? null : a.bytes;
  }

  override getpeername(_t: Task): Uint8Array {
    if (this.peer === null || this.state !== "connected") throw ENOTCONN;
    return this.peer.#name();
  }

  /** The socket bound at addr: ECONNREFUSED when none (ENOENT and friends for a bad path). */
  #lookup(t: Task, addr: UnixAddress): UnixSocket {
    let s: UnixSocket | undefined;
    if (addr.kind === "abstract") s = this.ns.abstract.get(this.#abstractKey(addr.key));
    else if (addr.kind === "path") {
      const dir = addr.path.startsWith("/") ? t.fs.root : t.fs.cwd;
      const ep = t.kernel.vfs.lookupSocketAt({ root: t.fs.root, creds: t.creds }, dir, addr.path);
      if (ep instanceof UnixSocket) s = ep;
    }
    if (s === undefined || s.dead) throw ECONNREFUSED;
    return s;
  }

  // ---- Connections ------------------------------------------------------------------------

  override listen(t: Task, backlog: number): void {
    if (!this.#connectionOriented) throw EOPNOTSUPP;
    if (this.address === null || this.state === "connected") throw EINVAL;
    const max = NET_CORE.somaxconn;
    this.backlog = backlog < 0 || backlog > max ? max : backlog;
    if (this.state === "listening") {
      this.#wakeRoomWaiters();
      return;
    }
    this.state = "listening";
    this.peerCred = credOf(t);
  }

  connect(t: Task, raw: Uint8Array): void {
    if (!this.#connectionOriented) {
      this.#connectDatagram(t, raw);
      return;
    }
    // The order of Linux's unix_stream_connect: find the listener, wait for room in its
    // backlog, then look at this socket's own state.
    const addr = parseUnixAddress(raw, false);
    const listener = this.#lookup(t, addr);
    if (listener.type !== this.type) throw EPROTOTYPE; // a path bound by another type
    if (listener.state !== "listening") throw ECONNREFUSED;
    if (listener.acceptQueue.length > listener.backlog) {
      listener.roomWaiters.add(this);
      throw EAGAIN;
    }
    if (this.state === "listening") throw EINVAL;
    if (this.state === "connected") throw EISCONN;
    checkLandlockUnix(t, listener); // Linux's security_unix_stream_connect
    if (this.passcred && this.address === null) this.#autobind();
    const server = new UnixSocket({
      ns: this.ns, type: this.type, protocol: this.protocol, flags: 0, owner: listener.ownerCred, landlock: listener.landlock,
    });
    server.embryo = true;
    server.address = listener.address;
    server.passcred = listener.passcred;
    server.peer = this;
    server.state = "connected";
    server.peerCred = credOf(t);
    this.peer = server;
    this.state = "connected";
    this.peerCred = listener.peerCred;
    listener.acceptQueue.push(server);
    listener.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    this.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
  }

  /** connect(2) of a datagram socket: sets (or, with AF_UNSPEC, clears) the default peer. */
  #connectDatagram(t: Task, raw: Uint8Array): void {
    if (raw.length >= 2 && (raw[0]! | (raw[1]! << 8)) === 0 /* AF_UNSPEC */) {
      this.#disconnectDatagram();
      return;
    }
    const addr = parseUnixAddress(raw, false);
    const other = this.#lookup(t, addr);
    if (other.type !== this.type) throw EPROTOTYPE;
    if (other.peer !== null && other.peer !== this && !other.peer.dead) throw EPERM;
    if (this.peer !== other) checkLandlockUnix(t, other); // Linux's security_unix_may_send
    if (this.passcred && this.address === null) this.#autobind();
    this.peer = other;
    this.state = "connected";
    this.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
  }

  #disconnectDatagram(): void {
    this.peer = null;
    this.state = "unconnected";
    this.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
  }

  override accept(_t: Task, flags: number): SocketFile {
    if (!this.#connectionOriented) throw EOPNOTSUPP;
    if (this.state !== "listening") throw EINVAL;
    const s = this.acceptQueue.shift();
    if (s === undefined) throw EAGAIN;
    s.embryo = false;
    if (flags & SOCK_NONBLOCK) s.flags |= O_NONBLOCK;
    this.#wakeRoomWaiters();
    return s;
  }

  override shutdown(_t: Task, how: number): void {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) throw EINVAL;
    const mode = (how + 1) & SHUTDOWN_MASK;
    this.shutdownMask |= mode;
    this.waitQueue.notify(EVENT_IN | EVENT_OUT | EVENT_HUP | EVENT_RDHUP);
    const other = this.peer;
    if (other !== null && this.#connectionOriented && this.state === "connected") {
      let peerMode = 0;
      if (mode & RCV_SHUTDOWN) peerMode |= SEND_SHUTDOWN;
      if (mode & SEND_SHUTDOWN) peerMode |= RCV_SHUTDOWN;
      other.shutdownMask |= peerMode;
      other.waitQueue.notify(EVENT_IN | EVENT_OUT | EVENT_HUP | EVENT_RDHUP);
    }
  }

  // ---- Data -------------------------------------------------------------------------------

  sendmsg(t: Task, req: SendRequest): number {
    return this.#send(req.data, req.to, req.control.rights ?? null, { explicit: req.control.creds ?? null, implicit: credOf(t) }, t);
  }

  /** write(2): a send without address or ancillary data, with the socket owner's credentials. */
  override write(src: Uint8Array, offset: number | null): number {
    if (offset !== null) throw ESPIPE;
    return this.#send(src, null, null, { explicit: null, implicit: this.ownerCred }, null);
  }

  /**
   * The common part of send. rights are the caller's references (taken here when queued).
   * Throws EAGAIN when nothing could be queued; returns a short count when a stream's buffer
   * fills part way.
   */
  #send(data: Uint8Array, to: Uint8Array | null, rights: FileDescription[] | null, creds: SendCreds, t: Task | null): number {
    if (this.#isStream) return this.#sendStream(data, to, rights, creds);
    return this.#sendDatagram(data, to, rights, creds, t);
  }

  #sendStream(data: Uint8Array, to: Uint8Array | null, rights: FileDescription[] | null, creds: SendCreds): number {
    if (to !== null) throw this.state === "connected" ? EISCONN : EOPNOTSUPP;
    const other = this.peer;
    if (other === null || this.state !== "connected") throw ENOTCONN;
    if (this.shutdownMask & SEND_SHUTDOWN) throw EPIPE;
    // Nothing to send queues nothing (an empty message would read as end of file).
    if (data.length === 0) return 0;
    if (other.dead || (other.shutdownMask & RCV_SHUTDOWN)) throw EPIPE;
    if (this.wmem >= this.sndBuf) throw EAGAIN;
    const segMax = Math.max(1, Math.min(MAX_SEGMENT, (this.sndBuf >> 1) - 64));
    let sent = 0;
    let first = true;
    do {
      const n = Math.min(data.length - sent, segMax);
      other.#enqueue(this, data.slice(sent, sent + n), first ? rights : null, this.#attachedCreds(other, creds), this.fromAddress());
      first = false;
      sent += n;
    } while (sent < data.length && this.wmem < this.sndBuf);
    other.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    return sent;
  }

  #sendDatagram(
    data: Uint8Array, to: Uint8Array | null, rights: FileDescription[] | null, creds: SendCreds, t: Task | null,
  ): number {
    if (this.type === SOCK_SEQPACKET) {
      this.#takeError();
      if (this.state !== "connected") throw ENOTCONN;
      to = null;
    }
    const addr = to === null ? null : parseUnixAddress(to, false);
    if (addr === null && (this.peer === null || this.state !== "connected")) throw ENOTCONN;
    if (data.length > this.sndBuf - 32) throw EMSGSIZE;
    if (this.shutdownMask & SEND_SHUTDOWN) throw EPIPE;
    if (this.wmem >= this.sndBuf) throw EAGAIN;
    let other: UnixSocket;
    if (addr !== null) {
      if (t === null) throw ENOTCONN;
      other = this.#lookup(t, addr);
      if (other.type !== this.type) throw EPROTOTYPE;
    } else {
      other = this.peer!;
      if (other.dead) {
        // The peer died: this send reports it, and the socket is disconnected.
        this.#disconnectDatagram();
        throw ECONNREFUSED;
      }
    }
    if (other.peer !== null && other.peer !== this) throw EPERM;
    // Linux's security_unix_may_send (not for SOCK_SEQPACKET, whose peer connect checked).
    if (t !== null && this.type !== SOCK_SEQPACKET && this.peer !== other) checkLandlockUnix(t, other);
    if (other.shutdownMask & RCV_SHUTDOWN) throw EPIPE;
    if (other.peer !== this && other.queue.length > NET_CORE.unixMaxDgramQlen) {
      other.roomWaiters.add(this);
      throw EAGAIN;
    }
    if (this.passcred && this.address === null) this.#autobind();
    other.#enqueue(this, data.slice(), rights, this.#attachedCreds(other, creds), this.fromAddress());
    other.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    return data.length;
  }

  /**
   * The credentials a message to other carries (unix_maybe_add_creds): those the sender gave,
   * else the sender's own when either end has SO_PASSCRED or the receiver is an embryo not yet
   * accepted (whose owner may still ask for them); else none.
   */
  #attachedCreds(other: UnixSocket, c: SendCreds): UCred | null {
    if (c.explicit !== null) return c.explicit;
    return this.passcred || other.passcred || other.embryo ? c.implicit : null;
  }

  /** Appends a message to this socket's queue, charged to sender; takes its own references to rights. */
  #enqueue(sender: UnixSocket, data: Uint8Array, rights: FileDescription[] | null, creds: UCred | null, from: Uint8Array | null): void {
    const charge = data.length + MESSAGE_OVERHEAD;
    sender.wmem += charge;
    const held = rights === null || rights.length === 0 ? null : rights.map((f) => f.incRef());
    this.queue.push({ data, rights: held, creds, from, sender, charge });
    this.queuedBytes += data.length;
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    return this.#recv(req.maxLen, req.flags);
  }

  #recv(maxLen: number, flags: number): RecvResult {
    return this.#isStream ? this.#recvStream(maxLen, flags) : this.#recvDatagram(maxLen, flags);
  }

  /** read(2): a receive whose ancillary data is dropped (received descriptors are closed). */
  override read(dst: Uint8Array, offset: number | null): number {
    if (offset !== null) throw ESPIPE;
    const r = this.#recv(dst.length, this.flags & O_NONBLOCK ? MSG_DONTWAIT : 0);
    for (const f of r.control.rights ?? []) f.decRef();
    dst.set(r.data);
    return r.data.length;
  }

  #recvStream(maxLen: number, flags: number): RecvResult {
    if (this.state !== "connected") throw EINVAL;
    if (this.queue.length === 0) {
      this.#takeError();
      if (this.shutdownMask & RCV_SHUTDOWN) return this.#result(new Uint8Array(0), 0, null, null, 0, null);
      throw EAGAIN;
    }
    const peek = (flags & MSG_PEEK) !== 0;
    const first = this.queue[0]!;
    if (maxLen === 0) {
      // A zero-length read still takes the first segment's descriptors (Linux's loop detaches
      // them before it finds that nothing fits).
      let rights: FileDescription[] | null = null;
      if (first.rights !== null) {
        rights = peek ? first.rights.map((f) => f.incRef()) : first.rights;
        if (!peek) first.rights = null;
      }
      return this.#result(new Uint8Array(0), 0, senderAddress(first), rights, 0, first.creds);
    }
    const out = new Uint8Array(Math.min(maxLen, this.queuedBytes));
    let n = 0;
    let rights: FileDescription[] | null = null;
    let i = 0;
    while (n < out.length && i < this.queue.length) {
      const m = this.queue[i]!;
      // Never glue data from different writers when the reader asked for credentials.
      if (n > 0 && this.passcred && !sameCred(m.creds, first.creds)) break;
      const k = Math.min(m.data.length, out.length - n);
      out.set(m.data.subarray(0, k), n);
      n += k;
      if (m.rights !== null) rights = peek ? m.rights.map((f) => f.incRef()) : m.rights;
      if (peek) {
        i++;
      } else {
        if (m.rights !== null) m.rights = null;
        this.#consume(m, k);
        if (m.data.length === 0) this.queue.shift();
        else i++;
      }
      if (rights !== null) break;
    }
    if (!peek) this.#afterConsume();
    return this.#result(out.subarray(0, n), n, senderAddress(first), rights, 0, first.creds);
  }

  #recvDatagram(maxLen: number, flags: number): RecvResult {
    if (this.type === SOCK_SEQPACKET) {
      if (this.state === "listening") throw EINVAL;
      if (this.state !== "connected") throw ENOTCONN;
    }
    const m = this.queue[0];
    if (m === undefined) {
      this.#takeError();
      const eof = this.type === SOCK_SEQPACKET || (flags & MSG_DONTWAIT) === 0;
      if ((this.shutdownMask & RCV_SHUTDOWN) && eof) return this.#result(new Uint8Array(0), 0, null, null, 0, null);
      throw EAGAIN;
    }
    const peek = (flags & MSG_PEEK) !== 0;
    const full = m.data.length;
    const data = m.data.slice(0, Math.min(maxLen, full));
    let rights: FileDescription[] | null = null;
    if (m.rights !== null) rights = peek ? m.rights.map((f) => f.incRef()) : m.rights;
    if (!peek) {
      m.rights = null;
      this.queue.shift();
      this.#consume(m, full);
      this.#afterConsume();
    }
    return this.#result(data, full, senderAddress(m), rights, data.length < full ? MSG_TRUNC : 0, m.creds);
  }

  #result(
    data: Uint8Array, full: number, from: Uint8Array | null, rights: FileDescription[] | null, msgFlags: number,
    creds: UCred | null,
  ): RecvResult {
    const control: RecvResult["control"] = {};
    if (rights !== null) control.rights = rights;
    if (this.passcred) control.creds = creds ?? NO_SCM_CRED;
    return { data, fullLength: full, from, control, msgFlags };
  }

  /** Removes k bytes of m from the queue's accounting and releases them from the sender's buffer. */
  #consume(m: Message, k: number): void {
    m.data = m.data.subarray(k);
    this.queuedBytes -= k;
    const release = m.data.length === 0 ? m.charge : Math.min(k, m.charge);
    m.charge -= release;
    m.sender.wmem -= release;
    m.sender.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
  }

  #afterConsume(): void {
    this.#wakeRoomWaiters();
  }

  #wakeRoomWaiters(): void {
    if (this.roomWaiters.size === 0) return;
    const ws = [...this.roomWaiters];
    this.roomWaiters.clear();
    for (const w of ws) w.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
  }

  /** Throws (and clears) a pending socket error, as sock_error(). */
  #takeError(): void {
    const e = this.error;
    if (e !== 0) {
      this.error = 0;
      throw errnoFromNumber(e);
    }
  }

  // ---- Readiness --------------------------------------------------------------------------

  override readiness(mask: number): number {
    let r = 0;
    if (this.error !== 0) r |= EVENT_ERR;
    if (this.shutdownMask === SHUTDOWN_MASK) r |= EVENT_HUP;
    if (this.shutdownMask & RCV_SHUTDOWN) r |= EVENT_RDHUP | EVENT_IN | EVENT_RDNORM;
    if (this.queue.length > 0 || this.acceptQueue.length > 0) r |= EVENT_IN | EVENT_RDNORM;
    if (this.#connectionOriented && this.state === "unconnected") r |= EVENT_HUP;
    let writable = this.state !== "listening" && this.wmem * 4 <= this.sndBuf;
    if (writable && !this.#connectionOriented) {
      const other = this.peer;
      if (other !== null && !other.dead && other.peer !== this && other.queue.length > NET_CORE.unixMaxDgramQlen) {
        other.roomWaiters.add(this);
        writable = false;
      }
    }
    if (writable) r |= EVENT_OUT | EVENT_WRNORM | EVENT_WRBAND;
    return r & (mask | EVENT_ERR | EVENT_HUP);
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    let v: number;
    switch (cmd) {
      case SIOCINQ:
        if (this.state === "listening") throw EINVAL;
        v = this.#isStream || this.type === SOCK_SEQPACKET ? this.queuedBytes : (this.queue[0]?.data.length ?? 0);
        break;
      case SIOCOUTQ:
        v = this.wmem;
        break;
      default:
        return super.ioctl(cmd, arg, io);
    }
    io.copyOut(arg, intOption(v, 4));
    return 0;
  }

  // ---- Options ----------------------------------------------------------------------------

  /** AF_UNIX has no level of its own: unix_stream_ops' and unix_dgram_ops' getsockopt is sock_no_getsockopt. */
  override familyGetsockopt(): Uint8Array {
    throw EOPNOTSUPP;
  }

  override familySetsockopt(): void {
    throw EOPNOTSUPP;
  }

  override sockError(): number {
    const e = this.error;
    this.error = 0;
    return e;
  }

  override get sockListening(): boolean {
    return this.state === "listening";
  }

  override sockPeerCred(): UCred {
    return this.peerCred;
  }

  override get sockPasscred(): boolean {
    return true;
  }

  override sockChanged(name: number): void {
    // A larger send buffer lets a blocked writer go on (sk_write_space).
    if (name === SO_SNDBUF) this.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
  }

  // ---- Release ----------------------------------------------------------------------------

  protected override release(): void {
    this.dead = true;
    this.ns.open.delete(this);
    const a = this.address;
    if (a !== null && !this.embryo) {
      const key = this.#abstractKey(a.kind === "abstract" ? a.key : "");
      if (a.kind === "abstract" && this.ns.abstract.get(key) === this) this.ns.abstract.delete(key);
    }
    // Connections never accepted go as if closed: their clients see ECONNRESET, then EOF.
    for (const embryo of this.acceptQueue.splice(0)) embryo.decRef();
    const other = this.peer;
    if (other !== null && this.#connectionOriented && this.state === "connected") {
      other.shutdownMask = SHUTDOWN_MASK;
      if (this.queue.length > 0 || this.embryo) other.error = ECONNRESET.errno;
      other.waitQueue.notify(EVENT_IN | EVENT_OUT | EVENT_HUP | EVENT_RDHUP | EVENT_ERR);
    }
    this.#dropQueue();
    this.#wakeRoomWaiters();
    this.waitQueue.notify(EVENT_IN | EVENT_OUT | EVENT_HUP);
  }

  #dropQueue(): void {
    for (const m of this.queue.splice(0)) {
      for (const f of m.rights ?? []) f.decRef();
      m.rights = null;
      m.sender.wmem -= m.charge;
      m.charge = 0;
      m.sender.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
    }
    this.queuedBytes = 0;
  }
}

function credOf(t: Task): UCred {
  return { pid: t.tg.tgid, uid: t.creds.uid, gid: t.creds.gid };
}

function sameCred(a: UCred | null, b: UCred | null): boolean {
  if (a === null || b === null) return a === b;
  return a.pid === b.pid && a.uid === b.uid && a.gid === b.gid;
}
