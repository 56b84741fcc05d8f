/*
 * IPC costs, timed with CLOCK_MONOTONIC inside the program:
 *   ipc pipe [MiB]        a child writes MiB (default 256) into a pipe in 64 KiB writes, the
 *                         parent reads them in 64 KiB reads; prints MB/s (10^6 bytes/s).
 *   ipc unix-pingpong [N] parent and child bounce one byte N times (default 20000) over a
 *                         SOCK_STREAM socketpair; prints microseconds per round trip.
 */
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

static int pipe_throughput(long mib) {
  int fd[2];
  if (pipe(fd) != 0) return 1;
  long total = mib << 20;
  double t0 = now_ns();
  pid_t c = fork();
  if (c == 0) {
    close(fd[0]);
    static char buf[CHUNK];
    memset(buf, 'x', sizeof buf);
    for (long done = 0; done < total;) {
      ssize_t n = write(fd[1], buf, CHUNK);
      if (n <= 0) _exit(1);
      done += n;
    }
    _exit(0);
  }
  close(fd[1]);
  static char buf[CHUNK];
  long got = 0;
  ssize_t n;
  while ((n = read(fd[0], buf, sizeof buf)) > 0) got += n;
  int st;
  waitpid(c, &st, 0);
  double t1 = now_ns();
  if (got != total || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "pipe: moved %ld of %ld bytes\n", got, total);
    return 1;
  }
  printf("%.1f\n", (double)total / ((t1 - t0) / 1e9) / 1e6);
  return 0;
}

static int unix_pingpong(long n) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  pid_t c = fork();
  if (c == 0) {
    close(sv[0]);
    char b;
    while (read(sv[1], &b, 1) == 1)
      if (write(sv[1], &b, 1) != 1) _exit(1);
    _exit(0);
  }
  close(sv[1]);
  char b = 'p';
  for (long i = 0; i < n / 10 + 1; i++) /* warm up */
    if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1) return 1;
  double t0 = now_ns();
  for (long i = 0; i < n; i++)
    if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1) return 1;
  double t1 = now_ns();
  close(sv[0]);
  waitpid(c, NULL, 0);
  printf("%.2f\n", (t1 - t0) / (double)n / 1e3);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "pipe") == 0) return pipe_throughput(argc > 2 ? atol(argv[2]) : 256);
  if (argc >= 2 && strcmp(argv[1], "unix-pingpong") == 0) return unix_pingpong(argc > 2 ? atol(argv[2]) : 20000);
  fprintf(stderr, "usage: ipc pipe [MiB] | ipc unix-pingpong [N]\n");
  return 2;
}
