/**
 * UDP sockets (RFC 768): bind, connect, sendto/recvfrom over bounded
 * datagram queues. The stack drains the send queue in `dispatch` and fills
 * the receive queue through `deliver`.
 *
 * @module
 */

import type { IpAddress, Ipv4Address } from "../wire/address.ts";
import { EAFNOSUPPORT, EDESTADDRREQ, EHOSTUNREACH, EINVAL, EMSGSIZE, ENETUNREACH, ENOTCONN, type NetError, netErrorByCode } from "../errors.ts";

/**
 * The error for a peer of the other IP version than the bound address: from an IPv6 address
 * IPv4 is unreachable (ENETUNREACH); from an IPv4 (v4-mapped) one IPv6 is another family
 * (EAFNOSUPPORT), as Linux answers on a dual-stack socket.
 */
export function familyMismatch(local: IpAddress): NetError {
  return local.version === 6 ? ENETUNREACH : EAFNOSUPPORT;
}
import { parseIpAddress } from "../wire/address.ts";

/** An address and port. */
export interface UdpEndpoint {
  addr: IpAddress;
  port: number;
}

/** What a UDP socket needs from its stack. */
export interface UdpHost {
  udpBind(sock: UdpSocket, addr: IpAddress | null, port: number): number;
  udpUnbind(sock: UdpSocket): void;
  /** Gives back `sock`'s port, which stays open (a disconnect). */
  udpReleasePort?(sock: UdpSocket): void;
  /** Source address and MTU towards `dst` (a multicast group: by `sock`'s multicast options). */
  udpRoute(dst: IpAddress, sock?: UdpSocket): { src: IpAddress; mtu: number } | null;
}

/** A queued datagram. */
export interface Datagram {
  src: UdpEndpoint;
  dst: UdpEndpoint;
  data: Uint8Array;
  /** The IP header's TTL (hop limit) and TOS (traffic class): as sent, or as received. */
  ttl?: number | undefined;
  tos?: number | undefined;
  /** When it arrived, on the stack's clock (ms); not saved by a checkpoint (a clock value). */
  at?: number | undefined;
  /** UDP-Lite: the coverage field it is sent with (0: all), chosen at send. */
  field?: number | undefined;
}

/** An ICMP error about a datagram this socket sent, queued for recvmsg(MSG_ERRQUEUE). */
export interface QueuedError {
  errno: NetError;
  /** The ICMP type and code, and who sent the error. */
  type: number;
  code: number;
  offender: IpAddress;
  /** The datagram's destination and what the error quoted of its payload. */
  dst: UdpEndpoint;
  payload: Uint8Array;
  /** A local error (SO_EE_ORIGIN_LOCAL: a datagram too large) with its ee_info (the MTU). */
  local?: { info: number } | undefined;
}

/** What IP said of a datagram beside its addresses (IP_RECVTTL, IP_RECVTOS), and when it came. */
export interface DatagramMeta {
  ttl?: number | undefined;
  tos?: number | undefined;
  at?: number | undefined;
  /** The IP packet that carried it, when it came through IP (a socket filter reads it). */
  packet?: Uint8Array | undefined;
  /** Its UDP header and payload within that packet. */
  segment?: Uint8Array | undefined;
  /** UDP-Lite: its checksum coverage, and whether that is less than the datagram. */
  coverage?: number | undefined;
  partial?: boolean | undefined;
}

/**
 * A socket filter's verdict on an arriving datagram (the owner's SO_ATTACH_FILTER): the bytes of
 * its payload to queue, or -1 to drop it.
 */
export type UdpFilter = (src: UdpEndpoint, dst: UdpEndpoint, payload: Uint8Array, meta: DatagramMeta) => number;

/**
 * The memory a received datagram of `len` bytes takes against SO_RCVBUF, after Linux's
 * skb->truesize on loopback: its data, headers and shared info in a power-of-two allocation,
 * plus the sk_buff.
 */
export function truesize(len: number): number {
  const need = len + 28 + 32 + 320;
  let alloc = 512;
  while (alloc < need) alloc *= 2;
  return alloc + 256;
}

/** Errors queued at most (an error queue counts against the receive buffer on Linux). */
const ERR_QUEUE_MAX = 64;

/** Largest UDP payload over IPv4 (65535 - 20 - 8). */
export const UDP_MAX_PAYLOAD = 65507;

/** What the stack does with a datagram the socket wants sent. */
export type UdpEmit = (d: Datagram) => boolean;

export interface UdpOptions {
  /** Bytes of payload queued for reading before arrivals are dropped. */
  rxQueueBytes?: number;
  /** Bytes of payload queued for sending before sendTo would block. */
  txQueueBytes?: number;
  /** A UDP-Lite socket (RFC 3828): ports of its own, partial checksum coverage. */
  lite?: boolean;
}

/** A datagram as plain data: addresses as text. */
export interface DatagramSnapshot {
  src: { addr: string; port: number };
  dst: { addr: string; port: number };
  data: Uint8Array<ArrayBuffer>;
  ttl?: number | undefined;
  tos?: number | undefined;
}

/** A UDP socket's state as plain data, for a checkpoint (kernel/checkpoint/inet_sockets.ts). */
export interface UdpSnapshot {
  localAddr: string | null;
  localPort: number;
  bound: boolean;
  wildcardVersion: 0 | 4 | 6;
  reuseAddr: boolean;
  reusePort: boolean;
  /** SO_BINDTODEVICE's interface (absent: none). */
  boundDevice?: number | undefined;
  remote: { addr: string; port: number } | null;
  rx: DatagramSnapshot[];
  tx: DatagramSnapshot[];
  rxLimit: number;
  txLimit: number;
  error: string | null;
  drops: number;
  /** bind named its port (absent: no). */
  portLocked?: boolean | undefined;
  /** IP_RECVERR, and the queued errors (absent: off, none). */
  recvErr?: boolean | undefined;
  errQueue?: {
    errno: string; type: number; code: number; offender: string; dst: { addr: string; port: number }; payload: Uint8Array<ArrayBuffer>;
    localInfo?: number | undefined;
  }[] | undefined;
  /** Multicast options (absent: the defaults). */
  multicast?: { loop: boolean; ifIndex: number; ifAddr: string | null; groups: [string, number][] } | undefined;
}

/** @savable */
export class UdpSocket {
  readonly #host: UdpHost;
  #localAddr: IpAddress | null = null;
  #localPort = 0;
  #bound = false;
  /** bind named its port (Linux's SOCK_BINDPORT_LOCK): a disconnect keeps it. */
  #portLocked = false;
  /** As TcpSocket.wildcardVersion: the IP version a wildcard-bound socket serves (0: both). */
  wildcardVersion: 0 | 4 | 6 = 0;
  /** SO_REUSEADDR / SO_REUSEPORT: may share a port with sockets that set the same option. */
  reuseAddr = false;
  reusePort = false;
  /** As TcpSocket.boundDevice: SO_BINDTODEVICE's interface, -1 for any. */
  boundDevice = -1;
  #remote: UdpEndpoint | null = null;
  #rx: Datagram[] = [];
  #rxBytes = 0;
  #tx: Datagram[] = [];
  #txBytes = 0;
  /** Immutable. */
  /** SO_RCVBUF: the receive queue takes datagrams while its memory (truesize) is within it. */
  #rxLimit: number;
  /** Immutable. */
  readonly #txLimit: number;
  #error: NetError | null = null;
  #closed = false;
  /** Datagrams dropped because the receive queue was full. */
  drops = 0;
  /** Run on each datagram before it is queued (Linux's sk_filter in udp_queue_rcv_one_skb). */
  filter: UdpFilter | null = null;
  /** IP_RECVERR / IPV6_RECVERR: ICMP errors are queued (queueError) besides setting SO_ERROR. */
  recvErr = false;
  /** The error queue (MSG_ERRQUEUE). */
  #errQueue: QueuedError[] = [];
  /** IP_MULTICAST_LOOP: multicast it sends is delivered to this host's members too. */
  multicastLoop = true;
  /** IP_MULTICAST_IF: the interface (stack index; -1: none) and address multicast leaves by. */
  multicastIf = -1;
  multicastIfAddr: IpAddress | null = null;
  /** IP_ADD_MEMBERSHIP: the groups joined, each on an interface (stack index). */
  groups: { group: IpAddress; iface: number }[] = [];
  /** Immutable. UDP-Lite (IPPROTO_UDPLITE) rather than UDP. */
  readonly lite: boolean;
  /**
   * UDPLITE_SEND_CSCOV and UDPLITE_RECV_CSCOV (Linux's pcslen and pcrlen), -1 while unset
   * (Linux's UDPLITE_SEND_CC and UDPLITE_RECV_CC flags clear): the coverage to send, and the
   * least coverage a partially covered arrival needs (0: none is taken).
   */
  sendCoverage = -1;
  recvCoverage = -1;

  constructor(host: UdpHost, opts: UdpOptions = {}) {
    this.#host = host;
    this.lite = opts.lite ?? false;
    this.#rxLimit = opts.rxQueueBytes ?? 212992;
    this.#txLimit = opts.txQueueBytes ?? 256 * 1024;
  }

  get localAddr(): IpAddress | null {
    return this.#localAddr;
  }
  get localPort(): number {
    return this.#localPort;
  }
  get remote(): UdpEndpoint | null {
    return this.#remote;
  }

  /** Implements bind(2). */
  bind(addr: IpAddress | null, port: number): void {
    if (this.#bound) throw EINVAL;
    this.#localPort = this.#host.udpBind(this, addr, port);
    this.#localAddr = addr;
    this.#bound = true;
    this.#portLocked = port !== 0;
  }

  /** Implements connect(2): fixes the default destination and filters arrivals. */
  connect(remote: UdpEndpoint): void {
    if (this.#localAddr !== null && this.#localAddr.version !== remote.addr.version) throw familyMismatch(this.#localAddr);
    const route = this.#host.udpRoute(remote.addr, this);
    if (route === null) throw remote.addr.isMulticast ? ENETUNREACH : EHOSTUNREACH;
    if (!this.#bound) this.bind(this.#localAddr, 0); // the address a disconnect kept, if any
    this.#remote = { addr: remote.addr, port: remote.port };
  }

  /**
   * Dissolves the association (connect with AF_UNSPEC), and gives back a port it did not name
   * in bind (Linux's __udp_disconnect without SOCK_BINDPORT_LOCK); a bound address stays.
   */
  disconnect(): void {
    this.#remote = null;
    if (this.#bound && !this.#portLocked && this.#host.udpReleasePort) {
      this.#host.udpReleasePort(this);
      this.#bound = false;
      this.#localPort = 0;
    }
  }

  /**
   * Queues one datagram; returns its length, or null if the send queue is
   * full (would block). Implements sendto(2).
   */
  sendTo(data: Uint8Array, dst?: UdpEndpoint, meta: DatagramMeta = {}): number | null {
    if (this.#error) throw this.#takeError();
    const to = dst ?? this.#remote;
    if (to === null) throw this.#bound ? EDESTADDRREQ : ENOTCONN;
    if (data.length > UDP_MAX_PAYLOAD) throw EMSGSIZE;
    if (this.#localAddr !== null && this.#localAddr.version !== to.addr.version) throw familyMismatch(this.#localAddr);
    // A dual-stack socket connected to an IPv4 (v4-mapped) peer took an IPv4 source at connect
    // (Linux sets rcv_saddr there): an IPv6 destination from it is EAFNOSUPPORT
    // (ip6_dst_lookup_tail). The other way round Linux sends, through udp_sendmsg.
    if (this.#localAddr === null && this.#remote !== null && this.#remote.addr.version === 4 && to.addr.version === 6 && !to.addr.isUnspecified) {
      throw EAFNOSUPPORT;
    }
    const route = this.#host.udpRoute(to.addr, this);
    if (route === null) throw to.addr.isMulticast || (to.addr.version === 4 && (to.addr as Ipv4Address).isBroadcast) ? ENETUNREACH : EHOSTUNREACH;
    if (!this.#bound) this.bind(this.#localAddr, 0); // the address a disconnect kept, if any
    if (this.#txBytes + data.length > this.#txLimit && this.#tx.length > 0) return null;
    const local = this.#localAddr !== null && !this.#localAddr.isMulticast ? this.#localAddr : null;
    const src = { addr: local ?? route.src, port: this.#localPort };
    const d: Datagram = { src, dst: { addr: to.addr, port: to.port }, data: data.slice(), ttl: meta.ttl, tos: meta.tos };
    if (this.lite) d.field = this.#coverageField(data.length);
    this.#tx.push(d);
    this.#txBytes += data.length;
    return data.length;
  }

  /**
   * Takes the next datagram, copying up to `into.length` bytes. Returns the
   * sender, bytes copied and whether the datagram was truncated, or null if
   * none is queued. Implements recvfrom(2).
   */
  recvFrom(into: Uint8Array): { from: UdpEndpoint; length: number; truncated: boolean; to: UdpEndpoint; meta: DatagramMeta } | null {
    const d = this.#rx.shift();
    if (!d) {
      if (this.#error) throw this.#takeError();
      return null;
    }
    this.#rxBytes -= truesize(d.data.length);
    const n = Math.min(into.length, d.data.length);
    into.set(d.data.subarray(0, n));
    return { from: d.src, length: n, truncated: n < d.data.length, to: d.dst, meta: { ttl: d.ttl, tos: d.tos, at: d.at } };
  }

  /** SO_RCVBUF (doubled, as Linux keeps it): the receive queue's memory limit. */
  set receiveLimit(n: number) {
    this.#rxLimit = Math.max(1024, Math.min(64 << 20, Math.floor(n))); // within what a checkpoint takes
  }

  /** Datagrams waiting to be read. */
  get queued(): number {
    return this.#rx.length;
  }

  /** The payload length of the next datagram, 0 if none (FIONREAD). */
  get nextLength(): number {
    return this.#rx[0]?.data.length ?? 0;
  }

  /** Payload bytes waiting to be sent (TIOCOUTQ). */
  get sendQueued(): number {
    return this.#txBytes;
  }

  /** Returns and clears the pending error. Implements getsockopt(SO_ERROR). */
  takeError(): NetError | null {
    const e = this.#error;
    this.#error = null;
    return e;
  }

  readiness(): { readable: boolean; writable: boolean; hup: boolean; error: boolean } {
    return {
      readable: this.#rx.length > 0 || this.#error !== null,
      writable: this.#txBytes < this.#txLimit,
      hup: false,
      // A pending error or a queued one (Linux's datagram_poll).
      error: this.#error !== null || this.#errQueue.length > 0,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rx = [];
    this.#tx = [];
    if (this.#bound) this.#host.udpUnbind(this);
    this.#bound = false;
  }

  get closed(): boolean {
    return this.#closed;
  }

  // --- Host side. ---

  /** Whether a datagram from `src` to `dst` is for this socket (port already matched). */
  accepts(src: UdpEndpoint, dst: IpAddress): boolean {
    if (this.#closed) return false;
    if (this.#localAddr !== null && !this.#localAddr.equals(dst) && !dst.isMulticast) {
      if (!(dst.version === 4 && dst.isBroadcast)) return false;
    }
    if (this.#localAddr === null && this.wildcardVersion !== 0 && this.wildcardVersion !== dst.version) return false;
    if (this.#remote && (!this.#remote.addr.equals(src.addr) || this.#remote.port !== src.port)) return false;
    return true;
  }

  /**
   * UDP-Lite's coverage field for a payload of `n` bytes, as Linux's udplite_sender_cscov: the
   * datagram's length, or UDPLITE_SEND_CSCOV's value when set below it (0 stays 0: all).
   */
  #coverageField(n: number): number {
    const len = 8 + n;
    return this.sendCoverage >= 0 && this.sendCoverage < len ? this.sendCoverage : len;
  }

  /** Queues an arrival (copied); false if the receive queue is full. */
  deliver(src: UdpEndpoint, dst: UdpEndpoint, payload: Uint8Array, meta: DatagramMeta = {}): boolean {
    // UDPLITE_RECV_CSCOV refuses a partially covered datagram below it, or any with 0 (Linux's
    // udp_queue_rcv_one_skb); a fully covered one always passes.
    if (this.lite && this.recvCoverage >= 0 && meta.partial === true && (this.recvCoverage === 0 || (meta.coverage ?? 0) < this.recvCoverage)) {
      this.drops++;
      return false;
    }
    if (this.filter !== null) {
      const keep = this.filter(src, dst, payload, meta);
      if (keep < 0) {
        this.drops++;
        return false;
      }
      if (keep < payload.length) payload = payload.subarray(0, keep);
    }
    // As Linux's __udp_enqueue_schedule_skb: taken while the queue's memory is within the
    // limit (the datagram that crosses it included), each counted with its buffer overhead.
    if (this.#rxBytes > this.#rxLimit) {
      this.drops++;
      return false;
    }
    this.#rx.push({ src, dst, data: payload.slice(), ttl: meta.ttl, tos: meta.tos, at: meta.at });
    this.#rxBytes += truesize(payload.length);
    return true;
  }

  /** Records an ICMP-reported error (e.g. port unreachable) for a connected socket. */
  reportError(e: NetError): void {
    if (this.#remote) this.#error = e;
  }

  /** Queues an ICMP error (IP_RECVERR) and makes it the pending error, as Linux's ip_icmp_error. */
  queueError(q: QueuedError): void {
    if (this.#errQueue.length >= ERR_QUEUE_MAX) return;
    this.#errQueue.push(q);
    // A local error is only queued (Linux's ipv6_local_error leaves sk_err alone).
    if (!q.local) this.#error = q.errno;
  }

  /**
   * Takes the oldest queued error, or null; the pending error becomes the next one's, or none
   * (Linux's sock_dequeue_err_skb).
   */
  takeQueuedError(): QueuedError | null {
    const q = this.#errQueue.shift() ?? null;
    if (q !== null && !q.local) this.#error = this.#errQueue.find((e) => !e.local)?.errno ?? null;
    return q;
  }

  pollAt(now: number): number | null {
    return this.#tx.length > 0 ? now : null;
  }

  /** Hands queued datagrams to `emit` until it refuses one. */
  dispatch(_now: number, emit: UdpEmit): boolean {
    let sent = false;
    while (this.#tx.length > 0) {
      const d = this.#tx[0]!;
      if (!emit(d)) break;
      this.#tx.shift();
      this.#txBytes -= d.data.length;
      sent = true;
    }
    return sent;
  }

  // --- Checkpoint. ---

  /** The socket as plain data (a closed socket is never saved: nothing holds it). */
  snapshot(): UdpSnapshot {
    const ep = (e: UdpEndpoint) => ({ addr: e.addr.toString(), port: e.port });
    const dg = (d: Datagram): DatagramSnapshot => ({
      src: ep(d.src), dst: ep(d.dst), data: d.data.slice(),
      ...(d.ttl === undefined ? {} : { ttl: d.ttl }), ...(d.tos === undefined ? {} : { tos: d.tos }),
    });
    return {
      localAddr: this.#localAddr?.toString() ?? null,
      localPort: this.#localPort,
      bound: this.#bound,
      wildcardVersion: this.wildcardVersion,
      reuseAddr: this.reuseAddr,
      reusePort: this.reusePort,
      ...(this.boundDevice !== -1 ? { boundDevice: this.boundDevice } : {}),
      remote: this.#remote === null ? null : ep(this.#remote),
      rx: this.#rx.map(dg),
      tx: this.#tx.map(dg),
      rxLimit: this.#rxLimit,
      txLimit: this.#txLimit,
      error: this.#error?.code ?? null,
      drops: this.drops,
      ...(this.#portLocked ? { portLocked: true } : {}),
      ...(this.recvErr ? { recvErr: true } : {}),
      ...(this.#errQueue.length === 0 ? {} : {
        errQueue: this.#errQueue.map((q) => ({
          errno: q.errno.code, type: q.type, code: q.code, offender: q.offender.toString(), dst: ep(q.dst), payload: q.payload.slice(),
          ...(q.local ? { localInfo: q.local.info } : {}),
        })),
      }),
      ...(this.multicastLoop && this.multicastIf === -1 && this.multicastIfAddr === null && this.groups.length === 0 ? {} : {
        multicast: {
          loop: this.multicastLoop, ifIndex: this.multicastIf, ifAddr: this.multicastIfAddr?.toString() ?? null,
          groups: this.groups.map((g): [string, number] => [g.group.toString(), g.iface]),
        },
      }),
    };
  }

  /**
   * Takes a snapshot back into this socket, new from its host's udpSocket with the snapshot's
   * limits, then its port from the host. Throws RangeError for queues past their limits or an
   * unknown error, or the host's EADDRINUSE/EADDRNOTAVAIL.
   */
  restore(s: UdpSnapshot): void {
    const bad = (why: string) => new RangeError(`UDP socket ${s.localAddr ?? "*"}:${s.localPort}: ${why}`);
    if (this.#bound || this.#closed) throw bad("restored twice");
    if (s.txLimit !== this.#txLimit) throw bad("made with other limits");
    this.#rxLimit = s.rxLimit;
    const bytes = (q: DatagramSnapshot[]) => q.reduce((n, d) => n + d.data.length, 0);
    const rxBytes = s.rx.reduce((n, d) => n + truesize(d.data.length), 0), txBytes = bytes(s.tx);
    if (rxBytes > this.#rxLimit + truesize(UDP_MAX_PAYLOAD) || txBytes > this.#txLimit + UDP_MAX_PAYLOAD) {
      throw bad("a queue holds more than its limit");
    }
    if (s.tx.some((d) => d.data.length > UDP_MAX_PAYLOAD)) throw bad("a datagram too large");
    if (!s.bound && (s.localPort !== 0 || s.rx.length > 0 || s.tx.length > 0 || s.remote !== null)) throw bad("traffic without a port");
    let error: NetError | null = null;
    if (s.error !== null) {
      error = netErrorByCode(s.error);
      if (error === null) throw bad(`an unknown error ${s.error}`);
    }
    const ep = (e: { addr: string; port: number }): UdpEndpoint => ({ addr: parseIpAddress(e.addr), port: e.port });
    const dg = (d: DatagramSnapshot): Datagram => ({ src: ep(d.src), dst: ep(d.dst), data: d.data.slice(), ttl: d.ttl, tos: d.tos });
    this.#localAddr = s.localAddr === null ? null : parseIpAddress(s.localAddr);
    this.wildcardVersion = s.wildcardVersion;
    this.reuseAddr = s.reuseAddr;
    this.reusePort = s.reusePort;
    this.boundDevice = s.boundDevice ?? -1;
    this.#remote = s.remote === null ? null : ep(s.remote);
    this.#rx = s.rx.map(dg);
    this.#rxBytes = rxBytes;
    this.#tx = s.tx.map(dg);
    this.#txBytes = txBytes;
    this.#error = error;
    this.drops = s.drops;
    this.#portLocked = s.portLocked ?? false;
    this.recvErr = s.recvErr ?? false;
    this.#errQueue = (s.errQueue ?? []).map((q) => {
      const errno = netErrorByCode(q.errno);
      if (errno === null) throw bad(`an unknown queued error ${q.errno}`);
      return {
        errno, type: q.type, code: q.code, offender: parseIpAddress(q.offender), dst: ep(q.dst), payload: q.payload.slice(),
        local: q.localInfo === undefined ? undefined : { info: q.localInfo },
      };
    });
    if (s.multicast) {
      this.multicastLoop = s.multicast.loop;
      this.multicastIf = s.multicast.ifIndex;
      this.multicastIfAddr = s.multicast.ifAddr === null ? null : parseIpAddress(s.multicast.ifAddr);
      this.groups = s.multicast.groups.map(([g, i]) => ({ group: parseIpAddress(g), iface: i }));
      if (this.groups.some((g) => !g.group.isMulticast)) throw bad("a group that is no multicast address");
    }
    if (s.bound) {
      this.#localPort = this.#host.udpBind(this, this.#localAddr, s.localPort);
      this.#bound = true;
    }
  }

  #takeError(): NetError {
    const e = this.#error!;
    this.#error = null;
    return e;
  }
}
