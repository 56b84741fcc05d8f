/*
 * connect() to a wildcard address reaches this host, as Linux does: 0.0.0.0 from an IPv4
 * socket, ::ffff:0.0.0.0 from an IPv6 socket (IPv4's loopback) and :: (IPv6's loopback), to an
 * IPv4 listener on 0.0.0.0 and an IPv6 one on ::. Prints whether each connection is accepted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener(int family, int *port) {
  int s = socket(family, SOCK_STREAM, 0);
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  a.ss_family = family;
  socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (family == AF_INET6) {
    int on = 1;
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (bind(s, (struct sockaddr *)&a, len) != 0 || listen(s, 4) != 0) return -1;
  getsockname(s, (struct sockaddr *)&a, &len);
  *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port : ((struct sockaddr_in6 *)&a)->sin6_port);
  return s;
}

static void try(const char *what, int lfd, int family, const char *addr, int port) {
  int c = socket(family, SOCK_STREAM, 0);
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    inet_pton(AF_INET, addr, &s4->sin_addr);
    len = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    inet_pton(AF_INET6, addr, &s6->sin6_addr);
    len = sizeof *s6;
  }
  int r = connect(c, (struct sockaddr *)&a, len);
  struct pollfd p = {lfd, POLLIN, 0};
  int ready = r == 0 && poll(&p, 1, 2000) == 1;
  printf("%s: connect %s, %s\n", what, r == 0 ? "ok" : "failed", ready ? "accepted" : "not accepted");
  if (ready) close(accept(lfd, NULL, NULL));
  close(c);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p4, p6;
  int l4 = listener(AF_INET, &p4), l6 = listener(AF_INET6, &p6);
  if (l4 < 0 || l6 < 0) return 1;
  try("0.0.0.0 from AF_INET to the IPv4 listener", l4, AF_INET, "0.0.0.0", p4);
  try("::ffff:0.0.0.0 from AF_INET6 to the IPv4 listener", l4, AF_INET6, "::ffff:0.0.0.0", p4);
  try(":: from AF_INET6 to the IPv6 listener", l6, AF_INET6, "::", p6);
  return 0;
}
