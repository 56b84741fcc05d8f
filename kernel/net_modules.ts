/**
 * What the kernel reaches of the network only once a program uses it, imported as one piece by
 * kernel/net_load.ts (see there): nothing outside the network imports these modules statically.
 * Importing it also registers every socket family (kernel/socket/mod.ts).
 *
 * @module
 */

export {
  EPHEMERAL_HIGH,
  EPHEMERAL_LOW,
  EthernetAddress,
  IpCidr,
  Ipv4Address,
  Ipv6Address,
  Loopback,
  loopbackPair,
  parseIpAddress,
  pcapGlobalHeader,
  pcapRecord,
  Stack,
} from "../netstack/mod.ts";
export { NfTables } from "./nftables/state.ts";
export { IPV4_LAYOUT, IPV6_LAYOUT, XtFamily } from "./netfilter/x_tables.ts";
export { Forwarder, SANDBOX_NET } from "./net_forward.ts";
export { PublishListener } from "./net_host.ts";
export { TunFile, tunIoctl } from "./net_tun.ts";
export { isNetdeviceIoctl, netdeviceIoctl } from "./socket/netdevice.ts";
export {
  renderProcNetDev,
  renderProcNetIfInet6,
  renderProcNetNetstat,
  renderProcNetSnmp,
  renderProcNetTcp,
  renderProcNetUdp,
} from "./socket/inet/proc_net.ts";
export { renderProcNetUnix } from "./socket/unix/proc_net.ts";
export { TCP_RCVBUF, TCP_RMEM_MAX, TCP_SNDBUF, TcpSocketFile } from "./socket/inet/tcp.ts";
// The socket files and sockets a checkpoint saves and a restore makes (kernel/checkpoint/): a
// restore of an image without any loads none of the network.
export { InetSocketFile } from "./socket/inet/inet_socket.ts";
export { PingSocketFile, UdpSocketFile } from "./socket/inet/udp.ts";
export { RawSocketFile } from "./socket/inet/raw.ts";
export { PacketSocketFile } from "./socket/packet/packet.ts";
export { UnixSocket } from "./socket/unix/unix_socket.ts";
export { NetlinkRouteSocket } from "./socket/netlink/route.ts";
export { parseUnixAddress } from "./socket/unix/address.ts";
export { handlers as socketHandlers, socketRead, socketWrite } from "./syscalls/linux/sys_socket.ts";
