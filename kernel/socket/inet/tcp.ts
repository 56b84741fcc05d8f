/**
 * SOCK_STREAM sockets of AF_INET / AF_INET6: a file over a netstack {@linkcode TcpSocket}.
 *
 * Every operation that changes the connection kicks the stack (kernel/net.ts), so loopback
 * traffic moves before the syscall returns and wait queues learn of it.
 *
 * @module
 */

import { type TcpSocket } from "../../../netstack/mod.ts";
import {
  EAGAIN,
  EALREADY,
  ECONNABORTED,
  EINPROGRESS,
  EINVAL,
  EISCONN,
  ENOENT,
  ENOPROTOOPT,
  ENOTCONN,
  errnoFromNumber,
} from "../../errno.ts";
import type { Net } from "../../net.ts";
import { monotonicNs, realtimeNs } from "../../time.ts";
import type { Task } from "../../task.ts";
import type { ControlMessages, RecvRequest, RecvResult, SendRequest } from "../socket.ts";
import * as C from "./constants.ts";
import { checkBindPort, errnoOf, InetSocketFile, intBytes, intOpt, linuxError, net, type NetReadiness } from "./inet_socket.ts";
import { checkUnspecBind, formatSockaddr, parseSockaddr } from "./sockaddr.ts";

/** Linux's defaults: net.ipv4.tcp_wmem[1] and tcp_rmem[1]. */
export const TCP_SNDBUF = 16384;
export const TCP_RCVBUF = 131072;
/** tcp_rmem[2], as /proc/sys/net/ipv4/tcp_rmem shows it. */
export const TCP_RMEM_MAX = 6291456;
/**
 * TCP_DEFER_ACCEPT's seconds as SYN-ACK retransmissions and back, as Linux's secs_to_retrans
 * and retrans_to_secs (an initial timeout of 1 s doubling up to 120 s).
 */
function secsToRetrans(seconds: number): number {
  if (seconds <= 0) return 0;
  let timeout = 1, period = 1, res = 1;
  while (seconds > period && res < 255) {
    res++;
    timeout = Math.min(timeout * 2, 120);
    period += timeout;
  }
  return res;
}

function retransToSecs(retrans: number): number {
  if (retrans <= 0) return 0;
  let timeout = 1, period = 1;
  while (--retrans > 0) {
    timeout = Math.min(timeout * 2, 120);
    period += timeout;
  }
  return period;
}

/** SO_SNDBUF of an established loopback connection whose buffer was not set (see getSocketOpt). */
const AUTOTUNED_SNDBUF = 2626560;
/** struct tcp_info as Linux 5.x reports it (up to tcpi_snd_wnd). */
const TCP_INFO_LEN = 232;
/** Linux's keepalive defaults, in seconds. */
const KEEPIDLE = 7200;
const KEEPINTVL = 75;
const KEEPCNT = 9;

const NOT_CONNECTED: ReadonlySet<string> = new Set(["CLOSED", "LISTEN", "SYN-SENT"]);
/** States in which the peer's FIN has arrived. */
const PEER_DONE: ReadonlySet<string> = new Set(["CLOSE-WAIT", "LAST-ACK", "CLOSING", "TIME-WAIT"]);

/** What a TCP socket file keeps beside its netstack socket, as a checkpoint saves it. */
export interface TcpFileOptions {
  bound: boolean;
  connecting: boolean;
  noDelay: boolean;
  cork: boolean;
  keepIdle: number;
  keepIntvl: number;
  keepCnt: number;
  tcpFlags: [number, number][];
  congestion: "reno" | "cubic";
}

/** @savable */
export class TcpSocketFile extends InetSocketFile {
  readonly type = C.SOCK_STREAM;
  readonly protocol = C.IPPROTO_TCP;
  sock: TcpSocket;
  #bound = false;
  /** connect() started and its result was not yet reported. */
  #connecting = false;
  #noDelay = false;
  #cork = false;
  #keepIdle = KEEPIDLE;
  #keepIntvl = KEEPINTVL;
  #keepCnt = KEEPCNT;
  readonly #tcpFlags = new Map<number, number>();
  #congestion: "reno" | "cubic" = "reno";

  /** A new socket, or (accept) one around a connection the stack made. */
  constructor(n: Net, family: number, flags: number, sock?: TcpSocket) {
    super(n, family, flags, { snd: TCP_SNDBUF, rcv: TCP_RCVBUF });
    this.sock = sock ?? n.stack.tcpSocket();
    this.#bound = sock !== undefined;
    if (sock) {
      this.#cork = sock.cork; // a listener's TCP_CORK carries over, as Linux's nonagle
      this.#noDelay = sock.noDelay;
    }
    this.sock.wildcardVersion = this.wildcardVersion;
  }

  /** The file's own TCP state, for a checkpoint. */
  saveTcpOptions(): TcpFileOptions {
    return {
      bound: this.#bound, connecting: this.#connecting, noDelay: this.#noDelay, cork: this.#cork, keepIdle: this.#keepIdle,
      keepIntvl: this.#keepIntvl, keepCnt: this.#keepCnt, tcpFlags: [...this.#tcpFlags], congestion: this.#congestion,
    };
  }

  /** Takes it back (a restore: the netstack socket is restored already). */
  loadTcpOptions(o: TcpFileOptions): void {
    this.#bound = o.bound;
    this.#connecting = o.connecting;
    this.#noDelay = o.noDelay;
    this.#cork = o.cork;
    this.#keepIdle = o.keepIdle;
    this.#keepIntvl = o.keepIntvl;
    this.#keepCnt = o.keepCnt;
    this.#tcpFlags.clear();
    for (const [k, v] of o.tcpFlags) this.#tcpFlags.set(k, v);
    this.#congestion = o.congestion;
  }

  protected netReadiness(): NetReadiness {
    const r = this.sock.readiness();
    const s = this.sock.state;
    // A socket that never connected polls as HUP, as Linux's tcp_poll says for TCP_CLOSE.
    const hup = r.hup || (s === "CLOSED" && !this.#connecting);
    // Linux's sk_stream_is_writeable: a connected stream polls writable only once a third of
    // its send buffer is free, so a writer that filled it sleeps until a large write fits
    // rather than waking for every sliver the peer acknowledges.
    const writable = r.writable &&
      (r.error || (s !== "ESTABLISHED" && s !== "CLOSE-WAIT") || this.sock.sendRoom * 3 >= this.sock.sendCapacity);
    // A literal, not a spread of r: this runs for every socket file after every kick.
    return { readable: r.readable, writable, hup, error: r.error, rdhup: hup || PEER_DONE.has(s) };
  }

  protected rxSignature(): number {
    return this.sock.recvQueue + (this.sock.isListening && this.sock.readiness().readable ? 1 : 0);
  }

  protected inq(): number {
    // Linux's tcp_ioctl: EINVAL on a listener; nothing before the handshake ends.
    if (this.sock.isListening) throw EINVAL;
    return this.sock.recvQueue;
  }

  protected outq(): number {
    if (this.sock.isListening) throw EINVAL;
    const s = this.sock.state;
    return s === "SYN-SENT" || s === "SYN-RECEIVED" ? 0 : this.sock.sendQueue;
  }

  protected closeSocket(): void {
    if (this.lingerOn && this.lingerSecs === 0) this.sock.abort();
    else this.sock.close();
  }

  protected isBound(): boolean {
    return this.#bound;
  }

  protected override isListening(): boolean {
    return this.sock.isListening;
  }

  protected takeErrno(): number {
    return errnoOf(this.sock.takeError());
  }

  override familySocketOpt(_t: Task, name: number, optlen: number): Uint8Array | null {
    // SO_SNDBUF of a connection whose send buffer the application never set: what Linux's
    // tcp_sndbuf_expand makes it once established on loopback (2 * 10 segments * 131328),
    // rather than tcp_wmem's starting 16384; programs size their writes by it.
    if (name === C.SO_SNDBUF && this.sock.sendLimit === 0 && !NOT_CONNECTED.has(this.sock.state) && this.sock.state !== "SYN-RECEIVED") {
      return intBytes(Math.max(this.sndBuf, AUTOTUNED_SNDBUF), optlen);
    }
    return null;
  }

  /** tcp_set_rcvlowat: at most half of tcp_rmem's largest buffer. */
  override sockRcvlowat(v: number): number {
    return Math.min(v, TCP_RMEM_MAX >> 1);
  }

  protected override reuseChanged(): void {
    this.sharePortOptions(this.sock);
  }

  protected override sndBufChanged(): void {
    // As Linux's SOCK_SNDBUF_LOCK: an explicit SO_SNDBUF bounds the send queue from now on
    // (else it has the stack's whole queue, as autotuning would grow it), and a larger one
    // wakes a writer blocked on a full queue (sk_write_space).
    this.sock.sendLimit = this.sndBuf;
    this.net.kick();
  }

  protected override keepaliveChanged(): void {
    const k = this.keepalive ? { idle: this.#keepIdle * 1000, interval: this.#keepIntvl * 1000, count: this.#keepCnt } : null;
    this.sock.setKeepalive(k, this.net.now());
    this.net.kick();
  }

  bind(t: Task, addr: Uint8Array): void {
    const ep = parseSockaddr(this.family, addr);
    if (ep === "unspec") checkUnspecBind(this.family, addr);
    const e = ep === "unspec" ? { addr: null, port: (addr[2]! << 8) | (addr[3] ?? 0) } : ep;
    checkBindPort(t, this.net, e.port);
    if (this.#bound) throw EINVAL;
    this.reuseChanged();
    net(() => this.sock.bind(e.addr, e.port));
    this.#bound = true;
  }

  override listen(_t: Task, backlog: number): void {
    const s = this.sock.state;
    if (s !== "CLOSED" && s !== "LISTEN") throw EINVAL;
    if (this.#connecting) throw EINVAL;
    this.reuseChanged();
    net(() => this.sock.listen(Math.min(Math.max(backlog, 0), 4096) + 1));
    this.#bound = true;
    this.net.kick();
  }

  override accept(_t: Task, flags: number): TcpSocketFile {
    if (!this.sock.isListening) throw EINVAL;
    const c = net(() => this.sock.accept());
    if (c === null) throw EAGAIN;
    const f = new TcpSocketFile(this.net, this.family, flags, c);
    f.keepalive = this.keepalive;
    f.reuseAddr = this.reuseAddr;
    f.reusePort = this.reusePort;
    f.sndBuf = this.sndBuf;
    f.rcvBuf = this.rcvBuf;
    if (this.sock.sendLimit > 0) c.sendLimit = this.sock.sendLimit;
    // What Linux's sk_clone copies from the listener: keepalive times, TCP_USER_TIMEOUT,
    // TCP_LINGER2, TCP_WINDOW_CLAMP, TCP_NOTSENT_LOWAT, TCP_SYNCNT, the congestion control.
    f.#keepIdle = this.#keepIdle;
    f.#keepIntvl = this.#keepIntvl;
    f.#keepCnt = this.#keepCnt;
    f.#congestion = this.#congestion;
    for (const name of [C.TCP_USER_TIMEOUT, C.TCP_LINGER2, C.TCP_WINDOW_CLAMP, C.TCP_NOTSENT_LOWAT, C.TCP_SYNCNT]) {
      const v = this.#tcpFlags.get(name);
      if (v !== undefined) f.#tcpFlags.set(name, v);
    }
    if (f.keepalive) f.keepaliveChanged();
    this.net.kick();
    return f;
  }

  connect(_t: Task, addr: Uint8Array): void {
    const ep = this.destination(addr);
    const s = this.sock.state;
    if (ep === "unspec") {
      // connect(AF_UNSPEC) dissolves the association: the socket starts over.
      if (s !== "CLOSED" || this.#bound) {
        const old = this.sock;
        this.sock.abort();
        this.sock = this.net.stack.tcpSocket();
        // The options stay (Linux's tcp_disconnect keeps them).
        this.sock.sendLimit = old.sendLimit;
        this.sock.deferAccept = old.deferAccept;
        this.sock.cork = old.cork;
        this.sock.noDelay = old.noDelay;
        const l2 = this.#tcpFlags.get(C.TCP_LINGER2);
        if (l2 !== undefined) this.sock.finWait2Timeout = l2 < 0 ? 0 : (l2 === 0 ? 60 : l2) * 1000;
        if (this.keepalive) this.keepaliveChanged();
        this.#bound = false;
        this.#connecting = false;
        this.reuseChanged();
        this.net.kick();
      }
      return;
    }
    if (s === "SYN-SENT" || s === "SYN-RECEIVED") throw this.nonblocking ? EALREADY : EINPROGRESS;
    if (this.#connecting) {
      // An earlier connect's outcome that no connect reported yet (Linux's SS_CONNECTING):
      // this call reports it, once. Established: 0; failed: its error, or ECONNABORTED once
      // the error was taken (SO_ERROR, a read); the socket may then connect anew.
      this.#connecting = false;
      if (s !== "CLOSED") return;
      const e = this.takeErrno();
      throw e !== 0 ? errnoFromNumber(e) : ECONNABORTED;
    }
    if (s === "LISTEN") throw EISCONN;
    if (s !== "CLOSED") throw EISCONN;
    this.checkReachable(ep.addr!);
    this.net.checkAllowed(ep.addr!, ep.port);
    this.reuseChanged();
    net(() => this.sock.connect(this.net.now(), { addr: ep.addr!, port: ep.port }));
    this.#bound = true;
    this.#connecting = true;
    this.net.kick();
    if (this.nonblocking) throw EINPROGRESS;
    const r = this.connectResult();
    if (r === null) throw EINPROGRESS;
    if (r !== 0) throw errnoFromNumber(r);
  }

  override connectResult(): number | null {
    const s = this.sock.state;
    if (s === "SYN-SENT" || s === "SYN-RECEIVED") return null;
    this.#connecting = false;
    const e = this.takeErrno();
    if (e !== 0) return e;
    return s === "CLOSED" ? ECONNABORTED.errno : 0;
  }

  sendmsg(_t: Task, req: SendRequest): number {
    if (req.flags & C.MSG_OOB) throw EINVAL;
    const n = net(() => this.sock.send(req.data));
    if (n === null) throw EAGAIN;
    this.net.kick();
    return n;
  }

  override readonly streamVia = true;

  override sendVia(_t: Task, max: number, flags: number, fill: (dst: Uint8Array) => number): number {
    if (flags & C.MSG_OOB) throw EINVAL;
    // The data path: try/catch inline rather than net(), sparing a closure per call.
    let n: number | null;
    try {
      n = this.sock.sendVia(max, fill);
    } catch (e) {
      throw linuxError(e);
    }
    if (n === null) throw EAGAIN;
    this.net.kick();
    return n;
  }

  override recvVia(_t: Task, max: number, flags: number, take: (src: Uint8Array) => number): number {
    if (flags & C.MSG_OOB) throw EINVAL;
    // MSG_TRUNC: the bytes are consumed and counted, never copied (Linux's tcp_recvmsg).
    if (flags & C.MSG_TRUNC) take = (src) => src.length;
    if (this.sock.isListening) throw ENOTCONN;
    if (max === 0 || this.sock.recvQueue === 0) {
      // As recvmsg: end of stream, an error, or would-block; a zero-length read never blocks.
      const n = net(() => this.sock.recv(new Uint8Array(0)));
      if (n === null && max !== 0) throw EAGAIN;
      return 0;
    }
    let n: number;
    try {
      n = this.sock.recvVia(max, take) ?? 0;
    } catch (e) {
      throw linuxError(e);
    }
    this.net.settle(this); // a window update to send, if the window opened enough
    return n;
  }

  /**
   * A read's control messages: SO_TIMESTAMP (when data last arrived: Linux's
   * tcp_recv_timestamp), then TCP_INQ's, the bytes left to read (1 at end of stream with none,
   * as Linux's tcp_inq_hint).
   */
  #inqControl(): ControlMessages {
    const other: { level: number; type: number; data: Uint8Array }[] = [];
    if (this.socketFlag(C.SO_TIMESTAMP_OLD)) {
      const at = Number(realtimeNs()) - (monotonicNs() - this.sock.lastReceived * 1e6);
      const us = Math.floor(Math.max(0, at) / 1000);
      const tv = new Uint8Array(16);
      new DataView(tv.buffer).setBigInt64(0, BigInt(Math.floor(us / 1e6)), true);
      new DataView(tv.buffer).setBigInt64(8, BigInt(us % 1e6), true);
      other.push({ level: C.SOL_SOCKET, type: C.SO_TIMESTAMP_OLD, data: tv });
    }
    if (this.#tcpFlags.get(C.TCP_INQ)) {
      let inq = this.sock.recvQueue;
      if (inq === 0 && (PEER_DONE.has(this.sock.state) || this.sock.state === "CLOSED")) inq = 1;
      other.push({ level: C.IPPROTO_TCP, type: C.TCP_INQ, data: intBytes(inq, 4) });
    }
    return other.length === 0 ? {} : { other };
  }

  override viaControl(): ControlMessages | null {
    return this.#tcpFlags.get(C.TCP_INQ) || this.socketFlag(C.SO_TIMESTAMP_OLD) ? this.#inqControl() : null;
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    if (req.flags & C.MSG_OOB) throw EINVAL;
    if (this.sock.isListening) throw ENOTCONN;
    const avail = this.sock.recvQueue;
    if (req.maxLen === 0 || avail === 0) {
      // Nothing queued: end of stream, an error, or would-block. recv into nothing consumes
      // nothing and says which.
      const n = net(() => this.sock.recv(new Uint8Array(0)));
      if (n === null && req.maxLen !== 0) throw EAGAIN;
      return { data: new Uint8Array(0), fullLength: 0, from: null, control: {}, msgFlags: 0 };
    }
    const buf = new Uint8Array(Math.min(req.maxLen, avail));
    let n: number;
    if (req.flags & C.MSG_PEEK) n = this.sock.peek(buf);
    else {
      n = net(() => this.sock.recv(buf)) ?? 0;
      this.net.settle(this); // a window update to send, if the window opened enough
    }
    const data = n === buf.length ? buf : buf.subarray(0, n);
    return { data, fullLength: n, from: null, control: this.#inqControl(), msgFlags: 0 };
  }

  override shutdown(_t: Task, how: number): void {
    if (how !== C.SHUT_RD && how !== C.SHUT_WR && how !== C.SHUT_RDWR) throw EINVAL;
    if (this.sock.isListening) {
      if (how === C.SHUT_WR) return;
    } else if (this.sock.state === "CLOSED" || this.sock.state === "TIME-WAIT") {
      // A connection in TIME-WAIT is closed as far as its socket goes (Linux hands it to a
      // timewait bucket and the socket is TCP_CLOSE).
      throw ENOTCONN;
    }
    net(() => this.sock.shutdown(how === C.SHUT_RD ? "read" : how === C.SHUT_WR ? "write" : "both"));
    this.net.kick();
  }

  getsockname(_t: Task): Uint8Array {
    return formatSockaddr(this.family, this.sock.localAddr, this.sock.localPort);
  }

  override getpeername(_t: Task): Uint8Array {
    const r = this.sock.remote;
    if (r === null || NOT_CONNECTED.has(this.sock.state)) throw ENOTCONN;
    return formatSockaddr(this.family, r.addr, r.port);
  }

  override acceptedPeer(t: Task): Uint8Array {
    const r = this.sock.remote;
    return r === null ? this.getpeername(t) : formatSockaddr(this.family, r.addr, r.port);
  }

  #applyNoDelay(): void {
    // TCP_CORK holds partial segments until uncorked (netstack's cork); TCP_NODELAY then
    // applies again.
    this.sock.noDelay = this.#noDelay && !this.#cork;
    this.sock.cork = this.#cork;
    this.net.kick();
  }

  protected override getProtocolOpt(level: number, name: number, optlen: number): Uint8Array {
    if (level !== C.IPPROTO_TCP) throw ENOPROTOOPT;
    switch (name) {
      case C.TCP_NODELAY:
        return intBytes(this.#noDelay ? 1 : 0, optlen);
      case C.TCP_CORK:
        return intBytes(this.#cork ? 1 : 0, optlen);
      case C.TCP_KEEPIDLE:
        return intBytes(this.#keepIdle, optlen);
      case C.TCP_KEEPINTVL:
        return intBytes(this.#keepIntvl, optlen);
      case C.TCP_KEEPCNT:
        return intBytes(this.#keepCnt, optlen);
      case C.TCP_MAXSEG: {
        const s = this.sock.state;
        return intBytes(NOT_CONNECTED.has(s) ? 536 : this.sock.negotiated.mss, optlen);
      }
      case C.TCP_INFO:
        return this.#tcpInfo().subarray(0, Math.min(TCP_INFO_LEN, optlen));
      case C.TCP_CONGESTION: {
        const b = new Uint8Array(16);
        b.set(new TextEncoder().encode(this.#congestion));
        return b.subarray(0, Math.min(16, optlen));
      }
      case C.TCP_SYNCNT:
        return intBytes(this.#tcpFlags.get(name) ?? 6, optlen);
      case C.TCP_LINGER2: {
        // Linux keeps -1, or a time in which 0 means net.ipv4.tcp_fin_timeout (60 s).
        const v = this.#tcpFlags.get(name) ?? 0;
        return intBytes(v < 0 ? -1 : v === 0 ? 60 : v, optlen);
      }
      case C.TCP_QUICKACK:
        return intBytes(this.#tcpFlags.get(name) ?? 1, optlen);
      case C.TCP_DEFER_ACCEPT:
        return intBytes(retransToSecs(this.sock.deferAccept), optlen);
      case C.TCP_WINDOW_CLAMP:
      case C.TCP_USER_TIMEOUT:
      case C.TCP_FASTOPEN:
      case C.TCP_NOTSENT_LOWAT:
      case C.TCP_INQ:
        return intBytes(this.#tcpFlags.get(name) ?? 0, optlen);
      default:
        throw ENOPROTOOPT;
    }
  }

  protected override setProtocolOpt(level: number, name: number, value: Uint8Array): void {
    if (level !== C.IPPROTO_TCP) throw ENOPROTOOPT;
    if (name === C.TCP_CONGESTION) {
      const s = new TextDecoder().decode(value).replace(/\0.*$/s, "");
      if (s !== "reno" && s !== "cubic") throw ENOENT;
      this.#congestion = s;
      return;
    }
    const n = intOpt(value);
    switch (name) {
      case C.TCP_NODELAY:
        this.#noDelay = n !== 0;
        this.#applyNoDelay();
        return;
      case C.TCP_CORK:
        this.#cork = n !== 0;
        this.#applyNoDelay();
        return;
      case C.TCP_KEEPIDLE:
      case C.TCP_KEEPINTVL:
        if (n < 1 || n > 32767) throw EINVAL;
        if (name === C.TCP_KEEPIDLE) this.#keepIdle = n;
        else this.#keepIntvl = n;
        if (this.keepalive) this.keepaliveChanged();
        return;
      case C.TCP_KEEPCNT:
        if (n < 1 || n > 127) throw EINVAL;
        this.#keepCnt = n;
        if (this.keepalive) this.keepaliveChanged();
        return;
      case C.TCP_MAXSEG:
        if (n !== 0 && (n < 88 || n > 32767)) throw EINVAL;
        return;
      case C.TCP_SYNCNT:
        if (n < 1 || n > 127) throw EINVAL;
        this.#tcpFlags.set(name, n);
        return;
      case C.TCP_INQ:
        if (n < 0 || n > 1) throw EINVAL;
        this.#tcpFlags.set(name, n);
        return;
      case C.TCP_DEFER_ACCEPT:
        // Seconds as SYN-ACK retransmissions, as Linux's secs_to_retrans (a negative is none).
        this.sock.deferAccept = secsToRetrans(n);
        return;
      case C.TCP_LINGER2:
        // Linux's do_tcp_setsockopt: negative is -1, above TCP_FIN_TIMEOUT_MAX (120 s) is that.
        this.#tcpFlags.set(name, n < 0 ? -1 : Math.min(n, 120));
        // How long the closed connection may wait in FIN-WAIT-2: 0 is tcp_fin_timeout's 60 s,
        // -1 none (Linux resets at once).
        this.sock.finWait2Timeout = n < 0 ? 0 : (n === 0 ? 60 : Math.min(n, 120)) * 1000;
        return;
      case C.TCP_WINDOW_CLAMP: {
        // Linux's tcp_set_window_clamp: 0 only before a connection (EINVAL after), and at
        // least SOCK_MIN_RCVBUF / 2.
        if (n === 0) {
          if (this.sock.state !== "CLOSED") throw EINVAL;
          this.#tcpFlags.delete(name);
          return;
        }
        this.#tcpFlags.set(name, n < 1152 ? 1152 : n);
        return;
      }
      case C.TCP_QUICKACK:
      case C.TCP_USER_TIMEOUT:
      case C.TCP_FASTOPEN:
      case C.TCP_NOTSENT_LOWAT:
        if (n < 0) throw EINVAL;
        this.#tcpFlags.set(name, n);
        return;
      default:
        throw ENOPROTOOPT;
    }
  }

  /** struct tcp_info, the fields netstack knows filled in. */
  #tcpInfo(): Uint8Array {
    const b = new Uint8Array(TCP_INFO_LEN);
    const v = new DataView(b.buffer);
    const i = this.sock.info();
    const neg = this.sock.negotiated;
    b[0] = C.TCP_STATE_NUMBER[i.state] ?? 7;
    b[2] = Math.min(255, i.retransmits);
    const connected = !NOT_CONNECTED.has(i.state);
    if (connected) b[5] = (neg.timestamps ? 1 : 0) | (neg.sack ? 2 : 0) | (neg.windowScale ? 4 : 0);
    const u32 = (off: number, x: number) => v.setUint32(off, Math.max(0, Math.min(0xffffffff, Math.round(x))), true);
    u32(8, i.rto * 1000); // tcpi_rto, µs
    u32(12, 40_000); // tcpi_ato
    u32(16, i.sndMss); // tcpi_snd_mss
    u32(20, i.rcvMss); // tcpi_rcv_mss
    u32(24, i.sndMss > 0 ? Math.ceil(i.inFlight / i.sndMss) : 0); // tcpi_unacked
    u32(60, 65536); // tcpi_pmtu (loopback)
    u32(64, i.rcvWnd); // tcpi_rcv_ssthresh
    u32(68, (i.srtt ?? 0) * 1000); // tcpi_rtt
    u32(72, ((i.srtt ?? 0) * 1000) / 2); // tcpi_rttvar (approximate)
    u32(76, Math.min(0x7fffffff, i.sndMss > 0 ? i.ssthresh / i.sndMss : 0)); // tcpi_snd_ssthresh
    u32(80, i.sndMss > 0 ? i.cwnd / i.sndMss : 0); // tcpi_snd_cwnd, segments
    u32(84, i.rcvMss); // tcpi_advmss
    u32(88, 3); // tcpi_reordering
    u32(96, i.rcvWnd); // tcpi_rcv_space
    u32(100, i.retransmits); // tcpi_total_retrans
    u32(228, i.sndWnd); // tcpi_snd_wnd
    return b;
  }
}
