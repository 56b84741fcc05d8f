/* signalfd: reading blocked pending signals as signalfd_siginfo (kill, sigqueue, tgkill),
 * several at once, readiness in poll and epoll, changing the mask, blocking until a child
 * signals, and the error cases. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void rd(const char *what, int fd, int max) {
  struct signalfd_siginfo si[4];
  errno = 0;
  long n = read(fd, si, sizeof si[0] * max);
  printf("%s = %ld %s\n", what, n, n < 0 ? en(errno) : "");
  for (long i = 0; n > 0 && i < n / (long)sizeof si[0]; i++) {
    printf("  signo=%u code=%d self=%d uid=%d int=%d\n", si[i].ssi_signo, si[i].ssi_code,
           si[i].ssi_pid == (uint32_t)getpid(), si[i].ssi_uid == getuid(), si[i].ssi_int);
  }
}

/* A second thread: reports its tid, waits for the main thread's go, then reads the signalfd. */
struct reader {
  int fd;
  pid_t tid;
  int go;
  pthread_mutex_t mu;
  pthread_cond_t cv;
};

static void *reader_thread(void *arg) {
  struct reader *r = arg;
  pthread_mutex_lock(&r->mu);
  r->tid = gettid();
  pthread_cond_broadcast(&r->cv);
  while (!r->go) pthread_cond_wait(&r->cv, &r->mu);
  pthread_mutex_unlock(&r->mu);
  rd("thread reads", r->fd, 2);
  return NULL;
}

static int pollin(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  poll(&p, 1, 0);
  return p.revents;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  sigaddset(&m, SIGUSR2);
  sigaddset(&m, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &m, NULL);

  R("bad size", syscall(SYS_signalfd4, -1, &m, 4, 0));
  R("bad flags", syscall(SYS_signalfd4, -1, &m, 8, 1));
  R("bad mask pointer", syscall(SYS_signalfd4, -1, 8, 8, 0));
  R("not a signalfd", signalfd(0, &m, 0));
  R("bad fd", signalfd(999, &m, 0));

  int s = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
  printf("cloexec=%d\n", (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
  rd("empty", s, 1);
  printf("poll %#x\n", pollin(s));
  kill(getpid(), SIGUSR1);
  printf("poll %#x\n", pollin(s));
  rd("kill", s, 1);
  char small[64];
  kill(getpid(), SIGUSR2);
  R("short buffer", read(s, small, sizeof small));
  union sigval v = {.sival_int = 1234};
  sigqueue(getpid(), SIGRTMIN, v);
  sigqueue(getpid(), SIGRTMIN, v);
  rd("three at once", s, 4);
  syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
  rd("tgkill", s, 1);

  /* Changing the mask: SIGUSR2 no longer read. */
  sigset_t only1;
  sigemptyset(&only1);
  sigaddset(&only1, SIGUSR1);
  R("update mask", signalfd(s, &only1, 0) == s);
  kill(getpid(), SIGUSR2);
  rd("usr2 not in mask", s, 1);
  sigset_t pend;
  sigpending(&pend);
  printf("usr2 still pending=%d\n", sigismember(&pend, SIGUSR2));
  sigset_t w;
  sigemptyset(&w);
  sigaddset(&w, SIGUSR2);
  int got;
  sigwait(&w, &got);
  printf("sigwait took %d\n", got);

  /* epoll and a blocking read woken by a child's kill. */
  int b = signalfd(-1, &m, 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 9};
  epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
  pid_t c = fork();
  if (c == 0) {
    usleep(30000);
    kill(getppid(), SIGUSR2);
    _exit(0);
  }
  struct epoll_event out;
  int n = epoll_wait(ep, &out, 1, -1);
  printf("epoll = %d [%llu %#x]\n", n, (unsigned long long)out.data.u64, out.events);
  rd("after epoll", b, 1);
  waitpid(c, NULL, 0);
  c = fork();
  if (c == 0) {
    usleep(30000);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  struct signalfd_siginfo si;
  n = read(b, &si, sizeof si);
  printf("blocking read = %d signo=%u from child=%d\n", n, si.ssi_signo, si.ssi_pid == (uint32_t)c);
  waitpid(c, NULL, 0);

  /* SIGCHLD through a signalfd. */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int cf = signalfd(-1, &chld, 0);
  c = fork();
  if (c == 0) _exit(7);
  n = read(cf, &si, sizeof si);
  printf("sigchld = %d signo=%u code=%d status=%d pid ok=%d\n", n, si.ssi_signo, si.ssi_code, si.ssi_status,
         si.ssi_pid == (uint32_t)c);
  waitpid(c, NULL, 0);

  /* A thread reads its own thread-directed signals and its process's, never another thread's. */
  int s2 = signalfd(-1, &m, SFD_NONBLOCK);
  pthread_t th;
  struct reader r = {.fd = s2, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  pthread_mutex_lock(&r.mu);
  pthread_create(&th, NULL, reader_thread, &r);
  while (!r.tid) pthread_cond_wait(&r.cv, &r.mu);
  syscall(SYS_tgkill, getpid(), r.tid, SIGUSR2);
  printf("main poll with the thread's signal pending %#x\n", pollin(s2));
  rd("main reads (the thread's signal is not its)", s2, 1);
  syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
  r.go = 1;
  pthread_cond_broadcast(&r.cv);
  pthread_mutex_unlock(&r.mu);
  pthread_join(th, NULL);
  rd("main reads its own", s2, 1);

  /* A signalfd inherited across fork reads the child's signals, not the parent's. */
  kill(getpid(), SIGUSR2);
  c = fork();
  if (c == 0) {
    rd("child, parent's signal pending", s2, 1);
    kill(getpid(), SIGUSR1);
    rd("child, own signal", s2, 1);
    pid_t g = fork();
    if (g == 0) {
      usleep(30000);
      kill(getppid(), SIGUSR1);
      _exit(0);
    }
    fcntl(s2, F_SETFL, 0); /* the description is shared: blocking for the parent too */
    struct signalfd_siginfo ci;
    long k = read(s2, &ci, sizeof ci);
    printf("child blocking read = %ld signo=%u\n", k, ci.ssi_signo);
    waitpid(g, NULL, 0);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  fcntl(s2, F_SETFL, O_NONBLOCK);
  rd("parent, its own signal still there", s2, 1);
  return 0;
}
