/*
 * UDP addresses as Linux takes them (tests/net_test.ts): an AF_INET6 socket sends to and
 * connects to a sockaddr_in (a v4-mapped peer; a V6ONLY one refuses it: ENETUNREACH for
 * sendto, EAFNOSUPPORT for connect) but does not bind to one (EINVAL); connected to port 0
 * reads as not connected; sendto port 0 is EINVAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#define R(name, expr) do { errno = 0; long r_ = (long)(expr); printf("%s: %ld %s\n", name, r_, r_ < 0 ? strerror(errno) : ""); } while (0)
int main(void) {
  int s = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1337), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  R("v6 socket bind sockaddr_in", bind(s, (struct sockaddr *)&a, sizeof a));
  R("v6 socket sendto sockaddr_in", sendto(s, "hello", 6, 0, (struct sockaddr *)&a, sizeof a));
  R("v6 socket connect sockaddr_in", connect(s, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in6 n; socklen_t l = sizeof n;
  R("getpeername", getpeername(s, (struct sockaddr *)&n, &l));
  char buf[64]; inet_ntop(AF_INET6, &n.sin6_addr, buf, sizeof buf); printf("peer %s port %d len %d\n", buf, ntohs(n.sin6_port), l);
  l = sizeof n; getsockname(s, (struct sockaddr *)&n, &l);
  inet_ntop(AF_INET6, &n.sin6_addr, buf, sizeof buf); printf("name %s len %d\n", buf, l);
  a.sin_port = 0;
  R("connect port 0", connect(s, (struct sockaddr *)&a, sizeof a));
  l = sizeof n; R("getpeername", getpeername(s, (struct sockaddr *)&n, &l));
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  R("sendto port 0", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
  int o = 1; setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &o, sizeof o);
  int s2 = socket(AF_INET6, SOCK_DGRAM, 0); setsockopt(s2, IPPROTO_IPV6, IPV6_V6ONLY, &o, sizeof o);
  a.sin_port = htons(1337);
  R("v6only sendto sockaddr_in", sendto(s2, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
  R("v6only connect sockaddr_in", connect(s2, (struct sockaddr *)&a, sizeof a));
  return 0;
}
