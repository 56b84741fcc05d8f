/* Writes and sends from a buffer that becomes unreadable part way: Linux takes the bytes in
 * units (a pipe's pages, a TCP send's 32 KiB page fragments, a Unix stream's skbs) and drops
 * the unit a fault falls in, so a fault near the start is EFAULT with nothing sent, and one far
 * in returns what the whole units before it held. Counts that depend on buffer placement are
 * printed as "some". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BIG (256 * 1024)

static char *buf; /* BIG readable bytes, then an unmapped page */

static void show(const char *what, long r, long whole) {
  if (r < 0) printf("%s: -1 %s\n", what, errno == EFAULT ? "EFAULT" : strerror(errno));
  else if (r == whole) printf("%s: all\n", what);
  else printf("%s: %s\n", what, r == 0 ? "0" : "some");
}

static void drain(int fd) {
  char tmp[65536];
  while (read(fd, tmp, sizeof tmp) > 0) {}
}

static void tcp_pair(int *c, int *s) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
  socklen_t al = sizeof a;
  bind(l, (void *)&a, sizeof a);
  listen(l, 1);
  getsockname(l, (void *)&a, &al);
  *c = socket(AF_INET, SOCK_STREAM, 0);
  int big = 4 << 20;
  setsockopt(*c, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  connect(*c, (void *)&a, sizeof a);
  *s = accept(l, NULL, NULL);
  setsockopt(*s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  fcntl(*s, F_SETFL, O_NONBLOCK);
  close(l);
}

static void cases(const char *name, int wfd, int rfd, int sock) {
  long r;
  /* 100 bytes, then the fault. */
  errno = 0;
  r = sock ? send(wfd, buf + BIG - 100, 200, 0) : write(wfd, buf + BIG - 100, 200);
  show(name, r, 200);
  drain(rfd);
  /* Nothing readable. */
  errno = 0;
  r = write(wfd, buf + BIG, 10);
  printf("%s, unreadable from the start: %ld %s\n", name, r, r < 0 && errno == EFAULT ? "EFAULT" : "");
  drain(rfd);
  /* Two iovecs, the second unreadable. */
  struct iovec iov[2] = {{buf, 10}, {buf + BIG, 10}};
  errno = 0;
  r = writev(wfd, iov, 2);
  show("  writev, second unreadable", r, 20);
  drain(rfd);
  /* 200 KiB readable of 256 KiB: the whole units before the fault go. */
  errno = 0;
  r = sock ? send(wfd, buf + 56 * 1024, BIG, 0) : write(wfd, buf + 56 * 1024, BIG);
  show("  200 KiB then the fault", r, BIG);
  drain(rfd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  buf = mmap(NULL, BIG + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(buf + BIG, 4096);
  memset(buf, 'a', BIG);

  int p[2];
  pipe(p);
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  cases("pipe", p[1], p[0], 0);

  int c, s;
  tcp_pair(&c, &s);
  cases("tcp", c, s, 1);

  int u[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, u);
  int big = 4 << 20;
  setsockopt(u[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  fcntl(u[1], F_SETFL, O_NONBLOCK);
  cases("unix stream", u[0], u[1], 1);

  socketpair(AF_UNIX, SOCK_DGRAM, 0, u);
  errno = 0;
  long r = send(u[0], buf + BIG - 100, 200, 0);
  show("unix datagram", r, 200);
  return 0;
}
