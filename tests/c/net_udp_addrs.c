/*
 * UDP addresses as Linux takes them (tests/net_test.ts): an AF_INET6 socket sends to and
 * connects to a sockaddr_in (a v4-mapped peer; a V6ONLY one refuses it: ENETUNREACH for
 * sendto, EAFNOSUPPORT for connect) but does not bind to one (EINVAL); connected to port 0
 * reads as not connected; sendto port 0 is EINVAL; a disconnect gives back a port bind did not
 * name; bind to AF_UNSPEC; the errors of another level's options.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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

  struct sockaddr_storage un = {.ss_family = AF_UNSPEC};
  int u4 = socket(AF_INET, SOCK_DGRAM, 0);
  R("connect (binds a port)", connect(u4, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in got; socklen_t gl = sizeof got;
  getsockname(u4, (struct sockaddr *)&got, &gl);
  printf("port bound: %s\n", got.sin_port != 0 ? "yes" : "no");
  R("disconnect", connect(u4, (struct sockaddr *)&un, sizeof un));
  gl = sizeof got; getsockname(u4, (struct sockaddr *)&got, &gl);
  printf("after it: addr %s port %d\n", inet_ntoa(got.sin_addr), ntohs(got.sin_port));
  struct sockaddr_in lo0 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  R("bind after it", bind(u4, (struct sockaddr *)&lo0, sizeof lo0));
  R("connect", connect(u4, (struct sockaddr *)&a, sizeof a));
  R("disconnect", connect(u4, (struct sockaddr *)&un, sizeof un));
  gl = sizeof got; getsockname(u4, (struct sockaddr *)&got, &gl);
  printf("a bound socket keeps its address: %s, its port: %s\n", got.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? "yes" : "no",
         got.sin_port != 0 ? "yes" : "no");
  int u5 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in unspec_lo = {.sin_family = AF_UNSPEC, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  R("AF_INET bind to AF_UNSPEC with an address", bind(u5, (struct sockaddr *)&unspec_lo, sizeof unspec_lo));
  R("AF_INET bind to AF_UNSPEC with INADDR_ANY", bind(u5, (struct sockaddr *)&un, sizeof(struct sockaddr_in)));
  int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
  R("AF_INET6 bind to AF_UNSPEC", bind(u6, (struct sockaddr *)&un, sizeof un));
  R("AF_INET6 bind to a short AF_UNSPEC", bind(u6, (struct sockaddr *)&un, 16));
  int v = 1; socklen_t vl = sizeof v;
  R("AF_INET UDP setsockopt(IPPROTO_IPV6)", setsockopt(u5, IPPROTO_IPV6, IPV6_RECVERR, &v, sizeof v));
  R("AF_INET UDP getsockopt(IPPROTO_IPV6)", getsockopt(u5, IPPROTO_IPV6, IPV6_RECVERR, &v, &vl));
  vl = sizeof v;
  R("AF_INET6 UDP getsockopt(level 99)", getsockopt(u6, 99, 1, &v, &vl));
  int t4 = socket(AF_INET, SOCK_STREAM, 0);
  vl = sizeof v;
  R("AF_INET TCP getsockopt(IPPROTO_UDP)", getsockopt(t4, IPPROTO_UDP, 1, &v, &vl));

  /* SO_RCVBUF bounds the receive queue: of ten datagrams as large as the smallest buffer,
   * a buffer twice that size keeps a few. */
  int r = socket(AF_INET, SOCK_DGRAM, 0);
  bind(r, (struct sockaddr *)&lo0, sizeof lo0);
  struct sockaddr_in ra; socklen_t rl = sizeof ra;
  getsockname(r, (struct sockaddr *)&ra, &rl);
  int zero = 0, min = 0; socklen_t ml = sizeof min;
  setsockopt(r, SOL_SOCKET, SO_RCVBUF, &zero, sizeof zero);
  getsockopt(r, SOL_SOCKET, SO_RCVBUF, &min, &ml);
  int twice = min * 2;
  setsockopt(r, SOL_SOCKET, SO_RCVBUF, &twice, sizeof twice);
  char big[8192] = {0};
  int sender = socket(AF_INET, SOCK_DGRAM, 0), sent = 0, kept = 0;
  for (int i = 0; i < 10; i++) sent += sendto(sender, big, min, 0, (struct sockaddr *)&ra, sizeof ra) == min;
  while (recv(r, big, sizeof big, MSG_DONTWAIT) == min) kept++;
  printf("SO_RCVBUF %d: sent %d, kept more than one and fewer than all: %s\n", min, sent, kept > 1 && kept < sent ? "yes" : "no");
  return 0;
}
