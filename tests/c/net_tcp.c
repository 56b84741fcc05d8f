/* TCP over loopback: a server and a client (a forked child) move MIB mebibytes through
 * 127.0.0.1 and ::1 and print matching checksums; then non-blocking connect with poll,
 * a refused connection, getsockname/getpeername and a few options.
 * Usage: net_tcp [MIB] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t fnv(uint32_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static socklen_t addr_of(int family, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  a->sin6_addr = in6addr_loopback;
  return sizeof *a;
}

static int port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
  return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void bulk(int family, long total) {
  const char *name = family == AF_INET ? "127.0.0.1" : "::1";
  int ls = socket(family, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss;
  socklen_t len = addr_of(family, 0, &ss);
  if (bind(ls, (struct sockaddr *)&ss, len) < 0 || listen(ls, 8) < 0) { perror("bind/listen"); exit(1); }
  int port = port_of(ls);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(family, SOCK_STREAM, 0);
    len = addr_of(family, port, &ss);
    if (connect(c, (struct sockaddr *)&ss, len) < 0) { perror("connect"); _exit(1); }
    static unsigned char buf[65536];
    uint32_t h = 2166136261u;
    long sent = 0;
    while (sent < total) {
      size_t n = sizeof buf;
      if ((long)n > total - sent) n = total - sent;
      for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)((sent + i) * 7 + (sent + i) / 251);
      ssize_t w = write(c, buf, n);
      if (w <= 0) { perror("write"); _exit(1); }
      h = fnv(h, buf, w);
      sent += w;
    }
    shutdown(c, SHUT_WR);
    char x;
    if (read(c, &x, 1) != 0) { printf("expected EOF\n"); _exit(1); }
    printf("%s client sent %ld checksum %08x\n", name, sent, h);
    fflush(stdout);
    _exit(0);
  }
  struct sockaddr_storage peer;
  socklen_t plen = sizeof peer;
  int s = accept(ls, (struct sockaddr *)&peer, &plen);
  if (s < 0) { perror("accept"); exit(1); }
  static unsigned char rbuf[100000];
  uint32_t h = 2166136261u;
  long got = 0;
  ssize_t r;
  while ((r = read(s, rbuf, sizeof rbuf)) > 0) {
    h = fnv(h, rbuf, r);
    got += r;
  }
  close(s);
  int st;
  waitpid(pid, &st, 0);
  printf("%s server received %ld checksum %08x, peer family %s\n", name, got, h,
         peer.ss_family == family ? "same" : "other");
  close(ls);
}

static void nonblocking_connect(void) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = addr_of(AF_INET, 0, &ss);
  bind(ls, (struct sockaddr *)&ss, len);
  listen(ls, 1);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  len = addr_of(AF_INET, port_of(ls), &ss);
  int r = connect(c, (struct sockaddr *)&ss, len);
  printf("non-blocking connect: %d %s\n", r, r < 0 ? strerror(errno) : "");
  struct pollfd p = {c, POLLOUT, 0};
  r = poll(&p, 1, 5000);
  int err = -1;
  socklen_t el = sizeof err;
  getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("poll %d revents %s, SO_ERROR %d\n", r, (p.revents & POLLOUT) ? "POLLOUT" : "-", err);
  int a = accept(ls, NULL, NULL);
  printf("accepted %s\n", a >= 0 ? "yes" : strerror(errno));
  struct sockaddr_in me, peer;
  socklen_t ml = sizeof me, pl = sizeof peer;
  getsockname(c, (struct sockaddr *)&me, &ml);
  getpeername(a, (struct sockaddr *)&peer, &pl);
  printf("client port seen by server matches: %s\n", me.sin_port == peer.sin_port ? "yes" : "no");
  int one = 1, v = 0;
  socklen_t vl = sizeof v;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
  printf("TCP_NODELAY %d\n", v != 0);
  getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl);
  printf("SO_TYPE %d\n", v);
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl);
  printf("TCP_INFO state %d\n", ti.tcpi_state);
  /* A byte each way, then the peer closes: POLLIN and EOF. */
  write(a, "z", 1);
  p.events = POLLIN;
  poll(&p, 1, 5000);
  char ch = 0;
  ssize_t n = read(c, &ch, 1);
  printf("read %zd '%c'\n", n, ch);
  close(a);
  poll(&p, 1, 5000);
  n = read(c, &ch, 1);
  printf("after peer close: POLLIN %d, read %zd\n", (p.revents & POLLIN) != 0, n);
  close(c);
  r = connect(ls, (struct sockaddr *)&ss, len);
  printf("connect on a listener: %s\n", strerror(errno));
  close(ls);
  /* Nothing listens there any more. */
  c = socket(AF_INET, SOCK_STREAM, 0);
  r = connect(c, (struct sockaddr *)&ss, len);
  printf("connect to a closed port: %d %s\n", r, strerror(errno));
  close(c);
  int b1 = socket(AF_INET, SOCK_STREAM, 0), b2 = socket(AF_INET, SOCK_STREAM, 0);
  len = addr_of(AF_INET, 0, &ss);
  bind(b1, (struct sockaddr *)&ss, len);
  listen(b1, 1);
  len = addr_of(AF_INET, port_of(b1), &ss);
  r = bind(b2, (struct sockaddr *)&ss, len);
  printf("bind to a listening port: %d %s\n", r, strerror(errno));
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 4;
  bulk(AF_INET, mib << 20);
  bulk(AF_INET6, mib << 20);
  nonblocking_connect();
  return 0;
}
