/*
 * Address families that do not match, as Linux answers them (tests/net_test.ts): socketpair
 * of an inet family (ESOCKTNOSUPPORT for a type it lacks, else EOPNOTSUPP); a dual-stack
 * socket bound to ::1 reaching an IPv4 peer (ENETUNREACH), bound to ::ffff:127.0.0.1
 * reaching an IPv6 one (EAFNOSUPPORT), by TCP and UDP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#define R(name, expr) do { errno = 0; long r_ = (long)(expr); printf("%s: %ld %s\n", name, r_, r_ < 0 ? strerror(errno) : ""); } while (0)
int main(void) {
  int fd[2];
  R("socketpair(AF_INET, 0)", socketpair(AF_INET, 0, 0, fd));
  R("socketpair(AF_INET6, 0)", socketpair(AF_INET6, 0, 0, fd));
  R("socketpair(AF_INET, SOCK_STREAM)", socketpair(AF_INET, SOCK_STREAM, 0, fd));
  for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
    int s = socket(AF_INET6, type, 0);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    R("bind ::1", bind(s, (struct sockaddr *)&v6, sizeof v6));
    struct sockaddr_in6 m = {.sin6_family = AF_INET6, .sin6_port = htons(1337)};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr);
    R("connect ::ffff:127.0.0.1", connect(s, (struct sockaddr *)&m, sizeof m));
    if (type == SOCK_DGRAM) R("sendto ::ffff:127.0.0.1", sendto(s, "x", 1, 0, (struct sockaddr *)&m, sizeof m));
    close(s);
    s = socket(AF_INET6, type, 0);
    m.sin6_port = 0;
    R("bind ::ffff:127.0.0.1", bind(s, (struct sockaddr *)&m, sizeof m));
    v6.sin6_port = htons(1337);
    R("connect ::1", connect(s, (struct sockaddr *)&v6, sizeof v6));
    if (type == SOCK_DGRAM) R("sendto ::1", sendto(s, "x", 1, 0, (struct sockaddr *)&v6, sizeof v6));
    close(s);
  }
  return 0;
}
