/* CPU-time accounting: getrusage (self, children, thread), times, the CPU-time clocks (process,
 * thread, another thread's and a child's, a zombie's too), wait4's rusage, ITIMER_VIRTUAL and
 * ITIMER_PROF.
 * Prints orderings and facts, never values. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns_of(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return -1;
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tv_us(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

/* User plus system time: in the sentry a syscall costs more system time than natively. */
static long long cpu_us(const struct rusage *ru) { return tv_us(ru->ru_utime) + tv_us(ru->ru_stime); }

/* Spins until the calling thread has used at least ms of CPU. */
static void spin_ms(long ms) {
  long long end = ns_of(CLOCK_THREAD_CPUTIME_ID) + ms * 1000000LL;
  volatile unsigned long x = 0;
  while (ns_of(CLOCK_THREAD_CPUTIME_ID) < end)
    for (int i = 0; i < 100000; i++) x += i;
}

static volatile int vt, prof;
static void on_vt(int s) { (void)s; vt++; }
static void on_prof(int s) { (void)s; prof++; }

static volatile int stop_thread;
static long long thread_self_ns;
/* Set once the worker has printed, so that main prints after it (the order is fixed). */
static volatile int thread_printed;
static void *worker(void *arg) {
  (void)arg;
  spin_ms(150);
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  thread_self_ns = ns_of(CLOCK_THREAD_CPUTIME_ID);
  printf("thread: rusage_thread cpu>0=%d\n", cpu_us(&ru) > 0);
  thread_printed = 1;
  while (!stop_thread) usleep(1000);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct timespec res;
  clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res);
  printf("getres process: %ld.%09ld\n", (long)res.tv_sec, res.tv_nsec);
  clock_getres(CLOCK_THREAD_CPUTIME_ID, &res);
  printf("getres thread: %ld.%09ld\n", (long)res.tv_sec, res.tv_nsec);

  long long p0 = ns_of(CLOCK_PROCESS_CPUTIME_ID);
  spin_ms(200);
  long long p1 = ns_of(CLOCK_PROCESS_CPUTIME_ID), t1 = ns_of(CLOCK_THREAD_CPUTIME_ID);
  printf("process clock grows: %d, thread<=process: %d, >=200ms: %d\n", p1 > p0, t1 <= p1 + 1000000, p1 >= 200000000);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("rusage self: cpu>=150ms=%d utime>0=%d maxrss>0=%d\n", cpu_us(&ru) >= 150000, tv_us(ru.ru_utime) > 0, ru.ru_maxrss > 0);
  struct tms tm;
  clock_t now = times(&tm);
  printf("times: utime+stime>0=%d cutime=%ld ret>0=%d\n", tm.tms_utime + tm.tms_stime > 0, (long)tm.tms_cutime, now > 0);
  clockid_t pc;
  printf("clock_getcpuclockid self: %d\n", clock_getcpuclockid(getpid(), &pc));
  printf("  own process clock >= 200ms: %d\n", ns_of(pc) >= 200000000);

  /* A child spins; wait4's rusage and RUSAGE_CHILDREN see its time. */
  int go[2];
  if (pipe(go) < 0) return 1;
  pid_t c = fork();
  if (c == 0) {
    spin_ms(200);
    char x;
    if (read(go[0], &x, 1) != 1) _exit(1);
    _exit(0);
  }
  getrusage(RUSAGE_CHILDREN, &ru);
  printf("children before wait: utime=%lld\n", tv_us(ru.ru_utime));
  while (1) {
    clockid_t cc;
    if (clock_getcpuclockid(c, &cc) != 0) { printf("child clock: error\n"); break; }
    if (ns_of(cc) >= 150000000) { printf("child clock reached 150ms\n"); break; }
    usleep(5000);
  }
  if (write(go[1], "g", 1) < 0) return 1;
  int st;
  struct rusage cru;
  wait4(c, &st, 0, &cru);
  printf("wait4 rusage cpu>=150ms=%d\n", cpu_us(&cru) >= 150000);
  getrusage(RUSAGE_CHILDREN, &ru);
  printf("children after wait: cpu>=150ms=%d\n", cpu_us(&ru) >= 150000);
  times(&tm);
  printf("times: cutime+cstime>0=%d\n", tm.tms_cutime + tm.tms_cstime > 0);

  /* Another thread: its clock via pthread_getcpuclockid, RUSAGE_THREAD. */
  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  while (!thread_printed) usleep(1000);
  clockid_t tc;
  printf("pthread_getcpuclockid: %d\n", pthread_getcpuclockid(th, &tc));
  long long other = ns_of(tc);
  printf("other thread clock >= 150ms: %d, below process: %d\n", other >= 150000000, other < ns_of(CLOCK_PROCESS_CPUTIME_ID));
  stop_thread = 1;
  pthread_join(th, NULL);
  getrusage(RUSAGE_THREAD, &ru);
  struct rusage all;
  getrusage(RUSAGE_SELF, &all);
  printf("main thread below process: %d\n", cpu_us(&ru) < cpu_us(&all));

  /* ITIMER_VIRTUAL: one shot after 50 ms of user time. */
  signal(SIGVTALRM, on_vt);
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_VIRTUAL, &it, NULL);
  struct itimerval cur;
  getitimer(ITIMER_VIRTUAL, &cur);
  printf("virtual armed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 60000);
  long long limit = ns_of(CLOCK_PROCESS_CPUTIME_ID) + 3000000000LL;
  while (!vt && ns_of(CLOCK_PROCESS_CPUTIME_ID) < limit) spin_ms(1);
  printf("SIGVTALRM: %d\n", vt);
  getitimer(ITIMER_VIRTUAL, &cur);
  printf("virtual disarmed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);

  /* ITIMER_PROF: periodic, 20 ms. */
  signal(SIGPROF, on_prof);
  struct itimerval ip = {{0, 20000}, {0, 20000}};
  setitimer(ITIMER_PROF, &ip, NULL);
  limit = ns_of(CLOCK_PROCESS_CPUTIME_ID) + 3000000000LL;
  while (prof < 3 && ns_of(CLOCK_PROCESS_CPUTIME_ID) < limit) spin_ms(1);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &off, &cur);
  printf("SIGPROF at least 3 times: %d, interval kept: %ld\n", prof >= 3, (long)cur.it_interval.tv_usec);

  /* A zombie's process CPU clock reads what it used (its pid stays until it is reaped). */
  pid_t z = fork();
  if (z == 0) {
    while (ns_of(CLOCK_PROCESS_CPUTIME_ID) < 50000000LL) spin_ms(1);
    _exit(0);
  }
  siginfo_t si;
  waitid(P_PID, z, &si, WEXITED | WNOWAIT);
  clockid_t zc;
  int zr = clock_getcpuclockid(z, &zc);
  struct timespec zt = {0, 0};
  int zg = zr == 0 ? clock_gettime(zc, &zt) : -1;
  printf("zombie's CPU clock: read %d, at least 50 ms %d\n", zg == 0, zt.tv_sec * 1000000000LL + zt.tv_nsec >= 50000000LL);
  waitpid(z, NULL, 0);
  /* Time in syscalls is system time (LTP times03): two seconds of them charge a clock tick
   * or more. */
  struct tms b0, b1;
  times(&b0);
  time_t start = time(NULL);
  while (time(NULL) - start < 2) times(&b1);
  printf("syscalls add system time: %d\n", b1.tms_stime > b0.tms_stime);
  return 0;
}
