/**
 * AF_NETLINK / NETLINK_ROUTE sockets: enough rtnetlink for getifaddrs(3), `ip addr`, `ip link`
 * and `ip route`. Dump requests (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE with NLM_F_DUMP) are
 * answered from the sandbox's stack at once; the answer waits in the socket's receive queue.
 * Changes (RTM_NEW*, RTM_DEL*) need CAP_NET_ADMIN (EPERM without); with it, IPv4 addresses are
 * added and removed (RTM_NEWADDR/RTM_DELADDR, with their networks' on-link routes), and unicast
 * routes of the main table (RTM_NEWROUTE/RTM_DELROUTE), and lookup rules (RTM_NEWRULE/RTM_DELRULE); a checkpoint then refuses the sandbox
 * (Net.configChanged); link changes that change nothing are acked, a TUN/TAP device goes up
 * and down and a TAP takes a MAC (kernel/net_tun.ts), RTNLGRP_LINK members hear of devices
 * appearing, changing and going,
 * removing a link is EOPNOTSUPP as for loopback, and other changes are not supported yet
 * (EOPNOTSUPP). RTM_GETRULE dumps Linux's default rules.
 *
 * Wire format: message.ts, and linux/rtnetlink.h for the structs after the nlmsghdr.
 *
 * @module
 */

import type { Interface, IpAddress } from "../../../netstack/mod.ts";
import type { Route } from "../../../netstack/iface/routing.ts";
import { EthernetAddress, IpCidr, Ipv4Address, Ipv6Address } from "../../../netstack/wire/address.ts";
import { LinuxError } from "../../errno.ts";
import { EADDRNOTAVAIL, EAFNOSUPPORT, EEXIST, EINVAL, ENETUNREACH, ENODEV, ENOENT, EOPNOTSUPP, EPERM, ESRCH } from "../../errno.ts";
import { LOOPBACK_INDEX, Net } from "../../net.ts";
import { CAP_NET_ADMIN } from "../../../abi/linux/capability.ts";
import { createVirtualLink, deleteVirtualLink } from "../../net_veth.ts";
import { nsfsNamespace } from "../../../vfs/procfs/procfs.ts";
import type { Task } from "../../task.ts";
import { EVENT_IN, EVENT_RDNORM } from "../../../waiter/mod.ts";
import * as C from "../inet/constants.ts";
import {
  concat, le32, MessageBuilder, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REPLACE, NLM_F_REQUEST,
  NLMSG_DONE, NLMSG_HDRLEN, NLMSG_NOOP, parseAttrs,
} from "./message.ts";
import { NetlinkSocket } from "./socket.ts";

export const NETLINK_ROUTE = 0;

/** 0 when `f` succeeds, else the errno of the LinuxError it throws (others propagate). */
function errnoOf(f: () => void): number {
  try {
    f();
    return 0;
  } catch (e) {
    if (e instanceof LinuxError) return e.errno;
    throw e;
  }
}

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_SETLINK = 19;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const RTM_NEWRULE = 32;
const RTM_DELRULE = 33;
const RTM_GETRULE = 34;
/** struct fib_rule_hdr, after the nlmsghdr. */
const FIB_RULE_HDR_LEN = 12;
const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_PRIORITY = 6;
const FRA_TABLE = 15;

/** struct ifinfomsg, after the nlmsghdr. */
const IFINFOMSG_LEN = 16;
/** struct ifaddrmsg, after the nlmsghdr. */
const IFADDRMSG_LEN = 8;
/** struct rtmsg, after the nlmsghdr. */
const RTMSG_LEN = 12;
const RTM_F_CLONED = 0x200;

const IFLA_ADDRESS = 1;
const IFLA_BROADCAST = 2;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_QDISC = 6;
const IFLA_TXQLEN = 13;
const IFLA_OPERSTATE = 16;
const IFLA_LINKMODE = 17;
const IFLA_GROUP = 27;
const IFLA_LINK = 5;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFLA_NET_NS_PID = 19;
const IFLA_NET_NS_FD = 28;

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
const RTA_PRIORITY = 6;
const RTA_TABLE = 15;

const ARPHRD_ETHER = 1;
const ARPHRD_NONE = 0xfffe;
const ARPHRD_LOOPBACK = 772;
const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_LOOPBACK = 0x8;
const IFF_POINTOPOINT = 0x10;
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

/** The group of link events (RTMGRP_LINK's bit). */
const RTNLGRP_LINK = 1;

/** @savable */
export class NetlinkRouteSocket extends NetlinkSocket {
  /** NETLINK_ROUTE's multicast groups (RTNLGRP_MAX). */
  protected readonly groupsMax = 39;

  /** Queues RTM_NEWLINK/RTM_DELLINK for RTNLGRP_LINK members: registered in Net.linkListeners while open. */
  readonly #onLink = (index: number, added: boolean): void => this.#linkEvent(index, added);

  constructor(net: Net, type: number, flags: number, pid: number, openerNetAdmin = true) {
    super(net, NETLINK_ROUTE, type, flags, pid, openerNetAdmin);
    net.linkListeners.add(this.#onLink);
  }

  protected override release(): void {
    this.net.linkListeners.delete(this.#onLink);
    super.release();
  }

  /**
   * An interface appeared or is going (rtmsg_ifinfo): a member of RTNLGRP_LINK gets its
   * RTM_NEWLINK or RTM_DELLINK (pid 0, seq 0, ifi_change all ones), unless its receive buffer
   * is full (then it is lost, as Linux drops a broadcast that does not fit, and the next
   * recvmsg is ENOBUFS).
   */
  #linkEvent(index: number, added: boolean): void {
    if ((this.groups & (1n << BigInt(RTNLGRP_LINK - 1))) === 0n) return;
    const iface = this.net.stack.interfaces[index];
    if (iface === undefined) return;
    let queued = 0;
    for (const m of this.rx) queued += m.length;
    if (queued >= this.rcvBuf) return this.overrun();
    this.rx.push(linkMessage(this.net, iface, added ? RTM_NEWLINK : RTM_DELLINK, 0, 0, 0, 0xffffffff));
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /** Answers one request message. */
  protected handle(t: Task, msg: Uint8Array): void {
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
            this.rx.push(this.error(ENODEV.errno, msg, seq));
            return;
          }
          parts = [one];
        }
        break;
      case RTM_GETADDR:
        parts = this.#addresses(seq, family);
        break;
      case RTM_GETROUTE:
        if (!dump) {
          const one = this.#routeLookup(msg, seq);
          if (typeof one === "number") {
            this.rx.push(this.error(one, msg, seq));
            return;
          }
          parts = [one];
          break;
        }
        parts = this.#routes(seq, family);
        break;
      case RTM_GETRULE:
        if (!dump) break;
        parts = this.#rules(seq, family);
        break;
    }
    if (parts === null) {
      // Changes need CAP_NET_ADMIN (rtnetlink_rcv_msg, before the handler); of them only
      // no-op link changes and link removals' errors are answered; other types are not supported.
      const get = type % 4 === 2;
      let errno = EOPNOTSUPP.errno;
      if (!get && !this.netCapable(t)) errno = EPERM.errno;
      else if (type === RTM_NEWLINK || type === RTM_SETLINK || type === RTM_DELLINK) errno = this.#changeLink(t, type, flags, msg);
      else if (type === RTM_NEWADDR || type === RTM_DELADDR) errno = this.#changeAddress(type, flags, msg);
      else if (type === RTM_NEWROUTE || type === RTM_DELROUTE) errno = this.#changeRoute(type, flags, msg);
      else if (type === RTM_NEWRULE || type === RTM_DELRULE) errno = this.#changeRule(type, flags, msg);
      if (errno !== 0 || flags & NLM_F_ACK) this.rx.push(this.error(errno, msg, seq));
      return;
    }
    if (dump) {
      // The records in one datagram, then NLMSG_DONE in the next, as Linux's netlink_dump
      // sends them (the done message comes from the dump's second round).
      if (parts.length > 0) this.rx.push(concat(parts));
      this.rx.push(new MessageBuilder().u32(0).message(NLMSG_DONE, NLM_F_MULTI, seq, this.portId));
    } else {
      this.rx.push(concat(parts.slice(0, 1)));
      if (flags & NLM_F_ACK) this.rx.push(this.error(0, msg, seq));
    }
  }

  /**
   * RTM_NEWLINK/RTM_SETLINK/RTM_DELLINK from a sender with CAP_NET_ADMIN: the errno to answer.
   * The link is named by ifi_index or IFLA_IFNAME. Removing one is not supported (none of the
   * sandbox's links has rtnl_link_ops, as loopback has none on Linux); creating one is not
   * supported; a change is accepted when it changes nothing (IFF_UP on a link that is up, its
   * own name or MTU), and otherwise not supported yet.
   */
  #changeLink(t: Task, type: number, flags: number, msg: Uint8Array): number {
    if (msg.length < NLMSG_HDRLEN + IFINFOMSG_LEN) return EINVAL.errno;
    const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const index = v.getInt32(NLMSG_HDRLEN + 4, true);
    const ifFlags = v.getUint32(NLMSG_HDRLEN + 8, true), change = v.getUint32(NLMSG_HDRLEN + 12, true);
    const attrs = parseAttrs(msg, NLMSG_HDRLEN + IFINFOMSG_LEN);
    if (attrs === null) return EINVAL.errno;
    const nameAttr = attrs.get(IFLA_IFNAME);
    const name = nameAttr === undefined ? null : new TextDecoder().decode(nameAttr).replace(/\0.*$/s, "");
    if (name !== null && (name.length === 0 || name.length >= 16)) return EINVAL.errno;
    const ifaces = this.net.stack.interfaces;
    let i = -1;
    if (index > 0) i = this.net.linkByIndex(index) !== null ? index - 1 : -1;
    else if (name !== null) i = this.net.linkIndex(name);
    if (type === RTM_DELLINK) {
      if (i < 0 || (index <= 0 && name === null)) return ENODEV.errno;
      return this.net.virtualLinks.has(i) ? errnoOf(() => deleteVirtualLink(this.net, i)) : EOPNOTSUPP.errno;
    }
    if (i < 0 && type === RTM_NEWLINK && flags & NLM_F_CREATE && index <= 0) {
      // A veth pair or a bridge (IFLA_LINKINFO's IFLA_INFO_KIND); other kinds are EOPNOTSUPP.
      const info = attrs.get(IFLA_LINKINFO);
      const nested = info === undefined ? null : parseAttrs(info, 0);
      const kind = nested?.get(IFLA_INFO_KIND);
      if (nested === null || kind === undefined) return EOPNOTSUPP.errno;
      let peerName: string | null = null;
      const data = nested.get(IFLA_INFO_DATA);
      const peer = data === undefined ? undefined : parseAttrs(data, 0)?.get(VETH_INFO_PEER);
      if (peer !== undefined) {
        if (peer.length < IFINFOMSG_LEN) return EINVAL.errno;
        const pa = parseAttrs(peer, IFINFOMSG_LEN);
        if (pa === null) return EINVAL.errno;
        const pn = pa.get(IFLA_IFNAME);
        if (pn !== undefined) peerName = new TextDecoder().decode(pn).replace(/\0.*$/s, "");
      }
      const k = new TextDecoder().decode(kind).replace(/\0.*$/s, "");
      return errnoOf(() => createVirtualLink(this.net, k, name, peerName));
    }
    if (i < 0) return type === RTM_NEWLINK && flags & NLM_F_CREATE ? EOPNOTSUPP.errno : ENODEV.errno;
    if (type === RTM_NEWLINK && flags & NLM_F_EXCL) return EEXIST.errno;
    const nsFd = attrs.get(IFLA_NET_NS_FD), nsPid = attrs.get(IFLA_NET_NS_PID);
    if (nsFd !== undefined || nsPid !== undefined) return this.#moveLink(t, i, index > 0 ? name : null, nsFd, nsPid);
    // A TUN/TAP device or lo goes up and down (IFF_UP) and a TAP takes a new MAC (IFLA_ADDRESS);
    // eth0 is always up, and nothing else in ifi_flags is changeable here.
    const tun = this.net.tuns.get(i);
    const mask = change === 0 ? 0xffffffff : change;
    // do_setlink changes the flags only when ifi_flags or ifi_change is set (a request naming
    // the link alone changes nothing); ifi_change 0 with flags means every flag.
    const wantUp = (ifFlags !== 0 || change !== 0) && (mask & IFF_UP) ? (ifFlags & IFF_UP) !== 0 : null;
    if (tun === undefined && i !== LOOPBACK_INDEX && wantUp === false) return EOPNOTSUPP.errno;
    const mac = attrs.get(IFLA_ADDRESS);
    if (mac !== undefined) {
      if (tun === undefined || !tun.tap) return EOPNOTSUPP.errno;
      // eth_prepare_mac_addr_change: a unicast address of the device's length.
      if (mac.length < 6 || (mac[0]! & 1) !== 0) return mac.length < 6 ? EINVAL.errno : EADDRNOTAVAIL.errno;
    }
    const lo = i === 0;
    const mtu = lo ? this.net.loMtu : ifaces[i]!.device.mtu - (ifaces[i]!.mac !== null ? 14 : 0);
    // lo's MTU changes (IFLA_MTU, any u32: lo has no bounds); another link's stays as it is.
    const mtuAttr = attrs.get(IFLA_MTU);
    if (mtuAttr !== undefined && mtuAttr.length < 4) return EINVAL.errno;
    const newMtu = mtuAttr === undefined ? null : new DataView(mtuAttr.buffer, mtuAttr.byteOffset, 4).getUint32(0, true);
    if (newMtu !== null && newMtu > 0x7fffffff) return EINVAL.errno; // a negative int
    const setLoMtu = lo && newMtu !== null && newMtu !== mtu ? newMtu : null;
    // A link named by index takes IFLA_IFNAME as its new name (dev_change_name: a valid name,
    // EEXIST when another link has it; an up link may be renamed, as Linux 6.x).
    const rename = index > 0 && name !== null && name !== (this.net.ifNames[i] ?? "") ? name : null;
    if (rename !== null) {
      if (rename === "." || rename === ".." || /[/:\s]/.test(rename)) return EINVAL.errno;
      if (this.net.linkIndex(rename) >= 0) return EEXIST.errno;
    }
    for (const [t, val] of attrs) {
      if (t === IFLA_IFNAME) continue;
      if (t === IFLA_MTU && (lo || new DataView(val.buffer, val.byteOffset, 4).getUint32(0, true) === mtu)) continue;
      if (t === IFLA_ADDRESS) continue;
      return EOPNOTSUPP.errno;
    }
    let changed = false;
    if (setLoMtu !== null) this.net.setLoMtu(setLoMtu);
    if (rename !== null) {
      this.net.ifNames[i] = rename;
      this.net.configChanged = true; // a restored kernel names its links anew
      changed = true;
    }
    if (mac !== undefined && !ifaces[i]!.mac!.bytes.every((b, k) => b === mac[k])) {
      ifaces[i]!.setMac(new EthernetAddress(mac.subarray(0, 6)));
      changed = true;
    }
    // As rtnetlink, a change is told to RTNLGRP_LINK as an RTM_NEWLINK (setLinkUp tells it).
    if (wantUp !== null && this.net.setLinkUp(i, wantUp) === true) changed = false;
    else if (changed) {
      for (const l of this.net.linkListeners) l(i, true);
      this.net.kick();
    }
    return 0;
  }

  /**
   * A non-dump RTM_GETROUTE: the route the stack takes to RTA_DST (0.0.0.0 or :: without one),
   * as Linux's inet_rtm_getroute answers it: a cloned route to the one address (dst_len 32 or
   * 128, RTM_F_CLONED), in one message with no NLM_F_MULTI. An errno when there is none.
   */
  #routeLookup(msg: Uint8Array, seq: number): Uint8Array | number {
    if (msg.length < NLMSG_HDRLEN + RTMSG_LEN) return EINVAL.errno;
    const fam = msg[NLMSG_HDRLEN]!;
    if (fam !== C.AF_INET && fam !== C.AF_INET6) return EOPNOTSUPP.errno;
    const size = fam === C.AF_INET ? 4 : 16;
    const attrs = parseAttrs(msg, NLMSG_HDRLEN + RTMSG_LEN);
    if (attrs === null) return EINVAL.errno;
    const dstBytes = attrs.get(RTA_DST) ?? new Uint8Array(size);
    if (dstBytes.length < size) return EINVAL.errno;
    const dst = fam === C.AF_INET ? Ipv4Address.read(dstBytes, 0) : new Ipv6Address(dstBytes.subarray(0, size));
    const stack = this.net.stack;
    const r = stack.routes.lookup(dst);
    if (r === null) return ENETUNREACH.errno;
    const local = r.gateway === null && (dst.isLoopback || stack.isLocalAddress(dst));
    // The table is main, also with RTM_F_LOOKUP_TABLE: without custom rules Linux merges the
    // local table into main, so the lookup used main.
    const table = RT_TABLE_MAIN;
    const m = new MessageBuilder()
      .u8(fam).u8(size * 8).u8(0).u8(msg[NLMSG_HDRLEN + 3]!)
      .u8(table).u8(0).u8(RT_SCOPE_UNIVERSE).u8(local ? RTN_LOCAL : RTN_UNICAST)
      .u32(RTM_F_CLONED)
      .attrU32(RTA_TABLE, table)
      .attr(RTA_DST, dst.bytes);
    m.attrU32(RTA_OIF, r.ifIndex + 1);
    if (r.gateway !== null) m.attr(RTA_GATEWAY, r.gateway.bytes);
    const src = local ? dst : stack.interfaces[r.ifIndex]?.addresses.find((c) => c.address.version === dst.version)?.address;
    if (src) m.attr(RTA_PREFSRC, src.bytes);
    return m.message(RTM_NEWROUTE, 0, seq, this.portId);
  }

  /**
   * RTM_NEWADDR/RTM_DELADDR of an IPv4 address (IFA_LOCAL, else IFA_ADDRESS) on the link
   * ifa_index, as inet_rtm_newaddr/inet_rtm_deladdr: adding one the link has is EEXIST unless
   * NLM_F_REPLACE (and not NLM_F_EXCL) asks to replace it; removing one it lacks is
   * EADDRNOTAVAIL. An added address's network gets an on-link route, removed with it. IPv6 is
   * not supported yet (EOPNOTSUPP).
   */
  #changeAddress(type: number, flags: number, msg: Uint8Array): number {
    if (msg.length < NLMSG_HDRLEN + IFADDRMSG_LEN) return EINVAL.errno;
    const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const fam = msg[NLMSG_HDRLEN]!, prefix = msg[NLMSG_HDRLEN + 1]!;
    const index = v.getUint32(NLMSG_HDRLEN + 4, true);
    const attrs = parseAttrs(msg, NLMSG_HDRLEN + IFADDRMSG_LEN);
    if (attrs === null) return EINVAL.errno;
    if (fam === C.AF_INET6) return this.#changeAddress6(type, flags, prefix, index, attrs);
    if (fam !== C.AF_INET) return EAFNOSUPPORT.errno;
    const raw = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
    const stack = this.net.stack;
    const iface = this.net.linkByIndex(index) ?? undefined;
    if (type === RTM_NEWADDR) {
      if (prefix > 32 || raw === undefined || raw.length < 4) return EINVAL.errno;
      if (iface === undefined) return ENODEV.errno;
      const a = Ipv4Address.read(raw, 0);
      const have = iface.addresses.find((c) => c.address.equals(a));
      if (have !== undefined) {
        if (flags & NLM_F_EXCL || !(flags & NLM_F_REPLACE)) return EEXIST.errno;
        this.#dropAddress(index - 1, have);
      }
      const c = new IpCidr(a, prefix);
      iface.addAddress(c);
      stack.routes.add({ cidr: new IpCidr(Ipv4Address.read(networkOf(a, prefix), 0), prefix), gateway: null, ifIndex: index - 1 });
      this.net.configChanged = true;
      return 0;
    }
    // inet_rtm_deladdr: the link's first address matching IFA_LOCAL, and IFA_ADDRESS's network
    // with ifa_prefixlen, where given.
    if (iface === undefined) return ENODEV.errno;
    const local = attrs.get(IFA_LOCAL), address = attrs.get(IFA_ADDRESS);
    if ((local !== undefined && local.length < 4) || (address !== undefined && address.length < 4)) return EINVAL.errno;
    const c = iface.addresses.find((c) =>
      c.address.version === 4 &&
      (local === undefined || c.address.equals(Ipv4Address.read(local, 0))) &&
      (address === undefined || (c.prefixLength === prefix && new IpCidr(c.address, prefix).contains(Ipv4Address.read(address, 0))))
    );
    if (c !== undefined) {
      this.#dropAddress(index - 1, c);
      this.net.configChanged = true;
      return 0;
    }
    return EADDRNOTAVAIL.errno;
  }

  /**
   * RTM_NEWROUTE/RTM_DELROUTE of a unicast route in the main table (RTA_DST with rtm_dst_len,
   * RTA_OIF, RTA_GATEWAY, RTA_PRIORITY), as fib_table_insert/fib_table_delete match them: a
   * route with the same destination, prefix and priority exists already: EEXIST with
   * NLM_F_EXCL or when it also has the same interface and gateway, replaced with NLM_F_REPLACE,
   * added beside it otherwise; without NLM_F_CREATE a new one is ENOENT. Removing matches the destination and prefix, and the interface, gateway
   * and priority where given; none matching is ESRCH. Other tables, types and attributes are not
   * supported yet (EOPNOTSUPP).
   */
  #changeRoute(type: number, flags: number, msg: Uint8Array): number {
    if (msg.length < NLMSG_HDRLEN + RTMSG_LEN) return EINVAL.errno;
    const fam = msg[NLMSG_HDRLEN]!, dstLen = msg[NLMSG_HDRLEN + 1]!, srcLen = msg[NLMSG_HDRLEN + 2]!;
    const tableByte = msg[NLMSG_HDRLEN + 4]!, rtType = msg[NLMSG_HDRLEN + 7]!;
    const attrs = parseAttrs(msg, NLMSG_HDRLEN + RTMSG_LEN);
    if (attrs === null) return EINVAL.errno;
    if (fam !== C.AF_INET && fam !== C.AF_INET6) return EAFNOSUPPORT.errno;
    const size = fam === C.AF_INET ? 4 : 16;
    if (dstLen > size * 8) return EINVAL.errno;
    const u32 = (b: Uint8Array | undefined): number | null =>
      b === undefined ? null : b.length < 4 ? -1 : new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
    const addr = (b: Uint8Array | undefined): IpAddress | null | undefined =>
      b === undefined ? null : b.length < size ? undefined : size === 4 ? Ipv4Address.read(b, 0) : new Ipv6Address(b.subarray(0, 16));
    for (const t of attrs.keys()) if (![RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE].includes(t)) return EOPNOTSUPP.errno;
    const table = u32(attrs.get(RTA_TABLE)) ?? tableByte;
    if (table === -1) return EINVAL.errno;
    if (srcLen !== 0 || (table !== 0 && table !== RT_TABLE_MAIN)) return EOPNOTSUPP.errno;
    if (type === RTM_NEWROUTE && rtType !== RTN_UNICAST) return EOPNOTSUPP.errno;
    const dst = addr(attrs.get(RTA_DST)), gateway = addr(attrs.get(RTA_GATEWAY));
    const oif = u32(attrs.get(RTA_OIF)), metric = u32(attrs.get(RTA_PRIORITY));
    if (dst === undefined || gateway === undefined || oif === -1 || metric === -1) return EINVAL.errno;
    const stack = this.net.stack;
    const zero = size === 4 ? Ipv4Address.read(new Uint8Array(4), 0) : new Ipv6Address(new Uint8Array(16));
    const cidr = new IpCidr(dst === null ? zero : dst, dstLen);
    const net = networkOf(cidr.address, dstLen);
    const sameDst = (r: Route) =>
      r.cidr.address.version === cidr.address.version && r.cidr.prefixLength === dstLen &&
      networkOf(r.cidr.address, dstLen).every((b, i) => b === net[i]);
    if (type === RTM_DELROUTE) {
      const n = stack.routes.routes.findIndex((r) =>
        sameDst(r) && (oif === null || r.ifIndex === oif - 1) && (gateway === null || r.gateway?.equals(gateway) === true) &&
        (metric === null || (r.metric ?? 0) === metric)
      );
      if (n < 0) return ESRCH.errno;
      const victim = stack.routes.routes[n]!;
      stack.routes.remove((r) => r === victim);
      this.net.configChanged = true;
      return 0;
    }
    if (oif === null || oif < 1 || this.net.linkByIndex(oif) === null) return oif === null ? EOPNOTSUPP.errno : ENODEV.errno;
    const same = stack.routes.routes.find((r) => sameDst(r) && (r.metric ?? 0) === (metric ?? 0));
    if (same !== undefined) {
      if (flags & NLM_F_EXCL) return EEXIST.errno;
      if (flags & NLM_F_REPLACE) stack.routes.remove((r) => r === same);
      // Beside it, unless it is the same route (fib_table_insert's fa_match).
      else if (same.ifIndex === oif - 1 && (same.gateway === null ? gateway === null : gateway !== null && same.gateway.equals(gateway))) {
        return EEXIST.errno;
      }
    } else if (!(flags & NLM_F_CREATE)) return ENOENT.errno;
    stack.routes.add({ cidr: new IpCidr(size === 4 ? Ipv4Address.read(net, 0) : new Ipv6Address(net), dstLen), gateway, ifIndex: oif - 1, metric: metric ?? 0 });
    this.net.configChanged = true;
    return 0;
  }

  /**
   * RTM_NEWRULE/RTM_DELRULE of a lookup rule (FR_ACT_TO_TBL) with FRA_PRIORITY, as
   * fib_nl_newrule/fib_nl_delrule: adding one that exists is EEXIST with NLM_F_EXCL (a duplicate
   * otherwise); removing matches the fields the request gives, ENOENT when none. Only rules
   * added here are removed (Linux's defaults are not yet: EOPNOTSUPP), and other actions or
   * attributes, or no priority, are not supported yet (EOPNOTSUPP).
   */
  #changeRule(type: number, flags: number, msg: Uint8Array): number {
    if (msg.length < NLMSG_HDRLEN + FIB_RULE_HDR_LEN) return EINVAL.errno;
    const hdr = msg.slice(NLMSG_HDRLEN, NLMSG_HDRLEN + FIB_RULE_HDR_LEN);
    const fam = hdr[0]!;
    if (fam !== C.AF_INET && fam !== C.AF_INET6) return EAFNOSUPPORT.errno;
    const attrs = parseAttrs(msg, NLMSG_HDRLEN + FIB_RULE_HDR_LEN);
    if (attrs === null) return EINVAL.errno;
    const size = fam === C.AF_INET ? 4 : 16;
    for (const [t, v] of attrs) {
      if (![FRA_DST, FRA_SRC, FRA_PRIORITY, FRA_TABLE].includes(t)) return EOPNOTSUPP.errno;
      if (v.length < ((t === FRA_DST || t === FRA_SRC) ? size : 4)) return EINVAL.errno;
    }
    if (hdr[1]! > size * 8 || hdr[2]! > size * 8) return EINVAL.errno;
    const rules = this.net.addedRules;
    const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
      a === undefined ? b === undefined : b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
    if (type === RTM_NEWRULE) {
      if (hdr[7] !== 1 /* FR_ACT_TO_TBL */ || !attrs.has(FRA_PRIORITY) || (hdr[4] === 0 && !attrs.has(FRA_TABLE))) return EOPNOTSUPP.errno;
      const exists = rules.some((r) =>
        r.family === fam && same(r.hdr, hdr) && [FRA_DST, FRA_SRC, FRA_PRIORITY, FRA_TABLE].every((t) => same(r.attrs.get(t), attrs.get(t)))
      );
      if (exists && flags & NLM_F_EXCL) return EEXIST.errno;
      rules.push({ family: fam, hdr, attrs: new Map([...attrs].map(([t, v]) => [t, v.slice()])) });
      this.net.configChanged = true;
      return 0;
    }
    const i = rules.findIndex((r) =>
      r.family === fam && [1, 2, 3, 4, 7].every((k) => hdr[k] === 0 || r.hdr[k] === hdr[k]) &&
      [...attrs].every(([t, v]) => same(r.attrs.get(t), v))
    );
    if (i < 0) {
      const prio = attrs.get(FRA_PRIORITY);
      const p = prio === undefined ? null : new DataView(prio.buffer, prio.byteOffset, 4).getUint32(0, true);
      return p === 0 || p === 32766 || p === 32767 ? EOPNOTSUPP.errno : ENOENT.errno;
    }
    rules.splice(i, 1);
    this.net.configChanged = true;
    return 0;
  }

  /**
   * RTM_NEWADDR/RTM_DELADDR of an IPv6 address, as inet6_rtm_newaddr/inet6_rtm_deladdr: the
   * address is IFA_LOCAL, else IFA_ADDRESS (none: EINVAL); an unknown link is ENODEV, a prefix
   * over 128 EINVAL; adding one the link has is EEXIST unless NLM_F_REPLACE (without
   * NLM_F_EXCL); removing needs the address with that prefix length (else EADDRNOTAVAIL). A
   * prefix shorter than 128 gets its on-link route (addrconf_prefix_route), removed with the
   * last address in it.
   */
  #changeAddress6(type: number, flags: number, prefix: number, index: number, attrs: Map<number, Uint8Array>): number {
    const raw = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
    if (raw === undefined || raw.length < 16) return EINVAL.errno;
    const a = new Ipv6Address(raw.slice(0, 16));
    const iface = this.net.linkByIndex(index) ?? undefined;
    if (iface === undefined) return ENODEV.errno;
    if (prefix > 128) return EINVAL.errno;
    const have = iface.addresses.find((c) => c.address.equals(a));
    if (type === RTM_NEWADDR) {
      if (have !== undefined) {
        if (flags & NLM_F_EXCL || !(flags & NLM_F_REPLACE)) return EEXIST.errno;
        this.#dropAddress(index - 1, have);
      }
      iface.addAddress(new IpCidr(a, prefix));
      if (prefix < 128) {
        this.net.stack.routes.add({ cidr: new IpCidr(new Ipv6Address(networkOf(a, prefix)), prefix), gateway: null, ifIndex: index - 1 });
      }
      this.net.configChanged = true;
      return 0;
    }
    if (have === undefined || have.prefixLength !== prefix) return EADDRNOTAVAIL.errno;
    this.#dropAddress(index - 1, have);
    this.net.configChanged = true;
    return 0;
  }

  /**
   * RTM_NEWLINK/RTM_SETLINK with IFLA_NET_NS_FD (a /proc/PID/ns/net descriptor) or
   * IFLA_NET_NS_PID (a process): moves link i there, renamed `rename` if given (do_setlink's
   * dev_change_net_namespace, before any other change). Only veth ends and bridges move (lo,
   * eth0 and TUN devices are EINVAL here, as NETIF_F_NETNS_LOCAL devices); CAP_NET_ADMIN over
   * the target is EPERM; a name taken there EEXIST.
   */
  #moveLink(t: Task, i: number, rename: string | null, nsFd: Uint8Array | undefined, nsPid: Uint8Array | undefined): number {
    let to: Net | null = null;
    if (nsFd !== undefined) {
      if (nsFd.length < 4) return EINVAL.errno;
      const fd = new DataView(nsFd.buffer, nsFd.byteOffset, 4).getInt32(0, true);
      let f;
      try {
        f = t.fdTable.get(fd);
      } catch (e) {
        if (e instanceof LinuxError) return e.errno;
        throw e;
      }
      const loc = f.location();
      if (loc === null || loc.mount.fs.name !== "nsfs" || !loc.dentry.name.startsWith("net:")) return EINVAL.errno;
      const held = nsfsNamespace(loc.dentry);
      to = held instanceof Net ? held : t.kernel.net;
    } else {
      if (nsPid!.length < 4) return EINVAL.errno;
      const pid = new DataView(nsPid!.buffer, nsPid!.byteOffset, 4).getUint32(0, true);
      const target = t.findTask(pid);
      if (target === undefined) return ESRCH.errno;
      to = target.net;
    }
    if (!this.net.virtualLinks.has(i)) return EINVAL.errno;
    if (!t.creds.capableIn(to.owner, CAP_NET_ADMIN)) return EPERM.errno;
    const name = rename ?? this.net.ifNames[i] ?? "";
    if (to === this.net) {
      if (name !== this.net.ifNames[i]) return EOPNOTSUPP.errno; // a rename alone: not supported yet
      return 0;
    }
    if (to.linkIndex(name) >= 0) return EEXIST.errno;
    this.net.moveLink(i, to, name);
    return 0;
  }

  /** Removes an address from interface i, and its network's on-link route unless another address there keeps it. */
  #dropAddress(i: number, c: IpCidr): void {
    const stack = this.net.stack;
    const iface = stack.interfaces[i]!;
    iface.removeAddress(c.address);
    const bytes = networkOf(c.address, c.prefixLength);
    const net = new IpCidr(c.address.version === 4 ? Ipv4Address.read(bytes, 0) : new Ipv6Address(bytes), c.prefixLength);
    const kept = iface.addresses.some((o) => o.address.version === c.address.version && o.prefixLength === c.prefixLength && net.contains(o.address));
    if (!kept) {
      // The route may name the network by any of its addresses (lo's 127.0.0.1/8 at start).
      stack.routes.remove((r) =>
        r.ifIndex === i && r.gateway === null && r.cidr.prefixLength === c.prefixLength && r.cidr.address.version === c.address.version &&
        net.contains(r.cidr.address)
      );
    }
  }

  /** The default rules of an RTM_GETRULE dump: local, main and default tables for IPv4, then IPv6. */
  #rules(seq: number, family: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const fam of [C.AF_INET, C.AF_INET6]) {
      if (family !== C.AF_UNSPEC && family !== fam) continue;
      for (const [prio, table] of [[0, RT_TABLE_LOCAL], [32766, RT_TABLE_MAIN], [32767, 253]] as const) {
        if (fam === C.AF_INET6 && table === 253) continue;
        // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action (FR_ACT_TO_TBL), flags.
        const m = new MessageBuilder().u8(fam).u8(0).u8(0).u8(0).u8(table).u8(0).u8(0).u8(1).u32(0)
          .attrU32(FRA_TABLE, table);
        if (prio !== 0) m.attrU32(FRA_PRIORITY, prio);
        out.push(m.message(RTM_NEWRULE, NLM_F_MULTI, seq, this.portId));
      }
      for (const r of this.net.addedRules) {
        if (r.family !== fam) continue;
        const m = new MessageBuilder().bytes(r.hdr);
        for (const [t, v] of [...r.attrs].sort((a, b) => a[0] - b[0])) m.attr(t, v);
        out.push(m.message(RTM_NEWRULE, NLM_F_MULTI, seq, this.portId));
      }
    }
    return out;
  }

  #links(seq: number, dump: boolean): Uint8Array[] {
    return this.net.links.map((iface) => linkMessage(this.net, iface, RTM_NEWLINK, dump ? NLM_F_MULTI : 0, seq, this.portId));
  }

  /** The message among `links` (one per existing interface, in order) that a GETLINK request names. */
  #oneLink(msg: Uint8Array, links: Uint8Array[]): Uint8Array | null {
    const all = this.net.links;
    const at = (i: number) => {
      const k = all.findIndex((l) => l.index === i);
      return k < 0 ? null : links[k] ?? null;
    };
    if (msg.length < NLMSG_HDRLEN + 16) return links[0] ?? null;
    const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const index = v.getInt32(NLMSG_HDRLEN + 4, true);
    if (index > 0) return at(index - 1);
    for (let o = NLMSG_HDRLEN + 16; o + 4 <= msg.length;) {
      const len = v.getUint16(o, true), type = v.getUint16(o + 2, true) & 0x3fff;
      if (len < 4) break;
      if (type === IFLA_IFNAME) {
        const name = new TextDecoder().decode(msg.subarray(o + 4, o + len)).replace(/\0.*$/s, "");
        const i = this.net.linkIndex(name);
        return i < 0 ? null : at(i);
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
      if (r.metric) m.attrU32(RTA_PRIORITY, r.metric);
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

/**
 * An RTM_NEWLINK (or RTM_DELLINK) message describing `iface`: its type (loopback, Ethernet for
 * a TAP, none for eth0's IP link and a TUN), flags (every link is up), name, MTU and addresses.
 */
export function linkMessage(net: Net, iface: Interface, type: number, flags: number, seq: number, portId: number, change = 0): Uint8Array {
  const lo = iface.index === 0;
  const ether = iface.mac !== null;
  const tun = !ether && net.tuns.has(iface.index);
  const kind = lo ? IFF_LOOPBACK : ether ? IFF_BROADCAST | IFF_MULTICAST : tun ? IFF_POINTOPOINT | IFF_NOARP | IFF_MULTICAST : IFF_NOARP;
  const up = net.linkUp(iface.index);
  const virt = net.virtualLinks.get(iface.index);
  // A down device has the noop qdisc (none attached until dev_activate); lo, veths and bridges
  // are noqueue once up. lo's operstate is UNKNOWN up and DOWN down.
  // A veth has carrier only while its peer is up too (veth_open): LOWERLAYERDOWN otherwise.
  const carrier = net.linkCarrier(iface.index);
  const qdisc = !up ? "noop" : virt !== undefined ? "noqueue" : tun || ether ? "pfifo_fast" : "noqueue";
  const m = new MessageBuilder()
    .u8(C.AF_UNSPEC).u8(0).u16(lo ? ARPHRD_LOOPBACK : ether ? ARPHRD_ETHER : ARPHRD_NONE)
    .u32(iface.index + 1)
    .u32((up ? IFF_UP | (carrier ? IFF_RUNNING | IFF_LOWER_UP : 0) : 0) | kind)
    .u32(change)
    .attrString(IFLA_IFNAME, net.ifNames[iface.index] ?? `eth${iface.index - 1}`)
    .attrU32(IFLA_MTU, lo ? net.loMtu : iface.device.mtu - (ether ? 14 : 0))
    .attrU32(IFLA_TXQLEN, virt === undefined && (tun || ether) ? 500 : 1000)
    .attr(IFLA_OPERSTATE, [up ? (lo ? 0 : carrier ? 6 : 3) : 2])
    .attr(IFLA_LINKMODE, [0])
    .attrU32(IFLA_GROUP, 0)
    .attrString(IFLA_QDISC, qdisc)
    .attr(IFLA_ADDRESS, iface.mac ? iface.mac.bytes : [0, 0, 0, 0, 0, 0])
    .attr(IFLA_BROADCAST, iface.mac ? [255, 255, 255, 255, 255, 255] : [0, 0, 0, 0, 0, 0]);
  if (virt !== undefined) {
    // A veth names its peer (IFLA_LINK); both kinds say what they are (IFLA_LINKINFO).
    if (virt.peer !== null && virt.peerNet === net) m.attrU32(IFLA_LINK, virt.peer + 1);
    const kind = new TextEncoder().encode(`${virt.kind}\0`);
    const nested = new Uint8Array((4 + kind.length + 3) & ~3);
    new DataView(nested.buffer).setUint16(0, 4 + kind.length, true);
    new DataView(nested.buffer).setUint16(2, IFLA_INFO_KIND, true);
    nested.set(kind, 4);
    m.attr(IFLA_LINKINFO, nested);
  }
  return m.message(type, flags, seq, portId);
}
