/*
 * Checkpoint and restore of NETLINK_ROUTE sockets: one bound to the link group with
 * NETLINK_CAP_ACK and SO_RCVBUF set, holding the answer to an RTM_GETLINK dump not read before
 * the checkpoint (while main waits for it on stdin), and one bound to port 4242. After it: the dump reads whole
 * (every message with its sequence number and the socket's port, lo among the links, then
 * NLMSG_DONE), the port ids, groups and options read back as they were, and a new request is
 * answered.
 */
#define _GNU_SOURCE
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "_ckpt.h"
#include "_netlink.h"

static int request(int fd, int type, unsigned seq) {
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req;
  memset(&req, 0, sizeof req);
  nl_start(&req.h, type, NLM_F_DUMP, seq, sizeof req.i);
  req.i.ifi_family = AF_UNSPEC;
  return send(fd, &req, sizeof req, 0) == sizeof req ? 0 : -1;
}

/* Reads a dump to NLMSG_DONE: how many messages, whether all had seq and port, whether lo was among them. */
static void read_dump(int fd, unsigned seq, unsigned port, const char *what) {
  char buf[65536];
  int msgs = 0, ok = 1, lo = 0, done = 0;
  while (!done) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq || h->nlmsg_pid != port) ok = 0;
      if (h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      msgs++;
      if (h->nlmsg_type == RTM_NEWLINK) {
        struct ifinfomsg *i = NLMSG_DATA(h);
        int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *i);
        for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
          if (a->rta_type == IFLA_IFNAME && strcmp(RTA_DATA(a), "lo") == 0) lo = 1;
        }
      }
    }
  }
  printf("%s: some messages %d, seq and port ok %d, lo %d, done %d\n", what, msgs > 0, ok, lo, done);
}

static unsigned port_of(int fd) {
  struct sockaddr_nl a;
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  return a.nl_pid;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int a = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int b = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
  if (a < 0 || b < 0) return 2;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  if (bind(a, (struct sockaddr *)&sa, sizeof sa)) return 2;
  struct sockaddr_nl sb = {.nl_family = AF_NETLINK, .nl_pid = 4242};
  if (bind(b, (struct sockaddr *)&sb, sizeof sb)) return 2;
  int one = 1, size = 65536;
  setsockopt(a, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(a, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  unsigned pa = port_of(a);
  if (request(a, RTM_GETLINK, 77)) return 2;
  printf("armed\n");
  await_checkpoint(); /* the checkpoint comes here */

  read_dump(a, 77, pa, "dump asked before");
  printf("ports kept: %d %d\n", port_of(a) == pa, port_of(b) == 4242);
  unsigned groups = 0;
  socklen_t l = sizeof groups;
  getsockopt(a, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, &groups, &l);
  int cap = 0, rcv = 0;
  l = sizeof cap;
  getsockopt(a, SOL_NETLINK, NETLINK_CAP_ACK, &cap, &l);
  l = sizeof rcv;
  getsockopt(a, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
  printf("groups %u, cap_ack %d, rcvbuf %d\n", groups, cap, rcv);
  if (request(b, RTM_GETLINK, 78)) return 2;
  read_dump(b, 78, 4242, "dump asked after");
  return 0;
}
