/*
 * RTM_NEWROUTE/RTM_DELROUTE in the sandbox (never run natively: they would change the host).
 * Adds 192.0.2.0/24 via lo with priority 100: adding it again is EEXIST, an RTM_GETROUTE dump
 * lists it with its priority, a lookup of 192.0.2.5 takes it; removing it twice is 0 then
 * ESRCH; a new route without NLM_F_CREATE is ENOENT; another table is EOPNOTSUPP.
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 16];

static void attr(struct nlmsghdr *h, int type, const void *data, int len) {
  struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_LENGTH(len);
}

static int route(int fd, int type, int flags, int table, int oif, const char *dst, int len) {
  struct {
    struct nlmsghdr h;
    struct rtmsg r;
    char attrs[256];
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.r);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  req.h.nlmsg_seq = 3;
  req.r.rtm_family = AF_INET;
  req.r.rtm_dst_len = len;
  req.r.rtm_table = table;
  req.r.rtm_type = RTN_UNICAST;
  unsigned prio = 100;
  struct in_addr a;
  inet_pton(AF_INET, dst, &a);
  attr(&req.h, RTA_OIF, &oif, 4);
  attr(&req.h, RTA_PRIORITY, &prio, 4);
  attr(&req.h, RTA_DST, &a, 4);
  send(fd, &req, req.h.nlmsg_len, 0);
  recv(fd, buf, sizeof buf, 0);
  return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->error;
}

static void dump(int fd) {
  struct {
    struct nlmsghdr h;
    struct rtmsg r;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETROUTE;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.rtm_family = AF_INET;
  send(fd, &req, sizeof req, 0);
  int found = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (n <= 0 || h->nlmsg_type == NLMSG_DONE) break;
    for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      struct rtmsg *r = NLMSG_DATA(h);
      int len = RTM_PAYLOAD(h), dst = 0, prio = -1;
      for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        char s[INET_ADDRSTRLEN];
        if (a->rta_type == RTA_DST) dst = strcmp(inet_ntop(AF_INET, RTA_DATA(a), s, sizeof s), "192.0.2.0") == 0;
        if (a->rta_type == RTA_PRIORITY) prio = *(int *)RTA_DATA(a);
      }
      if (dst && r->rtm_dst_len == 24) {
        found++;
        printf("dump: 192.0.2.0/24 table %d type %d priority %d\n", r->rtm_table, r->rtm_type, prio);
      }
    }
  }
  if (!found) printf("dump: no 192.0.2.0/24\n");
}

static void lookup(int fd) {
  struct {
    struct nlmsghdr h;
    struct rtmsg r;
    struct rtattr a;
    struct in_addr d;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETROUTE;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.r.rtm_family = AF_INET;
  req.r.rtm_dst_len = 32;
  req.a.rta_len = RTA_LENGTH(4);
  req.a.rta_type = RTA_DST;
  inet_pton(AF_INET, "192.0.2.5", &req.d);
  send(fd, &req, sizeof req, 0);
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (h->nlmsg_type != RTM_NEWROUTE) {
    printf("lookup 192.0.2.5: error %d\n", ((struct nlmsgerr *)NLMSG_DATA(h))->error);
    return;
  }
  struct rtmsg *r = NLMSG_DATA(h);
  int len = RTM_PAYLOAD(h), oif = 0;
  for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len))
    if (a->rta_type == RTA_OIF) oif = *(int *)RTA_DATA(a);
  printf("lookup 192.0.2.5: answered %d, through lo %d\n", n > 0, oif == (int)if_nametoindex("lo"));
}

int main(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int lo = (int)if_nametoindex("lo");
  printf("add: %d\n", route(fd, RTM_NEWROUTE, NLM_F_CREATE, RT_TABLE_MAIN, lo, "192.0.2.0", 24));
  printf("add again: %d\n", route(fd, RTM_NEWROUTE, NLM_F_CREATE, RT_TABLE_MAIN, lo, "192.0.2.0", 24));
  dump(fd);
  lookup(fd);
  printf("delete: %d\n", route(fd, RTM_DELROUTE, 0, RT_TABLE_MAIN, lo, "192.0.2.0", 24));
  printf("delete again: %d\n", route(fd, RTM_DELROUTE, 0, RT_TABLE_MAIN, lo, "192.0.2.0", 24));
  dump(fd);
  printf("add without NLM_F_CREATE: %d\n", route(fd, RTM_NEWROUTE, 0, RT_TABLE_MAIN, lo, "192.0.2.0", 24));
  printf("add to table 100: %d\n", route(fd, RTM_NEWROUTE, NLM_F_CREATE, 100, lo, "192.0.2.0", 24));
  return 0;
}
