/*
 * Signal and wait rules LTP checks (sigaction01, sigwaitinfo01, waitpid04, timer_settime02,
 * signal06), printed so that the run compares with a native one:
 * - SA_RESETHAND resets only the handler: SA_SIGINFO and the mask read back unchanged.
 * - sigwaitinfo for a signal the caller does not block (a handler installed) returns the signal
 *   sent while it waits, not EINTR.
 * - wait4(INT_MIN) is ESRCH.
 * - timer_settime: a NULL new value is EINVAL before a bad pointer's EFAULT; a bad old-value
 *   pointer is EFAULT after the timer is set.
 * - A signal whose frame cannot be written (its alternate stack read-only) forces SIGSEGV, which
 *   a handler of SIGSEGV on the normal stack takes; the process goes on.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static volatile int got_info, segv, hup;
static void info_handler(int sig, siginfo_t *si, void *uc) { (void)uc; got_info = si != NULL && si->si_signo == sig; }
static void plain(int sig) { (void)sig; }
static void on_segv(int sig) { (void)sig; segv++; }
static void on_hup(int sig) { (void)sig; hup++; }

int main(void) {
  /* SA_RESETHAND */
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = info_handler;
  sa.sa_flags = SA_RESETHAND | SA_SIGINFO;
  sigaddset(&sa.sa_mask, SIGUSR2);
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  sigaction(SIGUSR1, NULL, &old);
  printf("resethand: ran %d handler_dfl %d siginfo %d resethand %d mask_usr2 %d\n", got_info,
         old.sa_handler == SIG_DFL, !!(old.sa_flags & SA_SIGINFO), !!(old.sa_flags & SA_RESETHAND),
         sigismember(&old.sa_mask, SIGUSR2));

  /* sigwaitinfo for an unblocked signal with a handler */
  signal(SIGUSR2, plain);
  pid_t parent = getpid(), c = fork();
  if (c == 0) {
    for (;;) { usleep(100000); kill(parent, SIGUSR2); }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  siginfo_t si;
  int r = sigwaitinfo(&set, &si);
  printf("sigwaitinfo unblocked: %d %s code_user %d pid_ok %d\n", r, en(r < 0 ? errno : 0), si.si_code == SI_USER,
         si.si_pid == c);
  r = sigwaitinfo(&set, NULL);
  printf("sigwaitinfo noinfo: %d %s\n", r, en(r < 0 ? errno : 0));
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);

  /* wait4(INT_MIN) */
  r = waitpid(INT_MIN, NULL, 0);
  printf("waitpid(INT_MIN): %d %s\n", r, en(r < 0 ? errno : 0));

  /* timer_settime's order */
  signal(SIGALRM, SIG_IGN);
  int timer;
  syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &timer);
  struct itimerspec its = {{0, 0}, {100, 0}}, cur;
  void *bad = (void *)16;
  r = syscall(SYS_timer_settime, timer, 0, NULL, bad);
  printf("settime NULL new, bad old: %d %s\n", r, en(r < 0 ? errno : 0));
  r = syscall(SYS_timer_settime, timer, 0, bad, NULL);
  printf("settime bad new: %d %s\n", r, en(r < 0 ? errno : 0));
  r = syscall(SYS_timer_settime, 12345, 0, NULL, NULL);
  printf("settime bad id, NULL new: %d %s\n", r, en(r < 0 ? errno : 0));
  r = syscall(SYS_timer_settime, timer, 0, &its, bad);
  printf("settime bad old: %d %s\n", r, en(r < 0 ? errno : 0));
  syscall(SYS_timer_gettime, timer, &cur);
  printf("armed anyway: %d\n", cur.it_value.tv_sec > 50);
  syscall(SYS_timer_delete, timer);

  /* a read-only alternate stack: SIGSEGV to the SIGSEGV handler, then on */
  size_t sz = 4 * 4096;
  char *alt = mmap(NULL, sz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  stack_t st = {.ss_sp = alt, .ss_size = sz, .ss_flags = 0};
  sigaltstack(&st, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, NULL);
  sa.sa_handler = on_hup;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGHUP, &sa, NULL);
  for (int i = 0; i < 3; i++) syscall(SYS_tkill, syscall(SYS_gettid), SIGHUP);
  printf("read-only altstack: segv %d hup %d\n", segv, hup);
  mprotect(alt, sz, PROT_READ | PROT_WRITE);
  raise(SIGHUP);
  printf("writable again: segv %d hup %d\n", segv, hup);
  return 0;
}
