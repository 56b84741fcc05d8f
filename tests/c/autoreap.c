/* Children reaped without being waited for (SIGCHLD ignored, or SA_NOCLDWAIT): wait blocks until
 * they are gone, then ECHILD; their CPU time never reaches RUSAGE_CHILDREN (getrusage(2): only
 * children waited for); SA_NOCLDWAIT with a handler still delivers SIGCHLD. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static volatile sig_atomic_t got;
static void on_chld(int s) { (void)s; got++; }

static void spin_child(void) {
  pid_t c = fork();
  if (c == 0) {
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 200000000L);
    _exit(3);
  }
}

static long child_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGCHLD, &sa, NULL);
  long before = child_us();
  spin_child();
  R("SIG_IGN: wait", wait(NULL));
  printf("SIG_IGN: children's time unchanged %d\n", child_us() == before);

  sa.sa_handler = on_chld;
  sa.sa_flags = SA_NOCLDWAIT;
  sigaction(SIGCHLD, &sa, NULL);
  spin_child();
  int r;
  do r = wait(NULL); while (r < 0 && errno == EINTR);
  printf("SA_NOCLDWAIT: wait = %d %s, SIGCHLD delivered %d\n", r, r < 0 ? en(errno) : "", got);
  printf("SA_NOCLDWAIT: children's time unchanged %d\n", child_us() == before);

  sa.sa_handler = SIG_DFL;
  sa.sa_flags = 0;
  sigaction(SIGCHLD, &sa, NULL);
  spin_child();
  int st;
  R("SIG_DFL: wait", wait(&st) > 0);
  printf("SIG_DFL: status %d, children's time grew %d\n", WEXITSTATUS(st), child_us() > before);
  return 0;
}
