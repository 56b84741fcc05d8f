/* Shared by the NETLINK_ROUTE fixtures: a request's header and attributes, a request answered
 * by an ack, and a dump read to its end. */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

static char nl_buf[1 << 16]; /* the last answer read */

/* Starts the request at h (zeroed by the caller, with room for its attributes after it): a
 * header for a payload of len bytes. */
static inline void nl_start(struct nlmsghdr *h, int type, int flags, unsigned seq, size_t len) {
  h->nlmsg_len = NLMSG_LENGTH(len);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | flags;
  h->nlmsg_seq = seq;
}

/* Appends attribute type with len bytes of data to the request h. */
static inline void nl_attr(struct nlmsghdr *h, int type, const void *data, int len) {
  struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_LENGTH(len);
}

/* Sends the request h and returns the error its answer carries (an ack: 0 or -errno). */
static inline int nl_ack(int fd, struct nlmsghdr *h) {
  send(fd, h, h->nlmsg_len, 0);
  recv(fd, nl_buf, sizeof nl_buf, 0);
  return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)nl_buf))->error;
}

/* Sends the dump request h and calls each(message, arg) for every message of the answer, up to
 * the datagram that starts with NLMSG_DONE. */
static inline void nl_dump(int fd, struct nlmsghdr *h, void (*each)(struct nlmsghdr *, void *), void *arg) {
  send(fd, h, h->nlmsg_len, 0);
  for (;;) {
    ssize_t n = recv(fd, nl_buf, sizeof nl_buf, 0);
    struct nlmsghdr *m = (struct nlmsghdr *)nl_buf;
    if (n <= 0 || m->nlmsg_type == NLMSG_DONE) break;
    for (; NLMSG_OK(m, (size_t)n); m = NLMSG_NEXT(m, n)) each(m, arg);
  }
}
