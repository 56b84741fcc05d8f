/*
 * clock_gettime(CLOCK_MONOTONIC) cost through libc (the vDSO where there is one): N calls,
 * after 100 ms of calls so that a sentry's clock calibration is over. Prints ns per call.
 * Usage: clock [N]   (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  if (n <= 0) {
    fprintf(stderr, "clock: N must be positive\n");
    return 2;
  }
  double w = now_ns();
  while (now_ns() - w < 100e6) {
  }
  double t0 = now_ns();
  for (long i = 0; i < n; i++) now_ns();
  double t1 = now_ns();
  printf("%.1f\n", (t1 - t0) / (double)n);
  return 0;
}
