/*
 * Parallel computation: forks N processes that each run the same loop of additions (no
 * syscalls), waits for all of them, and prints the wall time in ms from the first fork to
 * the last exit (the program's own start-up excluded). Native wall time is about the time of
 * one loop when N processes get N CPUs.
 * Usage: spin N ITERATIONS
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2;
  long iters = argc > 2 ? atol(argv[2]) : 500000000;
  if (n <= 0 || iters <= 0) {
    fprintf(stderr, "spin: N and ITERATIONS must be positive\n");
    return 2;
  }
  double t0 = now_ms();
  for (long i = 0; i < n; i++) {
    pid_t p = fork();
    if (p < 0) {
      perror("fork");
      return 1;
    }
    if (p == 0) {
      volatile unsigned long sum = 0;
      for (long k = 0; k < iters; k++) sum += (unsigned long)k;
      _exit(0);
    }
  }
  int status, bad = 0;
  while (wait(&status) > 0)
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad = 1;
  if (bad) {
    fprintf(stderr, "spin: a child failed\n");
    return 1;
  }
  printf("%.1f\n", now_ms() - t0);
  return 0;
}
