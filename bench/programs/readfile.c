/*
 * Sequential read throughput: reads FILE to the end with read(2) of 64 KiB into one buffer,
 * PASSES times (lseek to 0 in between), timed with CLOCK_MONOTONIC. Prints MB/s (10^6 bytes).
 * The buffer is a static array, or with "malloc" one from malloc(3) (the heap: what most
 * programs read into).
 * Usage: readfile FILE [PASSES] [static|malloc]   (default 2 static)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: readfile FILE [PASSES]\n");
    return 2;
  }
  int passes = argc > 2 ? atoi(argv[2]) : 2;
  static char static_buf[64 * 1024];
  char *buf = static_buf;
  if (argc > 3 && strcmp(argv[3], "malloc") == 0) {
    buf = malloc(sizeof static_buf);
    if (buf == NULL) {
      perror("malloc");
      return 1;
    }
  }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    perror("open");
    return 1;
  }
  double total = 0;
  double t0 = now_s();
  for (int p = 0; p < passes; p++) {
    lseek(fd, 0, SEEK_SET);
    for (;;) {
      ssize_t n = read(fd, buf, sizeof static_buf);
      if (n < 0) {
        perror("read");
        return 1;
      }
      if (n == 0) break;
      total += (double)n;
    }
  }
  double t1 = now_s();
  printf("%.1f\n", total / (t1 - t0) / 1e6);
  return 0;
}
