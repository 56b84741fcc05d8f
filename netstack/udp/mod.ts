/**
 * Datagram sockets: UDP and ICMP echo ("ping") sockets.
 *
 * @module
 */

export { type Datagram, UDP_MAX_PAYLOAD, type UdpEmit, type UdpEndpoint, type UdpHost, type UdpOptions, UdpSocket } from "./udp_socket.ts";
export { type EchoMessage, type IcmpEmit, type IcmpHost, IcmpSocket } from "./icmp_socket.ts";
