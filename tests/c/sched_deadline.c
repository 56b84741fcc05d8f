/* SCHED_DEADLINE through sched_setattr (LTP sched_setattr01, sched_getattr01): admitted (its
 * bandwidth is a third of a CPU), read back by sched_getattr and sched_getscheduler; such a
 * task cannot fork (EAGAIN) unless SCHED_FLAG_RESET_ON_FORK gives the child SCHED_OTHER; back
 * to SCHED_OTHER at the end. Needs CAP_SYS_NICE (root). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

struct attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};

static long setattr(struct attr *a) { return syscall(SYS_sched_setattr, 0, a, 0); }

int main(void) {
  struct attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.policy = 6; /* SCHED_DEADLINE */
  a.runtime = 10000000;
  a.deadline = 30000000;
  a.period = 30000000;
  long r = setattr(&a);
  printf("setattr deadline: %ld %s\n", r, en(r < 0 ? errno : 0));
  struct attr g;
  memset(&g, 0, sizeof g);
  r = syscall(SYS_sched_getattr, 0, &g, sizeof g, 0);
  printf("getattr: %ld policy %u runtime %llu deadline %llu period %llu prio %u\n", r, g.policy,
         (unsigned long long)g.runtime, (unsigned long long)g.deadline, (unsigned long long)g.period, g.priority);
  printf("getscheduler: %d\n", sched_getscheduler(0));
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) _exit(0);
  printf("fork: %s\n", c < 0 ? en(errno) : "child");
  if (c > 0) waitpid(c, NULL, 0);
  a.flags = 1; /* SCHED_FLAG_RESET_ON_FORK */
  r = setattr(&a);
  printf("setattr deadline reset-on-fork: %ld %s\n", r, en(r < 0 ? errno : 0));
  fflush(stdout);
  c = fork();
  if (c == 0) {
    printf("child policy %d\n", sched_getscheduler(0));
    fflush(stdout);
    _exit(0);
  }
  if (c < 0) printf("fork: %s\n", en(errno));
  else waitpid(c, NULL, 0);
  a.deadline = 5000000; /* runtime above the deadline */
  r = setattr(&a);
  printf("setattr runtime > deadline: %ld %s\n", r, en(r < 0 ? errno : 0));
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  r = setattr(&a);
  printf("back to SCHED_OTHER: %ld %s policy %d\n", r, en(r < 0 ? errno : 0), sched_getscheduler(0));
  return 0;
}
