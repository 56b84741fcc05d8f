/* futex_waitv(2): argument checks in Linux's order, a word that differs (EAGAIN), an absolute
 * timeout on CLOCK_MONOTONIC and CLOCK_REALTIME (ETIMEDOUT), and a wake of one of several
 * futexes (private and shared) returning its index (LTP futex_waitv01-03). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

#ifndef FUTEX_32
#define FUTEX_32 2
#endif
struct waitv {
  uint64_t val, uaddr;
  uint32_t flags, reserved;
};

static long waitv(struct waitv *w, unsigned n, unsigned flags, struct timespec *to, int clk) {
  return syscall(449, w, n, flags, to, clk);
}
static void show(const char *what, long r) { printf("%s: %ld %s\n", what, r, en(r < 0 ? errno : 0)); }
static struct timespec in_ms(int clk, long ms) {
  struct timespec t;
  clock_gettime(clk, &t);
  t.tv_nsec += ms * 1000000;
  while (t.tv_nsec >= 1000000000) { t.tv_sec++; t.tv_nsec -= 1000000000; }
  return t;
}

static uint32_t *words;
static void *waker(void *arg) {
  (void)arg;
  usleep(50000);
  syscall(SYS_futex, &words[2], FUTEX_WAKE, 1, NULL, NULL, 0); /* shared op for the shared entry */
  return NULL;
}

int main(void) {
  words = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct waitv w[4];
  memset(w, 0, sizeof w);
  for (int i = 0; i < 4; i++) {
    w[i].uaddr = (uintptr_t)&words[i];
    w[i].flags = FUTEX_32 | (i == 2 ? 0 : FUTEX_PRIVATE_FLAG);
  }
  struct timespec to = in_ms(CLOCK_MONOTONIC, 1000);
  show("flags 1", waitv(w, 1, 1, &to, CLOCK_MONOTONIC));
  show("NULL waiters", waitv(NULL, 1, 0, &to, CLOCK_MONOTONIC));
  show("0 futexes", waitv(w, 0, 0, &to, CLOCK_MONOTONIC));
  show("129 futexes", waitv(w, 129, 0, &to, CLOCK_MONOTONIC));
  show("CLOCK_TAI", waitv(w, 1, 0, &to, CLOCK_TAI));
  show("bad timeout pointer", waitv(w, 1, 0, (void *)16, CLOCK_MONOTONIC));
  w[0].flags = FUTEX_PRIVATE_FLAG;
  show("no size flag", waitv(w, 1, 0, &to, CLOCK_MONOTONIC));
  w[0].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG | 0x100;
  show("unknown flag", waitv(w, 1, 0, &to, CLOCK_MONOTONIC));
  w[0].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
  w[0].reserved = 1;
  show("reserved set", waitv(w, 1, 0, &to, CLOCK_MONOTONIC));
  w[0].reserved = 0;
  w[0].val = 1ULL << 32;
  show("value past 32 bits", waitv(w, 1, 0, &to, CLOCK_MONOTONIC));
  w[0].val = 0;
  w[1].uaddr = 1;
  show("unaligned second", waitv(w, 2, 0, &to, CLOCK_MONOTONIC));
  w[1].uaddr = 0;
  show("NULL second (private)", waitv(w, 2, 0, &to, CLOCK_MONOTONIC));
  w[1].uaddr = (uintptr_t)&words[1];
  words[3] = 7;
  show("fourth word differs", waitv(w, 4, 0, &to, CLOCK_MONOTONIC));
  show("bad array", waitv((void *)16, 1, 0, &to, CLOCK_MONOTONIC));
  words[3] = 0;
  to = in_ms(CLOCK_MONOTONIC, 20);
  show("monotonic timeout", waitv(w, 4, 0, &to, CLOCK_MONOTONIC));
  to = in_ms(CLOCK_REALTIME, 20);
  show("realtime timeout", waitv(w, 4, 0, &to, CLOCK_REALTIME));
  pthread_t th;
  pthread_create(&th, NULL, waker, NULL);
  to = in_ms(CLOCK_MONOTONIC, 5000);
  show("woken third", waitv(w, 4, 0, &to, CLOCK_MONOTONIC));
  pthread_join(th, NULL);
  return 0;
}
