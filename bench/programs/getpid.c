/*
 * getpid cost: N raw getpid syscalls (syscall(SYS_getpid) so that no libc cache can answer),
 * timed with CLOCK_MONOTONIC. Prints the mean cost in ns per call.
 * Usage: getpid [N]   (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  if (n <= 0) {
    fprintf(stderr, "getpid: N must be positive\n");
    return 2;
  }
  for (long i = 0; i < n / 10 + 1; i++) syscall(SYS_getpid); /* warm up */
  double t0 = now_ns();
  for (long i = 0; i < n; i++) syscall(SYS_getpid);
  double t1 = now_ns();
  printf("%.1f\n", (t1 - t0) / (double)n);
  return 0;
}
