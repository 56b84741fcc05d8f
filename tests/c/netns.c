/* Network namespaces: unshare(CLONE_NEWNET) gives a stack with only lo, down (127.0.0.1 is not
 * ours: bind EADDRNOTAVAIL, connect ENETUNREACH); lo comes up by SIOCSIFFLAGS or RTM_NEWLINK;
 * each namespace has its own ports (the same port bound in two), abstract AF_UNIX names,
 * sysctls and /proc/self/net; a socket stays in the namespace it was made in; /proc/self/ns/net
 * names each by its own inode and setns(2) joins one by a descriptor of it (its type or 0, not
 * another type: EINVAL); clone(CLONE_NEWNET) gives the child one of its own; without
 * CAP_SYS_ADMIN both unshare and setns are EPERM.
 * Natively it runs inside a namespace of its own (`unshare --net`): the host's never changes.
 * Output: the same natively and in the sentry. `netns hold` keeps a socket of a second namespace
 * for three seconds, for a checkpoint's refusal. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stddef.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"
#include "_ckpt.h"

static unsigned long ns_ino(void) {
  struct stat st;
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return (unsigned long)st.st_ino;
}

static const char *lo_state(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r = {0};
  strcpy(r.ifr_name, "lo");
  int rc = ioctl(s, SIOCGIFFLAGS, &r);
  close(s);
  if (rc != 0) return "error";
  return (r.ifr_flags & IFF_UP) ? "up" : "down";
}

static int lo_up_ioctl(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r = {0};
  strcpy(r.ifr_name, "lo");
  int rc = ioctl(s, SIOCGIFFLAGS, &r);
  if (rc == 0) {
    r.ifr_flags |= IFF_UP;
    rc = ioctl(s, SIOCSIFFLAGS, &r);
  }
  int e = errno;
  close(s);
  errno = e;
  return rc;
}

/* RTM_NEWLINK with IFF_UP for lo: the netlink error (0 for success). */
static int lo_up_netlink(void) {
  int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  struct { struct nlmsghdr h; struct ifinfomsg i; } req = {0};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = if_nametoindex("lo");
  req.i.ifi_flags = IFF_UP;
  req.i.ifi_change = IFF_UP;
  if (send(s, &req, sizeof req, 0) < 0) return -9998;
  char buf[4096];
  int n = recv(s, buf, sizeof buf, 0);
  close(s);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (n < (int)sizeof *h || h->nlmsg_type != NLMSG_ERROR) return -9999;
  return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

/* RTM_SETLINK naming lo by index and by its own name, ifi_flags and ifi_change 0: changes nothing. */
static int lo_same_name(void) {
  int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  struct { struct nlmsghdr h; struct ifinfomsg i; struct rtattr ra; char name[4]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i) + RTA_SPACE(3);
  req.h.nlmsg_type = RTM_SETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = if_nametoindex("lo");
  req.ra.rta_type = IFLA_IFNAME;
  req.ra.rta_len = RTA_LENGTH(3);
  memcpy(req.name, "lo", 3);
  if (send(s, &req, req.h.nlmsg_len, 0) < 0) return -9998;
  char buf[4096];
  int n = recv(s, buf, sizeof buf, 0);
  close(s);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (n < (int)sizeof *h || h->nlmsg_type != NLMSG_ERROR) return -9999;
  return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

/* Sends one rtnetlink request and returns its ack's error (0 for success). */
static int nl_ack(void *req, int len) {
  int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  if (send(s, req, len, 0) < 0) return -9998;
  char buf[4096];
  int n = recv(s, buf, sizeof buf, 0);
  close(s);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (n < (int)sizeof *h || h->nlmsg_type != NLMSG_ERROR) return -9999;
  return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

static struct rtattr *add_attr(struct nlmsghdr *h, int type, const void *data, int len) {
  struct rtattr *ra = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  ra->rta_type = type;
  ra->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(ra), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(ra->rta_len);
  return ra;
}

/* RTM_NEWLINK with NLM_F_CREATE of kind (a veth with peer, or a bridge when peer is NULL). */
static int link_create(const char *kind, const char *name, const char *peer) {
  struct { struct nlmsghdr h; struct ifinfomsg i; char buf[512]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  add_attr(&req.h, IFLA_IFNAME, name, strlen(name));
  struct rtattr *info = add_attr(&req.h, IFLA_LINKINFO, NULL, 0);
  add_attr(&req.h, 1 /* IFLA_INFO_KIND */, kind, strlen(kind));
  if (peer != NULL) {
    struct rtattr *data = add_attr(&req.h, 2 /* IFLA_INFO_DATA */, NULL, 0);
    struct ifinfomsg ifm = {0};
    struct rtattr *p = add_attr(&req.h, 1 /* VETH_INFO_PEER */, &ifm, sizeof ifm);
    add_attr(&req.h, IFLA_IFNAME, peer, strlen(peer));
    p->rta_len = (char *)&req + req.h.nlmsg_len - (char *)p;
    data->rta_len = (char *)&req + req.h.nlmsg_len - (char *)data;
  }
  info->rta_len = (char *)&req + req.h.nlmsg_len - (char *)info;
  return nl_ack(&req, req.h.nlmsg_len);
}

static int link_delete(const char *name) {
  struct { struct nlmsghdr h; struct ifinfomsg i; char buf[64]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  req.h.nlmsg_type = RTM_DELLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  add_attr(&req.h, IFLA_IFNAME, name, strlen(name) + 1);
  return nl_ack(&req, req.h.nlmsg_len);
}

/* RTM_NEWLINK moving link `name` to the namespace of descriptor nsfd, renamed `rename`. */
static int link_move(const char *name, int nsfd, const char *rename) {
  struct { struct nlmsghdr h; struct ifinfomsg i; char buf[128]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = if_nametoindex(name);
  add_attr(&req.h, 28 /* IFLA_NET_NS_FD */, &nsfd, sizeof nsfd);
  add_attr(&req.h, IFLA_IFNAME, rename, strlen(rename) + 1);
  return nl_ack(&req, req.h.nlmsg_len);
}

static int link_set_up(const char *name) {
  struct { struct nlmsghdr h; struct ifinfomsg i; } req = {0};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = if_nametoindex(name);
  req.i.ifi_flags = IFF_UP;
  req.i.ifi_change = IFF_UP;
  return nl_ack(&req, sizeof req);
}

static int addr_add(const char *name, const char *a, int prefix) {
  struct { struct nlmsghdr h; struct ifaddrmsg i; char buf[64]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  req.h.nlmsg_type = RTM_NEWADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  req.i.ifa_family = AF_INET;
  req.i.ifa_prefixlen = prefix;
  req.i.ifa_index = if_nametoindex(name);
  struct in_addr in;
  inet_pton(AF_INET, a, &in);
  add_attr(&req.h, IFA_LOCAL, &in, 4);
  add_attr(&req.h, IFA_ADDRESS, &in, 4);
  return nl_ack(&req, req.h.nlmsg_len);
}

/* RTM_SETLINK naming link `name` by index, with IFLA_IFNAME `to`. */
static int link_rename(const char *name, const char *to) {
  struct { struct nlmsghdr h; struct ifinfomsg i; char buf[64]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  req.h.nlmsg_type = RTM_SETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = if_nametoindex(name);
  add_attr(&req.h, IFLA_IFNAME, to, strlen(to) + 1);
  return nl_ack(&req, req.h.nlmsg_len);
}

/* RTM_SETLINK of lo's MTU. */
static int lo_set_mtu(unsigned mtu) {
  struct { struct nlmsghdr h; struct ifinfomsg i; char buf[32]; } req = {0};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  req.h.nlmsg_type = RTM_SETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.i.ifi_index = if_nametoindex("lo");
  add_attr(&req.h, IFLA_MTU, &mtu, sizeof mtu);
  return nl_ack(&req, req.h.nlmsg_len);
}

static int lo_mtu(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r = {0};
  strcpy(r.ifr_name, "lo");
  int rc = ioctl(s, SIOCGIFMTU, &r);
  close(s);
  return rc == 0 ? r.ifr_mtu : -1;
}

static int bind6_lo(void) {
  int s = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int rc = bind(s, (struct sockaddr *)&a, sizeof a);
  int e = errno;
  close(s);
  errno = e;
  return rc;
}

static const char *link_state(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r = {0};
  strcpy(r.ifr_name, name);
  int rc = ioctl(s, SIOCGIFFLAGS, &r);
  close(s);
  if (rc != 0) return en(errno);
  return (r.ifr_flags & IFF_UP) ? "up" : "down";
}

static struct sockaddr_in lo_addr(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int tcp_listener(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = lo_addr(port);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0) {
    int e = errno;
    close(s);
    errno = e;
    return -1;
  }
  return s;
}

static int tcp_connect(int s, int port) {
  struct sockaddr_in a = lo_addr(port);
  return connect(s, (struct sockaddr *)&a, sizeof a);
}

/* Whether listener l has a connection waiting (accepts and closes it). */
static int accepted(int l) {
  for (int i = 0; i < 200; i++) {
    int c = accept(l, NULL, NULL);
    if (c >= 0) {
      close(c);
      return 1;
    }
    usleep(1000);
  }
  return 0;
}

/* The number of lines of /proc/self/net/dev naming an interface, and whether lo is one. */
static void proc_net_dev(const char *label) {
  FILE *f = fopen("/proc/self/net/dev", "r");
  char line[512];
  int n = 0, lo = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (strchr(line, ':') == NULL) continue;
    n++;
    if (strstr(line, "lo:") != NULL) lo = 1;
  }
  if (f) fclose(f);
  printf("%s: /proc/self/net/dev interfaces %d, lo %d\n", label, n, lo);
}

/* A listening port of /proc/self/net/tcp (hex), whether one is listed. */
static int proc_net_tcp_has(int port) {
  FILE *f = fopen("/proc/self/net/tcp", "r");
  char line[512], want[16];
  snprintf(want, sizeof want, ":%04X ", port);
  int found = 0;
  while (f && fgets(line, sizeof line, f)) if (strstr(line, want) != NULL) found = 1;
  if (f) fclose(f);
  return found;
}

static int abstract_sock(const char *name, int do_bind) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  memcpy(a.sun_path + 1, name, strlen(name));
  socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
  int rc = do_bind ? bind(s, (struct sockaddr *)&a, len) : connect(s, (struct sockaddr *)&a, len);
  if (rc == 0 && do_bind) rc = listen(s, 1);
  if (rc != 0) {
    int e = errno;
    close(s);
    errno = e;
    return -1;
  }
  return s;
}

static char port_range[64];

/* ip_local_port_range into port_range (tabs as spaces). */
static const char *read_port_range(void) {
  memset(port_range, 0, sizeof port_range);
  int fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY);
  if (read(fd, port_range, sizeof port_range - 1) < 0) strcpy(port_range, "error\n");
  close(fd);
  for (char *p = port_range; *p; p++) if (*p == '\t') *p = ' ';
  return port_range;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "hold") == 0) {
    /* For a checkpoint: back in the first namespace, a socket of another kept until stdin
     * ends (tests/c/_ckpt.h). */
    int ns0 = open("/proc/self/ns/net", O_RDONLY);
    R("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET));
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    R("setns", setns(ns0, CLONE_NEWNET));
    close(ns0);
    printf("holding\n"); /* only now is the socket all that is left of the second namespace */
    await_checkpoint();
    close(s);
    return 0;
  }
  int ns0 = open("/proc/self/ns/net", O_RDONLY);
  unsigned long ino0 = ns_ino();
  char link[64] = {0};
  if (readlink("/proc/self/ns/net", link, sizeof link - 1) > 0) printf("ns link form ok: %d\n", strncmp(link, "net:[", 5) == 0);

  /* ns1: a namespace of the test's own. */
  R("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET));
  unsigned long ino1 = ns_ino();
  printf("ns1 inode differs from ns0: %d\n", ino1 != ino0 && ino1 != 0);
  char link1[64] = {0};
  readlink("/proc/self/ns/net", link1, sizeof link1 - 1);
  char want[64];
  snprintf(want, sizeof want, "net:[%lu]", ino1);
  printf("ns1 link names its inode: %d\n", strcmp(link1, want) == 0);
  printf("ns1 lo %s, index %u, eth0 index %u\n", lo_state(), if_nametoindex("lo"), if_nametoindex("eth0"));
  struct if_nameindex *ifs = if_nameindex();
  int nif = 0;
  for (struct if_nameindex *p = ifs; p && p->if_index != 0; p++) nif++;
  printf("ns1 interfaces: %d (%s)\n", nif, ifs && ifs[0].if_name ? ifs[0].if_name : "-");
  if (ifs) if_freenameindex(ifs);
  proc_net_dev("ns1");
  {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo_addr(5555);
    R("ns1 lo down: bind 127.0.0.1", bind(s, (struct sockaddr *)&a, sizeof a));
    R("ns1 lo down: connect 127.0.0.1", connect(s, (struct sockaddr *)&a, sizeof a));
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    R("ns1 lo down: udp sendto 127.0.0.1", sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
    close(s);
  }
  R("ns1 SIOCSIFFLAGS IFF_UP", lo_up_ioctl());
  printf("ns1 lo %s\n", lo_state());
  int l1 = tcp_listener(5555);
  printf("ns1 listen 127.0.0.1:5555: %s\n", l1 >= 0 ? "ok" : en(errno));
  printf("ns1 /proc/self/net/tcp lists 5555: %d\n", proc_net_tcp_has(5555));
  int u1 = abstract_sock("netns-test", 1);
  printf("ns1 bind @netns-test: %s\n", u1 >= 0 ? "ok" : en(errno));
  int ns1 = open("/proc/self/ns/net", O_RDONLY);
  char range1[64];
  strcpy(range1, read_port_range());
  int s_ns1 = socket(AF_INET, SOCK_STREAM, 0); /* made in ns1, used after leaving it */

  /* ns2: another, with the same port. */
  R("unshare(CLONE_NEWNET) again", unshare(CLONE_NEWNET));
  unsigned long ino2 = ns_ino();
  printf("ns2 inode differs from ns0 and ns1: %d\n", ino2 != ino0 && ino2 != ino1);
  printf("ns2 lo %s\n", lo_state());
  printf("ns2 RTM_NEWLINK IFF_UP: %d\n", lo_up_netlink());
  printf("ns2 lo %s\n", lo_state());
  printf("ns2 RTM_SETLINK lo's own name, no flags: %d\n", lo_same_name());
  printf("ns2 lo %s\n", lo_state());
  printf("ns2 /proc/self/net/tcp lists 5555: %d\n", proc_net_tcp_has(5555));
  {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    R("ns2 connect 127.0.0.1:5555 (no listener here)", tcp_connect(s, 5555));
    close(s);
  }
  int l2 = tcp_listener(5555);
  printf("ns2 listen 127.0.0.1:5555: %s\n", l2 >= 0 ? "ok" : en(errno));
  {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    R("ns2 connect 127.0.0.1:5555", tcp_connect(s, 5555));
    printf("ns2 accepted by ns2's listener: %d, by ns1's: %d\n", accepted(l2), accepted(l1));
    close(s);
  }
  {
    int s = abstract_sock("netns-test", 0);
    printf("ns2 connect @netns-test: %s\n", s >= 0 ? "ok" : en(errno));
    int u2 = abstract_sock("netns-test", 1);
    printf("ns2 bind @netns-test: %s\n", u2 >= 0 ? "ok" : en(errno));
    if (u2 >= 0) close(u2);
  }
  {
    /* Sysctls are per namespace. */
    int fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_WRONLY);
    R("ns2 write ip_local_port_range", write(fd, "40000 40100", 11));
    close(fd);
    printf("ns2: ip_local_port_range %s", read_port_range());
  }
  /* Virtual links made in ns2 stay there. */
  printf("ns2 veth nsva/nsvb: %d\n", link_create("veth", "nsva", "nsvb"));
  printf("ns2 indexes: nsvb %u, nsva %u; nsva %s\n", if_nametoindex("nsvb"), if_nametoindex("nsva"), link_state("nsva"));
  printf("ns2 veth nsva again: %d\n", link_create("veth", "nsva", "nsvc"));
  printf("ns2 bridge nsbr: %d\n", link_create("bridge", "nsbr", NULL));
  printf("ns2 nsbr index %u, %s\n", if_nametoindex("nsbr"), link_state("nsbr"));
  printf("ns2 rename nsbr to lo: %d\n", link_rename("nsbr", "lo"));
  printf("ns2 rename nsbr to nsbr2: %d\n", link_rename("nsbr", "nsbr2"));
  printf("ns2 nsbr %u nsbr2 %u\n", if_nametoindex("nsbr"), if_nametoindex("nsbr2"));
  printf("ns2 lo mtu 1400: %d\n", lo_set_mtu(1400));
  printf("ns2 lo mtu now %d\n", lo_mtu());
  R("ns2 bind ::1 (mtu 1400)", bind6_lo());
  printf("ns2 lo mtu 1000: %d\n", lo_set_mtu(1000));
  printf("ns2 lo mtu now %d\n", lo_mtu());
  R("ns2 bind ::1 (mtu 1000)", bind6_lo());
  printf("ns2 lo mtu 65536: %d\n", lo_set_mtu(65536));
  printf("ns2 lo mtu now %d\n", lo_mtu());
  {
    /* RTNLGRP_LINK events that overflow a small receive buffer: one ENOBUFS, then the rest. */
    int g = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    int small = 512;
    setsockopt(g, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    bind(g, (struct sockaddr *)&sa, sizeof sa);
    for (int i = 0; i < 100; i++) link_rename(i % 2 ? "nsbr3" : "nsbr2", i % 2 ? "nsbr2" : "nsbr3");
    char buf[8192];
    struct pollfd p = {.fd = g, .events = POLLIN};
    printf("ns2 overrun: poll %d revents err %d\n", poll(&p, 1, 0), (p.revents & POLLERR) != 0);
    R("ns2 overrun: recv", recv(g, buf, sizeof buf, MSG_DONTWAIT));
    printf("ns2 overrun: then a message: %d\n", recv(g, buf, sizeof buf, MSG_DONTWAIT) > 0);
    close(g);
  }
  printf("ns2 nsva 10.77.0.1/24: %d, up: %d\n", addr_add("nsva", "10.77.0.1", 24), link_set_up("nsva"));
  {
    /* Up, its peer down: no carrier (IFF_RUNNING clear). Natively the operstate that
     * IFF_RUNNING reflects is settled by linkwatch after dev_open returns (a new device's
     * IF_OPER_UNKNOWN counts as running until then), so wait up to 3 s for it to clear; a
     * state that never clears still prints 1. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq r = {0};
    for (int i = 0; i < 300; i++) {
      memset(&r, 0, sizeof r);
      strcpy(r.ifr_name, "nsva");
      ioctl(s, SIOCGIFFLAGS, &r);
      if (!(r.ifr_flags & IFF_RUNNING)) break;
      usleep(10000);
    }
    close(s);
    printf("ns2 nsva up %d running %d\n", (r.ifr_flags & IFF_UP) != 0, (r.ifr_flags & IFF_RUNNING) != 0);
  }
  int u2 = socket(AF_INET, SOCK_DGRAM, 0); /* made in ns2, used from ns1 */
  printf("ns2 move nsvb to ns1 as peer1: %d\n", link_move("nsvb", ns1, "peer1"));
  printf("ns2 after the move: nsvb %u peer1 %u nsva %u\n", if_nametoindex("nsvb"), if_nametoindex("peer1"), if_nametoindex("nsva"));
  R("setns(ns1, CLONE_NEWUTS)", setns(ns1, CLONE_NEWUTS));

  /* Back to ns1 by its descriptor. */
  R("setns(ns1, CLONE_NEWNET)", setns(ns1, CLONE_NEWNET));
  printf("back in ns1: %d\n", ns_ino() == ino1);
  printf("ns1 has no nsbr: %u\n", if_nametoindex("nsbr"));
  printf("ns1 peer1 index %u, %s\n", if_nametoindex("peer1"), link_state("peer1"));
  printf("ns1 peer1 10.77.0.2/24: %d, up: %d\n", addr_add("peer1", "10.77.0.2", 24), link_set_up("peer1"));
  {
    /* A datagram from ns2's socket crosses the veth (ARP first) to ns1's. */
    int r = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7000)};
    inet_pton(AF_INET, "10.77.0.2", &a.sin_addr);
    R("ns1 bind 10.77.0.2:7000", bind(r, (struct sockaddr *)&a, sizeof a));
    R("ns2's socket sends to 10.77.0.2:7000", sendto(u2, "hello", 5, 0, (struct sockaddr *)&a, sizeof a));
    struct pollfd p = {.fd = r, .events = POLLIN};
    int ready = poll(&p, 1, 5000);
    char buf[16] = {0};
    struct sockaddr_in from = {0};
    socklen_t fl = sizeof from;
    int n = ready == 1 ? recvfrom(r, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl) : -1;
    char fa[32] = "-";
    if (n > 0) inet_ntop(AF_INET, &from.sin_addr, fa, sizeof fa);
    printf("ns1 received %d \"%s\" from %s\n", n, n > 0 ? buf : "", fa);
    /* /proc/net/dev counts the veth's frames (ARP and the datagram at least). */
    FILE *f = fopen("/proc/self/net/dev", "r");
    char line[512];
    unsigned long rxb = 0, rxp = 0, txb = 0, txp = 0;
    while (f && fgets(line, sizeof line, f)) {
      char *c = strstr(line, "peer1:");
      if (c != NULL) sscanf(c + 6, "%lu %lu %*u %*u %*u %*u %*u %*u %lu %lu", &rxb, &rxp, &txb, &txp);
    }
    if (f) fclose(f);
    printf("ns1 /proc/net/dev peer1: rx %d, tx %d\n", rxp >= 2 && rxb > 0, txp >= 1 && txb > 0);
    close(r);
    close(u2);
  }
  printf("ns1 delete peer1: %d\n", link_delete("peer1"));
  printf("ns1 after: peer1 %u\n", if_nametoindex("peer1"));
  printf("ns1: ip_local_port_range unchanged: %d\n", strcmp(read_port_range(), range1) == 0);
  {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    R("ns1 connect 127.0.0.1:5555", tcp_connect(s, 5555));
    printf("ns1 accepted by ns1's listener: %d, by ns2's: %d\n", accepted(l1), accepted(l2));
    close(s);
  }
  {
    int s = abstract_sock("netns-test", 0);
    printf("ns1 connect @netns-test: %s\n", s >= 0 ? "ok" : en(errno));
    if (s >= 0) close(s);
  }
  /* A socket keeps the namespace it was made in. */
  R("ns1's socket connects in ns1", tcp_connect(s_ns1, 5555));
  printf("accepted by ns1's listener: %d\n", accepted(l1));
  close(s_ns1);

  {
    /* Netlink user to user: to RTMGRP_LINK (members but the sender, then the kernel) and to a port. */
    int g = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct sockaddr_nl ga = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    bind(g, (struct sockaddr *)&ga, sizeof ga);
    int one = 1;
    setsockopt(g, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    int snd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    bind(snd, (struct sockaddr *)&sa, sizeof sa);
    struct sockaddr_nl me = {0}, gme = {0};
    socklen_t ml = sizeof me;
    getsockname(snd, (struct sockaddr *)&me, &ml);
    ml = sizeof gme;
    getsockname(g, (struct sockaddr *)&gme, &ml);
    struct { struct nlmsghdr h; struct ifinfomsg i; } req = {0};
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    req.h.nlmsg_seq = 77;
    req.i.ifi_index = 1;
    struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    R("netlink sendto RTMGRP_LINK", sendto(snd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to));
    char buf[8192];
    char control[CMSG_SPACE(sizeof(struct ucred))];
    struct sockaddr_nl from = {0};
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control, .msg_controllen = sizeof control};
    int n = recvmsg(g, &mh, MSG_DONTWAIT);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    struct ucred uc = {0};
    if (c != NULL && c->cmsg_type == SCM_CREDENTIALS) memcpy(&uc, CMSG_DATA(c), sizeof uc);
    printf("member got %d bytes, type %d seq %d, from the sender's port %d, creds pid is ours %d\n", n,
           n > 0 ? ((struct nlmsghdr *)buf)->nlmsg_type : -1, n > 0 ? (int)((struct nlmsghdr *)buf)->nlmsg_seq : -1,
           from.nl_pid == me.nl_pid, uc.pid == getpid());
    n = recv(snd, buf, sizeof buf, MSG_DONTWAIT);
    printf("sender got the kernel's answer: type %d\n", n > 0 ? ((struct nlmsghdr *)buf)->nlmsg_type : -1);
    printf("sender has no more: %d\n", recv(snd, buf, sizeof buf, MSG_DONTWAIT) < 0);
    struct sockaddr_nl top = {.nl_family = AF_NETLINK, .nl_pid = gme.nl_pid};
    R("netlink sendto the member's port", sendto(snd, &req, sizeof req, 0, (struct sockaddr *)&top, sizeof top));
    n = recv(g, buf, sizeof buf, MSG_DONTWAIT);
    printf("member got %d bytes; sender got nothing from the kernel: %d\n", n, recv(snd, buf, sizeof buf, MSG_DONTWAIT) < 0);
    struct sockaddr_nl nobody = {.nl_family = AF_NETLINK, .nl_pid = 0x7ffff0};
    R("netlink sendto a port no socket has", sendto(snd, &req, sizeof req, 0, (struct sockaddr *)&nobody, sizeof nobody));
    close(g);
    close(snd);
  }
  /* A child made with clone(CLONE_NEWNET) has its own. */
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) {
    printf("child inode differs from parent's: %d, lo %s\n", ns_ino() != ino1 && ns_ino() != ino0, lo_state());
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

  /* Without CAP_SYS_ADMIN. */
  pid = fork();
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_SYS_ADMIN);
    syscall(SYS_capset, &h, d);
    R("no CAP_SYS_ADMIN: unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET));
    R("no CAP_SYS_ADMIN: setns(ns0)", setns(ns0, CLONE_NEWNET));
    _exit(0);
  }
  waitpid(pid, &st, 0);

  R("setns(ns0, 0)", setns(ns0, 0));
  printf("back in ns0: %d\n", ns_ino() == ino0);
  close(l1);
  if (l2 >= 0) close(l2);
  if (u1 >= 0) close(u1);
  close(ns1);
  close(ns0);
  return 0;
}
