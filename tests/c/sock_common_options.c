/*
 * The SOL_SOCKET options every socket family answers alike (Linux's sk_setsockopt and
 * sk_getsockopt, under the families), over Unix stream/datagram/seqpacket, netlink, packet,
 * raw, UDP, TCP and UDPv6 sockets: each option's default, what setting it returns, and its value
 * afterwards. Values that depend on the host (buffer sizes, which follow its net.core sysctls)
 * are read back by the same rules in both runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif
#ifndef SO_TIMESTAMP_NEW
#define SO_TIMESTAMP_NEW 63
#endif
#ifndef SO_TIMESTAMPNS_NEW
#define SO_TIMESTAMPNS_NEW 64
#endif

static const char *ename(int e) {
  switch (e) {
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENOTCONN: return "ENOTCONN";
    case EFAULT: return "EFAULT";
    default: return strerror(e);
  }
}

/* The value as read: an int, a linger, a name or bytes, or the errno. */
static void show(int fd, int opt) {
  unsigned char b[64];
  socklen_t len = sizeof b;
  memset(b, 0xa5, sizeof b);
  if (getsockopt(fd, SOL_SOCKET, opt, b, &len) < 0) {
    printf(" %s", ename(errno));
    return;
  }
  if (opt == SO_LINGER && len == sizeof(struct linger)) {
    struct linger *l = (struct linger *)b;
    printf(" {%d,%d}", l->l_onoff, l->l_linger);
  } else if (opt == SO_BINDTODEVICE) {
    printf(" \"%.*s\"/%u", (int)len, (char *)b, len);
  } else if (opt == SO_PEERCRED) {
    struct ucred *u = (struct ucred *)b;
    printf(" {%d,%d,%d}/%u", u->pid > 0 ? 1 : u->pid, (int)u->uid, (int)u->gid, len);
  } else if (len == 4) {
    printf(" %d", *(int *)b);
  } else {
    printf(" len%u", len);
  }
}

struct setting {
  const char *name;
  int opt;
  const void *val;
  socklen_t len;
};

static const int one = 1, zero = 0, five = 5, minus = -1, prio = 6, prio_hi = 9, mark = 42, buf = 10000, lo = 1;
static const struct linger lon = {1, 7}, loff = {0, 3};

static const struct setting settings[] = {
  {"SO_DEBUG", SO_DEBUG, &one, 4},
  {"SO_REUSEADDR", SO_REUSEADDR, &one, 4},
  {"SO_REUSEPORT", SO_REUSEPORT, &one, 4},
  {"SO_REUSEPORT0", SO_REUSEPORT, &zero, 4},
  {"SO_TYPE", SO_TYPE, &one, 4},
  {"SO_PROTOCOL", SO_PROTOCOL, &one, 4},
  {"SO_DOMAIN", SO_DOMAIN, &one, 4},
  {"SO_ERROR", SO_ERROR, &one, 4},
  {"SO_ACCEPTCONN", SO_ACCEPTCONN, &one, 4},
  {"SO_DONTROUTE", SO_DONTROUTE, &one, 4},
  {"SO_BROADCAST", SO_BROADCAST, &one, 4},
  {"SO_SNDBUF", SO_SNDBUF, &buf, 4},
  {"SO_RCVBUF", SO_RCVBUF, &buf, 4},
  {"SO_SNDBUFFORCE", SO_SNDBUFFORCE, &buf, 4},
  {"SO_RCVBUFFORCE", SO_RCVBUFFORCE, &buf, 4},
  {"SO_KEEPALIVE", SO_KEEPALIVE, &one, 4},
  {"SO_OOBINLINE", SO_OOBINLINE, &one, 4},
  {"SO_NO_CHECK", SO_NO_CHECK, &one, 4},
  {"SO_PRIORITY", SO_PRIORITY, &prio, 4},
  {"SO_PRIORITY9", SO_PRIORITY, &prio_hi, 4},
  {"SO_LINGER", SO_LINGER, &lon, sizeof lon},
  {"SO_LINGER-off", SO_LINGER, &loff, sizeof loff},
  {"SO_LINGER-short", SO_LINGER, &one, 4},
  {"SO_PASSCRED", SO_PASSCRED, &one, 4},
  {"SO_PEERCRED", SO_PEERCRED, &one, 4},
  {"SO_RCVLOWAT", SO_RCVLOWAT, &five, 4},
  {"SO_RCVLOWAT-1", SO_RCVLOWAT, &minus, 4},
  {"SO_RCVLOWAT0", SO_RCVLOWAT, &zero, 4},
  {"SO_SNDLOWAT", SO_SNDLOWAT, &five, 4},
  {"SO_TIMESTAMP", SO_TIMESTAMP, &one, 4},
  {"SO_TIMESTAMPNS", SO_TIMESTAMPNS, &one, 4},
  {"SO_TIMESTAMP_NEW", SO_TIMESTAMP_NEW, &one, 4},
  {"SO_TIMESTAMPNS_NEW", SO_TIMESTAMPNS_NEW, &one, 4},
  {"SO_MARK", SO_MARK, &mark, 4},
  {"SO_MARK-short", SO_MARK, &mark, 2},
  {"SO_BINDTODEVICE", SO_BINDTODEVICE, "lo", 3},
  {"SO_BINDTODEVICE-none", SO_BINDTODEVICE, "", 1},
  {"SO_BINDTOIFINDEX", SO_BINDTOIFINDEX, &lo, 4},
  {"SO_BINDTOIFINDEX0", SO_BINDTOIFINDEX, &zero, 4},
  {"SO_BINDTODEVICE-bad", SO_BINDTODEVICE, "nosuchdev0", 11},
  {"SO_KEEPALIVE-short", SO_KEEPALIVE, &one, 2},
};

static void family(const char *what, int domain, int type, int protocol) {
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
    const struct setting *s = &settings[i];
    int fd = socket(domain, type, protocol);
    if (fd < 0) {
      printf("%s: socket: %s\n", what, ename(errno));
      return;
    }
    printf("%s %s:", what, s->name);
    show(fd, s->opt);
    if (setsockopt(fd, SOL_SOCKET, s->opt, s->val, s->len) < 0) printf(" set %s", ename(errno));
    else printf(" set ok");
    if (domain == AF_INET && type == SOCK_STREAM && s->opt == SO_RCVLOWAT && *(const int *)s->val < 0) {
      // tcp_set_rcvlowat caps it at half of tcp_rmem[2], which the sandbox reports as Linux's
      // default and the host as it is set.
      int v = 0;
      socklen_t len = sizeof v;
      getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len);
      printf(" %s", v >= 1 << 20 && v < 0x7fffffff ? "half of tcp_rmem[2]" : "other");
    } else {
      show(fd, s->opt);
    }
    printf("\n");
    close(fd);
  }
}

int main(void) {
  family("unix-stream", AF_UNIX, SOCK_STREAM, 0);
  family("unix-dgram", AF_UNIX, SOCK_DGRAM, 0);
  family("unix-seqpacket", AF_UNIX, SOCK_SEQPACKET, 0);
  family("netlink", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  family("packet", AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  family("packet-dgram", AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
  family("raw", AF_INET, SOCK_RAW, IPPROTO_ICMP);
  family("udp", AF_INET, SOCK_DGRAM, 0);
  family("tcp", AF_INET, SOCK_STREAM, 0);
  family("udp6", AF_INET6, SOCK_DGRAM, 0);
  return 0;
}
