/* epoll: level and edge triggered, one-shot, nested instances, registrations that go with the
 * description, error cases in Linux's order, timeouts, signal masks and EINTR. Output is the
 * same on any Linux: only results and errno names are printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case EPERM: return "EPERM";
    case ELOOP: return "ELOOP";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    default: return "E?";
  }
}

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? en(errno) : ""); } while (0)

static int add(int ep, int fd, unsigned ev, unsigned long data) {
  struct epoll_event e = {.events = ev, .data.u64 = data};
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int mod(int ep, int fd, unsigned ev, unsigned long data) {
  struct epoll_event e = {.events = ev, .data.u64 = data};
  return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

/* Waits and prints what came back. */
static void show(const char *what, int ep, int max, int timeout) {
  struct epoll_event evs[8];
  errno = 0;
  int n = epoll_wait(ep, evs, max, timeout);
  printf("%s: %d%s%s", what, n, n < 0 ? " " : "", n < 0 ? en(errno) : "");
  for (int i = 0; i < n; i++) printf(" [%lu %#x]", (unsigned long)evs[i].data.u64, evs[i].events);
  printf("\n");
}

static volatile sig_atomic_t got;
static void on_sig(int s) { got = s; }

/* The state letter of /proc/PID/stat. */
static char proc_state(pid_t pid) {
  char path[64], b[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return '?';
  int n = read(fd, b, sizeof b - 1);
  close(fd);
  if (n <= 0) return '?';
  b[n] = 0;
  char *r = strrchr(b, ')');
  return r && r[1] && r[2] ? r[2] : '?';
}

/* Waits until each child sleeps (or is gone): after a sync write nothing else can block them,
 * so 'S' means blocked in epoll_wait. */
static void wait_asleep(const pid_t *kids, int n) {
  for (int i = 0; i < n; i++)
    while (kids[i] && proc_state(kids[i]) != 'S' && proc_state(kids[i]) != 'Z') usleep(1000);
}

/* EPOLLEXCLUSIVE: three processes, each with its own epoll instance holding one eventfd with
 * EPOLLEXCLUSIVE, all asleep in epoll_wait. Each event wakes exactly one of them (the eventfd is
 * never read, so a woken one would see it ready). */
static void exclusive(void) {
  int efd = eventfd(0, 0), rep[2];
  if (efd < 0 || pipe(rep)) exit(1);
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      int ep = epoll_create1(0);
      struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = i};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev)) _exit(1);
      char ready = 'r';
      if (write(rep[1], &ready, 1) != 1) _exit(1);
      struct epoll_event out;
      int n = epoll_wait(ep, &out, 1, -1);
      char woke = n == 1 ? 'w' : 'x';
      if (write(rep[1], &woke, 1) != 1) _exit(1);
      _exit(0);
    }
  }
  char b[8];
  for (int i = 0; i < 3; i++)
    if (read(rep[0], b, 1) != 1) exit(1);
  wait_asleep(kids, 3);
  fcntl(rep[0], F_SETFL, O_NONBLOCK);
  uint64_t one = 1;
  for (int round = 0; round < 3; round++) {
    if (write(efd, &one, 8) != 8) exit(1);
    int woken = 0;
    for (;;) {
      /* Liveness is sampled before the read: a child that had exited by then has already
       * written its byte, so the read sees it (without exclusivity all could be gone: do not
       * wait for nobody). */
      int alive = 0;
      for (int i = 0; i < 3; i++) alive |= proc_state(kids[i]) != 'Z';
      int n = read(rep[0], b, sizeof b);
      if (n > 0) woken += n;
      if (woken > 0 || !alive) break;
      usleep(1000);
    }
    /* Whoever was woken exits; the others must still be asleep, with nothing more to say. */
    wait_asleep(kids, 3);
    int n = read(rep[0], b, sizeof b);
    printf("exclusive round %d: woken=%d more=%d\n", round, woken, n > 0 ? n : 0);
  }
  for (int i = 0; i < 3; i++) waitpid(kids[i], NULL, 0);
  close(efd);
  close(rep[0]);
  close(rep[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char buf[64];

  R("epoll_create(0)", epoll_create(0));
  R("epoll_create1(bad)", epoll_create1(1));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  printf("cloexec=%d\n", (fcntl(ep, F_GETFD) & FD_CLOEXEC) != 0);
  R("read(ep)", read(ep, buf, 8));

  int p[2], q[2], s[2];
  if (pipe(p) || pipe(q) || pipe(s)) return 1;

  /* Level triggered. */
  R("add p0 IN", add(ep, p[0], EPOLLIN, 10));
  show("lt empty", ep, 8, 0);
  R("write p", write(p[1], "ab", 2));
  show("lt ready", ep, 8, 0);
  show("lt again", ep, 8, 0);
  R("read p", read(p[0], buf, 2));
  show("lt drained", ep, 8, 0);

  /* Edge triggered. */
  R("add q0 IN|ET", add(ep, q[0], EPOLLIN | EPOLLET, 20));
  R("write q", write(q[1], "x", 1));
  show("et first", ep, 8, 0);
  show("et second", ep, 8, 0);
  R("write q", write(q[1], "y", 1));
  show("et new edge", ep, 8, 0);
  R("read q", read(q[0], buf, 8));

  /* One-shot. */
  R("add s0 IN|ONESHOT", add(ep, s[0], EPOLLIN | EPOLLONESHOT, 30));
  R("write s", write(s[1], "z", 1));
  show("oneshot first", ep, 8, 0);
  show("oneshot disabled", ep, 8, 0);
  R("mod s0 rearm", mod(ep, s[0], EPOLLIN | EPOLLONESHOT, 31));
  show("oneshot rearmed", ep, 8, 0);
  R("read s", read(s[0], buf, 8));

  /* Write ends, maxevents and the order of a level-triggered ready list. */
  int ep2 = epoll_create1(0);
  R("add p1 OUT", add(ep2, p[1], EPOLLOUT, 1));
  R("add q1 OUT", add(ep2, q[1], EPOLLOUT, 2));
  R("add s1 OUT", add(ep2, s[1], EPOLLOUT, 3));
  show("max 2", ep2, 2, 0);
  show("max 2 next", ep2, 2, 0);
  show("max 8", ep2, 8, 0);
  close(ep2);

  /* Errors. */
  int fl = open("/etc/passwd", O_RDONLY);
  R("add again", add(ep, p[0], EPOLLIN, 0));
  R("mod absent", mod(ep, p[1], EPOLLOUT, 0));
  R("del absent", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
  R("epfd is a pipe", add(p[0], q[0], EPOLLIN, 0));
  R("fd is epfd", add(ep, ep, EPOLLIN, 0));
  R("bad fd", add(ep, 999, EPOLLIN, 0));
  R("bad epfd", add(999, p[0], EPOLLIN, 0));
  R("regular file", add(ep, fl, EPOLLIN, 0));
  R("bad op", epoll_ctl(ep, 99, p[1], &(struct epoll_event){0}));
  R("bad event pointer", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], (struct epoll_event *)8));
  R("del ignores event pointer", epoll_ctl(ep, EPOLL_CTL_DEL, q[0], (struct epoll_event *)8));
  R("exclusive oneshot", add(ep, q[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
  R("exclusive ok", add(ep, q[0], EPOLLIN | EPOLLEXCLUSIVE, 0));
  R("mod exclusive item", mod(ep, q[0], EPOLLIN, 0));
  R("mod to exclusive", mod(ep, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0));
  R("wait maxevents 0", epoll_wait(ep, (struct epoll_event *)buf, 0, 0));
  R("wait on a pipe", epoll_wait(p[0], (struct epoll_event *)buf, 1, 0));
  R("wait bad epfd", epoll_wait(999, (struct epoll_event *)buf, 1, 0));
  R("write p", write(p[1], "ab", 2));
  R("wait bad buffer", syscall(SYS_epoll_wait, ep, 8, 1, 0));
  R("read p", read(p[0], buf, 8));
  R("pwait bad sigsetsize", syscall(SYS_epoll_pwait, ep, buf, 1, 0, buf, 4));
  struct timespec badts = {0, 2000000000L};
  R("pwait2 bad timespec", syscall(SYS_epoll_pwait2, ep, buf, 1, &badts, NULL, 8));

  /* Nested instances and loops. */
  int outer = epoll_create1(0);
  R("add ep to outer", add(outer, ep, EPOLLIN, 77));
  R("loop", add(ep, outer, EPOLLIN, 0));
  R("exclusive on epoll", add(outer, epoll_create1(0), EPOLLIN | EPOLLEXCLUSIVE, 0));
  show("outer idle", outer, 8, 0);
  R("write p", write(p[1], "n", 1));
  show("outer sees inner", outer, 8, 0);
  R("read p", read(p[0], buf, 8));
  show("outer after drain", outer, 8, 0);

  /* A registration goes with its description, not its descriptor. */
  int t[2];
  if (pipe(t)) return 1;
  int ep3 = epoll_create1(0);
  int dupped = dup(t[0]);
  R("add t0", add(ep3, t[0], EPOLLIN, 5));
  R("close t0 (dup alive)", close(t[0]));
  R("write t", write(t[1], "d", 1));
  show("still registered", ep3, 8, 0);
  R("del closed fd", epoll_ctl(ep3, EPOLL_CTL_DEL, t[0], NULL));
  R("close dup", close(dupped));
  show("gone with description", ep3, 8, 0);
  /* The fd number can be reused and added again. */
  if (pipe(t)) return 1;
  R("add reused", add(ep3, t[0], EPOLLIN, 6));
  R("close write end", close(t[1]));
  show("hangup", ep3, 8, 0);

  /* Timeouts. */
  show("timeout 30ms", ep, 8, 30);
  struct timespec ts = {0, 20 * 1000 * 1000};
  errno = 0;
  printf("pwait2 20ms = %ld\n", syscall(SYS_epoll_pwait2, ep, buf, 1, &ts, NULL, 8));

  /* Blocking until another process writes. */
  pid_t c = fork();
  if (c == 0) {
    usleep(30000);
    if (write(p[1], "w", 1) != 1) _exit(1);
    _exit(0);
  }
  show("woken by child", ep, 8, -1);
  waitpid(c, NULL, 0);
  R("read p", read(p[0], buf, 8));

  /* EINTR, even with SA_RESTART; a pwait mask lets a blocked signal in. */
  struct sigaction sa = {0};
  sa.sa_handler = on_sig;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigset_t block, empty, now;
  sigemptyset(&block);
  sigemptyset(&empty);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, NULL);
  c = fork();
  if (c == 0) {
    usleep(20000);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  errno = 0;
  int n = epoll_pwait(ep, (struct epoll_event *)buf, 1, -1, &empty);
  printf("pwait = %d %s got=%d\n", n, en(errno), got);
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("mask restored=%d\n", sigismember(&now, SIGUSR1));
  waitpid(c, NULL, 0);
  got = 0;
  sigprocmask(SIG_UNBLOCK, &block, NULL);
  /* A periodic timer: whichever tick comes while epoll_wait sleeps interrupts it, however late
   * the call starts. */
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
  errno = 0;
  n = epoll_wait(ep, (struct epoll_event *)buf, 1, -1);
  int e = errno;
  setitimer(ITIMER_REAL, &off, NULL);
  printf("wait = %d %s got=%d\n", n, en(e), got);

  /* An epoll fd survives fork: the child sees the same registrations. */
  R("write p", write(p[1], "f", 1));
  c = fork();
  if (c == 0) {
    struct epoll_event e;
    int k = epoll_wait(ep, &e, 1, 0);
    printf("child sees %d [%lu]\n", k, (unsigned long)e.data.u64);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  exclusive();
  return 0;
}
