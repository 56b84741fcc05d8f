/* timerfd: relative and absolute one-shot timers on each clock, intervals, gettime, disarming,
 * non-blocking reads, blocking reads and epoll. Only results that do not depend on timing are
 * printed: expiration counts of one-shot timers, "at least one" for periodic ones. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static void rd(const char *what, int fd) {
  uint64_t v = 0;
  errno = 0;
  long n = read(fd, &v, 8);
  printf("%s = %ld %s ticks=%llu\n", what, n, n < 0 ? en(errno) : "", (unsigned long long)v);
}

static struct itimerspec ms(long value, long interval) {
  struct itimerspec s = {{interval / 1000, (interval % 1000) * 1000000}, {value / 1000, (value % 1000) * 1000000}};
  return s;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  R("create bad clock", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
  R("create bad flags", timerfd_create(CLOCK_MONOTONIC, 1));
  int clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
  for (int i = 0; i < 3; i++) {
    int t = timerfd_create(clocks[i], TFD_NONBLOCK | TFD_CLOEXEC);
    printf("clock %d: cloexec=%d\n", clocks[i], (fcntl(t, F_GETFD) & FD_CLOEXEC) != 0);
    rd("  unarmed read", t);
    struct itimerspec s = ms(2000, 0), old;
    R("  settime rel 2s", timerfd_settime(t, 0, &s, &old));
    printf("  old %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
    struct itimerspec cur;
    timerfd_gettime(t, &cur);
    printf("  armed: 1s < left <= 2s: %d, interval %ld\n",
           cur.it_value.tv_sec == 1 || (cur.it_value.tv_sec == 2 && cur.it_value.tv_nsec == 0),
           cur.it_interval.tv_nsec);
    rd("  early read", t);
    s = ms(20, 0);
    R("  settime rel 20ms", timerfd_settime(t, 0, &s, &old));
    printf("  old left > 1s: %d\n", old.it_value.tv_sec >= 1);
    struct pollfd p = {.fd = t, .events = POLLIN};
    int pr = poll(&p, 1, -1);
    printf("  poll = %d revents %#x\n", pr, p.revents);
    rd("  read", t);
    rd("  read again", t);
    timerfd_gettime(t, &cur);
    printf("  expired: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

    /* Absolute: a time in the past fires at once; a near future one fires once. */
    struct timespec now;
    clock_gettime(clocks[i], &now);
    struct itimerspec a = {{0, 0}, {now.tv_sec - 1, now.tv_nsec}};
    R("  settime abs past", timerfd_settime(t, TFD_TIMER_ABSTIME, &a, NULL));
    rd("  read past", t);
    a.it_value.tv_sec = now.tv_sec + (now.tv_nsec + 30000000) / 1000000000;
    a.it_value.tv_nsec = (now.tv_nsec + 30000000) % 1000000000;
    R("  settime abs future", timerfd_settime(t, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &a, NULL));
    poll(&p, 1, -1);
    rd("  read future", t);
    close(t);
  }

  /* Errors. */
  int t = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec s = ms(10, 0), bad = {{0, 0}, {0, 1000000000}};
  R("settime bad flags", timerfd_settime(t, 4, &s, NULL));
  R("settime bad nsec", timerfd_settime(t, 0, &bad, NULL));
  bad.it_value.tv_sec = -1;
  bad.it_value.tv_nsec = 0;
  R("settime negative", timerfd_settime(t, 0, &bad, NULL));
  R("settime bad pointer", timerfd_settime(t, 0, (struct itimerspec *)8, NULL));
  R("settime bad fd", timerfd_settime(999, 0, &s, NULL));
  R("settime not a timerfd", timerfd_settime(0, 0, &s, NULL));
  R("gettime not a timerfd", timerfd_gettime(1, &s));
  R("gettime bad pointer", timerfd_gettime(t, (struct itimerspec *)8));
  char small[4];
  R("read 4 bytes", read(t, small, 4));
  R("write", write(t, small, 4));

  /* Blocking read of a one-shot timer; disarm returns the old setting. */
  s = ms(20, 0);
  timerfd_settime(t, 0, &s, NULL);
  rd("blocking read", t);
  s = ms(5000, 1000);
  timerfd_settime(t, 0, &s, NULL);
  struct itimerspec zero = ms(0, 0), old;
  R("disarm", timerfd_settime(t, 0, &zero, &old));
  printf("old: value>4s %d interval %ld.%09ld\n", old.it_value.tv_sec >= 4, (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
  timerfd_gettime(t, &old);
  printf("disarmed: %ld %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec, old.it_interval.tv_nsec);

  /* Periodic timer in epoll: at least one tick per wake-up. */
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 3};
  epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
  s = ms(10, 10);
  timerfd_settime(t, 0, &s, NULL);
  int okcount = 0;
  for (int i = 0; i < 5; i++) {
    struct epoll_event out;
    int n = epoll_wait(ep, &out, 1, -1);
    uint64_t v = 0;
    if (n == 1 && out.data.u64 == 3 && read(t, &v, 8) == 8 && v >= 1) okcount++;
  }
  printf("periodic wake-ups with ticks: %d\n", okcount);
  struct itimerspec cur;
  timerfd_gettime(t, &cur);
  printf("periodic interval %ld armed %d\n", cur.it_interval.tv_nsec, cur.it_value.tv_nsec > 0 || cur.it_value.tv_sec > 0);
  return 0;
}
