/**
 * Socket ABI: address families, socket types, levels and options, MSG_* flags, control
 * message types, and the layout of struct msghdr, struct mmsghdr and struct cmsghdr on x86-64.
 *
 * @module
 */

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_RDM = 4;
export const SOCK_SEQPACKET = 5;
/** The type bits of socket(2)'s type argument; the rest are SOCK_NONBLOCK and SOCK_CLOEXEC. */
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

export const SOL_SOCKET = 1;

export const SO_DEBUG = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_NO_CHECK = 11;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_BSDCOMPAT = 14;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const SO_RCVTIMEO_OLD = 20;
export const SO_SNDTIMEO_OLD = 21;
export const SO_BINDTODEVICE = 25;
/** Binds to an interface by index (Linux 5.1). */
export const SO_BINDTOIFINDEX = 62;
export const SO_TIMESTAMP_OLD = 29;
export const SO_TIMESTAMPNS_OLD = 35;
export const SO_TIMESTAMP_NEW = 63;
export const SO_TIMESTAMPNS_NEW = 64;
export const SO_ACCEPTCONN = 30;
export const SO_PEERSEC = 31;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_PASSSEC = 34;
export const SO_MARK = 36;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SO_PEEK_OFF = 42;
export const SO_BUSY_POLL = 46;
export const SO_INCOMING_CPU = 49;
export const SO_COOKIE = 57;
export const SO_PEERGROUPS = 59;
export const SO_RCVTIMEO_NEW = 66;
export const SO_SNDTIMEO_NEW = 67;

export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_DONTROUTE = 0x4;
export const MSG_CTRUNC = 0x8;
export const MSG_PROBE = 0x10;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_FIN = 0x200;
export const MSG_SYN = 0x400;
export const MSG_CONFIRM = 0x800;
export const MSG_RST = 0x1000;
export const MSG_ERRQUEUE = 0x2000;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_MORE = 0x8000;
export const MSG_WAITFORONE = 0x10000;
export const MSG_BATCH = 0x40000;
export const MSG_ZEROCOPY = 0x4000000;
export const MSG_FASTOPEN = 0x20000000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

/** Control message types at SOL_SOCKET. */
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
/** SCM_MAX_FD: the most descriptors one SCM_RIGHTS message carries. */
export const SCM_MAX_FD = 253;

/** struct sockaddr_storage. */
export const SOCKADDR_STORAGE_SIZE = 128;
/** sizeof(struct sockaddr_un): family (2) + sun_path (108). */
export const SOCKADDR_UN_SIZE = 110;
export const UNIX_PATH_MAX = 108;

/** struct msghdr on x86-64 (56 bytes): field offsets. */
export const MSGHDR_SIZE = 56;
export const MSGHDR = {
  name: 0,
  namelen: 8,
  iov: 16,
  iovlen: 24,
  control: 32,
  controllen: 40,
  flags: 48,
} as const;
/** struct mmsghdr: a msghdr then `unsigned int msg_len`, padded to 64 bytes. */
export const MMSGHDR_SIZE = 64;
export const MMSGHDR_LEN = 56;
/** UIO_MAXIOV also bounds sendmmsg/recvmmsg's vlen. */
export const UIO_MAXIOV = 1024;

/** struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data. */
export const CMSGHDR_SIZE = 16;
/** CMSG_ALIGN: control messages are aligned to sizeof(size_t). */
export function cmsgAlign(n: number): number {
  return (n + 7) & ~7;
}

/** struct ucred: pid, uid, gid (three 32-bit ints). */
export const UCRED_SIZE = 12;

/** ioctls on sockets. */
export const SIOCINQ = 0x541b; // = FIONREAD
export const SIOCOUTQ = 0x5411; // = TIOCOUTQ
export const SIOCGSTAMP = 0x8906;
