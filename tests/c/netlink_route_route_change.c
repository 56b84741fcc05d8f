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
#include "_netlink.h"

static int route(int fd, int type, int flags, int table, int oif, const char *dst, int len) {
  struct {
    struct nlmsghdr h;
    struct rtmsg r;
    char attrs[256];
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, type, NLM_F_ACK | flags, 3, sizeof req.r);
  req.r.rtm_family = AF_INET;
  req.r.rtm_dst_len = len;
  req.r.rtm_table = table;
  req.r.rtm_type = RTN_UNICAST;
  unsigned prio = 100;
  struct in_addr a;
  inet_pton(AF_INET, dst, &a);
  nl_attr(&req.h, RTA_OIF, &oif, 4);
  nl_attr(&req.h, RTA_PRIORITY, &prio, 4);
  nl_attr(&req.h, RTA_DST, &a, 4);
  return nl_ack(fd, &req.h);
}

/* Prints the message if it is a route to 192.0.2.0/24, and counts it in *found. */
static void show_route(struct nlmsghdr *h, void *found) {
  struct rtmsg *r = NLMSG_DATA(h);
  int len = RTM_PAYLOAD(h), dst = 0, prio = -1;
  for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    char s[INET_ADDRSTRLEN];
    if (a->rta_type == RTA_DST) dst = strcmp(inet_ntop(AF_INET, RTA_DATA(a), s, sizeof s), "192.0.2.0") == 0;
    if (a->rta_type == RTA_PRIORITY) prio = *(int *)RTA_DATA(a);
  }
  if (dst && r->rtm_dst_len == 24) {
    ++*(int *)found;
    printf("dump: 192.0.2.0/24 table %d type %d priority %d\n", r->rtm_table, r->rtm_type, prio);
  }
}

static void dump(int fd) {
  struct {
    struct nlmsghdr h;
    struct rtmsg r;
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, RTM_GETROUTE, NLM_F_DUMP, 0, sizeof req.r);
  req.r.rtm_family = AF_INET;
  int found = 0;
  nl_dump(fd, &req.h, show_route, &found);
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
  ssize_t n = recv(fd, nl_buf, sizeof nl_buf, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)nl_buf;
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
