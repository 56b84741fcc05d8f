/*
 * clock_nanosleep on CLOCK_PROCESS_CPUTIME_ID sleeps until the process has used that much CPU
 * (a thread spins meanwhile), relative and TIMER_ABSTIME; on a thread's CPU clock it is EINVAL.
 * Prints what each call returned and whether the clock moved on by the time asked for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int done;

static void *spin(void *arg) {
  (void)arg;
  while (!atomic_load(&done)) {
  }
  return NULL;
}

static long long now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void show(const char *what, int r) {
  printf("%s: %s\n", what, r == 0 ? "0" : strerrorname_np(r));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pthread_t th;
  pthread_create(&th, NULL, spin, NULL);
  struct timespec d = {0, 200000000};
  long long before = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  show("relative sleep on the process clock", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &d, NULL));
  printf("moved on by 200 ms at least: %d\n", now_ns(CLOCK_PROCESS_CPUTIME_ID) - before >= 200000000LL);
  long long target = now_ns(CLOCK_PROCESS_CPUTIME_ID) + 100000000LL;
  struct timespec abs = {target / 1000000000LL, target % 1000000000LL};
  show("absolute sleep on the process clock", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &abs, NULL));
  printf("reached the target: %d\n", now_ns(CLOCK_PROCESS_CPUTIME_ID) >= target);
  show("sleep on the thread clock", clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL));
  atomic_store(&done, 1);
  pthread_join(th, NULL);
  return 0;
}
