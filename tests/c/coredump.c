/* The core-dump bit of wait statuses: core-dump signals (abort, SIGQUIT, a fault) with
 * RLIMIT_CORE 0 or 1, and with a large limit on a process made undumpable, report no core, as
 * on a host whose core_pattern names a file. With the argument "dump" a child aborts with an
 * unlimited RLIMIT_CORE (natively this writes a core file in the working directory). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void run(const char *what, rlim_t core, int dumpable, int how) {
  pid_t c = fork();
  if (c == 0) {
    struct rlimit rl = {core, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &rl) != 0) _exit(90);
    if (!dumpable) prctl(PR_SET_DUMPABLE, 0);
    if (how == 0) abort();
    if (how == 1) kill(getpid(), SIGQUIT);
    if (how == 2) *(volatile int *)8 = 1;
    if (how == 3) kill(getpid(), SIGTERM);
    _exit(91);
  }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  int st;
  waitpid(c, &st, 0);
  printf("%s: signaled=%d sig=%d core=%d waitid code=%d status=%d\n", what, WIFSIGNALED(st),
         WTERMSIG(st), WCOREDUMP(st) ? 1 : 0, si.si_code, si.si_status);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "dump") == 0) {
    run("abort, unlimited core", RLIM_INFINITY, 1, 0);
    run("SIGTERM, unlimited core", RLIM_INFINITY, 1, 3);
    return 0;
  }
  run("abort, core 0", 0, 1, 0);
  run("SIGQUIT, core 0", 0, 1, 1);
  run("SIGSEGV, core 0", 0, 1, 2);
  run("abort, core 1", 1, 1, 0);
  run("abort, unlimited core, undumpable", RLIM_INFINITY, 0, 0);
  run("SIGTERM, core 0", 0, 1, 3);
  return 0;
}
