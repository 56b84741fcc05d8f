/**
 * The netdevice ioctls (netdevice(7)) that any socket answers, whatever its family, about the
 * sandbox's interfaces: Linux's sock_ioctl hands a request its family does not know to
 * dev_ioctl (and SIOCGIFCONF to dev_ifconf). The address requests (SIOCGIFADDR and friends)
 * are the inet family's own (devinet_ioctl): other families answer ENOTTY.
 *
 * struct ifreq is 40 bytes: ifr_name[16], then a union at offset 16 (ifr_ifindex, ifr_flags,
 * ifr_mtu, ifr_qlen, ifr_metric as ints or shorts, ifr_addr and ifr_hwaddr as sockaddrs).
 *
 * Interfaces are read-only here, as over rtnetlink (kernel/socket/netlink/route.ts): a change
 * (SIOCSIF*) is EPERM, but for an administrator of the network's namespace bringing a link up
 * or down (SIOCSIFFLAGS) and setting lo's MTU (SIOCSIFMTU).
 *
 * @module
 */

import { EADDRNOTAVAIL, EFAULT, EINVAL, ENODEV, ENOTTY, EOPNOTSUPP, EPERM } from "../errno.ts";
import type { Net } from "../net.ts";
import type { MemoryIO } from "../../vfs/file_description.ts";

const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;
const AF_INET = 2;

// linux/sockios.h
const SIOCGIFNAME = 0x8910;
const SIOCGIFCONF = 0x8912;
const SIOCGIFFLAGS = 0x8913;
const SIOCGIFADDR = 0x8915;
const SIOCGIFDSTADDR = 0x8917;
const SIOCGIFBRDADDR = 0x8919;
const SIOCGIFNETMASK = 0x891b;
const SIOCGIFMETRIC = 0x891d;
const SIOCGIFMTU = 0x8921;
const SIOCETHTOOL = 0x8946;
const ETHTOOL_GLINK = 0x0a, ETHTOOL_GET_TS_INFO = 0x41;
/** SOF_TIMESTAMPING_TX_SOFTWARE | RX_SOFTWARE | SOFTWARE: software stamps, as every device has. */
const SOFTWARE_TIMESTAMPING = 0x02 | 0x08 | 0x10;
const SIOCGIFHWADDR = 0x8927;
const SIOCGIFINDEX = 0x8933;
const SIOCGIFTXQLEN = 0x8942;
const SIOCGIFMAP = 0x8970;
const SIOCDEVPRIVATE = 0x89f0;
const SIOCSIFFLAGS = 0x8914;
const SIOCSIFMTU = 0x8922;
/** The requests that change an interface (SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFMTU, ...). */
const SET_REQUESTS = new Set([
  0x8914, 0x8916, 0x8918, 0x891a, 0x891c, 0x891e, 0x8922, 0x8923, 0x8924, 0x8931, 0x8932, 0x8943,
  0x8971,
]);

const ARPHRD_ETHER = 1;
const ARPHRD_NONE = 0xfffe;
const ARPHRD_LOOPBACK = 772;
const IFF_UP = 0x1, IFF_BROADCAST = 0x2, IFF_LOOPBACK = 0x8, IFF_POINTOPOINT = 0x10, IFF_RUNNING = 0x40, IFF_NOARP = 0x80;
const IFF_MULTICAST = 0x1000;

/** One interface as the ioctls see it. */
interface Link {
  /** ifindex: 1 for lo. */
  index: number;
  name: string;
  flags: number;
  mtu: number;
  hwType: number;
  mac: Uint8Array;
  /** IPv4 addresses with their prefix lengths. */
  ipv4: { address: Uint8Array; prefix: number }[];
}

function links(net: Net): Link[] {
  return net.links.map((iface) => {
    const lo = iface.index === 0;
    const ether = iface.mac !== null;
    const tun = !ether && net.tuns.has(iface.index);
    return {
      index: iface.index + 1,
      name: net.ifNames[iface.index] ?? `eth${iface.index - 1}`,
      // The user-visible 16 bits: IFF_LOWER_UP and the rest of the high flags are netlink's.
      flags: (net.linkUp(iface.index) ? IFF_UP : 0) | (net.linkCarrier(iface.index) ? IFF_RUNNING : 0) |
        (lo ? IFF_LOOPBACK : ether ? IFF_BROADCAST | IFF_MULTICAST : tun ? IFF_POINTOPOINT | IFF_NOARP | IFF_MULTICAST : IFF_NOARP),
      mtu: lo ? net.loMtu : iface.device.mtu - (ether ? 14 : 0),
      hwType: lo ? ARPHRD_LOOPBACK : ether ? ARPHRD_ETHER : ARPHRD_NONE,
      mac: iface.mac ? Uint8Array.from(iface.mac.bytes) : new Uint8Array(6),
      ipv4: iface.addresses.filter((c) => c.address.version === 4).map((c) => ({
        address: Uint8Array.from(c.address.bytes),
        prefix: c.prefixLength,
      })),
    };
  });
}

/** True for the requests this module answers (or refuses) for every socket family. */
export function isNetdeviceIoctl(cmd: number): boolean {
  return cmd === SIOCGIFNAME || cmd === SIOCGIFCONF || cmd === SIOCGIFFLAGS || cmd === SIOCGIFADDR ||
    cmd === SIOCGIFDSTADDR || cmd === SIOCGIFBRDADDR || cmd === SIOCGIFNETMASK || cmd === SIOCGIFMETRIC ||
    cmd === SIOCGIFMTU || cmd === SIOCGIFHWADDR || cmd === SIOCGIFINDEX || cmd === SIOCGIFTXQLEN ||
    cmd === SIOCGIFMAP || cmd === SIOCETHTOOL || SET_REQUESTS.has(cmd) || (cmd >= SIOCDEVPRIVATE && cmd <= SIOCDEVPRIVATE + 15);
}

/** A sockaddr_in (16 bytes) with addr. */
function sockaddrIn(addr: Uint8Array): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = AF_INET;
  b.set(addr.subarray(0, 4), 4);
  return b;
}

function netmask(prefix: number): Uint8Array {
  const m = new Uint8Array(4);
  for (let i = 0; i < prefix; i++) m[i >> 3]! |= 0x80 >> (i & 7);
  return m;
}

/**
 * Answers a netdevice request on a socket of the given family. arg points at a struct ifreq
 * (a struct ifconf for SIOCGIFCONF). ENODEV for an unknown interface name or index.
 */
export function netdeviceIoctl(net: Net, family: number, cmd: number, arg: number, io: MemoryIO, admin = false): number {
  if (cmd >= SIOCDEVPRIVATE && cmd <= SIOCDEVPRIVATE + 15) throw EOPNOTSUPP;
  if (cmd === SIOCSIFFLAGS && admin) return setFlags(net, arg, io);
  if (cmd === SIOCSIFMTU && admin) return setMtu(net, arg, io);
  if (SET_REQUESTS.has(cmd)) throw EPERM;
  const all = links(net);
  if (cmd === SIOCGIFCONF) return ifconf(all, arg, io);
  if (cmd === SIOCETHTOOL) return ethtool(net, all, arg, io);
  const req = io.copyIn(arg, IFREQ_SIZE);
  const v = new DataView(req.buffer, req.byteOffset, req.byteLength);
  const out = new Uint8Array(IFREQ_SIZE);
  const ov = new DataView(out.buffer);
  if (cmd === SIOCGIFNAME) {
    const link = all.find((l) => l.index === v.getInt32(16, true));
    if (link === undefined) throw ENODEV;
    out.set(req);
    out.fill(0, 0, IFNAMSIZ);
    out.set(new TextEncoder().encode(link.name).subarray(0, IFNAMSIZ - 1), 0);
    io.copyOut(arg, out);
    return 0;
  }
  const name = ifreqName(req);
  const isAddressRequest = cmd === SIOCGIFADDR || cmd === SIOCGIFDSTADDR || cmd === SIOCGIFBRDADDR ||
    cmd === SIOCGIFNETMASK;
  if (isAddressRequest && family !== AF_INET) throw ENOTTY;
  const link = all.find((l) => l.name === name);
  if (link === undefined) throw ENODEV;
  out.set(req.subarray(0, IFNAMSIZ));
  switch (cmd) {
    case SIOCGIFINDEX:
      ov.setInt32(16, link.index, true);
      break;
    case SIOCGIFFLAGS:
      ov.setInt16(16, link.flags, true);
      break;
    case SIOCGIFMTU:
      ov.setInt32(16, link.mtu, true);
      break;
    case SIOCGIFTXQLEN:
      ov.setInt32(16, 1000, true);
      break;
    case SIOCGIFMETRIC:
    case SIOCGIFMAP:
      break;
    case SIOCGIFHWADDR:
      ov.setUint16(16, link.hwType, true);
      out.set(link.mac.subarray(0, 6), 18);
      break;
    default: {
      // devinet_ioctl: the interface's first IPv4 address (its label is the interface's name).
      const a = link.ipv4[0];
      if (a === undefined) throw EADDRNOTAVAIL;
      let value: Uint8Array;
      if (cmd === SIOCGIFNETMASK) value = netmask(a.prefix);
      else if (cmd === SIOCGIFBRDADDR) {
        if (!(link.flags & IFF_BROADCAST)) throw EADDRNOTAVAIL;
        const m = netmask(a.prefix);
        value = a.address.map((x, i) => x | (~m[i]! & 0xff));
      } else if (cmd === SIOCGIFDSTADDR) value = new Uint8Array(4);
      else value = a.address;
      out.set(sockaddrIn(value), 16);
    }
  }
  io.copyOut(arg, out);
  return 0;
}

/**
 * SIOCETHTOOL (dev_ethtool): the interface by name (ENODEV), then the command word ifr_data
 * points at (EFAULT). The sandbox's devices have no driver: they answer what Linux's generic
 * code answers for a device without ethtool operations of its own (software timestamping only,
 * no PTP clock) and whether the link is up; every other command is EOPNOTSUPP.
 */
function ethtool(net: Net, all: Link[], arg: number, io: MemoryIO): number {
  const req = io.copyIn(arg, IFREQ_SIZE);
  const name = ifreqName(req);
  const link = all.find((l) => l.name === name);
  if (link === undefined) throw ENODEV;
  const data = Number(new DataView(req.buffer, req.byteOffset, req.byteLength).getBigUint64(16, true));
  const cmd = new DataView(io.copyIn(data, 4).buffer).getUint32(0, true);
  if (cmd === ETHTOOL_GET_TS_INFO) {
    // struct ethtool_ts_info: cmd, so_timestamping, phc_index, tx_types, tx_reserved[3],
    // rx_filters, rx_reserved[3].
    const out = new Uint8Array(44);
    const v = new DataView(out.buffer);
    v.setUint32(0, cmd, true);
    v.setUint32(4, SOFTWARE_TIMESTAMPING, true);
    v.setInt32(8, -1, true);
    io.copyOut(data, out);
    return 0;
  }
  if (cmd === ETHTOOL_GLINK) {
    // struct ethtool_value {cmd, data}: 0 while the device is down (ethtool_get_link).
    const out = new Uint8Array(8);
    const v = new DataView(out.buffer);
    v.setUint32(0, cmd, true);
    v.setUint32(4, net.linkUp(link.index - 1) && net.linkCarrier(link.index - 1) ? 1 : 0, true);
    io.copyOut(data, out);
    return 0;
  }
  throw EOPNOTSUPP;
}

/** struct ifreq's ifr_name: up to its NUL, or all IFNAMSIZ bytes when it has none. */
function ifreqName(req: Uint8Array): string {
  const nul = req.subarray(0, IFNAMSIZ).indexOf(0);
  return new TextDecoder().decode(req.subarray(0, nul < 0 ? IFNAMSIZ : nul));
}

/**
 * SIOCSIFFLAGS from a caller with CAP_NET_ADMIN (dev_ioctl checks it before the name): IFF_UP
 * brings lo or a TUN/TAP device up or down (dev_change_flags); the other flags are kept as
 * they are. eth0 cannot go down here (EPERM, as every other change of an interface).
 */
function setFlags(net: Net, arg: number, io: MemoryIO): number {
  const req = io.copyIn(arg, IFREQ_SIZE);
  const name = ifreqName(req);
  const index = net.linkIndex(name);
  if (index < 0) throw ENODEV;
  const flags = new DataView(req.buffer, req.byteOffset, req.byteLength).getUint16(16, true);
  if (net.setLinkUp(index, (flags & IFF_UP) !== 0) === null) throw EPERM;
  return 0;
}

/**
 * SIOCSIFMTU (dev_set_mtu): a negative MTU is EINVAL; lo takes any other (it has no bounds, as
 * over rtnetlink); another link keeps its MTU (the same one is 0, a change EPERM).
 */
function setMtu(net: Net, arg: number, io: MemoryIO): number {
  const req = io.copyIn(arg, IFREQ_SIZE);
  const name = ifreqName(req);
  const index = net.linkIndex(name);
  if (index < 0) throw ENODEV;
  const mtu = new DataView(req.buffer, req.byteOffset, req.byteLength).getInt32(16, true);
  if (mtu < 0) throw EINVAL;
  const current = links(net).find((l) => l.index === index + 1)?.mtu;
  if (mtu === current) return 0;
  if (index !== 0) throw EPERM;
  net.setLoMtu(mtu);
  return 0;
}

/**
 * SIOCGIFCONF: struct ifconf { int ifc_len; char *ifc_buf; } gets one ifreq per IPv4 address
 * (name and sockaddr_in), as many as fit in ifc_len; a NULL buffer asks for the length only.
 */
function ifconf(all: Link[], arg: number, io: MemoryIO): number {
  const hdr = io.copyIn(arg, 16);
  const hv = new DataView(hdr.buffer, hdr.byteOffset, hdr.byteLength);
  const len = hv.getInt32(0, true);
  const buf = Number(hv.getBigUint64(8, true));
  const records: Uint8Array[] = [];
  for (const l of all) {
    for (const a of l.ipv4) {
      const r = new Uint8Array(IFREQ_SIZE);
      r.set(new TextEncoder().encode(l.name).subarray(0, IFNAMSIZ - 1), 0);
      r.set(sockaddrIn(a.address), 16);
      records.push(r);
    }
  }
  let used = 0;
  if (buf === 0) used = records.length * IFREQ_SIZE;
  else {
    if (!Number.isSafeInteger(buf)) throw EFAULT;
    for (const r of records) {
      if (used + IFREQ_SIZE > len) break;
      io.copyOut(buf + used, r);
      used += IFREQ_SIZE;
    }
  }
  hv.setInt32(0, used, true);
  io.copyOut(arg, hdr.subarray(0, 4));
  return 0;
}
