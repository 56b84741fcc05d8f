/* sched_getscheduler and sched_getparam still find a child that exited and is not reaped yet
 * (Linux finds its task until release_task): a SCHED_RESET_ON_FORK parent's child reads
 * SCHED_OTHER and priority 0 whether it still runs or is a zombie (LTP sched_setscheduler04);
 * a reaped one is ESRCH. Needs CAP_SYS_NICE (root) for the real-time policies. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

int main(void) {
  int policies[] = {SCHED_FIFO, SCHED_RR};
  for (int i = 0; i < 2; i++) {
    struct sched_param p = {10};
    int r = sched_setscheduler(0, policies[i] | SCHED_RESET_ON_FORK, &p);
    printf("set %d|RESET_ON_FORK: %d %s; self %d\n", policies[i], r, en(r < 0 ? errno : 0), sched_getscheduler(0));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) _exit(0);
    siginfo_t si;
    waitid(P_PID, c, &si, WEXITED | WNOWAIT); /* a zombie now, not reaped */
    struct sched_param q = {99};
    int pol = sched_getscheduler(c);
    int e = errno;
    int r2 = sched_getparam(c, &q);
    printf("zombie child: policy %d %s, param %d prio %d\n", pol, en(pol < 0 ? e : 0), r2, q.sched_priority);
    waitpid(c, NULL, 0);
    pol = sched_getscheduler(c);
    printf("reaped child: policy %d %s\n", pol, en(pol < 0 ? errno : 0));
  }
  return 0;
}
