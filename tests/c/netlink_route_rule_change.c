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
#include "_netlink.h"

static int rule(int fd, int type, int flags) {
  struct {
    struct nlmsghdr h;
    struct fib_rule_hdr r;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, type, NLM_F_ACK | flags, 0, sizeof req.r);
  req.r.family = AF_INET;
  req.r.table = 99;
  req.r.action = FR_ACT_TO_TBL;
  req.r.dst_len = 24;
  unsigned prio = 12345;
  struct in_addr a;
  inet_pton(AF_INET, "192.0.2.0", &a);
  nl_attr(&req.h, FRA_PRIORITY, &prio, 4);
  nl_attr(&req.h, FRA_DST, &a, 4);
  return nl_ack(fd, &req.h);
}

/* Counts the message in *found if it is the rule rule() makes. */
static void count_rule(struct nlmsghdr *h, void *found) {
  struct fib_rule_hdr *r = NLMSG_DATA(h);
  int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *r);
  for (struct rtattr *a = (struct rtattr *)(r + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
    if (a->rta_type == FRA_PRIORITY && *(unsigned *)RTA_DATA(a) == 12345 && r->table == 99 && r->dst_len == 24) ++*(int *)found;
}

static int listed(int fd) {
  struct {
    struct nlmsghdr h;
    struct fib_rule_hdr r;
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, RTM_GETRULE, NLM_F_DUMP, 0, sizeof req.r);
  req.r.family = AF_INET;
  int found = 0;
  nl_dump(fd, &req.h, count_rule, &found);
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
