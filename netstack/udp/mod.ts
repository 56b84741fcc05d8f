/**
 * Datagram sockets: UDP and ICMP echo ("ping") sockets.
 *
 * @module
 */

export { type Datagram, type DatagramSnapshot, UDP_MAX_PAYLOAD, type UdpEmit, type UdpEndpoint, type UdpHost, type UdpOptions, UdpSocket, type UdpSnapshot } from "./udp_socket.ts";
export { type EchoMessage, type EchoSnapshot, type IcmpEmit, type IcmpHost, type IcmpSnapshot, IcmpSocket } from "./icmp_socket.ts";
