/* Scheduling probes: affinity, policies and parameters, priority ranges, nice values, getcpu,
 * prctl options; nanosleep interrupted by a handler reports the time left. Prints results and
 * errno values. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRY(expr) ((expr) < 0 ? -errno : 0)

static void on_alrm(int s) { (void)s; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  cpu_set_t set;
  CPU_ZERO(&set);
  int r = TRY(sched_getaffinity(0, sizeof set, &set));
  printf("getaffinity: %d count>0=%d\n", r, CPU_COUNT(&set) > 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  printf("setaffinity cpu0: %d\n", TRY(sched_setaffinity(0, sizeof one, &one)));
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  printf("now: count=%d cpu0=%d\n", CPU_COUNT(&set), CPU_ISSET(0, &set));
  unsigned cpu = 99, node = 99;
  r = getcpu(&cpu, &node);
  printf("getcpu: %d cpu=%u node=%u\n", r, cpu, node);
  cpu_set_t none;
  CPU_ZERO(&none);
  printf("setaffinity empty: %d\n", TRY(sched_setaffinity(0, sizeof none, &none)));
  printf("getaffinity bad pid: %d\n", TRY(sched_getaffinity(999999, sizeof set, &set)));
  /* The affinity calls look a pid up with no sign check (ESRCH, where the policy calls say
   * EINVAL), after the length check (get) or after copying the mask in (set); CPython's
   * sched_getaffinity(-1) relies on it. */
  printf("getaffinity pid -1: %d\n", TRY(sched_getaffinity(-1, sizeof set, &set)));
  printf("getaffinity pid -1 len 3: %d\n", TRY(sched_getaffinity(-1, 3, &set)));
  printf("setaffinity pid -1: %d\n", TRY(sched_setaffinity(-1, sizeof set, &set)));
  printf("setaffinity pid -1 bad mask: %d\n", TRY(sched_setaffinity(-1, sizeof set, (cpu_set_t *)8)));
  printf("getparam pid -1: %d\n", TRY(sched_getparam(-1, &(struct sched_param){0})));

  printf("policy: %d\n", sched_getscheduler(0));
  struct sched_param p = {0};
  r = TRY(sched_getparam(0, &p));
  printf("getparam: %d prio=%d\n", r, p.sched_priority);
  for (int pol = 0; pol <= 6; pol++)
    printf("range %d: min=%d max=%d\n", pol, sched_get_priority_min(pol), sched_get_priority_max(pol));
  p.sched_priority = 5;
  printf("setparam 5 under OTHER: %d\n", TRY(sched_setparam(0, &p)));
  printf("setscheduler FIFO 10: %d\n", TRY(sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){10})));
  printf("policy now: %d\n", sched_getscheduler(0));
  sched_getparam(0, &p);
  printf("prio now: %d\n", p.sched_priority);
  struct timespec q;
  r = TRY(sched_rr_get_interval(0, &q));
  printf("rr interval under FIFO: %d %ld.%09ld\n", r, (long)q.tv_sec, q.tv_nsec);
  printf("setscheduler RR 100: %d\n", TRY(sched_setscheduler(0, SCHED_RR, &(struct sched_param){100})));
  printf("setscheduler RR 1: %d\n", TRY(sched_setscheduler(0, SCHED_RR, &(struct sched_param){1})));
  r = TRY(sched_rr_get_interval(0, &q));
  printf("rr interval under RR: %d %ld.%09ld\n", r, (long)q.tv_sec, q.tv_nsec);
  printf("setscheduler BATCH 0: %d\n", TRY(sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){0})));
  printf("setscheduler bad policy: %d\n", TRY(sched_setscheduler(0, 42, &(struct sched_param){0})));
  printf("setscheduler OTHER 0: %d\n", TRY(sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){0})));

  errno = 0;
  int pr = getpriority(PRIO_PROCESS, 0);
  printf("getpriority: %d errno=%d\n", pr, errno);
  printf("setpriority 5: %d\n", TRY(setpriority(PRIO_PROCESS, 0, 5)));
  printf("getpriority: %d\n", getpriority(PRIO_PROCESS, 0));
  {
    /* /proc/self/stat's priority (20 + nice for a normal task) and nice fields. */
    char b[4096];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f != NULL && fgets(b, sizeof b, f) != NULL) {
      int prio = 0, ni = 0;
      sscanf(strrchr(b, ')') + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %d %d", &prio, &ni);
      printf("/proc/self/stat priority %d nice %d\n", prio, ni);
    }
    if (f != NULL) fclose(f);
  }
  printf("nice(1): %d\n", nice(1));
  pid_t c = fork();
  if (c == 0) {
    printf("child inherits nice: %d\n", getpriority(PRIO_PROCESS, 0));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  r = TRY(setpriority(PRIO_PROCESS, 0, 100));
  printf("setpriority 100 (clamped): %d -> %d\n", r, getpriority(PRIO_PROCESS, 0));
  r = TRY(setpriority(PRIO_PROCESS, 0, -3));
  printf("setpriority -3 as root: %d -> %d\n", r, getpriority(PRIO_PROCESS, 0));
  printf("getpriority pgrp: %d\n", getpriority(PRIO_PGRP, 0));
  errno = 0;
  r = getpriority(7, 0);
  printf("getpriority bad which: %d errno=%d\n", r, errno);
  errno = 0;
  r = getpriority(PRIO_PROCESS, 999999);
  printf("getpriority no such process: %d errno=%d\n", r, errno);
  setpriority(PRIO_PROCESS, 0, 0);

  char name[16] = {0};
  printf("PR_SET_NAME: %d\n", prctl(PR_SET_NAME, "probe-name-that-is-long"));
  prctl(PR_GET_NAME, name);
  printf("PR_GET_NAME: %s\n", name);
  int sig = -1;
  printf("PDEATHSIG: %d", prctl(PR_SET_PDEATHSIG, SIGUSR1));
  prctl(PR_GET_PDEATHSIG, &sig);
  printf(" -> %d\n", sig);
  printf("DUMPABLE: %d", prctl(PR_GET_DUMPABLE));
  prctl(PR_SET_DUMPABLE, 0);
  printf(" -> %d", prctl(PR_GET_DUMPABLE));
  prctl(PR_SET_DUMPABLE, 1);
  printf(" bad=%d\n", TRY(prctl(PR_SET_DUMPABLE, 2)));
  printf("NO_NEW_PRIVS: %d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  printf(" set=%d -> %d\n", r, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  int sub = -1;
  printf("CHILD_SUBREAPER: %d", prctl(PR_SET_CHILD_SUBREAPER, 1));
  prctl(PR_GET_CHILD_SUBREAPER, &sub);
  printf(" -> %d\n", sub);

  /* nanosleep interrupted by a handler (even with SA_RESTART): EINTR and the time left. */
  struct sigaction sa = {0};
  sa.sa_handler = on_alrm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  struct timespec req = {5, 0}, rem = {0, 0};
  r = nanosleep(&req, &rem);
  printf("nanosleep: r=%d errno=%d rem in (3s,5s)=%d\n", r, errno, rem.tv_sec >= 3 && rem.tv_sec < 5);
  setitimer(ITIMER_REAL, &it, NULL);
  rem.tv_sec = 0;
  r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
  printf("clock_nanosleep: r=%d rem in (3s,5s)=%d\n", r, rem.tv_sec >= 3 && rem.tv_sec < 5);
  return 0;
}
