/*
 * stat(2) rate: stats DIR/f00000 ... DIR/f<N-1>, PASSES times over, timed with
 * CLOCK_MONOTONIC. Prints stat calls per second. Every path must exist.
 * Usage: statpaths DIR N [PASSES]   (default 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: statpaths DIR N [PASSES]\n");
    return 2;
  }
  long n = atol(argv[2]);
  int passes = argc > 3 ? atoi(argv[3]) : 3;
  char (*paths)[4096] = malloc((size_t)n * 4096);
  for (long i = 0; i < n; i++) snprintf(paths[i], 4096, "%s/f%05ld", argv[1], i);
  struct stat st;
  double t0 = now_s();
  for (int p = 0; p < passes; p++) {
    for (long i = 0; i < n; i++) {
      if (stat(paths[i], &st) != 0) {
        perror(paths[i]);
        return 1;
      }
    }
  }
  double t1 = now_s();
  printf("%.0f\n", (double)n * passes / (t1 - t0));
  return 0;
}
