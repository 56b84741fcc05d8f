/*
 * Loopback TCP costs, timed with CLOCK_MONOTONIC inside the program:
 *   net tcp [MiB]     a child connects to the parent over 127.0.0.1 and writes MiB (default
 *                     256) in 64 KiB writes; the parent reads them; prints MB/s (10^6 bytes/s).
 *   net tcp-rr [N]    parent and child bounce one byte N times (default 20000) over a TCP
 *                     connection on 127.0.0.1 with TCP_NODELAY; prints microseconds per round trip.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A connected pair: *srv in the parent, *cli for the child (fork after this). */
static int pair(int *srv, int *cli) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(ls, (struct sockaddr *)&a, len) || listen(ls, 1) || getsockname(ls, (struct sockaddr *)&a, &len)) return 1;
  *cli = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(*cli, (struct sockaddr *)&a, len)) return 1;
  *srv = accept(ls, NULL, NULL);
  close(ls);
  int one = 1;
  setsockopt(*srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(*cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return *srv < 0;
}

static int throughput(long mib) {
  int s, c;
  if (pair(&s, &c)) return 1;
  long total = mib << 20;
  double t0 = now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    close(s);
    static char buf[CHUNK];
    memset(buf, 'x', sizeof buf);
    for (long sent = 0; sent < total;) {
      ssize_t n = write(c, buf, sizeof buf);
      if (n <= 0) _exit(1);
      sent += n;
    }
    close(c);
    _exit(0);
  }
  close(c);
  static char buf[CHUNK];
  long got = 0;
  ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0) got += n;
  waitpid(pid, NULL, 0);
  double t = now_ns() - t0;
  if (got != total) return 1;
  printf("%.1f\n", (double)total / (t / 1e9) / 1e6);
  return 0;
}

static int pingpong(long iters) {
  int s, c;
  if (pair(&s, &c)) return 1;
  pid_t pid = fork();
  char b = 'x';
  if (pid == 0) {
    close(s);
    for (long i = 0; i < iters; i++) {
      if (read(c, &b, 1) != 1 || write(c, &b, 1) != 1) _exit(1);
    }
    _exit(0);
  }
  close(c);
  double t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) return 1;
  }
  double t = now_ns() - t0;
  waitpid(pid, NULL, 0);
  printf("%.2f\n", t / iters / 1e3);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "tcp") == 0) return throughput(argc > 2 ? atol(argv[2]) : 256);
  if (argc >= 2 && strcmp(argv[1], "tcp-rr") == 0) return pingpong(argc > 2 ? atol(argv[2]) : 20000);
  fprintf(stderr, "usage: net tcp [MiB] | net tcp-rr [N]\n");
  return 2;
}
