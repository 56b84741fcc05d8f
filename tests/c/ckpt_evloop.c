/*
 * Checkpoint and restore of an event loop's files: one epoll set watching a periodic timerfd
 * (100 ms), an eventfd the loop writes and reads, a signalfd for a queued real-time signal, an
 * edge-triggered pipe and a one-shot eventfd, plus a second eventfd ("acc") that is only written
 * during the run and read at the end (its counter must survive the checkpoint as it was).
 *
 * Per timer expiration i (counted, so several expirations read at once print the same lines):
 * "tick i"; it adds i to the eventfd, 1 to acc, and every 4th tick queues SIGRTMIN with value i
 * and writes one byte to the pipe. The loop ends after N ticks and prints totals: the eventfd's
 * sum, acc, the signals' values, the pipe bytes read, how often the one-shot item fired (once,
 * whatever happens after), what epoll_ctl reports about the registrations, and whether the ticks
 * took at least (N - 1) * 100 ms of monotonic time (a timer that lost its deadline at a restore
 * would fire all its ticks at once).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, NULL, _IONBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int efd = eventfd(0, EFD_NONBLOCK);
  int acc = eventfd(0, EFD_NONBLOCK);
  int once = eventfd(1, EFD_NONBLOCK);
  int sfd = signalfd(-1, &set, SFD_NONBLOCK);
  int p[2];
  if (ep < 0 || tfd < 0 || efd < 0 || acc < 0 || once < 0 || sfd < 0 || pipe2(p, O_NONBLOCK) < 0) return 2;
  struct epoll_event ev;
  ev.events = EPOLLIN; ev.data.u64 = 1; epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.events = EPOLLIN; ev.data.u64 = 0x2222222222222222ull; epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
  ev.events = EPOLLIN; ev.data.u64 = 3; epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  ev.events = EPOLLIN | EPOLLET; ev.data.u64 = 4; epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  ev.events = EPOLLIN | EPOLLONESHOT; ev.data.u64 = 5; epoll_ctl(ep, EPOLL_CTL_ADD, once, &ev);
  struct itimerspec its = {{0, 100 * 1000 * 1000}, {0, 100 * 1000 * 1000}};
  timerfd_settime(tfd, 0, &its, NULL);
  double start = now();
  int ticks = 0, oneshots = 0, pipebytes = 0;
  uint64_t sum = 0, sigsum = 0;
  while (ticks < n) {
    struct epoll_event evs[8];
    int k = epoll_wait(ep, evs, 8, -1);
    if (k < 0) continue;
    for (int j = 0; j < k; j++) {
      uint64_t v;
      switch (evs[j].data.u64) {
      case 1:
        if (read(tfd, &v, 8) != 8) break;
        for (uint64_t t = 0; t < v && ticks < n; t++) {
          ticks++;
          printf("tick %d\n", ticks);
          uint64_t add = ticks, one = 1;
          write(efd, &add, 8);
          write(acc, &one, 8);
          if (ticks % 4 == 0) {
            union sigval sv = {.sival_int = ticks};
            sigqueue(getpid(), SIGRTMIN, sv);
            write(p[1], "x", 1);
          }
        }
        break;
      case 0x2222222222222222ull:
        if (read(efd, &v, 8) == 8) sum += v;
        break;
      case 3: {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) sigsum += si.ssi_int;
        break;
      }
      case 4: {
        char b[16];
        int r;
        while ((r = read(p[0], b, sizeof b)) > 0) pipebytes += r;
        break;
      }
      case 5:
        oneshots++;
        break;
      }
    }
  }
  double took = now() - start;
  uint64_t v;
  /* Drain what the last ticks left behind. */
  if (read(efd, &v, 8) == 8) sum += v;
  struct signalfd_siginfo si;
  while (read(sfd, &si, sizeof si) == sizeof si) sigsum += si.ssi_int;
  char b[16];
  int r;
  while ((r = read(p[0], b, sizeof b)) > 0) pipebytes += r;
  uint64_t accv = 0;
  read(acc, &accv, 8);
  ev.events = EPOLLIN; ev.data.u64 = 5;
  int again = epoll_ctl(ep, EPOLL_CTL_ADD, once, &ev);
  int mod = epoll_ctl(ep, EPOLL_CTL_MOD, once, &ev);
  struct itimerspec cur;
  timerfd_gettime(tfd, &cur);
  printf("sum %llu acc %llu sigsum %llu pipe %d oneshot %d re-add %d mod %d interval %ld took>=min %d\n",
         (unsigned long long)sum, (unsigned long long)accv, (unsigned long long)sigsum, pipebytes, oneshots,
         again, mod, cur.it_interval.tv_nsec, took >= (n - 1) * 0.1);
  return 0;
}
