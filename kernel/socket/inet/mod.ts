/**
 * The AF_INET and AF_INET6 families: registers their socket factories. Imported (for its
 * effect) by kernel/socket/mod.ts.
 *
 * @module
 */

import { EPERM, EPROTONOSUPPORT, ESOCKTNOSUPPORT } from "../../errno.ts";
import type { Net } from "../../net.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import type { Task } from "../../task.ts";
import { registerFamily, type SocketFile } from "../socket.ts";
import * as C from "./constants.ts";
import { TcpSocketFile } from "./tcp.ts";
import type { InetSocketFile } from "./inet_socket.ts";
import { PingSocketFile, UdpSocketFile } from "./udp.ts";

export { InetSocketFile } from "./inet_socket.ts";
export { TcpSocketFile } from "./tcp.ts";
export { PingSocketFile, UdpSocketFile } from "./udp.ts";
export { renderProcNetDev, renderProcNetTcp, renderProcNetUdp } from "./proc_net.ts";

/** Creates an inet socket on net (the syscall layer passes t.kernel.net). */
export function createInetSocket(net: Net, family: number, type: number, protocol: number, flags: number): SocketFile {
  flags |= type & O_NONBLOCK;
  switch (type & C.SOCK_TYPE_MASK) {
    case C.SOCK_STREAM:
      if (protocol !== 0 && protocol !== C.IPPROTO_TCP) throw EPROTONOSUPPORT;
      return new TcpSocketFile(net, family, flags);
    case C.SOCK_DGRAM: {
      if (protocol === 0 || protocol === C.IPPROTO_UDP) return new UdpSocketFile(net, family, flags);
      const ping = family === C.AF_INET ? C.IPPROTO_ICMP : C.IPPROTO_ICMPV6;
      if (protocol === ping) return new PingSocketFile(net, family, flags);
      throw EPROTONOSUPPORT;
    }
    case C.SOCK_RAW:
      // Raw sockets need CAP_NET_RAW, which the sandbox does not grant.
      throw EPERM;
    default:
      throw ESOCKTNOSUPPORT;
  }
}

function factory(family: number) {
  return (t: Task, type: number, protocol: number, flags: number): SocketFile => {
    const f = createInetSocket(t.kernel.net, family, type, protocol, flags) as InetSocketFile;
    f.uid = t.creds.euid;
    return f;
  };
}

registerFamily(C.AF_INET, factory(C.AF_INET));
registerFamily(C.AF_INET6, factory(C.AF_INET6));
