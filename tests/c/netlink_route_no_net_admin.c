/*
 * NETLINK_ROUTE without CAP_NET_ADMIN, beside Linux: the program drops the capability from its
 * effective set first (and stops if it cannot), so nothing it sends can change the host. A
 * destination naming multicast groups or a port is EPERM (NETLINK_ROUTE lacks
 * NL_CFG_F_NONROOT_SEND); a short or non-AF_NETLINK destination is EINVAL; a change sent to
 * the kernel is answered with an NLMSG_ERROR of -EPERM echoing the request; joining a group
 * needs no capability.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) return 2;
  d[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
  if (syscall(SYS_capset, &h, d) != 0) return 3;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 4;
  struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  ssize_t r = sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to);
  printf("to groups: %zd errno %d\n", r, r < 0 ? errno : 0);
  to.nl_groups = 0;
  to.nl_pid = 12345;
  r = sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to);
  printf("to a port: %zd errno %d\n", r, r < 0 ? errno : 0);
  to.nl_pid = 0;
  r = sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to - 1);
  printf("short address: %zd errno %d\n", r, r < 0 ? errno : 0);
  to.nl_family = AF_INET;
  r = sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to);
  printf("AF_INET address: %zd errno %d\n", r, r < 0 ? errno : 0);
  r = send(fd, &req, sizeof req, 0);
  static char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  struct nlmsghdr *a = (struct nlmsghdr *)buf;
  struct nlmsgerr *e = NLMSG_DATA(a);
  printf("to the kernel: sent %zd, answer %zd type %d flags %#x seq %u error %d echoed len %u\n", r, n, a->nlmsg_type,
         a->nlmsg_flags, a->nlmsg_seq, e->error, e->msg.nlmsg_len);
  n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  printf("then: %zd errno %d\n", n, n < 0 ? errno : 0);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  int fd2 = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  printf("join RTMGRP_LINK: %d\n", bind(fd2, (struct sockaddr *)&sa, sizeof sa));
  return 0;
}
