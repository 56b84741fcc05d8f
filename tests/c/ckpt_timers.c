/*
 * Checkpoint and restore of timers counting CPU time and POSIX timers: ITIMER_PROF (every 50 ms
 * of CPU) and ITIMER_VIRTUAL (every 100 ms of user CPU) counted by handlers, a periodic POSIX
 * timer on CLOCK_MONOTONIC (100 ms, SIGRTMIN with value 42), a one-shot POSIX timer on
 * CLOCK_PROCESS_CPUTIME_ID (at 0.8 s of CPU, SIGRTMIN+1) and a POSIX timer created and never
 * armed. The program computes until ITIMER_PROF has fired 24 times (1.2 s of CPU) and the
 * monotonic timer 15 times, then prints what it saw; the checkpoint comes in the middle. A
 * CPU clock that restarted at the restore would leave the process clock short of 0.9 s at the
 * end; a lost timer would never let the loop end.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static volatile int prof, virt, mono, cputimer, badvalue;

static void on_prof(int s) { (void)s; prof++; }
static void on_virt(int s) { (void)s; virt++; }
static void on_rt(int s, siginfo_t *si, void *u) {
  (void)u;
  if (s == SIGRTMIN) {
    mono++;
    if (si->si_value.sival_int != 42 || si->si_code != SI_TIMER) badvalue++;
  } else {
    cputimer++;
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prof;
  sigaction(SIGPROF, &sa, NULL);
  sa.sa_handler = on_virt;
  sigaction(SIGVTALRM, &sa, NULL);
  sa.sa_handler = NULL;
  sa.sa_sigaction = on_rt;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGRTMIN, &sa, NULL);
  sigaction(SIGRTMIN + 1, &sa, NULL);
  struct itimerval pv = {{0, 50000}, {0, 50000}}, vv = {{0, 100000}, {0, 100000}};
  setitimer(ITIMER_PROF, &pv, NULL);
  setitimer(ITIMER_VIRTUAL, &vv, NULL);
  timer_t tm, tc, idle;
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_int = 42;
  if (timer_create(CLOCK_MONOTONIC, &ev, &tm)) return 2;
  ev.sigev_signo = SIGRTMIN + 1;
  if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &tc)) return 2;
  if (timer_create(CLOCK_REALTIME, NULL, &idle)) return 2;
  struct itimerspec its = {{0, 100000000}, {0, 100000000}}, once = {{0, 0}, {0, 800000000}};
  timer_settime(tm, 0, &its, NULL);
  timer_settime(tc, 0, &once, NULL);
  printf("armed\n");
  volatile unsigned long spin = 0;
  while (prof < 24 || mono < 15) spin++;
  struct itimerval cur;
  getitimer(ITIMER_PROF, &cur);
  printf("prof %d (interval %ld us)\n", prof >= 24, (long)cur.it_interval.tv_usec);
  getitimer(ITIMER_VIRTUAL, &cur);
  printf("virt fired %d (interval %ld us)\n", virt > 0, (long)cur.it_interval.tv_usec);
  struct itimerspec got;
  timer_gettime(tm, &got);
  printf("mono %d bad values %d interval %ld ns\n", mono >= 15, badvalue, got.it_interval.tv_nsec);
  printf("cpu timer fired %d\n", cputimer);
  timer_gettime(idle, &got);
  printf("idle timer %ld %ld, delete %d\n", (long)got.it_value.tv_sec, got.it_value.tv_nsec, timer_delete(idle));
  struct timespec cpu;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  printf("process cpu >= 0.9 s: %d\n", cpu.tv_sec + cpu.tv_nsec / 1e9 >= 0.9);
  return 0;
}
