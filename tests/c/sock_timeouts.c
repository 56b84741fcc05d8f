/* SO_RCVTIMEO and SO_SNDTIMEO on every socket type: read, readv, recv, accept and write on
 * unix stream/dgram/seqpacket, UDP, TCP and netlink sockets end with EAGAIN once the timeout
 * passes (no hang); values round-trip through getsockopt; invalid timevals fail as Linux
 * (EDOM, EINVAL); a negative time means fail at once and reads back as zero; an empty read
 * returns 0 without waiting. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHECK(x)                                                        \
  do {                                                                  \
    if (!(x)) {                                                         \
      printf("FAILED %s at line %d: %s\n", #x, __LINE__, strerror(errno)); \
      exit(1);                                                          \
    }                                                                   \
  } while (0)

static void set_timeo(int fd, int opt, long sec, long usec) {
  struct timeval tv = {sec, usec};
  CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0);
}

/* read, readv and recv each time out on fd. */
static void reads_time_out(const char *name, int fd) {
  char b[16];
  set_timeo(fd, SO_RCVTIMEO, 0, 20000);
  errno = 0;
  ssize_t r = read(fd, b, sizeof b);
  printf("%s read: %zd %s\n", name, r, strerror(errno));
  struct iovec iov[2] = {{b, 8}, {b + 8, 8}};
  errno = 0;
  r = readv(fd, iov, 2);
  printf("%s readv: %zd %s\n", name, r, strerror(errno));
  errno = 0;
  r = recv(fd, b, sizeof b, 0);
  printf("%s recv: %zd %s\n", name, r, strerror(errno));
  errno = 0;
  r = read(fd, b, 0);
  printf("%s empty read: %zd %s\n", name, r, strerror(errno));
  set_timeo(fd, SO_RCVTIMEO, -1, 0);
  errno = 0;
  r = read(fd, b, sizeof b);
  printf("%s read, negative timeout: %zd %s\n", name, r, strerror(errno));
}

/* Fills fd's buffer without blocking, then a blocking write times out. */
static void write_times_out(const char *name, int fd) {
  static char big[65536];
  int fl = fcntl(fd, F_GETFL);
  CHECK(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
  while (write(fd, big, sizeof big) > 0) {}
  while (write(fd, big, 1) > 0) {}
  CHECK(errno == EAGAIN);
  CHECK(fcntl(fd, F_SETFL, fl) == 0);
  set_timeo(fd, SO_SNDTIMEO, 0, 20000);
  errno = 0;
  ssize_t r = write(fd, big, 1);
  printf("%s write on a full buffer: %zd %s\n", name, r, strerror(errno));
  errno = 0;
  r = send(fd, big, 1, 0);
  printf("%s send on a full buffer: %zd %s\n", name, r, strerror(errno));
}

static void unix_pairs(void) {
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  const char *names[] = {"unix stream", "unix dgram", "unix seqpacket"};
  for (int i = 0; i < 3; i++) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, types[i], 0, sv) == 0);
    reads_time_out(names[i], sv[0]);
    write_times_out(names[i], sv[1]);
    close(sv[0]);
    close(sv[1]);
  }
}

static void inet(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(u >= 0);
  CHECK(bind(u, (struct sockaddr *)&a, sizeof a) == 0);
  reads_time_out("udp", u);
  close(u);

  int l = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(l >= 0);
  CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(l, 4) == 0);
  CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
  set_timeo(l, SO_RCVTIMEO, 0, 20000);
  errno = 0;
  int r = accept(l, NULL, NULL);
  printf("tcp accept: %d %s\n", r, strerror(errno));
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
  int s = accept(l, NULL, NULL);
  CHECK(s >= 0);
  reads_time_out("tcp", s);
  close(s);
  close(c);
  close(l);
}

static void netlink(void) {
  int n = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  CHECK(n >= 0);
  reads_time_out("netlink", n);
  close(n);
}

static void values(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  int opts[] = {SO_RCVTIMEO, SO_SNDTIMEO};
  for (int i = 0; i < 2; i++) {
    const char *n = i == 0 ? "SO_RCVTIMEO" : "SO_SNDTIMEO";
    struct timeval tv;
    socklen_t l = sizeof tv;
    CHECK(getsockopt(sv[0], SOL_SOCKET, opts[i], &tv, &l) == 0);
    printf("%s default: %ld.%06ld len %u\n", n, (long)tv.tv_sec, (long)tv.tv_usec, l);
    set_timeo(sv[0], opts[i], 3, 0);
    l = sizeof tv;
    CHECK(getsockopt(sv[0], SOL_SOCKET, opts[i], &tv, &l) == 0);
    printf("%s 3 s: %ld.%06ld\n", n, (long)tv.tv_sec, (long)tv.tv_usec);
    set_timeo(sv[0], opts[i], -5, 0);
    l = sizeof tv;
    CHECK(getsockopt(sv[0], SOL_SOCKET, opts[i], &tv, &l) == 0);
    printf("%s -5 s: %ld.%06ld\n", n, (long)tv.tv_sec, (long)tv.tv_usec);
    struct timeval bad[] = {{0, -1}, {0, 1000000}, {1, 2000000}};
    for (int k = 0; k < 3; k++) {
      errno = 0;
      int r = setsockopt(sv[0], SOL_SOCKET, opts[i], &bad[k], sizeof bad[k]);
      printf("%s {%ld, %ld}: %d %s\n", n, (long)bad[k].tv_sec, (long)bad[k].tv_usec, r, strerror(errno));
    }
    errno = 0;
    int r = setsockopt(sv[0], SOL_SOCKET, opts[i], &tv, sizeof tv - 1);
    printf("%s short optlen: %d %s\n", n, r, strerror(errno));
  }
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  values();
  unix_pairs();
  inet();
  netlink();
  return 0;
}
