/*
 * Addresses on lo and what is local, compared with Linux in a network namespace of its own
 * (tests/net_test.ts runs it under `unshare -n` natively, after bringing lo up; it changes lo's
 * addresses): an IPv4 address on lo makes its whole network local (192.0.2.1/24: a UDP socket
 * binds 192.0.2.2 and sends to one bound to 192.0.2.254); without 127.0.0.1/8 a connect to
 * 127.0.0.1 is ENETUNREACH; IPv6 addresses are added and removed by RTM_NEWADDR/RTM_DELADDR
 * (EEXIST, EADDRNOTAVAIL for another prefix length), and without ::1 a connect to ::1 is
 * EADDRNOTAVAIL; everything is put back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "_netlink.h"

static int nl;

static int change(int type, int flags, int family, int prefix, const char *addr) {
  struct {
    struct nlmsghdr h;
    struct ifaddrmsg a;
    char attrs[32];
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, type, NLM_F_ACK | flags, 8, sizeof req.a);
  req.a.ifa_family = family;
  req.a.ifa_prefixlen = prefix;
  req.a.ifa_index = if_nametoindex("lo");
  unsigned char in[16];
  inet_pton(family, addr, in);
  nl_attr(&req.h, IFA_LOCAL, in, family == AF_INET ? 4 : 16);
  return nl_ack(nl, &req.h);
}

static void connect_to(int family, int type, const char *addr) {
  int s = socket(family, type, 0);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (void *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(65535);
    inet_pton(AF_INET, addr, &a->sin_addr);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (void *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(65535);
    inet_pton(AF_INET6, addr, &a->sin6_addr);
    len = sizeof *a;
  }
  int r = connect(s, (void *)&ss, len);
  printf("connect %s %s: %d errno %d\n", type == SOCK_STREAM ? "tcp" : "udp", addr, r, r < 0 ? errno : 0);
  close(s);
}

/*
 * A connect to a just-added IPv6 address: Linux makes the address usable from a work queue
 * after the add returns (addrconf_dad_work, even on lo), so it is tried for up to 2 s.
 */
static void connect_when_ready(const char *addr) {
  for (int i = 0; i < 200; i++) {
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(65535)};
    inet_pton(AF_INET6, addr, &a.sin6_addr);
    int r = connect(s, (void *)&a, sizeof a);
    close(s);
    if (r == 0 || errno != EADDRNOTAVAIL) break;
    usleep(10000);
  }
  connect_to(AF_INET6, SOCK_DGRAM, addr);
}

static int udp_bound(const char *addr, unsigned short port) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, addr, &a.sin_addr);
  int r = bind(s, (void *)&a, sizeof a);
  printf("bind %s: %d errno %d\n", addr, r, r < 0 ? errno : 0);
  return s;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  bind(nl, (void *)&sa, sizeof sa);

  /* A loopback subnet is local. */
  printf("add 192.0.2.1/24: %d\n", change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, AF_INET, 24, "192.0.2.1"));
  int snd = udp_bound("192.0.2.2", 0), rcv = udp_bound("192.0.2.254", 4444);
  udp_bound("192.0.3.1", 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(4444)};
  inet_pton(AF_INET, "192.0.2.254", &to.sin_addr);
  printf("sendto: %zd\n", sendto(snd, "subnet", 6, 0, (void *)&to, sizeof to));
  char b[16];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(rcv, b, sizeof b, 0, (void *)&from, &fl);
  char fs[INET_ADDRSTRLEN];
  printf("received %zd from %s\n", n, inet_ntop(AF_INET, &from.sin_addr, fs, sizeof fs));
  close(snd);
  close(rcv);
  connect_to(AF_INET, SOCK_STREAM, "192.0.2.99");
  printf("del 192.0.2.1/24: %d\n", change(RTM_DELADDR, 0, AF_INET, 24, "192.0.2.1"));
  udp_bound("192.0.2.2", 0);

  /* No 127.0.0.1/8: 127.0.0.1 is unreachable. */
  printf("del 127.0.0.1/8: %d\n", change(RTM_DELADDR, 0, AF_INET, 8, "127.0.0.1"));
  connect_to(AF_INET, SOCK_DGRAM, "127.0.0.1");
  connect_to(AF_INET, SOCK_STREAM, "127.0.0.1");
  udp_bound("127.0.0.1", 0);
  printf("add 127.0.0.1/8: %d\n", change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, AF_INET, 8, "127.0.0.1"));
  connect_to(AF_INET, SOCK_DGRAM, "127.0.0.5");

  /* IPv6. */
  printf("add ::1/128 again: %d\n", change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, AF_INET6, 128, "::1"));
  printf("del ::1/64: %d\n", change(RTM_DELADDR, 0, AF_INET6, 64, "::1"));
  printf("del ::1/129: %d\n", change(RTM_DELADDR, 0, AF_INET6, 129, "::1"));
  printf("del ::1/128: %d\n", change(RTM_DELADDR, 0, AF_INET6, 128, "::1"));
  printf("del ::1/128 again: %d\n", change(RTM_DELADDR, 0, AF_INET6, 128, "::1"));
  connect_to(AF_INET6, SOCK_DGRAM, "::1");
  connect_to(AF_INET6, SOCK_STREAM, "::1");
  printf("add ::1/128: %d\n", change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, AF_INET6, 128, "::1"));
  connect_when_ready("::1");
  printf("add 2001:db8::1/64: %d\n", change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, AF_INET6, 64, "2001:db8::1"));
  connect_when_ready("2001:db8::1");
  printf("del 2001:db8::1/64: %d\n", change(RTM_DELADDR, 0, AF_INET6, 64, "2001:db8::1"));
  return 0;
}
