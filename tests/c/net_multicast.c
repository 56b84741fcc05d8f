/*
 * IPv4 multicast over loopback, compared with Linux (tests/net_test.ts): IP_ADD_MEMBERSHIP and
 * IP_DROP_MEMBERSHIP with their errors, IP_MULTICAST_IF by address and by index (ip_mreqn),
 * delivery to every socket bound to the port once lo joined the group (IP_MULTICAST_ALL, as
 * Linux has it by default), none once the last member left, IP_MULTICAST_LOOP off still
 * delivering on lo, and a socket bound to the group address. Every send names lo, so nothing
 * leaves the host when run natively.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GROUP "224.0.2.1"

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENODEV: return "ENODEV";
    case EACCES: return "EACCES";
    default: return strerror(e);
  }
}

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s: %ld %s\n", name, r_, r_ < 0 ? en(errno) : ""); } while (0)

static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin_port);
}

static int receiver(int port, const char *addr) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int on = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, addr, &a.sin_addr);
  bind(s, (struct sockaddr *)&a, sizeof a);
  return s;
}

static int join(int s, int add) {
  struct ip_mreq m;
  inet_pton(AF_INET, GROUP, &m.imr_multiaddr);
  m.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
  return setsockopt(s, IPPROTO_IP, add ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m);
}

static void send_group(int s, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, GROUP, &a.sin_addr);
  if (sendto(s, "hello", 5, 0, (struct sockaddr *)&a, sizeof a) != 5) printf("sendto: %s\n", en(errno));
}

/* Whether fd gets a datagram (waiting up to 1 s when one is expected, 100 ms otherwise). */
static const char *got(int fd, int expected) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, expected ? 1000 : 100) != 1) return "nothing";
  char b[16];
  return recv(fd, b, sizeof b, 0) == 5 ? "it" : "something else";
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int sender = socket(AF_INET, SOCK_DGRAM, 0);
  struct in_addr lo = {htonl(INADDR_LOOPBACK)};
  R("IP_MULTICAST_IF 127.0.0.1", setsockopt(sender, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo));
  struct in_addr back = {0};
  socklen_t len = sizeof back;
  getsockopt(sender, IPPROTO_IP, IP_MULTICAST_IF, &back, &len);
  printf("IP_MULTICAST_IF reads 127.0.0.1: %s (%d bytes)\n", back.s_addr == lo.s_addr ? "yes" : "no", (int)len);
  struct in_addr other;
  inet_pton(AF_INET, "192.0.2.77", &other);
  R("IP_MULTICAST_IF of no interface's address", setsockopt(sender, IPPROTO_IP, IP_MULTICAST_IF, &other, sizeof other));

  int a = receiver(0, "0.0.0.0");
  int port = port_of(a);
  int b = receiver(port, "0.0.0.0");
  int g = receiver(port, GROUP);
  int l = receiver(port, "127.0.0.1");
  send_group(sender, port);
  printf("no member yet: a gets %s, b %s\n", got(a, 0), got(b, 0));
  R("a joins", join(a, 1));
  R("a joins again", join(a, 1));
  struct ip_mreq bad;
  inet_pton(AF_INET, "10.1.2.3", &bad.imr_multiaddr);
  bad.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
  R("joining a unicast address", setsockopt(b, IPPROTO_IP, IP_ADD_MEMBERSHIP, &bad, sizeof bad));
  R("a short ip_mreq", setsockopt(b, IPPROTO_IP, IP_ADD_MEMBERSHIP, &bad, 4));
  R("b drops what it never joined", join(b, 0));
  int on = 1; /* before the datagram comes: Linux notes IP_PKTINFO's data as it queues it */
  setsockopt(a, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
  send_group(sender, port);
  printf("a member: b gets %s, the one bound to the group %s, the one bound to 127.0.0.1 %s\n", got(b, 1), got(g, 1),
         got(l, 0));
  {
    char buf[16], cbuf[64];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    long n = recvmsg(a, &m, 0);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    struct in_pktinfo pi = {0};
    if (cm) memcpy(&pi, CMSG_DATA(cm), sizeof pi);
    char spec[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &pi.ipi_spec_dst, spec, sizeof spec);
    inet_ntop(AF_INET, &pi.ipi_addr, dst, sizeof dst);
    printf("a gets %ld bytes, IP_PKTINFO ifindex is lo's: %s, spec_dst %s, addr %s\n", n,
           pi.ipi_ifindex == (int)if_nametoindex("lo") ? "yes" : "no", spec, dst);
  }
  R("b joins by ip_mreqn (ifindex of lo)", ({
      struct ip_mreqn m = {.imr_ifindex = (int)if_nametoindex("lo")};
      inet_pton(AF_INET, GROUP, &m.imr_multiaddr);
      setsockopt(b, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
    }));
  R("a drops", join(a, 0));
  send_group(sender, port);
  printf("b still a member: a gets %s, b %s\n", got(a, 1), got(b, 1));
  int off = 0;
  setsockopt(sender, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof off);
  send_group(sender, port);
  printf("IP_MULTICAST_LOOP off, out of lo: a gets %s, b %s\n", got(a, 1), got(b, 1));
  R("b drops (by ip_mreq)", join(b, 0));
  send_group(sender, port);
  printf("no member left: a gets %s, b %s\n", got(a, 0), got(b, 0));
  int ttls[] = {6, -1, -2, 256, 255};
  for (int i = 0; i < 5; i++) {
    int v = ttls[i], got = -9;
    socklen_t gl = sizeof got;
    errno = 0;
    int r = setsockopt(sender, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v);
    printf("IP_MULTICAST_TTL %d: %d %s", v, r, r < 0 ? en(errno) : "");
    getsockopt(sender, IPPROTO_IP, IP_MULTICAST_TTL, &got, &gl);
    printf(", reads %d\n", got);
  }
  unsigned char c7 = 7;
  R("IP_MULTICAST_TTL as a byte", setsockopt(sender, IPPROTO_IP, IP_MULTICAST_TTL, &c7, 1));
  /* Broadcast out of lo (the sender is bound to 127.0.0.1): needs SO_BROADCAST. */
  int bc = receiver(0, "255.255.255.255");
  int bport = port_of(bc);
  int bs = receiver(0, "127.0.0.1");
  struct sockaddr_in ba = {.sin_family = AF_INET, .sin_port = htons(bport), .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
  R("sendto 255.255.255.255 without SO_BROADCAST", sendto(bs, "hello", 5, 0, (struct sockaddr *)&ba, sizeof ba));
  int yes = 1;
  setsockopt(bs, SOL_SOCKET, SO_BROADCAST, &yes, sizeof yes);
  R("with it", sendto(bs, "hello", 5, 0, (struct sockaddr *)&ba, sizeof ba));
  printf("the socket bound to 255.255.255.255 gets %s\n", got(bc, 1));
  close(bc);
  close(bs);
  int tcp = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  R("IP_MULTICAST_TTL on TCP", setsockopt(tcp, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof one));
  close(tcp);
  close(a);
  close(b);
  close(g);
  close(l);
  close(sender);
  return 0;
}
