/*
 * Read-only NETLINK_ROUTE behaviour beside Linux's: SO_PASSCRED (off by default; on, each
 * answer carries the kernel's SCM_CREDENTIALS, pid 0 and uid 0), multicast memberships
 * (NETLINK_ADD/DROP_MEMBERSHIP, NETLINK_LIST_MEMBERSHIPS' size, truncation and optlen,
 * getsockname's nl_groups), SOL_NETLINK flag options, error messages echoing the whole request
 * unless NETLINK_CAP_ACK caps them, a non-dump RTM_GETROUTE of 127.0.0.2 and an RTM_GETRULE
 * dump's shape. Prints no host-specific values.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_LIST_MEMBERSHIPS
#define NETLINK_LIST_MEMBERSHIPS 9
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static char buf[1 << 16];

static int nl(void) { return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); }

static void getlink_error(int fd, const char *what) {
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.h.nlmsg_seq = 9;
  req.i.ifi_index = 1234590;
  send(fd, &req, sizeof req, 0);
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  struct nlmsgerr *e = NLMSG_DATA(h);
  printf("%s: recv %zd type %d len %u flags %#x seq %u error %d echoed type %d len %u\n", what, n, h->nlmsg_type,
         h->nlmsg_len, h->nlmsg_flags, h->nlmsg_seq, e->error, e->msg.nlmsg_type, e->msg.nlmsg_len);
}

static void route_to_127_0_0_2(int lookup_table) {
  int fd = nl();
  struct {
    struct nlmsghdr h;
    struct rtmsg r;
    struct rtattr a;
    struct in_addr dst;
  } rq;
  memset(&rq, 0, sizeof rq);
  rq.h.nlmsg_len = sizeof rq;
  rq.h.nlmsg_type = RTM_GETROUTE;
  rq.h.nlmsg_flags = NLM_F_REQUEST;
  rq.h.nlmsg_seq = 5;
  rq.r.rtm_family = AF_INET;
  rq.r.rtm_dst_len = 32;
  rq.r.rtm_flags = lookup_table ? RTM_F_LOOKUP_TABLE : 0;
  rq.a.rta_len = RTA_LENGTH(4);
  rq.a.rta_type = RTA_DST;
  inet_pton(AF_INET, "127.0.0.2", &rq.dst);
  send(fd, &rq, sizeof rq, 0);
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  struct rtmsg *rt = NLMSG_DATA(h);
  printf("route to 127.0.0.2 (lookup table %d): one message %d type %d flags %#x family %d dst_len %d table %d type %d cloned %d", lookup_table, NLMSG_OK(h, (size_t)n) && NLMSG_ALIGN(h->nlmsg_len) >= (size_t)n,
         h->nlmsg_type, h->nlmsg_flags, rt->rtm_family, rt->rtm_dst_len, rt->rtm_table, rt->rtm_type,
         (rt->rtm_flags & RTM_F_CLONED) != 0);
  int alen = RTM_PAYLOAD(h);
  for (struct rtattr *at = RTM_RTA(rt); RTA_OK(at, alen); at = RTA_NEXT(at, alen)) {
    char s[INET_ADDRSTRLEN];
    if (at->rta_type == RTA_DST) printf(" dst %s", inet_ntop(AF_INET, RTA_DATA(at), s, sizeof s));
    if (at->rta_type == RTA_OIF) printf(" oif %d", *(int *)RTA_DATA(at));
  }
  printf("\n");

  close(fd);
}

int main(void) {
  int fd = nl();
  int v = -1;
  socklen_t len = sizeof v;
  int r = getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, &len);
  printf("SO_PASSCRED default: %d value %d len %u\n", r, v, len);
  v = 1;
  r = setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof v);
  len = sizeof v;
  v = -1;
  getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, &len);
  printf("SO_PASSCRED set: %d reads %d\n", r, v);
  struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
  } dump;
  memset(&dump, 0, sizeof dump);
  dump.h.nlmsg_len = sizeof dump;
  dump.h.nlmsg_type = RTM_GETADDR;
  dump.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  dump.h.nlmsg_seq = 3;
  send(fd, &dump, sizeof dump, 0);
  struct iovec iov = {buf, sizeof buf};
  char control[CMSG_SPACE(sizeof(struct ucred))];
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  r = recvmsg(fd, &msg, 0);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c == NULL) {
    printf("no credentials\n");
  } else {
    struct ucred u;
    memcpy(&u, CMSG_DATA(c), sizeof u);
    printf("cmsg level %d type %d len %zu: pid %d uid %u\n", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len, u.pid,
           u.uid);
  }
  close(fd);

  fd = nl();
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR};
  r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  unsigned g = RTNLGRP_IPV6_ROUTE;
  int a = setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g);
  g = 0;
  int z = setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g);
  int ze = errno;
  g = 1000;
  int big = setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g);
  int bige = errno;
  printf("bind %d add %d add(0) %d errno %d add(1000) %d errno %d\n", r, a, z, ze, big, bige);
  len = 0;
  r = getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, NULL, &len);
  printf("LIST_MEMBERSHIPS probe: %d len %u\n", r, len);
  unsigned char m[16];
  memset(m, 0xee, sizeof m);
  len = sizeof m;
  getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, m, &len);
  printf("full: len %u bytes", len);
  for (int i = 0; i < 12; i++) printf(" %02x", m[i]);
  printf("\n");
  memset(m, 0xee, sizeof m);
  len = 6;
  getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, m, &len);
  printf("cut to 6: len %u bytes", len);
  for (int i = 0; i < 8; i++) printf(" %02x", m[i]);
  printf("\n");
  g = RTNLGRP_LINK;
  setsockopt(fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &g, sizeof g);
  struct sockaddr_nl got;
  len = sizeof got;
  getsockname(fd, (struct sockaddr *)&got, &len);
  printf("after drop: nl_groups %#x\n", got.nl_groups);
  v = 1;
  r = setsockopt(fd, SOL_NETLINK, 99, &v, sizeof v);
  printf("SOL_NETLINK 99: %d errno %d\n", r, errno);
  v = -1;
  len = 2;
  r = getsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &v, &len);
  printf("CAP_ACK with optlen 2: %d errno %d\n", r, errno);
  getlink_error(fd, "uncapped");
  v = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &v, sizeof v);
  len = sizeof v;
  v = -1;
  getsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &v, &len);
  printf("CAP_ACK reads %d\n", v);
  getlink_error(fd, "capped");
  close(fd);

  route_to_127_0_0_2(0);
  route_to_127_0_0_2(1);
  fd = nl();
  struct {
    struct nlmsghdr h;
    struct fib_rule_hdr f;
  } rr;
  memset(&rr, 0, sizeof rr);
  rr.h.nlmsg_len = sizeof rr;
  rr.h.nlmsg_type = RTM_GETRULE;
  rr.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  rr.h.nlmsg_seq = 6;
  rr.f.family = AF_INET;
  send(fd, &rr, sizeof rr, 0);
  int rules = 0, zero_action = 0, done = 0, local = 0;
  while (!done) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) done = 1;
      if (h->nlmsg_type != RTM_NEWRULE) continue;
      struct fib_rule_hdr *f = NLMSG_DATA(h);
      rules++;
      if (f->action == 0) zero_action++;
      if (f->table == RT_TABLE_LOCAL && f->family == AF_INET) local++;
    }
  }
  printf("rules: some %d zero actions %d local table rule %d done %d\n", rules > 0, zero_action, local > 0, done);
  return 0;
}
