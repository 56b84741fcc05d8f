/**
 * AF_NETLINK / NETLINK_ROUTE sockets: enough rtnetlink for getifaddrs(3), `ip addr`, `ip link`
 * and `ip route`. Dump requests (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE with NLM_F_DUMP) are
 * answered from the sandbox's stack at once; the answer waits in the socket's receive queue.
 * Changes (RTM_NEW*, RTM_DEL*) are refused with EPERM, as for an unprivileged process.
 *
 * Wire format (linux/netlink.h, linux/rtnetlink.h): each message is a 16-byte nlmsghdr
 * (len, type, flags, seq, pid) and a payload aligned to 4; attributes are rtattr
 * (len, type) plus value, aligned to 4.
 *
 * @module
 */

import type { IpAddress } from "../../../netstack/mod.ts";
import { EAGAIN, EINVAL, ENODEV, ENOPROTOOPT, EOPNOTSUPP, EPERM, EPROTONOSUPPORT, ESOCKTNOSUPPORT } from "../../errno.ts";
import type { Net } from "../../net.ts";
import type { Task } from "../../task.ts";
import { O_NONBLOCK, O_RDWR } from "../../../abi/linux/file.ts";
import { EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM } from "../../../waiter/mod.ts";
import { type RecvRequest, type RecvResult, registerFamily, type SendRequest, SocketFile } from "../socket.ts";
import * as C from "../inet/constants.ts";
import { intBytes, intOpt } from "../inet/inet_socket.ts";

export const NETLINK_ROUTE = 0;

const NLMSG_HDRLEN = 16;
const NLMSG_NOOP = 1;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_MULTI = 0x2;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;

const IFLA_ADDRESS = 1;
const IFLA_BROADCAST = 2;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_QDISC = 6;
const IFLA_TXQLEN = 13;
const IFLA_OPERSTATE = 16;
const IFLA_LINKMODE = 17;
const IFLA_GROUP = 27;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_CACHEINFO = 6;
const IFA_FLAGS = 8;
const IFA_F_PERMANENT = 0x80;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;

const ARPHRD_ETHER = 1;
const ARPHRD_NONE = 0xfffe;
const ARPHRD_LOOPBACK = 772;
const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_LOOPBACK = 0x8;
const IFF_RUNNING = 0x40;
const IFF_NOARP = 0x80;
const IFF_MULTICAST = 0x1000;
const IFF_LOWER_UP = 0x10000;

const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;
const RT_TABLE_MAIN = 254;
const RT_TABLE_LOCAL = 255;
const RTPROT_KERNEL = 2;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const RTN_LOCAL = 2;

const SOL_NETLINK = 270;
const SOCKADDR_NL_LEN = 12;

/** Builds one netlink message: a fixed header struct, then attributes. */
class MessageBuilder {
  readonly #parts: number[] = [];

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.#parts.push(b[i]!);
    return this;
  }

  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >> 8);
  }

  u32(v: number): this {
    return this.u16(v & 0xffff).u16((v >>> 16) & 0xffff);
  }

  attr(type: number, value: ArrayLike<number>): this {
    this.u16(4 + value.length).u16(type).bytes(value);
    while (this.#parts.length % 4) this.#parts.push(0);
    return this;
  }

  attrU32(type: number, v: number): this {
    return this.attr(type, le32(v));
  }

  attrString(type: number, s: string): this {
    return this.attr(type, [...new TextEncoder().encode(s), 0]);
  }

  /** The message with its nlmsghdr. */
  message(type: number, flags: number, seq: number, pid: number): Uint8Array {
    const body = this.#parts;
    const len = NLMSG_HDRLEN + body.length;
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint32(0, len, true);
    v.setUint16(4, type, true);
    v.setUint16(6, flags, true);
    v.setUint32(8, seq, true);
    v.setUint32(12, pid, true);
    b.set(body, NLMSG_HDRLEN);
    return b;
  }
}

function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    b.set(p, o);
    o += p.length;
  }
  return b;
}

/** @savable */
export class NetlinkRouteSocket extends SocketFile {
  readonly family = C.AF_NETLINK;
  readonly type: number;
  readonly protocol = NETLINK_ROUTE;
  readonly net: Net;
  /** The port id: the creating process's pid for its first socket, as Linux autobinds. */
  portId: number;
  #bound = false;
  readonly #rx: Uint8Array[] = [];
  #rcvBuf = 212992;
  #sndBuf = 212992;

  constructor(net: Net, type: number, flags: number, portId: number) {
    super(O_RDWR | (flags & O_NONBLOCK));
    this.net = net;
    this.type = type;
    this.portId = portId;
  }

  override readiness(mask: number): number {
    return ((this.#rx.length > 0 ? EVENT_IN | EVENT_RDNORM : 0) | EVENT_OUT | EVENT_WRNORM) & mask;
  }

  bind(_t: Task, addr: Uint8Array): void {
    if (addr.length < SOCKADDR_NL_LEN) throw EINVAL;
    const v = new DataView(addr.buffer, addr.byteOffset, SOCKADDR_NL_LEN);
    if (v.getUint16(0, true) !== C.AF_NETLINK) throw EINVAL;
    const pid = v.getUint32(4, true);
    if (v.getUint32(8, true) !== 0) { /* multicast groups: no events are ever sent */ }
    if (this.#bound && pid !== 0 && pid !== this.portId) throw EINVAL;
    if (pid !== 0) this.portId = pid;
    this.#bound = true;
  }

  connect(_t: Task, addr: Uint8Array): void {
    if (addr.length < SOCKADDR_NL_LEN) throw EINVAL;
    if ((addr[0]! | (addr[1]! << 8)) !== C.AF_NETLINK) throw EINVAL;
    this.#bound = true;
  }

  getsockname(_t: Task): Uint8Array {
    return sockaddrNl(this.portId);
  }

  override getpeername(_t: Task): Uint8Array {
    return sockaddrNl(0);
  }

  override getsockopt(_t: Task, level: number, name: number, optlen: number): Uint8Array {
    if (level === C.SOL_SOCKET) {
      switch (name) {
        case C.SO_TYPE:
          return intBytes(this.type, optlen);
        case C.SO_PROTOCOL:
          return intBytes(this.protocol, optlen);
        case C.SO_DOMAIN:
          return intBytes(this.family, optlen);
        case C.SO_RCVBUF:
          return intBytes(this.#rcvBuf, optlen);
        case C.SO_SNDBUF:
          return intBytes(this.#sndBuf, optlen);
        case C.SO_ERROR:
          return intBytes(0, optlen);
      }
    }
    if (level === SOL_NETLINK) return intBytes(0, optlen);
    throw ENOPROTOOPT;
  }

  override setsockopt(_t: Task, level: number, name: number, value: Uint8Array): void {
    if (level === C.SOL_SOCKET) {
      const n = intOpt(value);
      if (name === C.SO_RCVBUF || name === C.SO_RCVBUFFORCE) this.#rcvBuf = Math.max(2304, 2 * n);
      else if (name === C.SO_SNDBUF || name === C.SO_SNDBUFFORCE) this.#sndBuf = Math.max(4608, 2 * n);
      else if (name !== C.SO_PRIORITY && name !== C.SO_TIMESTAMP_OLD) throw ENOPROTOOPT;
      return;
    }
    // SOL_NETLINK: NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, memberships... accepted.
    if (level === SOL_NETLINK) return;
    throw ENOPROTOOPT;
  }

  override shutdown(_t: Task, _how: number): void {}

  sendmsg(_t: Task, req: SendRequest): number {
    const d = req.data;
    let off = 0;
    while (off + NLMSG_HDRLEN <= d.length) {
      const v = new DataView(d.buffer, d.byteOffset + off);
      const len = v.getUint32(0, true);
      if (len < NLMSG_HDRLEN || off + len > d.length) break;
      this.#handle(d.subarray(off, off + len));
      off += (len + 3) & ~3;
    }
    if (this.#rx.length > 0) this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    return d.length;
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    const m = this.#rx[0];
    if (m === undefined) throw EAGAIN;
    if (!(req.flags & C.MSG_PEEK)) this.#rx.shift();
    const n = Math.min(req.maxLen, m.length);
    return {
      data: m.subarray(0, n),
      fullLength: m.length,
      from: sockaddrNl(0),
      control: {},
      msgFlags: n < m.length ? C.MSG_TRUNC : 0,
    };
  }

  /** Answers one request message. */
  #handle(msg: Uint8Array): void {
    const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const type = v.getUint16(4, true);
    const flags = v.getUint16(6, true);
    const seq = v.getUint32(8, true);
    const family = msg.length > NLMSG_HDRLEN ? msg[NLMSG_HDRLEN]! : C.AF_UNSPEC;
    if (!(flags & NLM_F_REQUEST) || type === NLMSG_NOOP || type === NLMSG_DONE) return;
    // Either bit of NLM_F_DUMP (NLM_F_ROOT, NLM_F_MATCH) asks for a dump (rtnetlink_rcv_msg).
    const dump = (flags & NLM_F_DUMP) !== 0;
    let parts: Uint8Array[] | null = null;
    switch (type) {
      case RTM_GETLINK:
        parts = this.#links(seq, dump);
        if (!dump) {
          // A request for one link names it by ifi_index or IFLA_IFNAME (ip's name lookups).
          const one = this.#oneLink(msg, parts);
          if (one === null) {
            this.#rx.push(this.#error(ENODEV.errno, msg, seq));
            return;
          }
          parts = [one];
        }
        break;
      case RTM_GETADDR:
        parts = this.#addresses(seq, family);
        break;
      case RTM_GETROUTE:
        parts = this.#routes(seq, family);
        break;
    }
    if (parts === null) {
      // Changes need CAP_NET_ADMIN; unknown types are not supported.
      this.#rx.push(this.#error(type % 4 === 2 || type % 4 === 3 ? EOPNOTSUPP.errno : EPERM.errno, msg, seq));
      return;
    }
    if (dump) {
      // The records in one datagram, then NLMSG_DONE in the next, as Linux's netlink_dump
      // sends them (the done message comes from the dump's second round).
      if (parts.length > 0) this.#rx.push(concat(parts));
      this.#rx.push(new MessageBuilder().u32(0).message(NLMSG_DONE, NLM_F_MULTI, seq, this.portId));
    } else {
      this.#rx.push(concat(parts.slice(0, 1)));
      if (flags & NLM_F_ACK) this.#rx.push(this.#error(0, msg, seq));
    }
  }

  #error(errno: number, msg: Uint8Array, seq: number): Uint8Array {
    return new MessageBuilder().u32(-errno >>> 0).bytes(msg.subarray(0, NLMSG_HDRLEN))
      .message(NLMSG_ERROR, 0, seq, this.portId);
  }

  #links(seq: number, dump: boolean): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const iface of this.net.stack.interfaces) {
      const lo = iface.index === 0;
      const ether = iface.mac !== null;
      const m = new MessageBuilder()
        .u8(C.AF_UNSPEC).u8(0).u16(lo ? ARPHRD_LOOPBACK : ether ? ARPHRD_ETHER : ARPHRD_NONE)
        .u32(iface.index + 1)
        .u32(IFF_UP | IFF_RUNNING | IFF_LOWER_UP | (lo ? IFF_LOOPBACK : ether ? IFF_BROADCAST | IFF_MULTICAST : IFF_NOARP))
        .u32(0)
        .attrString(IFLA_IFNAME, this.net.ifNames[iface.index] ?? `eth${iface.index - 1}`)
        .attrU32(IFLA_MTU, lo ? 65536 : iface.device.mtu - (ether ? 14 : 0))
        .attrU32(IFLA_TXQLEN, lo ? 1000 : 1000)
        .attr(IFLA_OPERSTATE, [lo ? 0 : 6])
        .attr(IFLA_LINKMODE, [0])
        .attrU32(IFLA_GROUP, 0)
        .attrString(IFLA_QDISC, "noqueue")
        .attr(IFLA_ADDRESS, iface.mac ? iface.mac.bytes : [0, 0, 0, 0, 0, 0])
        .attr(IFLA_BROADCAST, iface.mac ? [255, 255, 255, 255, 255, 255] : [0, 0, 0, 0, 0, 0]);
      out.push(m.message(RTM_NEWLINK, dump ? NLM_F_MULTI : 0, seq, this.portId));
    }
    return out;
  }

  /** The message among `links` (one per interface, in order) that a GETLINK request names. */
  #oneLink(msg: Uint8Array, links: Uint8Array[]): Uint8Array | null {
    if (msg.length < NLMSG_HDRLEN + 16) return links[0] ?? null;
    const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const index = v.getInt32(NLMSG_HDRLEN + 4, true);
    if (index > 0) return links[index - 1] ?? null;
    for (let o = NLMSG_HDRLEN + 16; o + 4 <= msg.length;) {
      const len = v.getUint16(o, true), type = v.getUint16(o + 2, true) & 0x3fff;
      if (len < 4) break;
      if (type === IFLA_IFNAME) {
        const name = new TextDecoder().decode(msg.subarray(o + 4, o + len)).replace(/\0.*$/s, "");
        const i = this.net.ifNames.indexOf(name);
        return i < 0 ? null : links[i] ?? null;
      }
      o += (len + 3) & ~3;
    }
    return links[0] ?? null;
  }

  #addresses(seq: number, family: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    // Linux lists IPv4 addresses of every interface, then IPv6 ones.
    for (const want of [4, 6] as const) {
      if (family === C.AF_INET && want === 6) continue;
      if (family === C.AF_INET6 && want === 4) continue;
      for (const iface of this.net.stack.interfaces) {
        for (const c of iface.addresses) {
          const a = c.address;
          if (a.version !== want) continue;
          const scope = a.isLoopback ? RT_SCOPE_HOST : a.version === 6 && a.isLinkLocal ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
          const m = new MessageBuilder()
            .u8(want === 4 ? C.AF_INET : C.AF_INET6).u8(c.prefixLength).u8(IFA_F_PERMANENT).u8(scope)
            .u32(iface.index + 1)
            .attr(IFA_ADDRESS, a.bytes);
          if (want === 4) {
            m.attr(IFA_LOCAL, a.bytes);
            const bc = c.broadcast();
            if (bc !== null && !a.isLoopback && c.prefixLength < 31) m.attr(IFA_BROADCAST, bc.bytes);
            m.attrString(IFA_LABEL, this.net.ifNames[iface.index] ?? "");
          }
          // struct ifa_cacheinfo: preferred and valid lifetimes "forever", no timestamps.
          m.attr(IFA_CACHEINFO, [...le32(0xffffffff), ...le32(0xffffffff), ...le32(0), ...le32(0)]);
          m.attrU32(IFA_FLAGS, IFA_F_PERMANENT);
          out.push(m.message(RTM_NEWADDR, NLM_F_MULTI, seq, this.portId));
        }
      }
    }
    return out;
  }

  #routes(seq: number, family: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const stack = this.net.stack;
    for (const r of stack.routes.routes) {
      const a = r.cidr.address;
      const fam = a.version === 4 ? C.AF_INET : C.AF_INET6;
      if (family !== C.AF_UNSPEC && family !== fam) continue;
      // Only host routes to our own addresses (and loopback nets) are local; an on-link route
      // holds the interface's address but names its network.
      const own = stack.isLocalAddress(a) && r.cidr.prefixLength === (a.version === 4 ? 32 : 128);
      const local = r.gateway === null && isLocalNet(own, a);
      const table = local ? RT_TABLE_LOCAL : RT_TABLE_MAIN;
      const scope = local ? RT_SCOPE_HOST : r.gateway === null ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
      const m = new MessageBuilder()
        .u8(fam).u8(r.cidr.prefixLength).u8(0).u8(0)
        .u8(table).u8(r.gateway === null ? RTPROT_KERNEL : RTPROT_BOOT).u8(scope).u8(local ? RTN_LOCAL : RTN_UNICAST)
        .u32(0)
        .attrU32(RTA_TABLE, table);
      if (r.cidr.prefixLength > 0) m.attr(RTA_DST, networkOf(a, r.cidr.prefixLength));
      if (r.gateway !== null) m.attr(RTA_GATEWAY, r.gateway.bytes);
      const iface = stack.interfaces[r.ifIndex];
      const src = iface?.addresses.find((c) => c.address.version === a.version)?.address;
      if (src && a.version === 4) m.attr(RTA_PREFSRC, src.bytes);
      m.attrU32(RTA_OIF, r.ifIndex + 1);
      out.push(m.message(RTM_NEWROUTE, NLM_F_MULTI, seq, this.portId));
    }
    return out;
  }
}

/** Routes to our own loopback networks live in the local table, as on Linux. */
function isLocalNet(ours: boolean, a: IpAddress): boolean {
  return ours || a.isLoopback;
}

/** The network part of a. */
function networkOf(a: IpAddress, prefix: number): Uint8Array {
  const b = Uint8Array.from(a.bytes);
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    b[i] = b[i]! & (0xff << (8 - keep)) & 0xff;
  }
  return b;
}

function sockaddrNl(pid: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_NL_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, C.AF_NETLINK, true);
  v.setUint32(4, pid, true);
  return b;
}

/** Creates a netlink socket; only NETLINK_ROUTE exists. */
export function createNetlinkSocket(net: Net, type: number, protocol: number, flags: number, pid: number): SocketFile {
  const base = type & C.SOCK_TYPE_MASK;
  if (base !== C.SOCK_RAW && base !== C.SOCK_DGRAM) throw ESOCKTNOSUPPORT;
  if (protocol !== NETLINK_ROUTE) throw EPROTONOSUPPORT;
  return new NetlinkRouteSocket(net, base, flags | (type & O_NONBLOCK), pid);
}

registerFamily(C.AF_NETLINK, (t, type, protocol, flags) => createNetlinkSocket(t.kernel.net, type, protocol, flags, t.tg.tgid));

