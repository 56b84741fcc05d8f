/**
 * IPv4 multicast socket options as Linux's do_ip_setsockopt/do_ip_getsockopt keep them for any
 * inet socket: IP_MULTICAST_IF (struct in_addr, ip_mreq or ip_mreqn) and IP_ADD_MEMBERSHIP /
 * IP_DROP_MEMBERSHIP (ip_mreq or ip_mreqn). Raw sockets use it (kernel/socket/inet/raw.ts);
 * the options are kept and checked, and the interface chosen as ip_mc_find_dev does.
 *
 * @module
 */

import { Ipv4Address, type Stack } from "../../../netstack/mod.ts";
import { EADDRINUSE, EADDRNOTAVAIL, EINVAL, ENOBUFS, ENODEV } from "../../errno.ts";

/** net.ipv4.igmp_max_memberships: groups one socket may join. */
const IGMP_MAX_MEMBERSHIPS = 20;

/** An IPv4 address at `off` of `b` (null: INADDR_ANY). */
function inAddr(b: Uint8Array, off: number): Ipv4Address | null {
  const a = new Ipv4Address(b.slice(off, off + 4));
  return a.isUnspecified ? null : a;
}

/** The stack index of Linux interface index `ifindex` (lo is 1), or null. */
function ifaceByIndex(stack: Stack, ifindex: number): number | null {
  return ifindex > 0 && stack.interfaces[ifindex - 1] !== undefined && !stack.interfaces[ifindex - 1]!.removed ? ifindex - 1 : null;
}

export class Ipv4MulticastOptions {
  /** IP_MULTICAST_IF's interface (stack index), -1 for the route's. */
  iface = -1;
  /** IP_MULTICAST_IF's address, reported by getsockopt (null: INADDR_ANY). */
  ifAddr: Ipv4Address | null = null;
  /** Groups joined, each on an interface (stack index). */
  readonly groups: { group: Ipv4Address; iface: number }[] = [];

  /** getsockopt(IP_MULTICAST_IF): the address set (an in_addr, whatever optlen asks). */
  getIf(optlen: number): Uint8Array {
    const b = new Uint8Array(4);
    if (this.ifAddr !== null) b.set(this.ifAddr.bytes);
    return b.subarray(0, Math.max(0, Math.min(4, optlen)));
  }

  setIf(stack: Stack, v: Uint8Array): void {
    if (v.length < 4) throw EINVAL;
    const addr = inAddr(v, v.length >= 8 ? 4 : 0);
    const ifindex = v.length >= 12 ? new DataView(v.buffer, v.byteOffset + 8, 4).getInt32(0, true) : 0;
    if (ifindex === 0 && addr === null) {
      this.iface = -1;
      this.ifAddr = null;
      return;
    }
    const i = ifindex !== 0 ? ifaceByIndex(stack, ifindex) : stack.interfaceOf(addr!);
    if (i === null) throw EADDRNOTAVAIL;
    this.iface = i;
    this.ifAddr = addr;
  }

  membership(stack: Stack, join: boolean, v: Uint8Array): void {
    if (v.length < 8) throw EINVAL;
    const group = new Ipv4Address(v.slice(0, 4));
    const addr = inAddr(v, 4);
    const ifindex = v.length >= 12 ? new DataView(v.buffer, v.byteOffset + 8, 4).getInt32(0, true) : 0;
    if (!group.isMulticast) throw EINVAL;
    let i: number | null;
    if (ifindex !== 0) i = ifaceByIndex(stack, ifindex);
    else if (addr !== null) i = stack.interfaceOf(addr);
    else {
      const r = stack.routes.lookup(group);
      i = r ? r.ifIndex : null;
    }
    const at = this.groups.findIndex((g) => g.group.equals(group) && (i === null || g.iface === i));
    if (!join) {
      if (at < 0) throw EADDRNOTAVAIL;
      this.groups.splice(at, 1);
      return;
    }
    if (i === null) throw ENODEV;
    if (at >= 0) throw EADDRINUSE;
    if (this.groups.length >= IGMP_MAX_MEMBERSHIPS) throw ENOBUFS;
    this.groups.push({ group, iface: i });
  }
}
