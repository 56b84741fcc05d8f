/* POSIX timers: timer_create with SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE on wall and
 * CPU-time clocks; timer_settime relative and absolute, one-shot and periodic; timer_gettime;
 * overruns in si_overrun and timer_getoverrun; timer_delete (and, as Linux 6.13+ does, a signal
 * queued before the timer was deleted or re-armed is dropped when dequeued); no timers in a fork
 * child or after execve. Prints counts and facts that do not depend on timing. argv[0] must be an
 * absolute path (the program re-executes itself). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int hits, last_code, last_val;

static void on_timer(int s, siginfo_t *si, void *uc) {
  (void)s; (void)uc;
  hits++;
  last_code = si->si_code;
  last_val = si->si_value.sival_int;
}

static void ms_sleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static long long cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static pid_t worker_tid;
static volatile int worker_got, worker_code;
static void *worker(void *arg) {
  (void)arg;
  worker_tid = (pid_t)syscall(SYS_gettid);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGRTMIN + 2);
  siginfo_t si;
  if (sigwaitinfo(&m, &si) == SIGRTMIN + 2) {
    worker_got = 1;
    worker_code = si.si_code;
  }
  return NULL;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    struct itimerspec cur;
    printf("after execve: timer_gettime errno=%d\n", timer_gettime((timer_t)(long)atoi(argv[1]), &cur) ? errno : 0);
    return 0;
  }
  struct sigaction sa = {0};
  sa.sa_sigaction = on_timer;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGRTMIN, &sa, NULL);

  /* Errors. */
  timer_t bad;
  printf("bad clock: errno=%d\n", timer_create(99, NULL, &bad) ? errno : 0);
  printf("MONOTONIC_RAW: errno=%d\n", timer_create(CLOCK_MONOTONIC_RAW, NULL, &bad) ? errno : 0);
  struct sigevent se = {0};
  se.sigev_notify = SIGEV_SIGNAL;
  se.sigev_signo = 65;
  printf("bad signal: errno=%d\n", timer_create(CLOCK_MONOTONIC, &se, &bad) ? errno : 0);

  /* Periodic, counted by a handler. */
  se.sigev_signo = SIGRTMIN;
  se.sigev_value.sival_int = 42;
  timer_t t1;
  printf("create: %d\n", timer_create(CLOCK_MONOTONIC, &se, &t1));
  struct itimerspec its = {{0, 20000000}, {0, 20000000}};
  timer_settime(t1, 0, &its, NULL);
  while (hits < 3) pause();
  struct itimerspec off = {{0, 0}, {0, 0}}, old;
  timer_settime(t1, 0, &off, &old);
  printf("periodic: hits>=3 %d code=%d value=%d old interval=%ld\n", hits >= 3, last_code, last_val, old.it_interval.tv_nsec);
  struct itimerspec cur;
  timer_gettime(t1, &cur);
  printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

  /* Overruns: a blocked signal while the timer keeps expiring. */
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGRTMIN + 1);
  sigaddset(&m, SIGRTMIN + 2);
  sigprocmask(SIG_BLOCK, &m, NULL);
  se.sigev_signo = SIGRTMIN + 1;
  se.sigev_value.sival_int = 7;
  timer_t t2;
  timer_create(CLOCK_REALTIME, &se, &t2);
  struct itimerspec fast = {{0, 5000000}, {0, 5000000}};
  timer_settime(t2, 0, &fast, NULL);
  ms_sleep(100);
  siginfo_t si;
  sigemptyset(&m);
  sigaddset(&m, SIGRTMIN + 1);
  int sig = sigwaitinfo(&m, &si);
  int ovr = si.si_overrun;
  printf("overrun: sig ok=%d code=%d value=%d overrun>=5 %d getoverrun same=%d\n", sig == SIGRTMIN + 1,
         si.si_code, si.si_value.sival_int, ovr >= 5, timer_getoverrun(t2) == ovr);
  timer_delete(t2);
  printf("deleted: gettime errno=%d\n", timer_gettime(t2, &cur) ? errno : 0);
  struct timespec zero = {0, 0};
  printf("no signal queued after delete: %d\n", sigtimedwait(&m, &si, &zero) < 0 ? 1 : 0);

  /* A signal queued before its timer is re-armed is stale: dropped when dequeued. */
  timer_t t7;
  timer_create(CLOCK_MONOTONIC, &se, &t7);
  struct itimerspec once = {{0, 0}, {0, 1000000}};
  timer_settime(t7, 0, &once, NULL);
  ms_sleep(20);
  sigset_t pend;
  sigpending(&pend);
  printf("queued: %d\n", sigismember(&pend, SIGRTMIN + 1));
  struct itimerspec later = {{0, 0}, {100, 0}};
  timer_settime(t7, 0, &later, NULL);
  printf("stale signal dropped: %d\n", sigtimedwait(&m, &si, &zero) < 0 ? 1 : 0);
  timer_delete(t7);

  /* One-shot, absolute on CLOCK_REALTIME. */
  timer_t t3;
  se.sigev_signo = SIGRTMIN + 1;
  timer_create(CLOCK_REALTIME, &se, &t3);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  now.tv_nsec += 30000000;
  if (now.tv_nsec >= 1000000000) { now.tv_sec++; now.tv_nsec -= 1000000000; }
  struct itimerspec abs = {{0, 0}, now};
  timer_settime(t3, TIMER_ABSTIME, &abs, NULL);
  sig = sigwaitinfo(&m, &si);
  timer_gettime(t3, &cur);
  printf("absolute one-shot: sig ok=%d overrun=%d then disarmed=%d\n", sig == SIGRTMIN + 1, si.si_overrun,
         cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  printf("nothing more: %d\n", sigtimedwait(&m, &si, &zero) < 0 ? 1 : 0);

  /* SIGEV_NONE: armed, readable, silent. */
  struct sigevent none = {0};
  none.sigev_notify = SIGEV_NONE;
  timer_t t4;
  timer_create(CLOCK_BOOTTIME, &none, &t4);
  struct itimerspec sec = {{0, 0}, {1, 0}};
  timer_settime(t4, 0, &sec, NULL);
  timer_gettime(t4, &cur);
  printf("SIGEV_NONE: value in (0,1s]: %d\n", (cur.it_value.tv_sec == 1 && cur.it_value.tv_nsec == 0) ||
         (cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0));

  /* SIGEV_THREAD_ID: the signal goes to the chosen thread. */
  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  while (worker_tid == 0) ms_sleep(1);
  struct sigevent tid = {0};
  tid.sigev_notify = SIGEV_THREAD_ID;
  tid.sigev_signo = SIGRTMIN + 2;
  tid._sigev_un._tid = worker_tid;
  timer_t t5;
  printf("thread timer create: %d\n", timer_create(CLOCK_MONOTONIC, &tid, &t5));
  struct itimerspec shot = {{0, 0}, {0, 10000000}};
  timer_settime(t5, 0, &shot, NULL);
  pthread_join(th, NULL);
  printf("thread got it: %d code=%d\n", worker_got, worker_code);

  /* A CPU-time timer. */
  timer_t t6;
  se.sigev_signo = SIGRTMIN;
  se.sigev_value.sival_int = 9;
  hits = 0;
  timer_create(CLOCK_PROCESS_CPUTIME_ID, &se, &t6);
  struct itimerspec cpu = {{0, 0}, {0, 30000000}};
  timer_settime(t6, 0, &cpu, NULL);
  long long limit = cpu_ns() + 3000000000LL;
  volatile unsigned long x = 0;
  while (!hits && cpu_ns() < limit)
    for (int i = 0; i < 100000; i++) x += i;
  printf("cpu timer: fired=%d value=%d\n", hits, last_val);

  /* A fork child has no timers; execve drops them too. */
  pid_t c = fork();
  if (c == 0) {
    printf("fork child: timer_gettime errno=%d\n", timer_gettime(t4, &cur) ? errno : 0);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  char id[16];
  snprintf(id, sizeof id, "%ld", (long)t4);
  execl(argv[0], argv[0], id, (char *)NULL);
  printf("execve failed\n");
  return 1;
}
