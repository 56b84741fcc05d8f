/*
 * RTM_NEWRULE/RTM_DELRULE in the sandbox (never run natively: they would change the host).
 * Adds "to 192.0.2.0/24 lookup 99 pref 12345": again with NLM_F_EXCL is EEXIST, an RTM_GETRULE
 * dump lists it once; removing it twice is 0 then ENOENT.
 */
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
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

static int rule(int fd, int type, int flags) {
  struct {
    struct nlmsghdr h;
    struct fib_rule_hdr r;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.r);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  req.r.family = AF_INET;
  req.r.table = 99;
  req.r.action = FR_ACT_TO_TBL;
  req.r.dst_len = 24;
  unsigned prio = 12345;
  struct in_addr a;
  inet_pton(AF_INET, "192.0.2.0", &a);
  attr(&req.h, FRA_PRIORITY, &prio, 4);
  attr(&req.h, FRA_DST, &a, 4);
  send(fd, &req, req.h.nlmsg_len, 0);
  recv(fd, buf, sizeof buf, 0);
  return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->error;
}

static int listed(int fd) {
  struct {
    struct nlmsghdr h;
    struct fib_rule_hdr r;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETRULE;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.family = AF_INET;
  send(fd, &req, sizeof req, 0);
  int found = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (n <= 0 || h->nlmsg_type == NLMSG_DONE) break;
    for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      struct fib_rule_hdr *r = NLMSG_DATA(h);
      int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *r);
      for (struct rtattr *a = (struct rtattr *)(r + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == FRA_PRIORITY && *(unsigned *)RTA_DATA(a) == 12345 && r->table == 99 && r->dst_len == 24) found++;
    }
  }
  return found;
}

int main(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  printf("add: %d\n", rule(fd, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL));
  printf("add again: %d\n", rule(fd, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL));
  printf("listed: %d\n", listed(fd));
  printf("delete: %d\n", rule(fd, RTM_DELRULE, 0));
  printf("delete again: %d\n", rule(fd, RTM_DELRULE, 0));
  printf("listed: %d\n", listed(fd));
  return 0;
}
