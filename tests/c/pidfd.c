/* pidfd_open, pidfd_send_signal and pidfd_getfd: readiness when the process exits (and POLLHUP
 * once reaped), signals through a pidfd with and without siginfo, and the error cases. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
  return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static int pollin(int fd);

/* PIDFD_THREAD (O_EXCL): a pidfd of one thread, readable as soon as that thread exits while
 * the process lives on; a thread's id without it names no process (ENOENT). */
static int quit_pipe[2];
static volatile pid_t thread_tid;
static void *thread_body(void *arg) {
  (void)arg;
  thread_tid = gettid();
  char b;
  if (read(quit_pipe[0], &b, 1) != 1) return NULL;
  return NULL;
}

static void thread_pidfds(void) {
  if (pipe(quit_pipe) != 0) return;
  pthread_t th;
  pthread_create(&th, NULL, thread_body, NULL);
  while (thread_tid == 0) usleep(1000);
  R("open a thread's id as a process", pidfd_open(thread_tid, 0));
  int tfd = pidfd_open(thread_tid, O_EXCL), lfd = pidfd_open(getpid(), O_EXCL);
  printf("thread pidfd flags have O_EXCL: %d\n", (fcntl(tfd, F_GETFL) & O_EXCL) != 0);
  printf("thread running poll %#x, leader poll %#x\n", pollin(tfd), pollin(lfd));
  R("signal 0 to the thread", pidfd_send_signal(tfd, 0, NULL, 0));
  if (write(quit_pipe[1], "q", 1) != 1) return;
  pthread_join(th, NULL);
  usleep(10000);
  printf("thread gone poll %#x, leader poll %#x\n", pollin(tfd), pollin(lfd));
  R("signal 0 to the gone thread", pidfd_send_signal(tfd, 0, NULL, 0));
}

static int pollin(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  poll(&p, 1, 0);
  return p.revents;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  R("open bad flags", pidfd_open(getpid(), 1));
  R("open pid 0", pidfd_open(0, 0));
  R("open no such pid", pidfd_open(99999, 0));
  int self = pidfd_open(getpid(), 0);
  printf("cloexec=%d\n", (fcntl(self, F_GETFD) & FD_CLOEXEC) != 0);
  printf("self poll %#x\n", pollin(self));
  char b[8];
  R("read", read(self, b, 8));
  R("send bad flags", pidfd_send_signal(self, 0, NULL, 8));
  R("send two scopes", pidfd_send_signal(self, 0, NULL, 3));
  R("send thread scope", pidfd_send_signal(self, 0, NULL, 1));
  R("send on a pipe", pidfd_send_signal(0, 0, NULL, 0));
  R("send bad fd", pidfd_send_signal(999, 0, NULL, 0));
  R("send sig 0", pidfd_send_signal(self, 0, NULL, 0));

  /* A child that waits for SIGTERM; then it exits and the pidfd is readable. */
  pid_t c = fork();
  if (c == 0) {
    pause();
    _exit(3);
  }
  int p = pidfd_open(c, O_NONBLOCK);
  printf("nonblock=%d\n", (fcntl(p, F_GETFL) & O_NONBLOCK) != 0);
  printf("running poll %#x\n", pollin(p));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
  R("epoll add pidfd", epoll_ctl(ep, EPOLL_CTL_ADD, p, &ev));
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = SIGTERM;
  si.si_code = SI_QUEUE;
  R("send mismatched info", pidfd_send_signal(p, SIGUSR1, &si, 0));
  si.si_code = SI_USER;
  R("send SI_USER info to another", pidfd_send_signal(p, SIGTERM, &si, 0));
  R("send SIGTERM", pidfd_send_signal(p, SIGTERM, NULL, 0));
  struct epoll_event out;
  int n = epoll_wait(ep, &out, 1, -1);
  printf("epoll = %d [%llu %#x]\n", n, (unsigned long long)out.data.u64, out.events);
  printf("zombie poll %#x\n", pollin(p));
  R("send to zombie", pidfd_send_signal(p, SIGTERM, NULL, 0));
  int st;
  waitpid(c, &st, 0);
  printf("child killed by %d\n", WTERMSIG(st));
  printf("reaped poll %#x\n", pollin(p));
  R("send to reaped", pidfd_send_signal(p, SIGTERM, NULL, 0));

  /* pidfd_getfd: a copy of the child's descriptor. */
  int pp[2];
  if (pipe(pp)) return 1;
  c = fork();
  if (c == 0) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd != 5 && dup2(fd, 5) < 0) _exit(1);
    if (write(pp[1], "r", 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  if (read(pp[0], b, 1) != 1) return 1;
  p = pidfd_open(c, 0);
  int got = syscall(SYS_pidfd_getfd, p, 5, 0);
  printf("getfd ok=%d cloexec=%d\n", got >= 0, got >= 0 && (fcntl(got, F_GETFD) & FD_CLOEXEC) != 0);
  R("getfd bad target", syscall(SYS_pidfd_getfd, p, 77, 0));
  R("getfd bad flags", syscall(SYS_pidfd_getfd, p, 5, 1));
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);

  /* waitid(P_PIDFD): errors, a non-blocking pidfd (EAGAIN), WNOHANG, then the exit status. */
  siginfo_t wi;
  R("waitid P_PIDFD -1", waitid(P_PIDFD, -1, &wi, WEXITED));
  R("waitid P_PIDFD bad fd", waitid(P_PIDFD, 999, &wi, WEXITED));
  R("waitid P_PIDFD on a pipe", waitid(P_PIDFD, pp[0], &wi, WEXITED));
  R("waitid P_PIDFD of a reaped child", waitid(P_PIDFD, p, &wi, WEXITED));
  R("waitid P_PIDFD of self", waitid(P_PIDFD, self, &wi, WEXITED));
  c = fork();
  if (c == 0) {
    if (read(pp[0], b, 1) != 1) _exit(1);
    _exit(7);
  }
  int nb = pidfd_open(c, O_NONBLOCK), bl = pidfd_open(c, 0);
  R("waitid non-blocking pidfd, child running", waitid(P_PIDFD, nb, &wi, WEXITED));
  memset(&wi, 0xff, sizeof wi);
  R("waitid WNOHANG, child running", waitid(P_PIDFD, bl, &wi, WEXITED | WNOHANG));
  printf("  si_pid=%d\n", wi.si_pid);
  if (write(pp[1], "go", 1) != 1) return 1;
  R("waitid P_PIDFD blocking", waitid(P_PIDFD, bl, &wi, WEXITED | WNOWAIT));
  printf("  child=%d code=%d status=%d\n", wi.si_pid == c, wi.si_code, wi.si_status);
  R("waitid non-blocking pidfd, child exited", waitid(P_PIDFD, nb, &wi, WEXITED));
  printf("  child=%d code=%d status=%d\n", wi.si_pid == c, wi.si_code, wi.si_status);
  R("waitid after the reap", waitid(P_PIDFD, bl, &wi, WEXITED));
  thread_pidfds();
  return 0;
}
