/* A TCP client for an echo server: sends MIB mebibytes of a pattern to ADDR:PORT while reading
 * the echo back (poll, so that neither direction stalls the other), then prints the byte
 * counts and checksums of both directions, or the errno name of a failed connect.
 * Usage: net_echo_client ADDR PORT [MIB] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t fnv(uint32_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: net_echo_client ADDR PORT [MIB]\n");
    return 2;
  }
  size_t total = (size_t)(argc > 3 ? atoi(argv[3]) : 4) << 20;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, argv[1], &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(atoi(argv[2]));
    len = sizeof *a4;
  } else if (inet_pton(AF_INET6, argv[1], &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(atoi(argv[2]));
    len = sizeof *a6;
  } else {
    fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
    printf("connect: %s\n", strerrorname_np(errno));
    return 1;
  }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  static unsigned char out[65536], in[65536];
  size_t sent = 0, got = 0;
  uint32_t hs = 2166136261u, hr = 2166136261u;
  while (got < total) {
    struct pollfd p = {fd, POLLIN | (sent < total ? POLLOUT : 0), 0};
    if (poll(&p, 1, -1) < 0) return perror("poll"), 1;
    if ((p.revents & POLLOUT) && sent < total) {
      size_t n = total - sent < sizeof out ? total - sent : sizeof out;
      for (size_t i = 0; i < n; i++) out[i] = (unsigned char)((sent + i) * 7 + ((sent + i) >> 11));
      ssize_t w = write(fd, out, n);
      if (w > 0) {
        hs = fnv(hs, out, w);
        sent += w;
      } else if (w < 0 && errno != EAGAIN) {
        return perror("write"), 1;
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(fd, in, sizeof in);
      if (r == 0) break;
      if (r > 0) {
        hr = fnv(hr, in, r);
        got += r;
      } else if (errno != EAGAIN) {
        return perror("read"), 1;
      }
    }
  }
  close(fd);
  printf("sent %zu checksum %08x\nreceived %zu checksum %08x\n", sent, hs, got, hr);
  return 0;
}
