/* RLIMIT_SIGPENDING bounds the real-time signals a process's sender queues with a siginfo of
 * its own (tgkill, sigqueue): past it they are EAGAIN, while kill(2) still delivers its signal
 * and a standard signal is not refused; an ignored signal is dropped first (LTP tgkill02). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "_check.h"

static void show(const char *what, long r) { printf("%s: %ld %s\n", what, r, en(r < 0 ? errno : 0)); }

int main(void) {
  pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigaddset(&set, SIGRTMIN + 1);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  /* 0: every charged signal is over (the count is the user's, host-wide natively). */
  struct rlimit old, rl;
  getrlimit(RLIMIT_SIGPENDING, &old);
  rl.rlim_cur = 0;
  rl.rlim_max = old.rlim_max;
  setrlimit(RLIMIT_SIGPENDING, &rl);
  union sigval v = {.sival_int = 1};
  show("tgkill RT", syscall(SYS_tgkill, pid, tid, SIGRTMIN));
  show("sigqueue RT", sigqueue(pid, SIGRTMIN, v));
  show("kill RT", kill(pid, SIGRTMIN));
  show("tgkill SIGUSR1", syscall(SYS_tgkill, pid, tid, SIGUSR1));
  signal(SIGRTMIN + 2, SIG_IGN);
  show("tgkill ignored RT", syscall(SYS_tgkill, pid, tid, SIGRTMIN + 2));
  sigset_t pending;
  sigpending(&pending);
  printf("pending RTMIN %d RTMIN+1 %d USR1 %d\n", sigismember(&pending, SIGRTMIN), sigismember(&pending, SIGRTMIN + 1),
         sigismember(&pending, SIGUSR1));
  siginfo_t si;
  struct timespec zero = {0, 0};
  int n = 0;
  while (sigtimedwait(&set, &si, &zero) > 0) n++;
  printf("taken %d\n", n);
  setrlimit(RLIMIT_SIGPENDING, &old);
  show("tgkill RT under the old limit", syscall(SYS_tgkill, pid, tid, SIGRTMIN));
  return 0;
}
