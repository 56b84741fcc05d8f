/* TUN/TAP devices and SO_BINDTODEVICE: /dev/net/tun's ioctls and errnos, the interface a
 * TUNSETIFF makes (its name, index, type), RTM_NEWLINK/RTM_DELLINK to an RTMGRP_LINK socket,
 * a ping written into a TUN answered by the stack, persistence, SO_BINDTODEVICE and
 * SO_BINDTOIFINDEX, and ports shared per device by TCP and UDP. Run natively in a fresh network
 * namespace (it creates interfaces) and in the sentry; the output must match. Needs root.
 * `net_tun hold` makes a device and holds it three seconds, for a checkpoint's refusal. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include "_ckpt.h"

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif

static const char *err(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static int tun_open(const char *name, int flags, char *got) {
  int fd = open("/dev/net/tun", O_RDWR);
  struct ifreq ifr = {0};
  ifr.ifr_flags = flags;
  if (name) strncpy(ifr.ifr_name, name, IFNAMSIZ);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  if (got) strcpy(got, ifr.ifr_name);
  return fd;
}

/* Sends one rtnetlink request and returns the ack's error. */
static int nl_request(void *req, size_t len) {
  int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  send(s, req, len, 0);
  char buf[4096];
  int n = recv(s, buf, sizeof buf, 0);
  close(s);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (n < (int)sizeof *h || h->nlmsg_type != NLMSG_ERROR) return -9999;
  return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

static int link_up(int index) {
  struct { struct nlmsghdr h; struct ifinfomsg i; } req = {0};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = index;
  req.i.ifi_flags = IFF_UP;
  req.i.ifi_change = IFF_UP;
  return nl_request(&req, sizeof req);
}

static int set_mac(int index, const unsigned char *mac) {
  struct { struct nlmsghdr h; struct ifinfomsg i; struct rtattr ra; unsigned char mac[8]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i) + RTA_LENGTH(6);
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = index;
  req.ra.rta_type = IFLA_ADDRESS;
  req.ra.rta_len = RTA_LENGTH(6);
  memcpy(req.mac, mac, 6);
  return nl_request(&req, req.h.nlmsg_len);
}

static int add_addr(int index, const char *a, int prefix) {
  struct { struct nlmsghdr h; struct ifaddrmsg i; struct rtattr ra; struct in_addr addr; } req = {0};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_NEWADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  req.i.ifa_family = AF_INET;
  req.i.ifa_prefixlen = prefix;
  req.i.ifa_index = index;
  req.ra.rta_type = IFA_LOCAL;
  req.ra.rta_len = RTA_LENGTH(4);
  inet_pton(AF_INET, a, &req.addr);
  return nl_request(&req, sizeof req);
}

/* Whether the RTMGRP_LINK socket s has an RTM_NEWLINK or RTM_DELLINK (type) for index. */
static int saw_link(int s, int type, int index) {
  char buf[16384];
  int found = 0;
  struct pollfd p = {s, POLLIN, 0};
  while (poll(&p, 1, found ? 0 : 1000) == 1) {
    int n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      struct ifinfomsg *i = NLMSG_DATA(h);
      if (h->nlmsg_type == type && i->ifi_index == index) found = 1;
    }
  }
  return found;
}

static uint16_t csum(const void *p, int len) {
  const uint16_t *w = p;
  uint32_t s = 0;
  for (; len > 1; len -= 2) s += *w++;
  if (len) s += *(const uint8_t *)w;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s;
}

static void ping_through(int fd) {
  struct { struct iphdr ip; struct icmphdr icmp; char data[8]; } pkt = {0};
  pkt.ip.ihl = 5;
  pkt.ip.version = 4;
  pkt.ip.tot_len = htons(sizeof pkt);
  pkt.ip.ttl = 64;
  pkt.ip.protocol = IPPROTO_ICMP;
  inet_pton(AF_INET, "10.9.0.2", &pkt.ip.saddr);
  inet_pton(AF_INET, "10.9.0.1", &pkt.ip.daddr);
  pkt.ip.check = csum(&pkt.ip, sizeof pkt.ip);
  pkt.icmp.type = ICMP_ECHO;
  pkt.icmp.un.echo.id = htons(7);
  pkt.icmp.un.echo.sequence = htons(1);
  memcpy(pkt.data, "tunping", 8);
  pkt.icmp.checksum = csum(&pkt.icmp, sizeof pkt.icmp + sizeof pkt.data);
  printf("write ping: %zd\n", write(fd, &pkt, sizeof pkt));
  for (int i = 0; i < 50; i++) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) break;
    unsigned char buf[2048];
    int n = read(fd, buf, sizeof buf);
    if (n < 28 || (buf[0] >> 4) != 4 || buf[9] != IPPROTO_ICMP) continue;
    struct icmphdr *ic = (struct icmphdr *)(buf + (buf[0] & 15) * 4);
    if (ic->type != ICMP_ECHOREPLY) continue;
    char src[16], dst[16];
    inet_ntop(AF_INET, buf + 12, src, sizeof src);
    inet_ntop(AF_INET, buf + 16, dst, sizeof dst);
    printf("echo reply %s -> %s id %d seq %d len %d payload %s\n", src, dst, ntohs(ic->un.echo.id), ntohs(ic->un.echo.sequence), n,
           memcmp((char *)(ic + 1), "tunping", 8) == 0 ? "same" : "different");
    return;
  }
  printf("no echo reply\n");
}

static void bindtodevice(const char *tun) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  char name[32];
  socklen_t len = sizeof name;
  int r = getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len);
  printf("get unbound: %s len %u\n", err(r), len);
  r = setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "nosuch0", 8);
  printf("set nosuch0: %s\n", err(r));
  r = setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, tun, strlen(tun));
  printf("set %s (no NUL): %s\n", tun, err(r));
  len = sizeof name;
  memset(name, '/', sizeof name);
  r = getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len);
  printf("get: %s len %u name %s\n", err(r), len, name);
  len = 15;
  r = getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len);
  printf("get into 15 bytes: %s len %u\n", err(r), len);
  int idx = 0;
  len = sizeof idx;
  r = getsockopt(s, SOL_SOCKET, SO_BINDTOIFINDEX, &idx, &len);
  printf("get ifindex: %s is if_nametoindex: %d\n", err(r), idx == (int)if_nametoindex(tun));
  idx = 1;
  r = setsockopt(s, SOL_SOCKET, SO_BINDTOIFINDEX, &idx, sizeof idx);
  len = sizeof name;
  getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len);
  printf("set ifindex 1: %s now %s\n", err(r), name);
  idx = -1;
  printf("set ifindex -1: %s\n", err(setsockopt(s, SOL_SOCKET, SO_BINDTOIFINDEX, &idx, sizeof idx)));
  r = setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "", 0);
  len = sizeof name;
  getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len);
  printf("clear: %s len %u\n", err(r), len);
  close(s);
}

/* Binds a socket of type ty to 127.0.0.1:port, bound to dev first (NULL: none). */
static int bind_dev(int ty, const char *dev, int reuseport, int *port) {
  int s = socket(AF_INET, ty, 0);
  int one = 1;
  if (reuseport) setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (dev) setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, dev, strlen(dev) + 1);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
    printf("  bind %s%s: %s\n", dev ? dev : "(none)", reuseport ? " reuseport" : "", strerrorname_np(errno));
    close(s);
    return -1;
  }
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  printf("  bind %s%s: ok\n", dev ? dev : "(none)", reuseport ? " reuseport" : "");
  return s;
}

static void ports(int ty, const char *tun, const char *tap) {
  printf("%s ports:\n", ty == SOCK_STREAM ? "TCP" : "UDP");
  int port = 0;
  int a = bind_dev(ty, tun, 0, &port);
  int b = bind_dev(ty, tun, 0, &port);
  int c = bind_dev(ty, tap, 0, &port);
  int d = bind_dev(ty, NULL, 0, &port);
  int e = bind_dev(ty, NULL, 1, &port);
  close(a);
  close(c);
  int f = bind_dev(ty, NULL, 0, &port);
  int g = bind_dev(ty, tun, 0, &port);
  close(f);
  int h = bind_dev(ty, tun, 1, &port);
  int i = bind_dev(ty, tap, 1, &port);
  int j = bind_dev(ty, tap, 1, &port);
  int k = bind_dev(ty, NULL, 1, &port);
  int fds[] = {b, d, e, g, h, i, j, k};
  for (unsigned n = 0; n < sizeof fds / sizeof *fds; n++) if (fds[n] >= 0) close(fds[n]);
}

/* UDP: a datagram sent to 127.0.0.1 (it arrives on lo) reaches the socket bound to lo before
 * an unbound one, never the one bound to the TUN device. */
static void udp_delivery(const char *tun) {
  int port = 0;
  int t = bind_dev(SOCK_DGRAM, tun, 1, &port);
  int u = bind_dev(SOCK_DGRAM, NULL, 1, &port);
  int l = bind_dev(SOCK_DGRAM, "lo", 1, &port);
  int c = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 20; i++) sendto(c, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
  usleep(100000);
  int fds[] = {t, u, l};
  const char *names[] = {"tun", "unbound", "lo"};
  for (int i = 0; i < 3; i++) {
    int n = 0;
    char b;
    while (recv(fds[i], &b, 1, MSG_DONTWAIT) == 1) n++;
    printf("udp delivered to %s-bound: %d\n", names[i], n);
    close(fds[i]);
  }
  close(c);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "hold") == 0) {
    /* For a checkpoint: a device exists until stdin ends (tests/c/_ckpt.h). */
    char name[IFNAMSIZ];
    int t = tun_open("hold0", IFF_TUN, name);
    printf("created %s: %s\n", name, err(t));
    fflush(stdout);
    await_checkpoint();
    printf("still there: %d\n", if_nametoindex("hold0") > 0);
    return 0;
  }
  int fd = open("/dev/net/tun", O_RDWR);
  char buf[64];
  printf("open: %s\n", err(fd));
  printf("read unattached: %s\n", err(read(fd, buf, sizeof buf)));
  printf("write unattached: %s\n", err(write(fd, buf, sizeof buf)));
  struct ifreq ifr = {0};
  printf("TUNGETIFF unattached: %s\n", err(ioctl(fd, TUNGETIFF, &ifr)));
  printf("TUNSETPERSIST unattached: %s\n", err(ioctl(fd, TUNSETPERSIST, 1)));
  ifr.ifr_flags = 0;
  printf("TUNSETIFF no type: %s\n", err(ioctl(fd, TUNSETIFF, &ifr)));
  strcpy(ifr.ifr_name, "a/b");
  ifr.ifr_flags = IFF_TUN;
  printf("TUNSETIFF bad name: %s\n", err(ioctl(fd, TUNSETIFF, &ifr)));
  close(fd);

  int mon = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  bind(mon, (struct sockaddr *)&sa, sizeof sa);

  char tun[IFNAMSIZ];
  fd = tun_open(NULL, IFF_TUN | IFF_NO_PI, tun);
  printf("TUNSETIFF tun: %s name %s\n", err(fd), tun);
  int index = if_nametoindex(tun);
  printf("index above lo: %d\n", index > 1);
  printf("RTM_NEWLINK seen: %d\n", saw_link(mon, RTM_NEWLINK, index));
  memset(&ifr, 0, sizeof ifr);
  ioctl(fd, TUNGETIFF, &ifr);
  printf("TUNGETIFF: %s flags %#x\n", ifr.ifr_name, (unsigned short)ifr.ifr_flags);
  printf("TUNSETIFF again: %s\n", err(ioctl(fd, TUNSETIFF, &ifr)));
  printf("attach busy: %s\n", err(tun_open(tun, IFF_TUN, NULL)));
  printf("attach as tap: %s\n", err(tun_open(tun, IFF_TAP, NULL)));
  printf("attach excl: %s\n", err(tun_open(tun, IFF_TUN | IFF_TUN_EXCL, NULL)));
  printf("write empty: %s\n", err(write(fd, buf, 0)));
  memset(buf, 0x55, sizeof buf);
  printf("write not IP: %s\n", err(write(fd, buf, 20)));
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  strcpy(ifr.ifr_name, tun);
  ioctl(s, SIOCGIFHWADDR, &ifr);
  printf("hw type %d\n", ifr.ifr_hwaddr.sa_family);
  ioctl(s, SIOCGIFMTU, &ifr);
  printf("mtu %d\n", ifr.ifr_mtu);
  close(s);

  printf("link up: %d\n", link_up(index));
  printf("add 10.9.0.1/24: %d\n", add_addr(index, "10.9.0.1", 24));
  ping_through(fd);

  char tap[IFNAMSIZ];
  int tapfd = tun_open("dev%d", IFF_TAP, tap);
  printf("TUNSETIFF tap dev%%d: %s name %s\n", err(tapfd), tap);
  s = socket(AF_INET, SOCK_DGRAM, 0);
  strcpy(ifr.ifr_name, tap);
  ioctl(s, SIOCGIFHWADDR, &ifr);
  printf("tap hw type %d local %d\n", ifr.ifr_hwaddr.sa_family, (ifr.ifr_hwaddr.sa_data[0] & 3) == 2);
  ioctl(s, SIOCGIFFLAGS, &ifr);
  printf("tap up before: %d\n", (ifr.ifr_flags & IFF_UP) != 0);
  memset(buf, 0, sizeof buf);
  printf("write to down tap: %s\n", err(write(tapfd, buf, sizeof buf)));
  int tapindex = if_nametoindex(tap);
  static const unsigned char mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}, mcast[6] = {0x01, 0, 0, 0, 0, 1};
  printf("set multicast mac: %d\n", set_mac(tapindex, mcast));
  printf("set mac: %d\n", set_mac(tapindex, mac));
  printf("set mac on tun: %d\n", set_mac(index, mac));
  strcpy(ifr.ifr_name, tap);
  ioctl(s, SIOCGIFHWADDR, &ifr);
  printf("tap mac now %d\n", memcmp(ifr.ifr_hwaddr.sa_data, mac, 6) == 0);
  printf("tap up: %d\n", link_up(tapindex));
  ioctl(s, SIOCGIFFLAGS, &ifr);
  printf("tap up after: %d\n", (ifr.ifr_flags & IFF_UP) != 0);
  close(s);

  bindtodevice(tun);
  ports(SOCK_DGRAM, tun, tap);
  ports(SOCK_STREAM, tun, tap);
  udp_delivery(tun);

  close(tapfd);
  close(fd);
  printf("after close: %d\n", if_nametoindex(tun));
  printf("RTM_DELLINK seen: %d\n", saw_link(mon, RTM_DELLINK, index));

  fd = tun_open("keep0", IFF_TAP, NULL);
  printf("TUNSETPERSIST 1: %s\n", err(ioctl(fd, TUNSETPERSIST, 1)));
  memset(&ifr, 0, sizeof ifr);
  ioctl(fd, TUNGETIFF, &ifr);
  printf("TUNGETIFF persistent: flags %#x\n", (unsigned short)ifr.ifr_flags);
  close(fd);
  printf("persists: %d\n", if_nametoindex("keep0") > 0);
  fd = tun_open("keep0", IFF_TAP | IFF_NO_PI, NULL);
  printf("reattach: %s\n", err(fd));
  printf("TUNSETPERSIST 0: %s\n", err(ioctl(fd, TUNSETPERSIST, 0)));
  close(fd);
  printf("gone: %d\n", if_nametoindex("keep0"));

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_NET_ADMIN);
    syscall(SYS_capset, &h, d);
    printf("without CAP_NET_ADMIN: %s\n", err(tun_open("nocap0", IFF_TUN, NULL)));
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  return 0;
}
