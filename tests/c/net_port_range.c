/*
 * /proc/sys/net/ipv4/ip_local_port_range inside the sandbox: a bad value is EINVAL, a good one
 * bounds the ephemeral ports of UDP and TCP (bind to port 0 and connect), and reads back.
 * Never run natively: it would change the host's range.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *range = "/proc/sys/net/ipv4/ip_local_port_range";

static int set_range(const char *v) {
  int fd = open(range, O_WRONLY | O_TRUNC);
  if (fd < 0) return -errno;
  int r = write(fd, v, strlen(v)) < 0 ? -errno : 0;
  close(fd);
  return r;
}

static int bind_any(int type) {
  int s = socket(AF_INET, type, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(s);
    errno = e;
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  printf("bound port %d\n", ntohs(a.sin_port));
  return s;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("write \"2000 1999\": %s\n", strerror(-set_range("2000 1999")));
  printf("write \"80 90\": %s\n", strerror(-set_range("80 90")));
  printf("write \"1024 70000\": %s\n", strerror(-set_range("1024 70000")));
  printf("write \"x\": %s\n", strerror(-set_range("x")));
  printf("write \"40000 40002\": %s\n", strerror(-set_range("40000 40002")));
  char buf[64] = {0};
  int fd = open(range, O_RDONLY);
  read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("reads back: %s", buf);
  int u1 = bind_any(SOCK_DGRAM), u2 = bind_any(SOCK_DGRAM), u3 = bind_any(SOCK_DGRAM);
  if (bind_any(SOCK_DGRAM) < 0) printf("a fourth UDP bind: %s\n", strerror(errno));
  int t1 = bind_any(SOCK_STREAM); /* TCP's ports are its own */
  listen(t1, 1);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(t1, (struct sockaddr *)&a, &len);
  int r = connect(c, (struct sockaddr *)&a, sizeof a);
  getsockname(c, (struct sockaddr *)&a, &len);
  printf("connect %d from port %d\n", r, ntohs(a.sin_port));
  int c2 = socket(AF_INET, SOCK_STREAM, 0), c3 = socket(AF_INET, SOCK_STREAM, 0);
  getsockname(t1, (struct sockaddr *)&a, &len);
  connect(c2, (struct sockaddr *)&a, sizeof a);
  errno = 0;
  r = connect(c3, (struct sockaddr *)&a, sizeof a);
  printf("a connect with no port left: %d %s\n", r, strerror(errno));
  /* Another destination: a connect shares a port with connections elsewhere (a new 4-tuple). */
  int t2 = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(45000), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(t2, (struct sockaddr *)&b, sizeof b);
  listen(t2, 1);
  int c4 = socket(AF_INET, SOCK_STREAM, 0);
  r = connect(c4, (struct sockaddr *)&b, sizeof b);
  getsockname(c4, (struct sockaddr *)&a, &len);
  printf("a connect elsewhere: %d from port %d\n", r, ntohs(a.sin_port));
  close(u1);
  close(u2);
  close(u3);
  return 0;
}
