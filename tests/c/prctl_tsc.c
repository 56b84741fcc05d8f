/* prctl(PR_SET_TSC, PR_GET_TSC): rdtsc works (PR_TSC_ENABLE, the default) or faults with
 * SIGSEGV (PR_TSC_SIGSEGV: si_code SI_KERNEL, si_addr 0), per thread, inherited by fork and
 * kept by execve; EINVAL for another mode, EFAULT for a bad pointer. Output: the same natively
 * and in the sentry. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static sigjmp_buf back;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  printf("  signal %d, si_code %d, si_addr NULL: %d\n", sig, si->si_code, si->si_addr == NULL);
  siglongjmp(back, 1);
}

static uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static void try_rdtsc(const char *label) {
  printf("%s:\n", label);
  if (sigsetjmp(back, 1) == 0) {
    uint64_t a = rdtsc(), b = rdtsc();
    printf("  rdtsc works: %d\n", b >= a);
  }
}

static int mode(void) {
  int v = -1;
  prctl(PR_GET_TSC, &v);
  return v;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    printf("after execve: mode %d\n", mode());
    rdtsc();
    printf("rdtsc did not fault\n");
    return 0;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  printf("mode %d\n", mode());
  R("PR_SET_TSC 0", prctl(PR_SET_TSC, 0));
  R("PR_SET_TSC 3", prctl(PR_SET_TSC, 3));
  R("PR_GET_TSC into NULL", prctl(PR_GET_TSC, NULL));
  try_rdtsc("enabled");
  R("PR_SET_TSC PR_TSC_SIGSEGV", prctl(PR_SET_TSC, PR_TSC_SIGSEGV));
  printf("mode %d\n", mode());
  try_rdtsc("disabled");
  pid_t pid = fork();
  if (pid == 0) {
    printf("child: mode %d\n", mode());
    try_rdtsc("child");
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  R("PR_SET_TSC PR_TSC_ENABLE", prctl(PR_SET_TSC, PR_TSC_ENABLE));
  try_rdtsc("enabled again");
  prctl(PR_SET_TSC, PR_TSC_SIGSEGV);
  pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
    _exit(99);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("execed child: killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return 0;
}
