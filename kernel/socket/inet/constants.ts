/**
 * Linux's socket ABI numbers that the inet and netlink families use (from linux/socket.h,
 * linux/in.h, linux/in6.h, linux/tcp.h, asm-generic/socket.h), in Linux's spelling.
 *
 * @module
 */

// Shared with the other families: defined once in abi/linux/socket.ts.
export {
  AF_INET, AF_INET6, AF_NETLINK, AF_UNSPEC, MSG_CTRUNC, MSG_DONTROUTE, MSG_DONTWAIT, MSG_EOR, MSG_ERRQUEUE,
  MSG_MORE, MSG_NOSIGNAL, MSG_OOB, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, SHUT_RD, SHUT_RDWR, SHUT_WR,
  SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM, SOCK_TYPE_MASK, SOL_SOCKET, SO_ACCEPTCONN, SO_BINDTODEVICE, SO_BINDTOIFINDEX,
  SO_BROADCAST, SO_DEBUG, SO_DOMAIN, SO_DONTROUTE, SO_ERROR, SO_KEEPALIVE, SO_LINGER, SO_MARK, SO_NO_CHECK,
  SO_OOBINLINE, SO_PASSCRED, SO_PRIORITY, SO_PROTOCOL, SO_RCVBUF, SO_RCVBUFFORCE, SO_RCVLOWAT, SO_RCVTIMEO_NEW,
  SO_RCVTIMEO_OLD, SO_REUSEADDR, SO_REUSEPORT, SO_SNDBUF, SO_SNDBUFFORCE, SO_SNDLOWAT,
  SO_SNDTIMEO_NEW, SO_SNDTIMEO_OLD, SO_TIMESTAMP_OLD, SO_TYPE,
} from "../../../abi/linux/socket.ts";

export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** UDP-Lite (RFC 3828); also its socket option level, SOL_UDPLITE. */
export const IPPROTO_UDPLITE = 136;
/** SOL_UDPLITE's options: the checksum coverage sent, and the least one taken. */
export const UDPLITE_SEND_CSCOV = 10;
export const UDPLITE_RECV_CSCOV = 11;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;

export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_PKTINFO = 8;
export const IP_MTU_DISCOVER = 10;
export const IP_RECVERR = 11;
export const IP_RECVTTL = 12;
export const IP_RECVTOS = 13;
/** IP_RECVORIGDSTADDR, also the type of its control message (IP_ORIGDSTADDR). */
export const IP_RECVORIGDSTADDR = 20;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;

export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_RECVERR = 25;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_RECVTCLASS = 66;
export const IPV6_TCLASS = 67;
/** IPV6_RECVORIGDSTADDR, also the type of its control message (IPV6_ORIGDSTADDR). */
export const IPV6_RECVORIGDSTADDR = 74;

export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_SYNCNT = 7;
export const TCP_LINGER2 = 8;
export const TCP_DEFER_ACCEPT = 9;
export const TCP_WINDOW_CLAMP = 10;
export const TCP_INFO = 11;
export const TCP_QUICKACK = 12;
export const TCP_CONGESTION = 13;
export const TCP_USER_TIMEOUT = 18;
export const TCP_FASTOPEN = 23;
export const TCP_NOTSENT_LOWAT = 25;
/** TCP_INQ, also the type of its control message (TCP_CM_INQ). */
export const TCP_INQ = 36;

/** Linux's TCP state numbers (include/net/tcp_states.h), for TCP_INFO and /proc/net/tcp. */
export const TCP_STATE_NUMBER: Readonly<Record<string, number>> = {
  "ESTABLISHED": 1,
  "SYN-SENT": 2,
  "SYN-RECEIVED": 3,
  "FIN-WAIT-1": 4,
  "FIN-WAIT-2": 5,
  "TIME-WAIT": 6,
  "CLOSED": 7,
  "CLOSE-WAIT": 8,
  "LAST-ACK": 9,
  "LISTEN": 10,
  "CLOSING": 11,
};
