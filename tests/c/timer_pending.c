/* A POSIX timer whose signal is a standard signal already pending (sent by tgkill) still queues
 * its own (Linux's send_sigqueue: no legacy_queue check), so both are taken in turn and the
 * timer's carries its overruns; tgkill's thread group id must be positive. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static void nap(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t tid = (pid_t)syscall(SYS_gettid);
  long r = syscall(SYS_tgkill, -1, tid, 0);
  printf("tgkill(-1, self, 0) = %ld %s\n", r, r ? en(errno) : "");
  r = syscall(SYS_tgkill, 0, tid, 0);
  printf("tgkill(0, self, 0) = %ld %s\n", r, r ? en(errno) : "");
  r = syscall(SYS_tgkill, getpid(), tid, 0);
  printf("tgkill(pid, self, 0) = %ld %s\n", r, r ? en(errno) : "");
  r = syscall(SYS_tkill, tid, 0);
  printf("tkill(self, 0) = %ld %s\n", r, r ? en(errno) : "");

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  syscall(SYS_tgkill, getpid(), tid, SIGUSR1);

  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGUSR1;
  sev.sigev_value.sival_int = 42;
  sev._sigev_un._tid = tid;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) { perror("timer_create"); return 1; }
  struct itimerspec its = {{0, 10000000}, {0, 10000000}};
  timer_settime(timer, 0, &its, NULL);
  nap(60);

  siginfo_t si;
  struct timespec zero = {0, 0};
  int s = sigtimedwait(&mask, &si, &zero);
  printf("first: signo %d, from tgkill %d\n", s, si.si_code == SI_TKILL || si.si_code == SI_USER);
  nap(30);
  s = sigtimedwait(&mask, &si, &zero);
  printf("second: signo %d, SI_TIMER %d, value %d, overruns counted %d\n", s, si.si_code == SI_TIMER,
         si.si_value.sival_int, si.si_overrun >= 1);
  timer_delete(timer);
  return 0;
}
