/* netdevice(7) requests about the loopback interface on Unix, UDP and netlink sockets: any
 * socket answers SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFHWADDR,
 * SIOCGIFTXQLEN and SIOCGIFCONF; only inet sockets the address requests (ENOTTY elsewhere);
 * ENODEV for an unknown interface. Read-only requests only: nothing here changes the host. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "_check.h"

static void query(int fd, const char *what, unsigned long cmd, const char *name, int index) {
  struct ifreq r;
  memset(&r, 0, sizeof(r));
  strncpy(r.ifr_name, name, IFNAMSIZ - 1);
  if (cmd == SIOCGIFNAME) r.ifr_ifindex = index;
  errno = 0;
  int x = ioctl(fd, cmd, &r);
  printf("  %s %s = %d %s", what, name, x, x < 0 ? en(errno) : "");
  if (x == 0) {
    switch (cmd) {
      case SIOCGIFINDEX: printf("index %d", r.ifr_ifindex); break;
      case SIOCGIFNAME: printf("name %s", r.ifr_name); break;
      case SIOCGIFFLAGS: printf("flags %#x", (unsigned short)r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING)); break;
      case SIOCGIFMTU: printf("mtu %d", r.ifr_mtu); break;
      case SIOCGIFHWADDR: printf("type %d", r.ifr_hwaddr.sa_family); break;
      case SIOCGIFTXQLEN: printf("qlen %d", r.ifr_qlen); break;
      default: printf("family %d addr %s", r.ifr_addr.sa_family, inet_ntoa(((struct sockaddr_in *)&r.ifr_addr)->sin_addr));
    }
  }
  printf("\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int fds[3] = {sv[0], socket(AF_INET, SOCK_DGRAM, 0), socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)};
  const char *names[3] = {"unix", "udp", "netlink"};
  for (int i = 0; i < 3; i++) {
    int fd = fds[i];
    printf("%s socket:\n", names[i]);
    query(fd, "SIOCGIFINDEX", SIOCGIFINDEX, "lo", 0);
    query(fd, "SIOCGIFINDEX", SIOCGIFINDEX, "nosuch0", 0);
    query(fd, "SIOCGIFNAME", SIOCGIFNAME, "", 1);
    query(fd, "SIOCGIFNAME", SIOCGIFNAME, "", 100000);
    query(fd, "SIOCGIFFLAGS", SIOCGIFFLAGS, "lo", 0);
    query(fd, "SIOCGIFMTU", SIOCGIFMTU, "lo", 0);
    query(fd, "SIOCGIFHWADDR", SIOCGIFHWADDR, "lo", 0);
    query(fd, "SIOCGIFTXQLEN", SIOCGIFTXQLEN, "lo", 0);
    query(fd, "SIOCGIFADDR", SIOCGIFADDR, "lo", 0);
    query(fd, "SIOCGIFNETMASK", SIOCGIFNETMASK, "lo", 0);
    query(fd, "SIOCGIFADDR", SIOCGIFADDR, "nosuch0", 0);
    struct ifconf c;
    c.ifc_len = 0;
    c.ifc_buf = NULL;
    R("  SIOCGIFCONF without a buffer", ioctl(fd, SIOCGIFCONF, &c));
    int need = c.ifc_len;
    printf("  length a multiple of struct ifreq: %d\n", need > 0 && need % (int)sizeof(struct ifreq) == 0);
    char buf[64 * sizeof(struct ifreq)];
    c.ifc_len = sizeof(buf);
    c.ifc_buf = buf;
    R("  SIOCGIFCONF", ioctl(fd, SIOCGIFCONF, &c));
    int lo = 0;
    for (int k = 0; k < c.ifc_len / (int)sizeof(struct ifreq); k++) {
      struct ifreq *r = &((struct ifreq *)buf)[k];
      if (strcmp(r->ifr_name, "lo") == 0 &&
          ((struct sockaddr_in *)&r->ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) lo = 1;
    }
    printf("  same length, lo 127.0.0.1 listed: %d %d\n", c.ifc_len == need, lo);
    c.ifc_len = sizeof(struct ifreq) - 1;
    R("  SIOCGIFCONF into too small a buffer", ioctl(fd, SIOCGIFCONF, &c));
    printf("  length %d\n", c.ifc_len);
  }
  return 0;
}
