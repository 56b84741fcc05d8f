/*
 * An RTM_GETADDR dump asked for with NLM_F_ROOT alone (either bit of NLM_F_DUMP asks for a
 * dump) comes as Linux's netlink_dump sends it: the address records in one datagram, then
 * NLMSG_DONE in the next. Prints the shape of the two datagrams, not the host's addresses.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ROOT;
  req.h.nlmsg_seq = 7;
  req.g.rtgen_family = AF_UNSPEC;
  if (send(fd, &req, sizeof req, 0) != sizeof req) return 1;
  static char buf[1 << 16];
  for (int d = 1; d <= 2; d++) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    int newaddr = 0, done = 0, other = 0, multi = 1;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == RTM_NEWADDR) newaddr++;
      else if (h->nlmsg_type == NLMSG_DONE) done++;
      else other++;
      if (!(h->nlmsg_flags & NLM_F_MULTI) || h->nlmsg_seq != 7) multi = 0;
    }
    printf("datagram %d: %s addresses, %d done, %d other, all multi with our seq %s\n", d, newaddr > 0 ? "some" : "no", done, other,
           multi ? "yes" : "no");
  }
  return 0;
}
