/**
 * What a socket filter (SO_ATTACH_FILTER, kernel/socket/sock_filter.ts) of an inet socket sees
 * of a packet: its data from where the family's starts (the UDP header, a raw IPv4 socket's IP
 * header, a raw IPv6 socket's payload) and the IP packet from its network header. A datagram
 * the stack handed over without its IP packet (loopback broadcast and multicast) gets headers
 * made the way the sending stack would have made them.
 *
 * @module
 */

import type { IpAddress } from "../../../netstack/mod.ts";
import type { FilterPacket } from "../sock_filter.ts";

const ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd;
/** lo's interface index and type (ARPHRD_LOOPBACK); PACKET_HOST. */
const LO_IFINDEX = 1, ARPHRD_LOOPBACK = 772, PACKET_HOST = 0;

/** An IPv4 or IPv6 header for `payloadLen` bytes of protocol `proto` from src to dst. */
export function ipHeader(src: IpAddress, dst: IpAddress, proto: number, payloadLen: number, ttl: number, tos: number): Uint8Array {
  if (src.version === 4) {
    const h = new Uint8Array(20);
    const v = new DataView(h.buffer);
    h[0] = 0x45;
    h[1] = tos;
    v.setUint16(2, 20 + payloadLen);
    v.setUint16(6, 0x4000); // DF, as Linux sets for datagrams under the path MTU
    h[8] = ttl;
    h[9] = proto;
    h.set(src.bytes, 12);
    h.set(dst.bytes, 16);
    return h;
  }
  const h = new Uint8Array(40);
  const v = new DataView(h.buffer);
  v.setUint32(0, (6 << 28) | (tos << 20));
  v.setUint16(4, payloadLen);
  h[6] = proto;
  h[7] = ttl;
  h.set(src.bytes, 8);
  h.set(dst.bytes, 24);
  return h;
}

/** A filter's view of `data`, found at the end of `network` (the packet from its IP header). */
export function inetFilterPacket(version: 4 | 6, data: Uint8Array, network: Uint8Array): FilterPacket {
  return {
    data,
    network,
    link: null,
    protocol: version === 4 ? ETH_P_IP : ETH_P_IPV6,
    pktType: PACKET_HOST,
    ifindex: LO_IFINDEX,
    hatype: ARPHRD_LOOPBACK,
  };
}

/** The UDP header of a datagram given without its packet (the checksum left 0). */
export function udpSegment(srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const seg = new Uint8Array(8 + payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, seg.length);
  seg.set(payload, 8);
  return seg;
}

/** Concatenates a header and what follows it. */
export function joined(head: Uint8Array, rest: Uint8Array): Uint8Array {
  const b = new Uint8Array(head.length + rest.length);
  b.set(head);
  b.set(rest, head.length);
  return b;
}
