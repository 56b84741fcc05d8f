/**
 * SOCK_DGRAM sockets of AF_INET / AF_INET6: UDP over a netstack {@linkcode UdpSocket}, and ICMP
 * echo ("ping") sockets over an {@linkcode IcmpSocket}.
 *
 * MSG_PEEK: netstack's queues only pop, so a peeked datagram is held here until a real recv
 * takes it.
 *
 * @module
 */

import { inetFilterPacket, ipHeader, joined, udpSegment } from "./filter_packet.ts";
import {
  checksum,
  type IcmpSocket,
  EMSGSIZE as NET_EMSGSIZE,
  type IpAddress,
  Ipv4Address,
  parseIpAddress,
  UDP_MAX_PAYLOAD,
  type UdpEndpoint,
  type UdpSocket,
} from "../../../netstack/mod.ts";
import { EACCES, EADDRINUSE, EADDRNOTAVAIL, EOPNOTSUPP, EAFNOSUPPORT, EAGAIN, ENOBUFS, ENODEV, ENOENT, type LinuxError, EDESTADDRREQ, EINVAL, EMSGSIZE, ENOTCONN, EPIPE, ENOPROTOOPT } from "../../errno.ts";
import type { Net } from "../../net.ts";
import { monotonicNs, realtimeNs } from "../../time.ts";
import { SIOCGSTAMP } from "../../../abi/linux/socket.ts";
import type { MemoryIO } from "../../../vfs/file_description.ts";
import type { Task } from "../../task.ts";
import type { ControlMessages, RecvRequest, RecvResult, SendRequest } from "../socket.ts";
import * as C from "./constants.ts";
import { checkBindPort, errnoOf, InetSocketFile, intBytes, intOpt, linuxError, net, type NetReadiness } from "./inet_socket.ts";
import { checkUnspecBind, type Endpoint, formatSockaddr, parseSockaddr } from "./sockaddr.ts";

/** Linux's default for both buffers of a datagram socket (net.core.[rw]mem_default). */
const DGRAM_BUF = 212992;

/** A received datagram held for MSG_PEEK. */
interface Held {
  from: UdpEndpoint;
  data: Uint8Array;
  /** Its destination and IP header values, for the control messages (IP_PKTINFO...). */
  to?: UdpEndpoint | null;
  ttl?: number | undefined;
  tos?: number | undefined;
  /** When it arrived, on the stack's clock (ms). */
  at?: number | undefined;
}

/** What a UDP socket file keeps beside its netstack socket, as a checkpoint saves it. */
export interface UdpFileOptions {
  bound: boolean;
  /** A datagram peeked (MSG_PEEK) and not yet received. */
  held: {
    from: { addr: string; port: number };
    data: Uint8Array<ArrayBuffer>;
    to?: { addr: string; port: number } | undefined;
    ttl?: number | undefined;
    tos?: number | undefined;
  } | null;
  received: number;
  shutRd: boolean;
  shutWr: boolean;
  /** SIOCGSTAMP's time (realtime ns) of the last datagram read; absent: none yet. */
  stamp?: number | undefined;
}

/** net.ipv4.igmp_max_memberships: groups one socket may join. */
const IGMP_MAX_MEMBERSHIPS = 20;

/** @savable */
export class UdpSocketFile extends InetSocketFile {
  readonly type = C.SOCK_DGRAM;
  /** IPPROTO_UDP, or IPPROTO_UDPLITE for a UDP-Lite socket (the same code with its own ports). */
  readonly protocol: number;
  readonly sock: UdpSocket;
  #bound = false;
  #held: Held | null = null;
  #received = 0;
  #shutRd = false;
  #shutWr = false;
  /**
   * SIOCGSTAMP: when the last datagram read without SO_TIMESTAMP arrived (realtime ns); -1 none
   * read yet (ENOENT), 0 not known (the first SIOCGSTAMP takes the time it is asked, as Linux).
   */
  #stamp = -1;
  /** Scratch for recvFrom: the largest datagram. */
  readonly #scratch = new Uint8Array(65536);

  /** A new socket (UDP-Lite with `lite`), or (a restore) one around a restored netstack socket. */
  constructor(n: Net, family: number, flags: number, sock?: UdpSocket, lite = false) {
    super(n, family, flags, { snd: DGRAM_BUF, rcv: DGRAM_BUF });
    this.sock = sock ?? n.stack.udpSocket({ lite });
    this.protocol = this.sock.lite ? C.IPPROTO_UDPLITE : C.IPPROTO_UDP;
    if (sock === undefined) this.sock.wildcardVersion = this.wildcardVersion;
  }

  /** Runs the socket filter on each datagram before it is queued, on its UDP header (cap 8 bytes, sk_filter_trim_cap). */
  override filterChanged(): void {
    const f = this.sockFilter;
    this.sock.filter = f === null ? null : (src, dst, payload, meta) => {
      const seg = meta.segment ?? udpSegment(src.port, dst.port, payload);
      const network = meta.packet ?? joined(ipHeader(src.addr, dst.addr, this.protocol, seg.length, meta.ttl ?? 64, meta.tos ?? 0), seg);
      const keep = f.run(inetFilterPacket(src.addr.version, seg, network));
      return keep === 0 ? -1 : Math.max(8, Math.min(keep, seg.length)) - 8;
    };
  }

  /** The file's own UDP state, for a checkpoint. */
  saveUdpOptions(): UdpFileOptions {
    const h = this.#held;
    return {
      bound: this.#bound,
      held: h === null ? null : {
        from: { addr: h.from.addr.toString(), port: h.from.port }, data: h.data.slice(),
        ...(h.to ? { to: { addr: h.to.addr.toString(), port: h.to.port } } : {}),
        ...(h.ttl === undefined ? {} : { ttl: h.ttl }), ...(h.tos === undefined ? {} : { tos: h.tos }),
      },
      received: this.#received,
      shutRd: this.#shutRd,
      shutWr: this.#shutWr,
      ...(this.#stamp === -1 ? {} : { stamp: this.#stamp }),
    };
  }

  /** Takes it back (a restore); `from` is the held datagram's sender, parsed by the caller. */
  loadUdpOptions(o: UdpFileOptions, from: UdpEndpoint | null): void {
    this.#bound = o.bound;
    let to: UdpEndpoint | null = null;
    try {
      if (o.held?.to) to = { addr: parseIpAddress(o.held.to.addr), port: o.held.to.port };
    } catch {
      to = null; // only its control messages are lost
    }
    this.#held = o.held === null || from === null ? null : { from, data: o.held.data.slice(), to, ttl: o.held.ttl, tos: o.held.tos };
    this.#received = o.received;
    this.#shutRd = o.shutRd;
    this.#shutWr = o.shutWr;
    this.#stamp = o.stamp ?? -1;
  }

  protected netReadiness(): NetReadiness {
    const r = this.sock.readiness();
    // A pending error is POLLERR, not POLLIN (Linux's datagram_poll); a blocked recv wakes
    // for either (sys_socket sleeps on both).
    return {
      readable: this.sock.queued > 0 || this.#held !== null || this.#shutRd,
      writable: r.writable,
      hup: this.#shutRd && this.#shutWr,
      error: r.error,
      rdhup: this.#shutRd,
    };
  }

  protected rxSignature(): number {
    // Datagrams taken so far plus whether one is queued: grows on each arrival.
    return this.#received + (this.sock.readiness().readable ? 1 : 0);
  }

  // --- IPv4 multicast (Linux's do_ip_setsockopt). ---

  protected override getIpOpt(name: number, optlen: number): Uint8Array {
    if (name === C.IP_MULTICAST_IF) {
      const b = new Uint8Array(4);
      if (this.sock.multicastIfAddr !== null && this.sock.multicastIfAddr.version === 4) b.set(this.sock.multicastIfAddr.bytes);
      return b.subarray(0, Math.max(0, Math.min(4, optlen)));
    }
    return super.getIpOpt(name, optlen);
  }

  protected override setIpOpt(name: number, value: Uint8Array): void {
    switch (name) {
      case C.IP_RECVERR:
        super.setIpOpt(name, value);
        if (this.family === C.AF_INET) this.sock.recvErr = this.ipFlag(C.IP_RECVERR) !== 0;
        return;
      case C.IP_MULTICAST_IF:
        return this.#setMulticastIf(value);
      case C.IP_ADD_MEMBERSHIP:
      case C.IP_DROP_MEMBERSHIP:
        return this.#membership(name === C.IP_ADD_MEMBERSHIP, value);
      case C.IP_MULTICAST_LOOP:
        super.setIpOpt(name, value);
        this.sock.multicastLoop = (value.length >= 4 ? intOpt(value) : value[0] ?? 0) !== 0;
        return;
    }
    return super.setIpOpt(name, value);
  }

  protected override setIpv6Opt(name: number, value: Uint8Array): void {
    super.setIpv6Opt(name, value);
    if (name === C.IPV6_RECVERR) this.sock.recvErr = this.ipv6Flag(C.IPV6_RECVERR) !== 0;
  }

  /** An IPv4 address at `off` of `b` (null: INADDR_ANY). */
  #inAddr(b: Uint8Array, off: number): Ipv4Address | null {
    const a = new Ipv4Address(b.slice(off, off + 4));
    return a.isUnspecified ? null : a;
  }

  /** The stack index of Linux interface index `ifindex` (lo is 1), or null. */
  #ifaceByIndex(ifindex: number): number | null {
    return this.net.linkByIndex(ifindex) !== null ? ifindex - 1 : null;
  }

  #setMulticastIf(v: Uint8Array): void {
    // struct ip_mreqn (12 bytes: group, address, ifindex), struct ip_mreq (8: group, address)
    // or struct in_addr (4).
    if (v.length < 4) throw EINVAL;
    const addr = this.#inAddr(v, v.length >= 8 ? 4 : 0);
    const ifindex = v.length >= 12 ? new DataView(v.buffer, v.byteOffset + 8, 4).getInt32(0, true) : 0;
    if (ifindex === 0 && addr === null) {
      this.sock.multicastIf = -1;
      this.sock.multicastIfAddr = null;
      return;
    }
    const i = ifindex !== 0 ? this.#ifaceByIndex(ifindex) : this.net.stack.interfaceOf(addr!);
    if (i === null) throw EADDRNOTAVAIL;
    this.sock.multicastIf = i;
    this.sock.multicastIfAddr = addr;
  }

  #membership(join: boolean, v: Uint8Array): void {
    if (v.length < 8) throw EINVAL;
    const group = new Ipv4Address(v.slice(0, 4));
    const addr = this.#inAddr(v, 4);
    const ifindex = v.length >= 12 ? new DataView(v.buffer, v.byteOffset + 8, 4).getInt32(0, true) : 0;
    if (!group.isMulticast) throw EINVAL;
    // The interface: by index, else by address, else the route to the group (ip_mc_find_dev).
    let i: number | null;
    if (ifindex !== 0) i = this.#ifaceByIndex(ifindex);
    else if (addr !== null) i = this.net.stack.interfaceOf(addr);
    else {
      const r = this.net.stack.routes.lookup(group);
      i = r ? r.ifIndex : null;
    }
    const groups = this.sock.groups;
    const at = groups.findIndex((g) => g.group.equals(group) && (i === null || g.iface === i));
    if (!join) {
      if (at < 0) throw EADDRNOTAVAIL;
      groups.splice(at, 1);
      return;
    }
    if (i === null) throw ENODEV;
    if (at >= 0) throw EADDRINUSE;
    if (groups.length >= IGMP_MAX_MEMBERSHIPS) throw ENOBUFS;
    groups.push({ group, iface: i });
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== SIOCGSTAMP) return super.ioctl(cmd, arg, io);
    // Linux's sock_get_timestamp: ENOENT before a datagram was read.
    if (this.#stamp === -1) throw ENOENT;
    if (this.#stamp === 0) this.#stamp = Number(realtimeNs());
    const us = Math.floor(this.#stamp / 1000);
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setBigInt64(0, BigInt(Math.floor(us / 1e6)), true);
    new DataView(tv.buffer).setBigInt64(8, BigInt(us % 1e6), true);
    io.copyOut(arg, tv);
    return 0;
  }

  protected override rcvBufChanged(): void {
    this.sock.receiveLimit = this.rcvBuf;
  }

  // --- SOL_UDP and SOL_UDPLITE: both levels reach udp_lib_getsockopt/setsockopt, for either protocol. ---

  protected override protocolLevel(level: number): boolean {
    return level === C.IPPROTO_UDP || level === C.IPPROTO_UDPLITE;
  }

  protected override getProtocolOpt(level: number, name: number, optlen: number): Uint8Array {
    if (!this.protocolLevel(level)) return super.getProtocolOpt(level, name, optlen);
    // A UDP socket reads 0 (full coverage, which it always has).
    if (name === C.UDPLITE_SEND_CSCOV) return intBytes(Math.max(0, this.sock.sendCoverage), optlen);
    if (name === C.UDPLITE_RECV_CSCOV) return intBytes(Math.max(0, this.sock.recvCoverage), optlen);
    return super.getProtocolOpt(level, name, optlen);
  }

  protected override setProtocolOpt(level: number, name: number, value: Uint8Array): void {
    if (!this.protocolLevel(level)) return super.setProtocolOpt(level, name, value);
    if (name !== C.UDPLITE_SEND_CSCOV && name !== C.UDPLITE_RECV_CSCOV) return super.setProtocolOpt(level, name, value);
    if (value.length < 4) throw EINVAL;
    if (!this.sock.lite) throw ENOPROTOOPT;
    // Linux's udp_lib_setsockopt: below the header (and not 0) is the header, past 16 bits the most.
    let v = intOpt(value);
    if (v !== 0 && v < 8) v = 8;
    else if (v > 0xffff) v = 0xffff;
    if (name === C.UDPLITE_SEND_CSCOV) this.sock.sendCoverage = v;
    else this.sock.recvCoverage = v;
  }

  protected inq(): number {
    // Linux's udp_ioctl: the next datagram's payload length.
    return this.#held?.data.length ?? this.sock.nextLength;
  }

  protected outq(): number {
    return this.sock.sendQueued;
  }

  protected closeSocket(): void {
    this.sock.close();
  }

  protected isBound(): boolean {
    return this.#bound;
  }

  protected takeErrno(): number {
    return errnoOf(this.sock.takeError());
  }

  protected override reuseChanged(): void {
    this.sharePortOptions(this.sock);
  }

  /** 65535 less the IP and UDP headers (IPv6 has no 20-byte header in its payload length). */
  override maxMessageSize(): number {
    // With IPV6_RECVERR an oversized IPv6 datagram reaches sendmsg, which queues the error.
    if (this.family === C.AF_INET6 && this.sock.recvErr) return 1 << 24;
    return this.family === C.AF_INET ? UDP_MAX_PAYLOAD : 65527;
  }

  bind(t: Task, addr: Uint8Array): void {
    const ep = parseSockaddr(this.family, addr);
    if (ep === "unspec") checkUnspecBind(this.family, addr);
    const e: Endpoint = ep === "unspec" ? { addr: null, port: (addr[2]! << 8) | (addr[3] ?? 0) } : ep;
    checkBindPort(t, this.net, e.port);
    if (this.#bound || this.sock.localPort !== 0) throw EINVAL;
    this.reuseChanged();
    net(() => this.sock.bind(e.addr, e.port));
    this.#bound = true;
  }

  connect(_t: Task, addr: Uint8Array): void {
    // A sockaddr_in on a V6ONLY socket: EAFNOSUPPORT (ip6_datagram_connect), not sendto's ENETUNREACH.
    if (this.family === C.AF_INET6 && this.v6only && addr.length >= 2 && (addr[0]! | (addr[1]! << 8)) === C.AF_INET) throw EAFNOSUPPORT;
    const ep = this.destination(addr, true);
    if (ep === "unspec") {
      this.sock.disconnect();
      this.#bound = this.sock.localPort !== 0;
      return;
    }
    if (!ep.addr!.isMulticast) this.checkReachable(ep.addr!);
    this.net.checkAllowed(ep.addr!, ep.port);
    this.reuseChanged();
    net(() => this.sock.connect({ addr: ep.addr!, port: ep.port }));
    this.#bound = true;
  }

  sendmsg(_t: Task, req: SendRequest): number {
    // MSG_OOB: udp_sendmsg's EOPNOTSUPP ("BSD error message compatibility"); udpv6_sendmsg
    // ignores it, but hands an IPv4 (mapped) destination to udp_sendmsg (checked below).
    if ((req.flags & C.MSG_OOB) && this.family === C.AF_INET) throw EOPNOTSUPP;
    if (this.#shutWr) throw EPIPE;
    let to: UdpEndpoint | undefined;
    if (req.to !== null) {
      const ep = this.destination(req.to, true);
      if (ep !== "unspec") {
        if (ep.port === 0) throw EINVAL; // Linux's udp_sendmsg: no datagram to port 0
        const broadcast = this.net.stack.isBroadcastAddress(ep.addr!);
        if (broadcast && !this.broadcast) throw EACCES; // Linux's udp_sendmsg without SO_BROADCAST
        // A group's or a broadcast's way out is chosen by the socket's options and address.
        if (!ep.addr!.isMulticast && !broadcast) this.checkReachable(ep.addr!);
        this.net.checkAllowed(ep.addr!, ep.port);
        to = { addr: ep.addr!, port: ep.port };
      }
    }
    if (to === undefined && this.sock.remote === null) throw EDESTADDRREQ;
    const dest = to ?? this.sock.remote;
    if ((req.flags & C.MSG_OOB) && dest !== null && dest.addr.version === 4) throw EOPNOTSUPP;
    if (req.data.length > (dest !== null && dest.addr.version === 6 ? 65527 : UDP_MAX_PAYLOAD)) {
      // With IPV6_RECVERR an IPv6 datagram too large is also reported on the error queue
      // (Linux's ipv6_local_error; IPv4's is not), with lo's MTU as ee_info.
      if (dest !== null && dest.addr.version === 6 && this.sock.recvErr) {
        this.sock.queueError({
          errno: NET_EMSGSIZE, type: 0, code: 0, offender: dest.addr, dst: dest, payload: new Uint8Array(0), local: { info: 65536 },
        });
        this.stackChanged();
      }
      throw EMSGSIZE;
    }
    this.reuseChanged();
    const meta = this.#ipMeta(to ?? this.sock.remote);
    if (meta && req.control.other) this.#sendControl(req.control.other, meta);
    const n = net(() => this.sock.sendTo(req.data, to, meta));
    if (n === null) throw EAGAIN;
    this.#bound = true;
    this.net.kick();
    return n;
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    // MSG_OOB means nothing to udp_recvmsg: ignored.
    if (req.flags & C.MSG_ERRQUEUE) return this.#recvErrQueue(req);
    let d = this.#held;
    if (d === null) {
      const r = net(() => this.sock.recvFrom(this.#scratch));
      if (r === null) {
        // Shut down for reading: a read that may wait returns 0 (Linux's
        // __skb_wait_for_more_packets); one that may not (MSG_DONTWAIT) is EAGAIN all the same.
        if (this.#shutRd && (req.flags & C.MSG_DONTWAIT) === 0) {
          return { data: new Uint8Array(0), fullLength: 0, from: null, control: {}, msgFlags: 0 };
        }
        throw EAGAIN;
      }
      this.#received++;
      d = { from: r.from, data: this.#scratch.slice(0, r.length), to: r.to, ttl: r.meta.ttl, tos: r.meta.tos, at: r.meta.at };
    }
    this.#held = req.flags & C.MSG_PEEK ? d : null;
    const n = Math.min(req.maxLen, d.data.length);
    // SO_TIMESTAMP: the arrival time comes as a control message, first (Linux's
    // sock_recv_timestamp); without it the time is kept for SIOCGSTAMP instead.
    const arrived = d.at === undefined ? 0 : Math.max(0, Number(realtimeNs()) - (monotonicNs() - d.at * 1e6));
    const control = this.#ipControl(d);
    if (this.socketFlag(C.SO_TIMESTAMP_OLD)) {
      const tv = new Uint8Array(16);
      const us = Math.floor((arrived || Number(realtimeNs())) / 1000);
      new DataView(tv.buffer).setBigInt64(0, BigInt(Math.floor(us / 1e6)), true);
      new DataView(tv.buffer).setBigInt64(8, BigInt(us % 1e6), true);
      control.other = [{ level: C.SOL_SOCKET, type: C.SO_TIMESTAMP_OLD, data: tv }, ...(control.other ?? [])];
    } else this.#stamp = arrived; // a peek too, as Linux's sock_recv_cmsgs
    return {
      data: d.data.subarray(0, n),
      fullLength: d.data.length,
      from: formatSockaddr(this.family, d.from.addr, d.from.port),
      control,
      msgFlags: n < d.data.length ? C.MSG_TRUNC : 0,
    };
  }

  /**
   * recvmsg(MSG_ERRQUEUE): the oldest ICMP error IP_RECVERR queued, as Linux's ip_recv_error:
   * what the error quoted of the datagram, its destination as the name, MSG_ERRQUEUE, and an
   * IP_RECVERR (IPV6_RECVERR) control message: struct sock_extended_err (origin ICMP or
   * ICMP6, type, code) followed by the offender's address.
   */
  #recvErrQueue(req: RecvRequest): RecvResult {
    const q = this.sock.takeQueuedError();
    if (q === null) throw EAGAIN;
    this.stackChanged();
    const v6 = this.family === C.AF_INET6;
    const ee = new Uint8Array(16);
    const dv = new DataView(ee.buffer);
    dv.setUint32(0, (linuxError(q.errno) as LinuxError).errno, true);
    ee[4] = q.local ? 1 : v6 ? 3 : 2; // SO_EE_ORIGIN_LOCAL, SO_EE_ORIGIN_ICMP6, SO_EE_ORIGIN_ICMP
    ee[5] = q.type;
    ee[6] = q.code;
    if (q.local) dv.setUint32(8, q.local.info, true);
    // A local error names no offender: its address is zero (AF_UNSPEC).
    const offender = q.local ? new Uint8Array(formatSockaddr(this.family, null, 0).length) : formatSockaddr(this.family, q.offender, 0);
    const data = new Uint8Array(ee.length + offender.length);
    data.set(ee);
    data.set(offender, ee.length);
    const n = Math.min(req.maxLen, q.payload.length);
    return {
      data: q.payload.subarray(0, n),
      fullLength: q.payload.length,
      from: formatSockaddr(this.family, q.dst.addr, q.dst.port),
      control: { other: [{ level: v6 ? C.IPPROTO_IPV6 : C.IPPROTO_IP, type: v6 ? C.IPV6_RECVERR : C.IP_RECVERR, data }] },
      msgFlags: C.MSG_ERRQUEUE | (n < q.payload.length ? C.MSG_TRUNC : 0),
    };
  }

  /** The TTL (hop limit) and TOS (traffic class) its datagrams to `to` carry, by its options. */
  #ipMeta(to: UdpEndpoint | null | undefined): { ttl: number; tos: number } | undefined {
    if (!to) return undefined;
    const group = to.addr.isMulticast;
    if (to.addr.version === 4) {
      const ttl = group ? this.ipFlagOr(C.IP_MULTICAST_TTL, 1) : this.ttl === -1 ? 64 : this.ttl;
      return { ttl, tos: this.tos };
    }
    const hops = group ? this.ipv6FlagOr(C.IPV6_MULTICAST_HOPS, 1) : this.ipv6HopLimit;
    return { ttl: hops, tos: this.ipv6TrafficClass };
  }

  /**
   * A send's control messages that set its datagram's TOS and TTL, as Linux's ip_cmsg_send and
   * ip6_datagram_send_ctl check them (IP_TOS an int or a byte up to 255, IP_TTL 1-255,
   * IPV6_TCLASS and IPV6_HOPLIMIT -1 (the socket's) to 255); others are ignored.
   */
  #sendControl(msgs: { level: number; type: number; data: Uint8Array }[], meta: { ttl: number; tos: number }): void {
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

  /**
   * The control messages the IP_RECV* and IPV6_RECV* options ask for, as Linux's
   * ip_cmsg_recv_offset (IPv4 datagrams: IP_PKTINFO, IP_TTL, IP_TOS, IP_ORIGDSTADDR) and
   * ip6_datagram_recv_*_ctl (IPV6_PKTINFO, also for IPv4 on a dual-stack socket, v4-mapped;
   * IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_ORIGDSTADDR) put them, in their order.
   */
  #ipControl(d: Held): ControlMessages {
    const out: { level: number; type: number; data: Uint8Array }[] = [];
    const to = d.to ?? null;
    const v4 = d.from.addr.version === 4;
    const lo = 1; // loopback's ifindex: the only interface that delivers to sockets here
    const ifindex = to === null ? lo : (this.net.stack.interfaceOf(to.addr) ?? 0) + 1;
    if (this.family === C.AF_INET6 && this.ipv6Flag(C.IPV6_RECVPKTINFO) && to !== null) {
      const b = new Uint8Array(20);
      b.set(formatSockaddr(C.AF_INET6, to.addr, 0).subarray(8, 24), 0);
      new DataView(b.buffer).setInt32(16, ifindex, true);
      out.push({ level: C.IPPROTO_IPV6, type: C.IPV6_PKTINFO, data: b });
    }
    if (v4) {
      if (this.ipFlag(C.IP_PKTINFO) && to !== null) {
        const b = new Uint8Array(12);
        new DataView(b.buffer).setInt32(0, ifindex, true);
        if (to.addr.version === 4) {
          // ipi_spec_dst: the local address it came to; for a group or a broadcast, the
          // receiving interface's (Linux's fib_compute_spec_dst).
          let spec: IpAddress = to.addr;
          if (to.addr.isMulticast || this.net.stack.interfaceOf(to.addr) === null) {
            const iface = this.net.stack.interfaces[ifindex - 1];
            spec = iface?.addresses.find((c) => c.address.version === 4)?.address ?? to.addr;
          }
          b.set(spec.bytes, 4);
          b.set(to.addr.bytes, 8); // ipi_addr: the header's destination
        }
        out.push({ level: C.IPPROTO_IP, type: C.IP_PKTINFO, data: b });
      }
      if (this.ipFlag(C.IP_RECVTTL)) out.push({ level: C.IPPROTO_IP, type: C.IP_TTL, data: intBytes(d.ttl ?? 64, 4) });
      if (this.ipFlag(C.IP_RECVTOS)) out.push({ level: C.IPPROTO_IP, type: C.IP_TOS, data: Uint8Array.of(d.tos ?? 0) });
      if (this.ipFlag(C.IP_RECVORIGDSTADDR) && to !== null) {
        out.push({ level: C.IPPROTO_IP, type: C.IP_RECVORIGDSTADDR, data: formatSockaddr(C.AF_INET, to.addr, to.port) });
      }
    } else if (this.family === C.AF_INET6) {
      if (this.ipv6Flag(C.IPV6_RECVHOPLIMIT)) out.push({ level: C.IPPROTO_IPV6, type: C.IPV6_HOPLIMIT, data: intBytes(d.ttl ?? 64, 4) });
      if (this.ipv6Flag(C.IPV6_RECVTCLASS)) out.push({ level: C.IPPROTO_IPV6, type: C.IPV6_TCLASS, data: intBytes(d.tos ?? 0, 4) });
      if (this.ipv6Flag(C.IPV6_RECVORIGDSTADDR) && to !== null) {
        out.push({ level: C.IPPROTO_IPV6, type: C.IPV6_RECVORIGDSTADDR, data: formatSockaddr(C.AF_INET6, to.addr, to.port) });
      }
    }
    return out.length === 0 ? {} : { other: out };
  }

  override shutdown(_t: Task, how: number): void {
    if (how !== C.SHUT_RD && how !== C.SHUT_WR && how !== C.SHUT_RDWR) throw EINVAL;
    // As Linux's inet_shutdown: an unconnected socket answers ENOTCONN but is shut down all
    // the same, which wakes its blocked readers (a way to stop a thread blocked in recvfrom).
    if (how !== C.SHUT_WR) this.#shutRd = true;
    if (how !== C.SHUT_RD) this.#shutWr = true;
    this.stackChanged();
    if (this.sock.remote === null) throw ENOTCONN;
  }

  getsockname(_t: Task): Uint8Array {
    let a: IpAddress | null = this.sock.localAddr;
    // A connected socket has a source address, as Linux reports after connect.
    const r = this.sock.remote;
    if (a === null && r !== null) a = this.net.stack.udpRoute(r.addr)?.src ?? null;
    return formatSockaddr(this.family, a, this.sock.localPort);
  }

  override getpeername(_t: Task): Uint8Array {
    const r = this.sock.remote;
    // Connected to port 0 reads as not connected (Linux's inet_getname checks inet_dport).
    if (r === null || r.port === 0) throw ENOTCONN;
    return formatSockaddr(this.family, r.addr, r.port);
  }
}

/** What a ping socket file keeps beside its netstack socket, as a checkpoint saves it. */
export interface PingFileOptions {
  bound: boolean;
  peer: string | null;
  received: number;
}

/** ICMP echo request and reply types, by family. */
const ECHO = { 4: { request: 8, reply: 0 }, 6: { request: 128, reply: 129 } } as const;

/**
 * SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6: Linux's unprivileged ping sockets. The
 * application writes an ICMP echo request (its identifier is replaced by the socket's, the
 * "port"); it reads echo replies, header included.
 *
 * @savable
 */
export class PingSocketFile extends InetSocketFile {
  readonly type = C.SOCK_DGRAM;
  readonly protocol: number;
  readonly sock: IcmpSocket;
  #bound = false;
  #peer: IpAddress | null = null;
  #received = 0;

  /** A new socket, or (a restore) one around a restored netstack socket. */
  constructor(n: Net, family: number, flags: number, sock?: IcmpSocket) {
    super(n, family, flags, { snd: DGRAM_BUF, rcv: DGRAM_BUF });
    this.protocol = family === C.AF_INET ? C.IPPROTO_ICMP : C.IPPROTO_ICMPV6;
    this.sock = sock ?? n.stack.icmpSocket();
  }

  /** The file's own state, for a checkpoint: bound, the connected peer, replies taken. */
  savePingOptions(): PingFileOptions {
    return { bound: this.#bound, peer: this.#peer?.toString() ?? null, received: this.#received };
  }

  /** Takes it back (a restore); `peer` is parsed by the caller. */
  loadPingOptions(o: PingFileOptions, peer: IpAddress | null): void {
    this.#bound = o.bound;
    this.#peer = peer;
    this.#received = o.received;
  }

  protected netReadiness(): NetReadiness {
    return { ...this.sock.readiness(), rdhup: false };
  }

  protected rxSignature(): number {
    return this.#received + (this.sock.readiness().readable ? 1 : 0);
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

  protected override getProtocolOpt(): Uint8Array {
    throw ENOPROTOOPT;
  }

  bind(_t: Task, addr: Uint8Array): void {
    const ep = parseSockaddr(this.family, addr);
    if (ep === "unspec") throw EINVAL;
    if (this.#bound) throw EINVAL;
    if (ep.addr !== null && !this.net.stack.isBindableAddress(ep.addr)) throw EADDRNOTAVAIL;
    net(() => this.sock.bind(ep.port));
    this.#bound = true;
  }

  connect(_t: Task, addr: Uint8Array): void {
    const ep = this.destination(addr);
    if (ep === "unspec") {
      this.#peer = null;
      return;
    }
    this.checkReachable(ep.addr!);
    this.#peer = ep.addr;
  }

  sendmsg(_t: Task, req: SendRequest): number {
    let dst = this.#peer;
    if (req.to !== null) {
      const ep = this.destination(req.to);
      if (ep !== "unspec") dst = ep.addr;
    }
    if (dst === null) throw EDESTADDRREQ;
    this.checkReachable(dst);
    this.net.checkAllowed(dst, 0);
    const d = req.data;
    const types = ECHO[dst.version];
    if (d.length < 8 || d[0] !== types.request || d[1] !== 0) throw EINVAL;
    const seqNo = (d[6]! << 8) | d[7]!;
    const n = net(() => this.sock.sendTo(dst, seqNo, d.subarray(8)));
    if (n === null) throw EAGAIN;
    this.#bound = true;
    this.net.kick();
    return d.length;
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    const m = this.sock.recvFrom();
    if (m === null) throw EAGAIN;
    this.#received++;
    const b = new Uint8Array(8 + m.data.length);
    b[0] = ECHO[m.peer.version].reply;
    b[4] = m.ident >> 8;
    b[5] = m.ident & 0xff;
    b[6] = m.seqNo >> 8;
    b[7] = m.seqNo & 0xff;
    b.set(m.data, 8);
    if (m.peer.version === 4) {
      const c = checksum(b);
      b[2] = c >> 8;
      b[3] = c & 0xff;
    }
    const n = Math.min(req.maxLen, b.length);
    return {
      data: b.subarray(0, n),
      fullLength: b.length,
      from: formatSockaddr(this.family, m.peer, 0),
      control: {},
      msgFlags: n < b.length ? C.MSG_TRUNC : 0,
    };
  }

  getsockname(_t: Task): Uint8Array {
    return formatSockaddr(this.family, null, this.sock.ident);
  }

  override getpeername(_t: Task): Uint8Array {
    if (this.#peer === null) throw ENOTCONN;
    return formatSockaddr(this.family, this.#peer, 0);
  }
}
