/* A process CPU timer's signal goes to the thread that was running when it expired (Linux's
 * tick sends it to the current task first): with ITIMER_PROF, two threads spinning get the
 * SIGPROFs between them and the main thread, asleep in pthread_join, next to none. The same for a
 * POSIX timer on CLOCK_PROCESS_CPUTIME_ID. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static __thread int samples;

static void on_sig(int sig) {
  (void)sig;
  samples++;
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *spin(void *arg) {
  (void)arg;
  double end = thread_cpu() + 0.3;
  while (thread_cpu() < end) {}
  return (void *)(long)samples;
}

static void run(const char *what) {
  samples = 0;
  pthread_t a, b;
  void *ra, *rb;
  pthread_create(&a, NULL, spin, NULL);
  pthread_create(&b, NULL, spin, NULL);
  pthread_join(a, &ra);
  pthread_join(b, &rb);
  /* Natively the main thread may take one whose tick found a spinning thread exiting. */
  printf("%s: main thread got few (at most 3): %d, each spinning thread some: %d\n", what, samples <= 3,
         (long)ra > 0 && (long)rb > 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGPROF, &sa, NULL);
  struct itimerval it = {{0, 10000}, {0, 10000}};
  setitimer(ITIMER_PROF, &it, NULL);
  run("ITIMER_PROF");
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &off, NULL);

  timer_t t;
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGPROF;
  timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t);
  struct itimerspec ts = {{0, 10000000}, {0, 10000000}};
  timer_settime(t, 0, &ts, NULL);
  run("a CLOCK_PROCESS_CPUTIME_ID timer");
  timer_delete(t);
  return 0;
}
