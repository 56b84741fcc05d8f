/**
 * The devices of a host network namespace that a container engine prepared for the container
 * (config.json's `linux.namespaces` entry `{"type": "network", "path": ...}`: podman's netavark
 * or CNI bridge, pasta, slirp4netns), taken for the sandbox's own stack as runsc's default
 * `--network=sandbox` takes them (gVisor's runsc/sandbox/network.go,
 * createInterfacesAndRoutesFromNS): the JavaScript thread enters the namespace (setns), reads
 * each Ethernet device's name, MAC, MTU, addresses and the routes through it (rtnetlink dumps),
 * opens an AF_PACKET socket bound to the device, removes the device's addresses from the host's
 * stack in that namespace (else the host's kernel would answer the same TCP SYNs with RSTs, and
 * ARP for the same address), and goes back to its own namespace. A packet socket stays bound to
 * its device wherever its owner goes, so the sentry may then confine itself into a network
 * namespace of its own.
 *
 * The descriptors are the sentry's: the application never gets one (kernel/net_packet.ts reads
 * and writes them for the sandbox's stack).
 *
 * @module
 */

import * as ffi from "./_ffi.ts";

/** One device taken: what the sandbox's interface gets, and the packet socket on it. */
export interface HostNic {
  name: string;
  /** The host device's index in its namespace. */
  hostIndex: number;
  mac: Uint8Array;
  /** The device's MTU (IP packet size; the frame adds 14 bytes). */
  mtu: number;
  /** "ADDRESS/PREFIX", IPv4 and IPv6 (not link-local: the sandbox's stack makes its own). */
  addresses: string[];
  /** Routes through the device other than its addresses' own networks (the stack adds those). */
  routes: { cidr: string; gateway: string | null; metric: number }[];
  /** The AF_PACKET socket bound to the device (non-blocking, close-on-exec). */
  fd: number;
}

const SYS_setns = 308;
const CLONE_NEWNET = 0x40000000;
const AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16, AF_PACKET = 17;
const SOCK_RAW = 3, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_PACKET = 263, PACKET_IGNORE_OUTGOING = 23;
const ARPHRD_ETHER = 1;
const IFF_LOOPBACK = 0x8;
const NLMSG_ERROR = 2, NLMSG_DONE = 3;
const NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_DUMP = 0x300;
const RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_DELADDR = 21, RTM_GETADDR = 22;
const RTM_NEWROUTE = 24, RTM_GETROUTE = 26;
const IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4;
const IFA_ADDRESS = 1, IFA_LOCAL = 2;
const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_TABLE = 15;
const RT_TABLE_MAIN = 254, RTN_UNICAST = 1, RT_SCOPE_LINK = 253;

const ERRNO_TEXT: Record<number, string> = {
  1: "operation not permitted", 2: "no such file or directory", 13: "permission denied",
  22: "not a network namespace", 20: "not a directory", 40: "too many levels of symbolic links",
};

function why(err: number): string {
  return ERRNO_TEXT[-err] ?? `errno ${-err}`;
}

/**
 * Takes every Ethernet device of the network namespace at `path` (an nsfs file such as
 * /run/netns/NAME or /proc/PID/ns/net). Throws an Error whose message is one line.
 */
export function takeNetnsDevices(path: string): HostNic[] {
  const target = ffi.hostOpen(path, ffi.O_RDONLY | ffi.O_CLOEXEC);
  if (target < 0) throw new Error(`${path}: ${why(target)}`);
  const self = ffi.hostOpen("/proc/thread-self/ns/net", ffi.O_RDONLY | ffi.O_CLOEXEC);
  if (self < 0) {
    ffi.hostClose(target);
    throw new Error(`cannot open the sentry's own network namespace: ${why(self)}`);
  }
  try {
    const r = ffi.rawSyscall(SYS_setns, BigInt(target), BigInt(CLONE_NEWNET));
    if (r < 0) throw new Error(`${path}: cannot enter it: ${why(r)}`);
    let nics: HostNic[] | null = null, failure: unknown = null;
    try {
      nics = takeDevicesHere();
    } catch (err) {
      failure = err;
    }
    // Back to where the sentry was: a thread left in the container's namespace would make
    // every later host socket of the sentry there.
    const b = ffi.rawSyscall(SYS_setns, BigInt(self), BigInt(CLONE_NEWNET));
    if (b < 0) throw new Error(`cannot return to the sentry's own network namespace: ${why(b)}`);
    if (nics === null) throw failure;
    return nics;
  } finally {
    ffi.hostClose(target);
    ffi.hostClose(self);
  }
}

/** takeNetnsDevices's work, in the namespace the calling thread is in. */
function takeDevicesHere(): HostNic[] {
  const nl = new Rtnetlink();
  const nics: HostNic[] = [];
  try {
    for (const m of nl.dump(RTM_GETLINK, new Uint8Array(16))) {
      if (m.type !== RTM_NEWLINK) continue;
      const v = view(m.body);
      const type = v.getUint16(2, true), index = v.getInt32(4, true), flags = v.getUint32(8, true);
      if (flags & IFF_LOOPBACK) continue;
      const attrs = parseAttrs(m.body, 16);
      const name = cString(attrs.get(IFLA_IFNAME));
      if (type !== ARPHRD_ETHER) {
        throw new Error(`device ${name} is not Ethernet (ARPHRD ${type}): only Ethernet devices can be taken`);
      }
      const mac = attrs.get(IFLA_ADDRESS)?.slice() ?? new Uint8Array(6);
      const mtuAttr = attrs.get(IFLA_MTU);
      const mtu = mtuAttr === undefined ? 1500 : view(mtuAttr).getUint32(0, true);
      nics.push({ name, hostIndex: index, mac, mtu, addresses: [], routes: [], fd: -1 });
    }
    // Addresses, with what the host's stack needs to delete them after.
    const owned: { nic: HostNic; family: number; prefix: number; scope: number; local: Uint8Array }[] = [];
    for (const m of nl.dump(RTM_GETADDR, new Uint8Array(8))) {
      if (m.type !== RTM_NEWADDR) continue;
      const family = m.body[0]!, prefix = m.body[1]!, scope = m.body[3]!;
      const index = view(m.body).getInt32(4, true);
      const nic = nics.find((n) => n.hostIndex === index);
      if (nic === undefined) continue;
      const attrs = parseAttrs(m.body, 8);
      const local = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
      if (local === undefined) continue;
      // An IPv6 link-local address is the device's own (the sandbox's stack makes its own from
      // the same MAC); the host keeps it, which disturbs nothing.
      if (family === AF_INET6 && scope === RT_SCOPE_LINK) continue;
      if (family !== AF_INET && family !== AF_INET6) continue;
      nic.addresses.push(`${ipText(local)}/${prefix}`);
      owned.push({ nic, family, prefix, scope, local: local.slice() });
    }
    for (const m of nl.dump(RTM_GETROUTE, new Uint8Array(12))) {
      if (m.type !== RTM_NEWROUTE) continue;
      const family = m.body[0]!, dstLen = m.body[1]!, table = m.body[4]!, rtype = m.body[7]!;
      const attrs = parseAttrs(m.body, 12);
      const tableAttr = attrs.get(RTA_TABLE);
      const t = tableAttr === undefined ? table : view(tableAttr).getUint32(0, true);
      if (t !== RT_TABLE_MAIN || rtype !== RTN_UNICAST) continue;
      const oif = attrs.get(RTA_OIF);
      if (oif === undefined) continue;
      const nic = nics.find((n) => n.hostIndex === view(oif).getInt32(0, true));
      if (nic === undefined) continue;
      const dst = attrs.get(RTA_DST) ?? new Uint8Array(family === AF_INET ? 4 : 16);
      const gw = attrs.get(RTA_GATEWAY);
      const prio = attrs.get(RTA_PRIORITY);
      const cidr = `${ipText(dst)}/${dstLen}`;
      // Each address's own network is routed by the stack already (its on-link route), and
      // fe80::/64 is the link-local one it makes.
      const onLink = owned.some((a) => a.nic === nic && a.prefix === dstLen && sameNetwork(a.local, dst, dstLen));
      if (gw === undefined && (onLink || cidr === "fe80::/64")) continue;
      nic.routes.push({ cidr, gateway: gw === undefined ? null : ipText(gw), metric: prio === undefined ? 0 : view(prio).getUint32(0, true) });
    }
    for (const nic of nics) nic.fd = packetSocket(nic);
    // Now that every frame of the device comes to the sentry too: the host's stack lets go
    // of the addresses (and with them the routes through them), as runsc does.
    for (const a of owned) nl.deleteAddress(a.family, a.prefix, a.scope, a.nic.hostIndex, a.local);
    return nics;
  } catch (err) {
    for (const n of nics) if (n.fd >= 0) ffi.hostClose(n.fd);
    throw err;
  } finally {
    nl.close();
  }
}

/**
 * An AF_PACKET socket that takes every frame of the device (ETH_P_ALL, from the bind on: a
 * socket made with protocol 0 receives nothing before), without the frames it sends itself.
 */
function packetSocket(nic: HostNic): number {
  const fd = ffi.hostSocket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`device ${nic.name}: cannot make a packet socket: ${why(fd)}`);
  const sll = new Uint8Array(20);
  const v = view(sll);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, 0x0003, false); // ETH_P_ALL, network order
  v.setInt32(4, nic.hostIndex, true);
  const b = ffi.hostBind(fd, sll);
  if (b < 0) {
    ffi.hostClose(fd);
    throw new Error(`device ${nic.name}: cannot bind a packet socket: ${why(b)}`);
  }
  // Linux 4.20 and later; before it, kernel/net_packet.ts drops frames from the device's own MAC.
  const one = new Uint8Array(4);
  view(one).setInt32(0, 1, true);
  ffi.hostSetsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, one);
  return fd;
}

/** A NETLINK_ROUTE socket of the namespace the calling thread is in. */
class Rtnetlink {
  readonly #fd: number;
  #seq = 1;
  readonly #buf = new Uint8Array(1 << 16);

  constructor() {
    this.#fd = ffi.hostSocket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (this.#fd < 0) throw new Error(`cannot make a netlink socket: ${why(this.#fd)}`);
    const sa = new Uint8Array(12);
    view(sa).setUint16(0, AF_NETLINK, true);
    const b = ffi.hostBind(this.#fd, sa);
    if (b < 0) {
      ffi.hostClose(this.#fd);
      throw new Error(`cannot bind a netlink socket: ${why(b)}`);
    }
  }

  close(): void {
    ffi.hostClose(this.#fd);
  }

  #send(type: number, flags: number, body: Uint8Array): number {
    const seq = this.#seq++;
    const msg = new Uint8Array(16 + body.length);
    const v = view(msg);
    v.setUint32(0, msg.length, true);
    v.setUint16(4, type, true);
    v.setUint16(6, flags, true);
    v.setUint32(8, seq, true);
    msg.set(body, 16);
    const n = ffi.hostSend(this.#fd, msg, 0);
    if (n < 0) throw new Error(`netlink: ${why(n)}`);
    return seq;
  }

  /** The messages answering a request, up to NLMSG_DONE (or the ack's NLMSG_ERROR). */
  #answers(seq: number, ack: boolean): { type: number; body: Uint8Array }[] {
    const out: { type: number; body: Uint8Array }[] = [];
    for (;;) {
      const n = ffi.hostRecv(this.#fd, this.#buf, 0);
      if (n < 0) throw new Error(`netlink: ${why(n)}`);
      let off = 0;
      while (off + 16 <= n) {
        const v = new DataView(this.#buf.buffer, off);
        const len = v.getUint32(0, true), type = v.getUint16(4, true), mseq = v.getUint32(8, true);
        if (len < 16 || off + len > n) break;
        const body = this.#buf.slice(off + 16, off + len);
        off += (len + 3) & ~3;
        if (mseq !== seq) continue;
        if (type === NLMSG_DONE) return out;
        if (type === NLMSG_ERROR) {
          const e = view(body).getInt32(0, true);
          if (e !== 0) throw new Error(`netlink: ${why(e)}`);
          if (ack) return out;
          continue;
        }
        out.push({ type, body });
      }
    }
  }

  dump(type: number, body: Uint8Array): { type: number; body: Uint8Array }[] {
    return this.#answers(this.#send(type, NLM_F_REQUEST | NLM_F_DUMP, body), false);
  }

  /** RTM_DELADDR of one address (IFA_LOCAL, and IFA_ADDRESS as `ip addr del` sends it). */
  deleteAddress(family: number, prefix: number, scope: number, index: number, local: Uint8Array): void {
    const attr = (type: number, data: Uint8Array): Uint8Array => {
      const a = new Uint8Array((4 + data.length + 3) & ~3);
      view(a).setUint16(0, 4 + data.length, true);
      view(a).setUint16(2, type, true);
      a.set(data, 4);
      return a;
    };
    const head = new Uint8Array(8);
    head[0] = family;
    head[1] = prefix;
    head[3] = scope;
    view(head).setInt32(4, index, true);
    const parts = [head, attr(IFA_LOCAL, local), attr(IFA_ADDRESS, local)];
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) body.set(p, at), at += p.length;
    this.#answers(this.#send(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, body), true);
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** rtattrs from `from` on, by type (the last of a type wins). */
function parseAttrs(body: Uint8Array, from: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let off = from;
  while (off + 4 <= body.length) {
    const v = new DataView(body.buffer, body.byteOffset + off);
    const len = v.getUint16(0, true), type = v.getUint16(2, true) & 0x3fff;
    if (len < 4 || off + len > body.length) break;
    out.set(type, body.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

function cString(b: Uint8Array | undefined): string {
  if (b === undefined) return "";
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}

/** An address's text (4 bytes: dotted; 16: IPv6, zeros compressed). */
export function ipText(b: Uint8Array): string {
  if (b.length === 4) return [...b].join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // The longest run of zero groups (two or more) becomes "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) best = i, bestLen = j - i;
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** Whether addresses a and b (bytes of one family) share their first `prefix` bits. */
function sameNetwork(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    const mask = (0xff << (8 - keep)) & 0xff;
    if ((a[i]! & mask) !== (b[i]! & mask)) return false;
  }
  return true;
}
