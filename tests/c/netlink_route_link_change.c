/*
 * NETLINK_ROUTE link changes in the sandbox (never run natively: they would change the host).
 * With CAP_NET_ADMIN: RTM_DELLINK of lo, by index or by name, is EOPNOTSUPP (loopback has no
 * rtnl_link_ops), of an unknown name ENODEV; an RTM_NEWLINK that sets IFF_UP on lo, which is
 * up, is acked (NLM_F_ACK) with the request's header and NLM_F_CAPPED.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 16];

static void ask(int fd, int type, int flags, int index, const char *name, unsigned ifflags, unsigned change,
                const char *what) {
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
    struct rtattr a;
    char name[IFNAMSIZ];
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | flags;
  req.h.nlmsg_seq = 11;
  req.i.ifi_index = index;
  req.i.ifi_flags = ifflags;
  req.i.ifi_change = change;
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  if (name != NULL) {
    req.a.rta_type = IFLA_IFNAME;
    req.a.rta_len = RTA_LENGTH(strlen(name) + 1);
    strcpy(req.name, name);
    req.h.nlmsg_len += RTA_ALIGN(req.a.rta_len);
  }
  send(fd, &req, req.h.nlmsg_len, 0);
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  struct nlmsgerr *e = NLMSG_DATA(h);
  printf("%s: recv %zd type %d flags %#x error %d echoed len %u\n", what, n, h->nlmsg_type, h->nlmsg_flags,
         e->error, e->msg.nlmsg_len);
}

int main(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int lo = (int)if_nametoindex("lo");
  ask(fd, RTM_DELLINK, 0, lo, NULL, 0, 0, "dellink lo by index");
  ask(fd, RTM_DELLINK, 0, 0, "lo", 0, 0, "dellink lo by name");
  ask(fd, RTM_DELLINK, 0, 0, "nodevice?!", 0, 0, "dellink unknown name");
  ask(fd, RTM_NEWLINK, NLM_F_ACK, lo, NULL, IFF_UP, IFF_UP, "newlink lo up");
  ask(fd, RTM_NEWLINK, NLM_F_ACK, 1234590, NULL, IFF_UP, IFF_UP, "newlink unknown index");
  return 0;
}
