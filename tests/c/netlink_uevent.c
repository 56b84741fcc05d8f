/*
 * NETLINK_KOBJECT_UEVENT sockets, compared with Linux in a network namespace of its own (the
 * test runs it under `unshare -n` natively): the socket types, binding to group 1, SO_PASSCRED,
 * a message sent to the kernel acked and rebroadcast to the group's members with SEQNUM= added,
 * from port 0 and group 1 (the number itself is the kernel's own count), a member's socket
 * filter dropping it, a member not in the group not getting it, SO_DETACH_FILTER with none.
 * The broadcast is done when sendto returns, so no wait is needed.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void got(int s, const char *who) {
  char buf[512];
  struct sockaddr_nl from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, (void *)&from, &fl);
  if (n < 0) {
    printf("%s: nothing (errno %d)\n", who, errno);
    return;
  }
  const char *second = buf + strlen(buf) + 1;
  printf("%s: '%s' then seqnum %d, from pid %u groups %u\n", who, buf, strncmp(second, "SEQNUM=", 7) == 0, from.nl_pid,
         from.nl_groups);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("stream: %d", socket(AF_NETLINK, SOCK_STREAM, NETLINK_KOBJECT_UEVENT));
  printf(" errno %d\n", errno);
  int a = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
  int b = socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT);
  int c = socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT);
  int d = socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT);
  struct sockaddr_nl group = {.nl_family = AF_NETLINK, .nl_groups = 1}, none = {.nl_family = AF_NETLINK};
  printf("bind a: %d\n", bind(a, (void *)&group, sizeof group));
  printf("bind b: %d\n", bind(b, (void *)&none, sizeof none));
  printf("bind c: %d\n", bind(c, (void *)&group, sizeof group));
  printf("bind d: %d\n", bind(d, (void *)&group, sizeof group));
  struct sockaddr_nl sa;
  socklen_t l = sizeof sa;
  getsockname(a, (void *)&sa, &l);
  printf("a: pid is ours %d, groups %u\n", sa.nl_pid == (unsigned)getpid(), sa.nl_groups);
  int on = 1;
  printf("passcred: %d\n", setsockopt(a, SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
  int zero = 0;
  printf("detach none: %d", setsockopt(c, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof zero));
  printf(" errno %d\n", errno);
  struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog prog = {.len = 1, .filter = &drop};
  printf("attach to c: %d\n", setsockopt(c, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog));

  struct {
    struct nlmsghdr h;
    char p[32];
  } m;
  memset(&m, 0, sizeof m);
  strcpy(m.p, "add@/devices/x");
  m.h.nlmsg_len = NLMSG_LENGTH(strlen(m.p) + 1);
  m.h.nlmsg_type = 0x10;
  m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  m.h.nlmsg_seq = 5;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  printf("send: %zd\n", sendto(b, &m, m.h.nlmsg_len, 0, (void *)&kernel, sizeof kernel));
  char buf[512];
  ssize_t n = recv(b, buf, sizeof buf, MSG_DONTWAIT);
  struct nlmsghdr *h = (void *)buf;
  printf("ack: %zd type %u error %d\n", n, h->nlmsg_type, ((struct nlmsgerr *)NLMSG_DATA(h))->error);
  got(a, "a (group 1)");
  got(b, "b (no group)");
  got(c, "c (filter drops)");
  got(d, "d (group 1)");
  return 0;
}
