/**
 * SOCK_RAW sockets of AF_INET / AF_INET6 (raw(7)) over a netstack {@linkcode RawSocket}:
 * the socket names an IP protocol and gets a copy of every packet of it the stack takes in
 * (IPv4 with the IP header, IPv6 without), and sends payloads of that protocol (IPv4 with
 * IP_HDRINCL, which IPPROTO_RAW implies: whole packets). Creating one needs CAP_NET_RAW
 * (kernel/socket/inet/mod.ts).
 *
 * A checkpoint refuses a sandbox holding one (kernel/checkpoint/inet_sockets.ts names the
 * class in its one line).
 *
 * @module
 */

import { inetFilterPacket, ipHeader, joined } from "./filter_packet.ts";
import { type IpAddress, Ipv4Address, type RawPacket, RawSocket } from "../../../netstack/mod.ts";
import { EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN, EDESTADDRREQ, EINVAL, EMSGSIZE, ENOPROTOOPT, ENOTCONN, EOPNOTSUPP } from "../../errno.ts";
import type { Net } from "../../net.ts";
import type { Task } from "../../task.ts";
import type { ControlMessages, RecvRequest, RecvResult, SendRequest } from "../socket.ts";
import * as C from "./constants.ts";
import { InetSocketFile, intBytes, intOpt, ipIntBytes, type NetReadiness } from "./inet_socket.ts";
import { formatSockaddr, parseSockaddr } from "./sockaddr.ts";
import { Ipv4MulticastOptions } from "./ip_multicast.ts";

/** Linux's default for both buffers (net.core.[rw]mem_default). */
const RAW_BUF = 212992;

/** Option numbers only raw sockets use. */
export const SOL_RAW = 255;
export const IPPROTO_RAW = 255;
export const ICMP_FILTER = 1;
export const ICMP6_FILTER = 1;
export const IP_HDRINCL = C.IP_HDRINCL;
export const IPV6_CHECKSUM = 7;

/** @savable (refused: a checkpoint names it and stops) */
export class RawSocketFile extends InetSocketFile {
  readonly type = C.SOCK_RAW;
  readonly protocol: number;
  readonly sock: RawSocket;
  /** IP_HDRINCL (IPv4): the application writes the IP header. IPPROTO_RAW sets it. */
  #hdrincl: boolean;
  #bound = false;
  #connected = false;
  #shutRd = false;
  /** IP_MULTICAST_IF and the groups joined (IPv4; kept and checked, not used to deliver). */
  readonly #mc = new Ipv4MulticastOptions();

  constructor(n: Net, family: number, flags: number, protocol: number) {
    super(n, family, flags, { snd: RAW_BUF, rcv: RAW_BUF });
    this.protocol = protocol;
    this.sock = n.stack.rawSocket(family === C.AF_INET ? 4 : 6, protocol);
    this.#hdrincl = family === C.AF_INET && protocol === IPPROTO_RAW;
    // The raw protocols' INET_PROTOSW_REUSE: SO_REUSEADDR on from the start (inet_create).
    this.reuseAddr = true;
  }

  protected netReadiness(): NetReadiness {
    return {
      readable: this.sock.queued > 0 || this.#shutRd,
      writable: this.sock.writable,
      hup: false,
      error: false,
      rdhup: this.#shutRd,
    };
  }

  protected rxSignature(): number {
    return this.sock.rxSignature;
  }

  protected inq(): number {
    return this.sock.nextLength;
  }

  protected outq(): number {
    return 0;
  }

  protected closeSocket(): void {
    this.sock.close();
  }

  protected isBound(): boolean {
    return this.#bound;
  }

  protected takeErrno(): number {
    return 0;
  }

  protected override rcvBufChanged(): void {
    this.sock.receiveLimit = this.rcvBuf;
  }

  // --- Addresses. ---

  bind(_t: Task, addr: Uint8Array): void {
    // raw_bind / rawv6_bind: only while not connected (TCP_CLOSE).
    if (this.#connected) throw EINVAL;
    let a: IpAddress | null;
    if (this.family === C.AF_INET) {
      // raw_bind reads the address whatever the family says; local, multicast or broadcast.
      if (addr.length < 16) throw EINVAL;
      const v4 = new Ipv4Address(addr.subarray(4, 8));
      a = v4.isUnspecified ? null : v4;
      if (a !== null && !this.net.stack.isBindableAddress(a) && !a.isMulticast && !a.isBroadcast && !this.net.stack.isBroadcastAddress(a)) {
        throw EADDRNOTAVAIL;
      }
    } else {
      if (addr.length < 24 || (addr[0]! | (addr[1]! << 8)) !== C.AF_INET6) throw EINVAL;
      const ep = parseSockaddr(this.family, addr);
      a = ep === "unspec" ? null : ep.addr;
      if (a !== null) {
        // A v4-mapped address (parsed as the IPv4 one it maps) is no IPv6 raw address.
        if (a.version === 4) throw EADDRNOTAVAIL;
        const b = a.bytes;
        // A link-local unicast or multicast address needs its interface (sin6_scope_id).
        const scope = addr.length >= 28 ? new DataView(addr.buffer, addr.byteOffset + 24, 4).getUint32(0, true) : 0;
        const linkLocal = (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) || (b[0] === 0xff && (b[1]! & 0x0f) === 0x02);
        if (linkLocal && scope === 0) throw EINVAL;
        if (!a.isMulticast && !this.net.stack.isBindableAddress(a)) throw EADDRNOTAVAIL;
      }
    }
    this.sock.localAddr = a;
    this.#bound = true;
  }

  connect(_t: Task, addr: Uint8Array): void {
    const ep = this.destination(addr);
    if (ep === "unspec") {
      this.sock.remoteAddr = null;
      this.#connected = false;
      return;
    }
    const a = ep.addr!;
    this.checkReachable(a);
    this.sock.remoteAddr = a;
    // As ip4_datagram_connect: an unbound socket takes the route's source as its address.
    if (this.sock.localAddr === null) this.sock.localAddr = this.net.stack.udpRoute(a)?.src ?? null;
    this.#connected = true;
  }

  getsockname(_t: Task): Uint8Array {
    // The "port" is the protocol (raw(7)).
    return formatSockaddr(this.family, this.sock.localAddr, this.protocol);
  }

  override getpeername(_t: Task): Uint8Array {
    // Linux's inet_getname wants a peer port, which raw sockets never have.
    throw ENOTCONN;
  }

  override shutdown(_t: Task, how: number): void {
    if (how !== C.SHUT_RD && how !== C.SHUT_WR && how !== C.SHUT_RDWR) throw EINVAL;
    // As inet_shutdown: an unconnected socket answers ENOTCONN and is shut down all the same.
    // Raw sends ignore SHUT_WR; SHUT_RD makes an empty queue read as the end.
    if (how !== C.SHUT_WR) this.#shutRd = true;
    this.stackChanged();
    if (!this.#connected) throw ENOTCONN;
  }

  // --- Data. ---

  /** The destination of a send: its address, else the connected one. */
  #sendDestination(to: Uint8Array | null): IpAddress {
    if (to === null) {
      if (!this.#connected || this.sock.remoteAddr === null) throw EDESTADDRREQ;
      return this.sock.remoteAddr;
    }
    if (this.family === C.AF_INET) {
      // raw_sendmsg: a sockaddr_in of AF_INET or AF_UNSPEC (its address counts all the same).
      if (to.length < 16) throw EINVAL;
      const fam = to[0]! | (to[1]! << 8);
      if (fam !== C.AF_INET && fam !== 0) throw EAFNOSUPPORT;
      const a = new Ipv4Address(to.subarray(4, 8));
      return a.isUnspecified ? Ipv4Address.parse("127.0.0.1") : a;
    }
    const ep = this.destination(to);
    if (ep === "unspec") throw EAFNOSUPPORT;
    return ep.addr!;
  }

  sendmsg(_t: Task, req: SendRequest): number {
    if (req.flags & C.MSG_OOB) throw EOPNOTSUPP;
    const d = req.data;
    const v4 = this.family === C.AF_INET;
    if (!v4 && this.protocol === IPPROTO_RAW) throw EINVAL;
    const dst = this.#sendDestination(req.to);
    if (v4) {
      if (d.length > 0xffff || (!this.#hdrincl && d.length > 0xffff - 20)) throw EMSGSIZE;
      if (this.#hdrincl) {
        // raw_send_hdrinc: a whole header, as long as it says.
        if (d.length < 20) throw EINVAL;
        const ihl = (d[0]! & 0x0f) * 4;
        if (ihl < 20 || ihl > d.length) throw EINVAL;
      }
    } else {
      if (d.length > 0xffff) throw EMSGSIZE;
      if (this.sock.checksumOffset >= 0 && this.sock.checksumOffset + 2 > d.length) throw EINVAL;
    }
    this.checkReachable(dst);
    this.net.checkAllowed(dst, 0);
    const meta = v4 ? { ttl: this.ttl === -1 ? 64 : this.ttl, tos: this.tos } : { ttl: this.ipv6HopLimit, tos: this.ipv6TrafficClass };
    if (req.control.other) sendControl(req.control.other, meta);
    const ok = this.sock.send({
      dst,
      src: this.sock.localAddr,
      data: d,
      hdrincl: v4 && this.#hdrincl,
      ttl: meta.ttl,
      tos: meta.tos,
      checksumOffset: v4 ? -1 : this.sock.checksumOffset,
    });
    if (!ok) throw EAGAIN;
    this.net.kick();
    return d.length;
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    if (req.flags & C.MSG_ERRQUEUE) throw EAGAIN;
    if (req.flags & C.MSG_OOB) throw EINVAL;
    const peek = (req.flags & C.MSG_PEEK) !== 0;
    const p = peek ? this.sock.peek() : this.sock.take();
    if (p === null) {
      if (this.#shutRd) return { data: new Uint8Array(0), fullLength: 0, from: null, control: {}, msgFlags: 0 };
      throw EAGAIN;
    }
    if (!peek) this.net.settle(this);
    const n = Math.min(req.maxLen, p.data.length);
    return {
      data: p.data.subarray(0, n),
      fullLength: p.data.length,
      from: formatSockaddr(this.family, p.src, 0),
      control: this.#ipControl(p),
      msgFlags: n < p.data.length ? C.MSG_TRUNC : 0,
    };
  }

  /** The control messages IP_PKTINFO, IP_RECVTTL... ask for, as for UDP (Linux's ip_cmsg_recv). */
  #ipControl(p: RawPacket): ControlMessages {
    const out: { level: number; type: number; data: Uint8Array }[] = [];
    const ifindex = (this.net.stack.interfaceOf(p.dst) ?? 0) + 1;
    if (this.family === C.AF_INET) {
      if (this.ipFlag(C.IP_PKTINFO)) {
        const b = new Uint8Array(12);
        new DataView(b.buffer).setInt32(0, ifindex, true);
        b.set(p.dst.bytes, 4);
        b.set(p.dst.bytes, 8);
        out.push({ level: C.IPPROTO_IP, type: C.IP_PKTINFO, data: b });
      }
      if (this.ipFlag(C.IP_RECVTTL)) out.push({ level: C.IPPROTO_IP, type: C.IP_TTL, data: intBytes(p.ttl, 4) });
      if (this.ipFlag(C.IP_RECVTOS)) out.push({ level: C.IPPROTO_IP, type: C.IP_TOS, data: Uint8Array.of(p.tos) });
    } else {
      if (this.ipv6Flag(C.IPV6_RECVPKTINFO)) {
        const b = new Uint8Array(20);
        b.set(p.dst.bytes, 0);
        new DataView(b.buffer).setInt32(16, ifindex, true);
        out.push({ level: C.IPPROTO_IPV6, type: C.IPV6_PKTINFO, data: b });
      }
      if (this.ipv6Flag(C.IPV6_RECVHOPLIMIT)) out.push({ level: C.IPPROTO_IPV6, type: C.IPV6_HOPLIMIT, data: intBytes(p.ttl, 4) });
      if (this.ipv6Flag(C.IPV6_RECVTCLASS)) out.push({ level: C.IPPROTO_IPV6, type: C.IPV6_TCLASS, data: intBytes(p.tos, 4) });
    }
    return out.length === 0 ? {} : { other: out };
  }

  /**
   * Runs the socket filter on each packet before it is queued: from the IPv4 header, or an IPv6
   * packet's payload (its header reached through SKF_NET_OFF); at least one byte is kept
   * (sock_queue_rcv_skb's sk_filter).
   */
  override filterChanged(): void {
    const f = this.sockFilter;
    this.sock.filter = f === null ? null : (p) => {
      const v6 = this.family === C.AF_INET6;
      const network = v6 ? joined(ipHeader(p.src, p.dst, this.protocol, p.data.length, p.ttl, p.tos), p.data) : p.data;
      const keep = f.run(inetFilterPacket(v6 ? 6 : 4, p.data, network));
      return keep === 0 ? -1 : Math.max(1, Math.min(keep, p.data.length));
    };
  }

  // --- Options. ---

  override familyGetsockopt(t: Task, level: number, name: number, optlen: number): Uint8Array {
    if (optlen < 0) throw EINVAL;
    if (this.family === C.AF_INET && level === SOL_RAW) {
      // raw_getsockopt: ICMP_FILTER on an ICMP socket, cut to optlen.
      if (name !== ICMP_FILTER) throw ENOPROTOOPT;
      if (this.protocol !== C.IPPROTO_ICMP) throw EOPNOTSUPP;
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, this.sock.icmpFilter, true);
      return b.subarray(0, Math.min(4, optlen));
    }
    if (this.family === C.AF_INET6) {
      if (level === C.IPPROTO_ICMPV6) {
        // rawv6_geticmpfilter: ICMP6_FILTER on an ICMPv6 socket, cut to optlen.
        if (this.protocol !== C.IPPROTO_ICMPV6) throw EOPNOTSUPP;
        if (name !== ICMP6_FILTER) throw ENOPROTOOPT;
        return new Uint8Array(this.sock.icmp6Filter.buffer.slice(0)).subarray(0, Math.min(32, optlen));
      }
      if (level === C.IPPROTO_IP) throw ENOPROTOOPT;
      if (level === C.IPPROTO_IPV6 && name === IPV6_CHECKSUM) return intBytes(this.sock.checksumOffset, optlen);
      if (level === SOL_RAW) throw ENOPROTOOPT;
    }
    if (this.family === C.AF_INET && level === C.IPPROTO_IP && name === IP_HDRINCL) return ipIntBytes(this.#hdrincl ? 1 : 0, optlen);
    if (this.family === C.AF_INET && level === C.IPPROTO_IP && name === C.IP_MULTICAST_IF) return this.#mc.getIf(optlen);
    return super.familyGetsockopt(t, level, name, optlen);
  }

  override familySetsockopt(t: Task, level: number, name: number, value: Uint8Array): void {
    if (this.family === C.AF_INET && level === SOL_RAW) {
      if (name !== ICMP_FILTER) throw ENOPROTOOPT;
      if (this.protocol !== C.IPPROTO_ICMP) throw EOPNOTSUPP;
      // raw_seticmpfilter copies at most the filter's 4 bytes, fewer when given fewer.
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, this.sock.icmpFilter, true);
      b.set(value.subarray(0, 4));
      this.sock.icmpFilter = new DataView(b.buffer).getUint32(0, true);
      return;
    }
    if (this.family === C.AF_INET6) {
      if (level === C.IPPROTO_ICMPV6) {
        if (this.protocol !== C.IPPROTO_ICMPV6) throw EOPNOTSUPP;
        if (name !== ICMP6_FILTER) throw ENOPROTOOPT;
        const b = new Uint8Array(this.sock.icmp6Filter.buffer);
        b.set(value.subarray(0, 32));
        return;
      }
      if (level === C.IPPROTO_IP) throw ENOPROTOOPT;
      if (level === C.IPPROTO_IPV6 && name === IPV6_CHECKSUM) {
        const n = intOpt(value);
        // do_rawv6_setsockopt: ICMPv6 always checksums at 2; an odd offset is no offset.
        if (this.protocol === C.IPPROTO_ICMPV6) throw EINVAL;
        if (n > 0 && (n & 1) !== 0) throw EINVAL;
        this.sock.checksumOffset = n < 0 ? -1 : n;
        return;
      }
      if (level === SOL_RAW) throw ENOPROTOOPT;
    }
    if (this.family === C.AF_INET && level === C.IPPROTO_IP && name === IP_HDRINCL) {
      // An IPPROTO_RAW socket includes the header whatever is set (raw_sendmsg forces it).
      if (value.length < 1) throw EINVAL;
      const n = value.length >= 4 ? intOpt(value) : value[0]!;
      this.#hdrincl = this.protocol === IPPROTO_RAW || n !== 0;
      return;
    }
    if (this.family === C.AF_INET && level === C.IPPROTO_IP) {
      if (name === C.IP_MULTICAST_IF) return this.#mc.setIf(this.net.stack, value);
      if (name === C.IP_ADD_MEMBERSHIP || name === C.IP_DROP_MEMBERSHIP) {
        return this.#mc.membership(this.net.stack, name === C.IP_ADD_MEMBERSHIP, value);
      }
    }
    return super.familySetsockopt(t, level, name, value);
  }
}

/**
 * A send's control messages that set its packet's TOS and TTL (ip_cmsg_send,
 * ip6_datagram_send_ctl): IP_TOS, IP_TTL, IPV6_TCLASS, IPV6_HOPLIMIT; others are ignored.
 */
function sendControl(msgs: { level: number; type: number; data: Uint8Array }[], meta: { ttl: number; tos: number }): void {
  const int = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset, 4).getInt32(0, true);
  for (const m of msgs) {
    if (m.level === C.IPPROTO_IP && m.type === C.IP_TOS) {
      const v = m.data.length === 4 ? int(m.data) : m.data.length === 1 ? m.data[0]! : -1;
      if (v < 0 || v > 255) throw EINVAL;
      meta.tos = v;
    } else if (m.level === C.IPPROTO_IP && m.type === C.IP_TTL) {
      if (m.data.length !== 4) throw EINVAL;
      const v = int(m.data);
      if (v < 1 || v > 255) throw EINVAL;
      meta.ttl = v;
    } else if (m.level === C.IPPROTO_IPV6 && (m.type === C.IPV6_TCLASS || m.type === C.IPV6_HOPLIMIT)) {
      if (m.data.length !== 4) throw EINVAL;
      const v = int(m.data);
      if (v < -1 || v > 255) throw EINVAL;
      if (v === -1) continue;
      if (m.type === C.IPV6_TCLASS) meta.tos = v;
      else meta.ttl = v;
    }
  }
}
