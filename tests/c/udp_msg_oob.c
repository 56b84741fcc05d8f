/* MSG_OOB on UDP sockets: sendmsg over IPv4 (and an IPv6 socket's IPv4-mapped destination) is
 * EOPNOTSUPP, over IPv6 the flag is ignored; recvmsg ignores it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

int main(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(s, (struct sockaddr *)&a, sizeof a);
  socklen_t al = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &al);
  R("udp4 sendto MSG_OOB", sendto(s, "x", 1, MSG_OOB, (struct sockaddr *)&a, sizeof a));
  char buf[8];
  R("udp4 recv MSG_OOB, empty", recv(s, buf, sizeof buf, MSG_OOB | MSG_DONTWAIT));
  R("udp4 sendto", sendto(s, "yz", 2, 0, (struct sockaddr *)&a, sizeof a));
  R("udp4 recv MSG_OOB", recv(s, buf, sizeof buf, MSG_OOB | MSG_DONTWAIT));
  int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 b = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  bind(s6, (struct sockaddr *)&b, sizeof b);
  socklen_t bl = sizeof b;
  getsockname(s6, (struct sockaddr *)&b, &bl);
  R("udp6 sendto MSG_OOB", sendto(s6, "x", 1, MSG_OOB, (struct sockaddr *)&b, sizeof b));
  R("udp6 recv MSG_OOB", recv(s6, buf, sizeof buf, MSG_OOB | MSG_DONTWAIT));
  int m = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 c = {.sin6_family = AF_INET6, .sin6_port = a.sin_port};
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &c.sin6_addr);
  R("udp6 sendto a mapped address MSG_OOB", sendto(m, "x", 1, MSG_OOB, (struct sockaddr *)&c, sizeof c));
  connect(m, (struct sockaddr *)&c, sizeof c);
  R("udp6 connected to a mapped address, send MSG_OOB", send(m, "x", 1, MSG_OOB));
  return 0;
}
