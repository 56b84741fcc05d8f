/* Calls clock_gettime(CLOCK_MONOTONIC) N times (argv[1]) through libc, which uses the vDSO. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  struct timespec t, last = {0, 0};
  long back = 0;
  for (long i = 0; i < n; i++) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec < last.tv_sec || (t.tv_sec == last.tv_sec && t.tv_nsec < last.tv_nsec)) back++;
    last = t;
  }
  printf("calls: %ld, went back: %ld\n", n, back);
  return 0;
}
