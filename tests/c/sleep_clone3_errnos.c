/* clock_nanosleep's clocks (EOPNOTSUPP for those without a sleep, EINVAL for unknown ones),
 * EFAULT for a bad request and for a `rem` that cannot be written when a handler interrupts,
 * and clone3's struct size rules (a larger struct must be zero beyond ours: E2BIG, EFAULT when
 * unreadable) and set_tid checks (EINVAL, EFAULT, EEXIST, EPERM). Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static void on_alarm(int sig) { (void)sig; }

static long nsleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem) {
  return syscall(SYS_clock_nanosleep, c, flags, req, rem);
}

/* clone3 that reports only failures: a child exits at once and is reaped. */
static long clone3(void *args, size_t size) {
  long r = syscall(SYS_clone3, args, size);
  if (r == 0) _exit(0);
  if (r > 0) {
    waitpid(r, NULL, 0);
    return 0;
  }
  return r;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct timespec short_ts = {0, 1000}, rem;
  printf("-- clock_nanosleep\n");
  const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID,
                              CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
                              CLOCK_TAI, 12, 100};
  for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
    char n[64];
    snprintf(n, sizeof n, "clock %d", clocks[i]);
    R(n, nsleep(clocks[i], 0, &short_ts, &rem));
  }
  R("clock 4, bad request", nsleep(CLOCK_MONOTONIC_RAW, 0, (void *)1, NULL));
  R("clock 100, bad request", nsleep(100, 0, (void *)1, NULL));
  R("bad request", nsleep(CLOCK_REALTIME, 0, (void *)1, NULL));
  struct timespec bad_ns = {0, 1000000000};
  R("tv_nsec 1e9", nsleep(CLOCK_REALTIME, 0, &bad_ns, NULL));
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 20000}};
  struct timespec ten = {10, 0};
  void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  setitimer(ITIMER_REAL, &it, NULL);
  R("interrupted, rem read-only", nsleep(CLOCK_REALTIME, 0, &ten, ro));
  setitimer(ITIMER_REAL, &it, NULL);
  R("interrupted, rem writable", nsleep(CLOCK_MONOTONIC, 0, &ten, &rem));
  setitimer(ITIMER_REAL, &it, NULL);
  R("interrupted, nanosleep rem read-only", syscall(SYS_nanosleep, &ten, ro));
  setitimer(ITIMER_REAL, &it, NULL);
  R("interrupted, TIMER_ABSTIME ignores rem", ({ struct timespec now; clock_gettime(CLOCK_MONOTONIC, &now); now.tv_sec += 10;
    nsleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now, ro); }));

  printf("-- clone3 sizes\n");
  /* The struct at the end of a page, the next page unmapped. */
  char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(two + 4096, 4096);
  struct clone_args *a = (struct clone_args *)(two + 4096 - sizeof(struct clone_args));
  memset(a, 0, sizeof *a);
  a->exit_signal = SIGCHLD;
  R("sizeof clone_args", sizeof *a);
  R("size 64", clone3(a, 64));
  R("size 63", clone3(a, 63));
  R("size 4097", clone3(a, 4097));
  R("size 89, past the mapping", clone3(a, sizeof *a + 1));
  char big[200] = {0};
  memcpy(big, a, sizeof *a);
  R("size 200, zeros beyond", clone3(big, 200));
  big[150] = 1;
  R("size 200, a byte beyond", clone3(big, 200));

  printf("-- clone3 set_tid\n");
  pid_t one = 1, huge = 1 << 23;
  a->set_tid = (uintptr_t)&one;
  a->set_tid_size = 0;
  R("set_tid without a size", clone3(a, sizeof *a));
  a->set_tid = 0;
  a->set_tid_size = 1;
  R("a size without set_tid", clone3(a, sizeof *a));
  a->set_tid = (uintptr_t)&one;
  a->set_tid_size = 33;
  R("size 33", clone3(a, sizeof *a));
  a->set_tid_size = 2;
  R("size 2 in the first namespace", clone3(a, sizeof *a));
  a->set_tid_size = 1;
  a->set_tid = 8;
  R("set_tid unreadable", clone3(a, sizeof *a));
  a->set_tid = (uintptr_t)&huge;
  R("set_tid beyond pid_max", clone3(a, sizeof *a));
  a->set_tid = (uintptr_t)&one;
  R("set_tid 1 (in use)", clone3(a, sizeof *a));
  R("set_tid 1 with CLONE_NEWPID, size 1", ({ a->flags = CLONE_NEWPID; long r = clone3(a, sizeof *a); a->flags = 0; r; }));
  pid_t k = fork();
  if (k == 0) {
    setresuid(65534, 65534, 65534);
    R("nobody: set_tid 1", clone3(a, sizeof *a));
    _exit(0);
  }
  waitpid(k, NULL, 0);
  return 0;
}
