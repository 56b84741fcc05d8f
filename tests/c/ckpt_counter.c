/*
 * Checkpoint and restore: counts 1..N, one line each, sleeping 20 ms between lines, then prints
 * what a restore must have kept: the SSE rounding mode it set (MXCSR, in the FXSAVE area), a
 * floating-point sum computed under that mode, its SIGUSR1 handler, its blocked SIGUSR2, its
 * heap and its stack. A run checkpointed and restored prints the same lines as one that was not.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10;
  unsigned mxcsr;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  mxcsr |= 0x6000; /* round toward zero */
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);
  char *heap = malloc(1 << 20);
  for (int i = 0; i < (1 << 20); i++) heap[i] = (char)(i * 31);
  volatile double acc = 0;
  for (int i = 1; i <= n; i++) {
    char line[32];
    int len = snprintf(line, sizeof line, "%d\n", i);
    if (write(1, line, len) != len) return 2;
    acc += 1.0 / (double)(i + 2);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  struct sigaction now;
  sigaction(SIGUSR1, NULL, &now);
  sigset_t mask;
  sigprocmask(SIG_BLOCK, NULL, &mask);
  long sum = 0;
  for (int i = 0; i < (1 << 20); i++) sum += heap[i];
  printf("rounding %x acc %a handler %d usr2 blocked %d heap %ld\n", (mxcsr >> 13) & 3, acc,
         now.sa_handler == on_usr1, sigismember(&mask, SIGUSR2), sum);
  return 0;
}
