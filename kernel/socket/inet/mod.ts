/**
 * The AF_INET and AF_INET6 families: registers their socket factories. Imported (for its
 * effect) by kernel/socket/mod.ts.
 *
 * @module
 */

import { EACCES, EINVAL, EPERM, EPROTONOSUPPORT, ESOCKTNOSUPPORT } from "../../errno.ts";
import type { Net } from "../../net.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import type { Task } from "../../task.ts";
import { registerFamily, type SocketFile } from "../socket.ts";
import * as C from "./constants.ts";
import { TcpSocketFile } from "./tcp.ts";
import type { InetSocketFile } from "./inet_socket.ts";
import { PingSocketFile, UdpSocketFile } from "./udp.ts";
import { RawSocketFile } from "./raw.ts";
import { CAP_NET_RAW } from "../../../abi/linux/capability.ts";

export { InetSocketFile } from "./inet_socket.ts";
export { TcpSocketFile } from "./tcp.ts";
export { PingSocketFile, UdpSocketFile } from "./udp.ts";
export { RawSocketFile } from "./raw.ts";
export { renderProcNetDev, renderProcNetTcp, renderProcNetUdp } from "./proc_net.ts";

/** Creates an inet socket on net (the syscall layer passes the task's namespace, t.net). */
export function createInetSocket(net: Net, family: number, type: number, protocol: number, flags: number): SocketFile {
  flags |= type & O_NONBLOCK;
  switch (type & C.SOCK_TYPE_MASK) {
    case C.SOCK_STREAM:
      if (protocol !== 0 && protocol !== C.IPPROTO_TCP) throw EPROTONOSUPPORT;
      return new TcpSocketFile(net, family, flags);
    case C.SOCK_DGRAM: {
      if (protocol === 0 || protocol === C.IPPROTO_UDP) return new UdpSocketFile(net, family, flags);
      if (protocol === C.IPPROTO_UDPLITE) return new UdpSocketFile(net, family, flags, undefined, true);
      const ping = family === C.AF_INET ? C.IPPROTO_ICMP : C.IPPROTO_ICMPV6;
      if (protocol === ping) return new PingSocketFile(net, family, flags);
      throw EPROTONOSUPPORT;
    }
    case C.SOCK_RAW:
      // inet_create: protocol 0 names no raw protocol.
      if (protocol === 0) throw EPROTONOSUPPORT;
      return new RawSocketFile(net, family, flags, protocol);
    default:
      throw ESOCKTNOSUPPORT;
  }
}

/** IPPROTO_MAX: protocol numbers socket(2) takes are below it. */
const IPPROTO_MAX = 263;

function factory(family: number) {
  return (t: Task, type: number, protocol: number, flags: number): SocketFile => {
    // inet_create's order: a protocol outside 0..IPPROTO_MAX-1 is EINVAL, a raw socket of
    // protocol 0 EPROTONOSUPPORT, then raw sockets need CAP_NET_RAW (root in the sandbox has it).
    if ((type & C.SOCK_TYPE_MASK) === C.SOCK_RAW) {
      if (protocol < 0 || protocol >= IPPROTO_MAX) throw EINVAL;
      if (protocol === 0) throw EPROTONOSUPPORT;
      if (!t.creds.capableIn(t.net.owner, CAP_NET_RAW)) throw EPERM; // over the network namespace
    }
    // ping_init_sock: a ping socket needs the effective group, or a supplementary one, in
    // net.ipv4.ping_group_range (for IPv6 too), whatever the capabilities: EACCES otherwise.
    if ((type & C.SOCK_TYPE_MASK) === C.SOCK_DGRAM && protocol === (family === C.AF_INET ? C.IPPROTO_ICMP : C.IPPROTO_ICMPV6)) {
      const { pingGroupLow: low, pingGroupHigh: high } = t.net.sysctl;
      const inRange = (g: number) => low <= g && g <= high;
      if (!inRange(t.creds.egid) && !t.creds.groups.some(inRange)) throw EACCES;
    }
    const f = createInetSocket(t.net, family, type, protocol, flags) as InetSocketFile;
    f.uid = t.creds.euid;
    return f;
  };
}

registerFamily(C.AF_INET, factory(C.AF_INET));
registerFamily(C.AF_INET6, factory(C.AF_INET6));
