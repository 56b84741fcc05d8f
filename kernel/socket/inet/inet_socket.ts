/**
 * What the AF_INET / AF_INET6 socket files share: the netstack glue (error mapping, readiness
 * to poll events and wait-queue notification after each stack round), the socket options
 * every inet socket has (SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6), and read/write as recv/send.
 *
 * Each file is a {@linkcode NetWatcher}: after every poll round of the stack (kernel/net.ts)
 * it recomputes its events and notifies its wait queue when they changed or more data
 * arrived, which is what blocked syscalls, poll and epoll wait for.
 *
 * @module
 */

import { type IpAddress, Ipv4Address, Ipv6Address, NetError } from "../../../netstack/mod.ts";
import * as errno from "../../errno.ts";
import { EAGAIN, EINVAL, ENETUNREACH, ENOPROTOOPT, LinuxError } from "../../errno.ts";
import type { Net, NetWatcher } from "../../net.ts";
import type { Task } from "../../task.ts";
import { O_NONBLOCK, O_RDWR } from "../../../abi/linux/file.ts";
import {
  EVENT_ERR,
  EVENT_HUP,
  EVENT_IN,
  EVENT_OUT,
  EVENT_RDHUP,
  EVENT_RDNORM,
  EVENT_WRNORM,
} from "../../../waiter/mod.ts";
import { type RecvRequest, type RecvResult, type SendRequest, SocketFile } from "../socket.ts";
import * as C from "./constants.ts";
import { SIOCINQ, SIOCOUTQ } from "../../../abi/linux/socket.ts";
import type { MemoryIO } from "../../../vfs/file_description.ts";
import { CAP_NET_BIND_SERVICE } from "../../../abi/linux/capability.ts";
import { type Endpoint, parseSockaddr } from "./sockaddr.ts";
import { isXtOption } from "../../netfilter/sockopt.ts";
import type { XtFamily } from "../../netfilter/x_tables.ts";
import type { UserNamespace } from "../../user_namespace.ts";

/** A netstack error as the application's errno; other exceptions pass through. */
export function linuxError(e: unknown): unknown {
  if (e instanceof NetError) {
    const le = (errno as unknown as Record<string, unknown>)[e.code];
    return le instanceof LinuxError ? le : EINVAL;
  }
  return e;
}

/** SO_ERROR's value for a netstack socket's pending error (taken by the caller): 0 for none. */
export function errnoOf(e: NetError | null): number {
  return e === null ? 0 : (linuxError(e) as LinuxError).errno;
}

/** What a netstack socket keeps of SO_REUSEADDR, SO_REUSEPORT and IPV6_V6ONLY for port checks. */
export interface PortSharing {
  reuseAddr: boolean;
  reusePort: boolean;
  wildcardVersion: 0 | 4 | 6;
  /** SO_BINDTODEVICE as a stack index, -1 for none. */
  boundDevice: number;
}

/** Runs f, turning netstack errors into LinuxErrors. */
/** Linux's ip_unprivileged_port_start (fixed here): lower ports need CAP_NET_BIND_SERVICE. */
export const UNPRIVILEGED_PORT_START = 1024;

/**
 * __inet_bind's and __inet6_bind's port rule: a port below 1024 (0 picks one) needs
 * CAP_NET_BIND_SERVICE over the socket's network namespace's owner; EACCES otherwise.
 */
export function checkBindPort(t: Task, n: Net, port: number): void {
  if (port !== 0 && port < UNPRIVILEGED_PORT_START && !t.creds.capableIn(n.owner, CAP_NET_BIND_SERVICE)) throw errno.EACCES;
}

export function net<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw linuxError(e);
  }
}

/** The state of readiness a family reports, before it becomes poll bits. */
export interface NetReadiness {
  readable: boolean;
  writable: boolean;
  hup: boolean;
  error: boolean;
  /** The peer will send no more (EPOLLRDHUP). */
  rdhup: boolean;
}

/** Reads a C int option value (at least 4 bytes, as Linux requires). */
export function intOpt(v: Uint8Array): number {
  if (v.length < 4) throw EINVAL;
  return new DataView(v.buffer, v.byteOffset, 4).getInt32(0, true);
}

/** A C int option value, truncated to optlen as Linux does. */
export function intBytes(n: number, optlen: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b.subarray(0, Math.max(0, Math.min(4, optlen)));
}

/**
 * An int IPPROTO_IP option value as do_ip_getsockopt writes it: a single byte when optlen is
 * below sizeof(int) and the value fits one (IP_TOS, IP_TTL...), else the int cut to optlen.
 */
export function ipIntBytes(n: number, optlen: number): Uint8Array {
  if (optlen > 0 && optlen < 4 && n >= 0 && n <= 255) return Uint8Array.of(n);
  return intBytes(n, optlen);
}

/** The options every inet socket file keeps, as a checkpoint saves them. */
export interface InetFileOptions {
  uid: number;
  v6only: boolean;
  reuseAddr: boolean;
  reusePort: boolean;
  /** SO_BINDTODEVICE's ifindex (absent: 0, none). */
  boundDev?: number | undefined;
  keepalive: boolean;
  broadcast: boolean;
  lingerOn: boolean;
  lingerSecs: number;
  ttl: number;
  tos: number;
  sndBuf: number;
  rcvBuf: number;
  /** The other int options, "level:name" and value. */
  flags: [string, number][];
}

/** The base of TCP, UDP and ping sockets. */
export abstract class InetSocketFile extends SocketFile implements NetWatcher {
  readonly family: number;
  readonly net: Net;
  /** The creator's effective uid, for /proc/net. */
  uid = 0;
  /** IPV6_V6ONLY. */
  v6only = false;
  ttl = -1;
  tos = 0;
  /** Other IPPROTO_IP and IPPROTO_IPV6 int options, stored and reported as set: key "ip:name" or "ip6:name". */
  readonly #flags = new Map<string, number>();
  /** The events last reported, and the receive signature then (for edge-triggered waiters). */
  #lastEvents = -1;
  #lastRx = -1;

  constructor(net: Net, family: number, flags: number, bufs: { snd: number; rcv: number }) {
    super(O_RDWR | (flags & O_NONBLOCK));
    this.net = net;
    this.family = family;
    this.sndBuf = bufs.snd;
    this.rcvBuf = bufs.rcv;
    net.watch(this);
  }

  get nonblocking(): boolean {
    return (this.flags & O_NONBLOCK) !== 0;
  }

  /** The options, for a checkpoint. */
  saveInetOptions(): InetFileOptions {
    return {
      uid: this.uid, v6only: this.v6only, reuseAddr: this.reuseAddr, reusePort: this.reusePort,
      ...(this.boundDev !== 0 ? { boundDev: this.boundDev } : {}), keepalive: this.keepalive,
      broadcast: this.broadcast, lingerOn: this.lingerOn, lingerSecs: this.lingerSecs, ttl: this.ttl, tos: this.tos,
      sndBuf: this.sndBuf, rcvBuf: this.rcvBuf,
      flags: [...this.#flags, ...[...this.sockOptions].map(([k, v]): [string, number] => [`s:${k}`, v])],
    };
  }

  /** Takes saved options back (a restore; the netstack socket has its own already). */
  loadInetOptions(o: InetFileOptions): void {
    this.uid = o.uid;
    this.v6only = o.v6only;
    this.reuseAddr = o.reuseAddr;
    this.reusePort = o.reusePort;
    this.boundDev = o.boundDev ?? 0;
    this.keepalive = o.keepalive;
    this.broadcast = o.broadcast;
    this.lingerOn = o.lingerOn;
    this.lingerSecs = o.lingerSecs;
    this.ttl = o.ttl;
    this.tos = o.tos;
    this.sndBuf = o.sndBuf;
    this.rcvBuf = o.rcvBuf;
    this.#flags.clear();
    this.sockOptions.clear();
    for (const [k, v] of o.flags) {
      if (k.startsWith("s:")) this.sockOptions.set(Number(k.slice(2)), v);
      else this.#flags.set(k, v);
    }
  }

  /** The family's readiness. */
  protected abstract netReadiness(): NetReadiness;
  /** A number that grows when data arrives (bytes or datagrams queued), for edge triggers. */
  protected abstract rxSignature(): number;
  /** Closes the netstack socket. */
  protected abstract closeSocket(): void;

  /** The IP version a wildcard bind serves: 4, 6 (V6ONLY) or 0 (dual stack). */
  get wildcardVersion(): 0 | 4 | 6 {
    return this.family === C.AF_INET ? 4 : this.v6only ? 6 : 0;
  }

  events(): number {
    const r = this.netReadiness();
    let ev = 0;
    if (r.readable) ev |= EVENT_IN | EVENT_RDNORM;
    if (r.writable) ev |= EVENT_OUT | EVENT_WRNORM;
    if (r.hup) ev |= EVENT_HUP;
    if (r.error) ev |= EVENT_ERR;
    if (r.rdhup) ev |= EVENT_RDHUP;
    return ev;
  }

  override readiness(mask: number): number {
    return this.events() & mask;
  }

  stackChanged(): void {
    const ev = this.events();
    const rx = this.rxSignature();
    if (ev === this.#lastEvents && rx <= this.#lastRx) {
      this.#lastRx = rx;
      return;
    }
    this.#lastEvents = ev;
    this.#lastRx = rx;
    if (this.waitQueue.size === 0) return;
    // New data is an edge for readers even when the socket was readable already.
    this.waitQueue.notify(ev);
  }

  protected override release(): void {
    this.net.unwatch(this);
    this.closeSocket();
    this.net.kick();
  }

  abstract override sendmsg(t: Task, req: SendRequest): number;
  abstract override recvmsg(t: Task, req: RecvRequest): RecvResult;

  /** SIOCINQ (FIONREAD): bytes (stream) or the next datagram's length to read. */
  protected abstract inq(): number;
  /** SIOCOUTQ (TIOCOUTQ): bytes sent and not yet acknowledged, or not yet sent. */
  protected abstract outq(): number;

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    let v: number;
    switch (cmd) {
      case SIOCINQ:
        v = this.inq();
        break;
      case SIOCOUTQ:
        v = this.outq();
        break;
      default:
        return super.ioctl(cmd, arg, io);
    }
    io.copyOut(arg, intBytes(v, 4));
    return 0;
  }

  /** Throws EAGAIN; a named helper so that call sites read as what they mean. */
  protected wouldBlock(): never {
    throw EAGAIN;
  }

  // --- Addresses. ---

  /**
   * Parses a destination: the wildcard means this host (Linux connects INADDR_ANY to
   * loopback, ::ffff:0.0.0.0 to 127.0.0.1); a v4-mapped address on a V6ONLY socket is
   * unreachable.
   */
  protected destination(addr: Uint8Array, v4OnV6 = false): Endpoint | "unspec" {
    // A datagram socket of AF_INET6 also takes a sockaddr_in (Linux's udpv6_sendmsg and
    // ip6_datagram_connect hand it to IPv4): an IPv4 peer, as if v4-mapped.
    const fam = addr.length >= 2 ? addr[0]! | (addr[1]! << 8) : -1;
    const ep = v4OnV6 && this.family === C.AF_INET6 && fam === C.AF_INET ? parseSockaddr(C.AF_INET, addr) : parseSockaddr(this.family, addr);
    if (v4OnV6 && this.family === C.AF_INET6 && fam === C.AF_INET && ep !== "unspec" && ep.addr === null) ep.v4MappedAny = true;
    if (ep === "unspec") return ep;
    let a = ep.addr;
    // ::ffff:0.0.0.0 is IPv4's wildcard: IPv4's loopback (Linux's tcp_v6_connect maps it).
    if (a === null) a = this.family === C.AF_INET || ep.v4MappedAny ? Ipv4Address.parse("127.0.0.1") : Ipv6Address.LOOPBACK;
    if (this.family === C.AF_INET6 && this.v6only && a.version === 4) throw ENETUNREACH;
    return { addr: a, port: ep.port };
  }

  /** ENETUNREACH unless the stack can reach addr (a local address or a route). */
  protected checkReachable(addr: IpAddress): void {
    this.net.checkReachable(addr);
  }

  // --- Options shared by every inet socket. ---

  override familyGetsockopt(_t: Task, level: number, name: number, optlen: number): Uint8Array {
    if (optlen < 0) throw EINVAL;
    if (level === C.IPPROTO_IP) return this.getIpOpt(name, optlen);
    if (level === C.IPPROTO_IPV6 && this.family === C.AF_INET6) return this.getIpv6Opt(name, optlen);
    // An AF_INET socket hands other levels to ip_getsockopt, which says EOPNOTSUPP; AF_INET6's
    // ipv6_getsockopt says ENOPROTOOPT.
    if (this.family === C.AF_INET && !this.protocolLevel(level)) throw errno.EOPNOTSUPP;
    return this.getProtocolOpt(level, name, optlen);
  }

  override familySetsockopt(_t: Task, level: number, name: number, value: Uint8Array): void {
    if (level === C.IPPROTO_IP) return this.setIpOpt(name, value);
    if (level === C.IPPROTO_IPV6 && this.family === C.AF_INET6) return this.setIpv6Opt(name, value);
    return this.setProtocolOpt(level, name, value);
  }

  // The socket level's hooks (kernel/socket/sockopt.ts).
  override sockError(): number {
    return this.takeErrno();
  }
  override get sockListening(): boolean {
    return this.isListening();
  }
  override sockNet(): Net {
    return this.net;
  }
  override sockChanged(name: number): void {
    if (name === C.SO_REUSEADDR || name === C.SO_REUSEPORT || name === C.SO_BINDTOIFINDEX) this.reuseChanged();
    else if (name === C.SO_KEEPALIVE) this.keepaliveChanged();
    else if (name === C.SO_SNDBUF) this.sndBufChanged();
    else if (name === C.SO_RCVBUF) this.rcvBufChanged();
  }

  /**
   * ip_getsockopt/ip_setsockopt hand SOL_IP options they do not know to netfilter, for an AF_INET
   * socket and for an AF_INET6 one that is not raw (ipv6_getsockopt passes SOL_IP on to UDP's);
   * ipv6_getsockopt hands it SOL_IPV6 ones.
   */
  override xtablesFor(level: number, name: number, set: boolean): { fam: XtFamily; v6: boolean; owner: UserNamespace } | null {
    let v6: boolean;
    if (this.family !== C.AF_INET && this.family !== C.AF_INET6) return null; // packet sockets
    if (level === C.IPPROTO_IP && (this.family === C.AF_INET || this.type !== C.SOCK_RAW)) v6 = false;
    else if (level === C.IPPROTO_IPV6 && this.family === C.AF_INET6) v6 = true;
    else return null;
    return isXtOption(v6, name, set) ? { fam: this.net.xtables(v6), v6, owner: this.net.owner } : null;
  }

  /** Whether getsockopt at `level` reaches the protocol's options (else the IP layer's answer). */
  protected protocolLevel(level: number): boolean {
    return level === this.protocol;
  }

  /** IPPROTO_TCP and the like; ENOPROTOOPT by default. */
  protected getProtocolOpt(_level: number, _name: number, _optlen: number): Uint8Array {
    throw ENOPROTOOPT;
  }

  protected setProtocolOpt(_level: number, _name: number, _value: Uint8Array): void {
    throw ENOPROTOOPT;
  }

  /** SO_ERROR: the pending error as an errno, cleared. */
  protected abstract takeErrno(): number;
  /** SO_ACCEPTCONN. */
  protected isListening(): boolean {
    return false;
  }
  /** SO_KEEPALIVE changed (TCP arms its timer). */
  protected keepaliveChanged(): void {}
  /** SO_REUSEADDR/SO_REUSEPORT changed (the netstack socket keeps them for port conflicts). */
  protected reuseChanged(): void {}
  /** SO_SNDBUF was set (TCP bounds its send queue by it from then on). */
  protected sndBufChanged(): void {}
  /** SO_RCVBUF was set (UDP bounds its receive queue by it). */
  protected rcvBufChanged(): void {}

  /** Hands this socket's port-sharing options to its netstack socket (for reuseChanged). */
  protected sharePortOptions(sock: PortSharing): void {
    sock.reuseAddr = this.reuseAddr;
    sock.reusePort = this.reusePort;
    sock.wildcardVersion = this.wildcardVersion;
    sock.boundDevice = this.boundDev - 1;
  }

  protected getIpOpt(name: number, optlen: number): Uint8Array {
    switch (name) {
      case C.IP_TTL:
        return ipIntBytes(this.ttl === -1 ? 64 : this.ttl, optlen);
      case C.IP_TOS:
        return ipIntBytes(this.tos, optlen);
      case C.IP_HDRINCL:
        // Any socket reads it (0 but on a raw socket that set it); only raw ones set it.
        return ipIntBytes(0, optlen);
      case C.IP_MULTICAST_TTL:
        return ipIntBytes(this.#flags.get(`ip:${name}`) ?? 1, optlen);
      case C.IP_MULTICAST_LOOP:
        return ipIntBytes(this.#flags.get(`ip:${name}`) ?? 1, optlen);
      case C.IP_MTU_DISCOVER:
        // IP_PMTUDISC_WANT by default (Linux's inet_create without ip_no_pmtu_disc).
        return ipIntBytes(this.#flags.get(`ip:${name}`) ?? 1, optlen);
      case C.IP_PKTINFO:
      case C.IP_RECVERR:
      case C.IP_RECVTTL:
      case C.IP_RECVTOS:
      case C.IP_RECVORIGDSTADDR:
        return ipIntBytes(this.#flags.get(`ip:${name}`) ?? 0, optlen);
      default:
        throw ENOPROTOOPT;
    }
  }

  protected setIpOpt(name: number, value: Uint8Array): void {
    switch (name) {
      case C.IP_TTL: {
        const n = intOpt(value);
        if (n !== -1 && (n < 1 || n > 255)) throw EINVAL;
        this.ttl = n;
        return;
      }
      case C.IP_TOS:
        this.tos = (value.length >= 4 ? intOpt(value) : value[0] ?? 0) & 0xff;
        return;
      case C.IP_MTU_DISCOVER: {
        // IP_PMTUDISC_DONT (0) to IP_PMTUDISC_OMIT (5).
        const n = value.length >= 4 ? intOpt(value) : value[0] ?? 0;
        if (n < 0 || n > 5) throw EINVAL;
        this.#flags.set(`ip:${name}`, n);
        return;
      }
      case C.IP_MULTICAST_TTL: {
        // Linux's do_ip_setsockopt: not on a stream; -1 is the default 1; else 0 to 255.
        if (this.type === C.SOCK_STREAM || value.length < 1) throw EINVAL;
        let n = value.length >= 4 ? intOpt(value) : value[0]!;
        if (n === -1) n = 1;
        if (n < 0 || n > 255) throw EINVAL;
        this.#flags.set(`ip:${name}`, n);
        return;
      }
      case C.IP_MULTICAST_LOOP: {
        if (value.length < 1) throw EINVAL;
        this.#flags.set(`ip:${name}`, (value.length >= 4 ? intOpt(value) : value[0]!) !== 0 ? 1 : 0);
        return;
      }
      case C.IP_PKTINFO:
      case C.IP_RECVERR:
      case C.IP_RECVTTL:
      case C.IP_RECVTOS:
      case C.IP_RECVORIGDSTADDR:
        this.#flags.set(`ip:${name}`, value.length >= 4 ? intOpt(value) : value[0] ?? 0);
        return;
      default:
        throw ENOPROTOOPT;
    }
  }

  /** A SOL_SOCKET option kept as set (SO_TIMESTAMP...), 0 if never set. */
  protected socketFlag(name: number): number {
    return this.sockOptions.get(name) ?? 0;
  }

  /** An IPPROTO_IP option kept in the flags (IP_PKTINFO, IP_RECVTTL...), 0 if never set. */
  protected ipFlag(name: number): number {
    return this.#flags.get(`ip:${name}`) ?? 0;
  }

  /** An IPPROTO_IP option kept in the flags, or `dflt` if never set. */
  protected ipFlagOr(name: number, dflt: number): number {
    return this.#flags.get(`ip:${name}`) ?? dflt;
  }

  /** An IPPROTO_IPV6 option kept in the flags, or `dflt` if never set (-1 too, for the hop limits). */
  protected ipv6FlagOr(name: number, dflt: number): number {
    const v = this.#flags.get(`ip6:${name}`) ?? dflt;
    return v === -1 ? dflt : v;
  }

  /** An IPPROTO_IPV6 option kept in the flags (IPV6_RECVPKTINFO...), 0 if never set. */
  protected ipv6Flag(name: number): number {
    return this.#flags.get(`ip6:${name}`) ?? 0;
  }

  /** The hop limit and traffic class of IPv6 packets it sends (IPV6_UNICAST_HOPS: -1 is 64). */
  protected get ipv6HopLimit(): number {
    const h = this.#flags.get(`ip6:${C.IPV6_UNICAST_HOPS}`) ?? -1;
    return h === -1 ? 64 : h;
  }
  protected get ipv6TrafficClass(): number {
    return this.#flags.get(`ip6:${C.IPV6_TCLASS}`) ?? 0;
  }

  /** Whether bind() has happened (IPV6_V6ONLY may not change after it). */
  protected abstract isBound(): boolean;

  protected getIpv6Opt(name: number, optlen: number): Uint8Array {
    switch (name) {
      case C.IPV6_V6ONLY:
        return intBytes(this.v6only ? 1 : 0, optlen);
      case C.IPV6_UNICAST_HOPS:
        return intBytes(this.ipv6HopLimit, optlen);
      case C.IPV6_TCLASS:
        return intBytes(this.ipv6TrafficClass, optlen);
      case C.IPV6_MULTICAST_HOPS:
      case C.IPV6_MULTICAST_LOOP:
        return intBytes(this.#flags.get(`ip6:${name}`) ?? 1, optlen);
      case C.IPV6_RECVERR:
      case C.IPV6_RECVPKTINFO:
      case C.IPV6_RECVHOPLIMIT:
      case C.IPV6_RECVTCLASS:
      case C.IPV6_RECVORIGDSTADDR:
        return intBytes(this.#flags.get(`ip6:${name}`) ?? 0, optlen);
      default:
        throw ENOPROTOOPT;
    }
  }

  protected setIpv6Opt(name: number, value: Uint8Array): void {
    const n = intOpt(value);
    switch (name) {
      case C.IPV6_V6ONLY:
        if (this.isBound()) throw EINVAL;
        this.v6only = n !== 0;
        this.reuseChanged();
        return;
      case C.IPV6_UNICAST_HOPS:
        // Apart from IP_TTL, as Linux keeps them (hop_limit and uc_ttl).
        if (n < -1 || n > 255) throw EINVAL;
        this.#flags.set(`ip6:${name}`, n);
        return;
      case C.IPV6_TCLASS:
        if (n < -1 || n > 255) throw EINVAL;
        this.#flags.set(`ip6:${name}`, n === -1 ? 0 : n);
        return;
      case C.IPV6_MULTICAST_HOPS:
      case C.IPV6_MULTICAST_LOOP:
      case C.IPV6_RECVERR:
      case C.IPV6_RECVPKTINFO:
      case C.IPV6_RECVHOPLIMIT:
      case C.IPV6_RECVTCLASS:
      case C.IPV6_RECVORIGDSTADDR:
        this.#flags.set(`ip6:${name}`, n);
        return;
      default:
        throw ENOPROTOOPT;
    }
  }
}
