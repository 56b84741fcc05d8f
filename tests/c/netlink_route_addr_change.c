/*
 * RTM_NEWADDR/RTM_DELADDR in the sandbox (never run natively: they would change the host).
 * Adds 10.0.0.1/24 to lo, binds a UDP socket to it and sends itself a datagram there, checks
 * that an RTM_GETADDR dump lists it, that adding it again is EEXIST, replacing it is acked and
 * an exclusive add is EEXIST, then removes it (a second removal is EADDRNOTAVAIL) and binds
 * to it no more (EADDRNOTAVAIL). With an argument, sleeps 2 s after the add (for a checkpoint).
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
#include "_ckpt.h"
#include "_netlink.h"

static int change(int fd, int type, int flags, int index, const char *addr) {
  struct {
    struct nlmsghdr h;
    struct ifaddrmsg a;
    char attrs[16];
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, type, NLM_F_ACK | flags, 8, sizeof req.a);
  req.a.ifa_family = AF_INET;
  req.a.ifa_prefixlen = 24;
  req.a.ifa_index = index;
  struct in_addr in;
  inet_pton(AF_INET, addr, &in);
  nl_attr(&req.h, IFA_LOCAL, &in, 4);
  return nl_ack(fd, &req.h);
}

struct want {
  const char *addr;
  int prefix; /* of the address found, 0 if none */
};

static void match_addr(struct nlmsghdr *h, void *arg) {
  struct want *w = arg;
  struct ifaddrmsg *a = NLMSG_DATA(h);
  int len = IFA_PAYLOAD(h);
  for (struct rtattr *r = IFA_RTA(a); RTA_OK(r, len); r = RTA_NEXT(r, len)) {
    char s[INET_ADDRSTRLEN];
    if (r->rta_type == IFA_LOCAL && strcmp(inet_ntop(AF_INET, RTA_DATA(r), s, sizeof s), w->addr) == 0)
      w->prefix = a->ifa_prefixlen;
  }
}

static int listed(int fd, const char *addr) {
  struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, RTM_GETADDR, NLM_F_DUMP, 9, sizeof req.g);
  req.g.rtgen_family = AF_INET;
  struct want w = {addr, 0};
  nl_dump(fd, &req.h, match_addr, &w);
  return w.prefix;
}

static void udp_to_self(const char *addr) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(4321)};
  inet_pton(AF_INET, addr, &sa.sin_addr);
  int r = bind(s, (struct sockaddr *)&sa, sizeof sa);
  printf("bind %s: %d errno %d", addr, r, r < 0 ? errno : 0);
  if (r == 0) {
    sendto(s, "hi", 2, 0, (struct sockaddr *)&sa, sizeof sa);
    char b[8];
    ssize_t n = recv(s, b, sizeof b, MSG_DONTWAIT);
    printf(", datagram to itself: %zd", n);
  }
  printf("\n");
  close(s);
}

int main(int argc, char **argv) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int lo = (int)if_nametoindex("lo");
  printf("add: %d\n", change(fd, RTM_NEWADDR, NLM_F_CREATE, lo, "10.0.0.1"));
  if (argc > 1) await_checkpoint(); /* the checkpoint test's --checkpoint-after comes here */
  printf("listed with prefix %d\n", listed(fd, "10.0.0.1"));
  udp_to_self("10.0.0.1");
  printf("add again: %d\n", change(fd, RTM_NEWADDR, NLM_F_CREATE, lo, "10.0.0.1"));
  printf("replace: %d\n", change(fd, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, lo, "10.0.0.1"));
  printf("exclusive: %d\n", change(fd, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, lo, "10.0.0.1"));
  printf("add to link 1234590: %d\n", change(fd, RTM_NEWADDR, NLM_F_CREATE, 1234590, "10.0.0.2"));
  printf("delete: %d\n", change(fd, RTM_DELADDR, 0, lo, "10.0.0.1"));
  printf("delete again: %d\n", change(fd, RTM_DELADDR, 0, lo, "10.0.0.1"));
  printf("listed with prefix %d\n", listed(fd, "10.0.0.1"));
  udp_to_self("10.0.0.1");
  return 0;
}
