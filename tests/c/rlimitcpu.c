/* RLIMIT_CPU: SIGXCPU at the soft limit (handled here), SIGKILL at the hard limit; a soft limit
 * of 0 reads back as 0 (Linux once stored 1). */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int xcpu;
static void on_xcpu(int s) { (void)s; xcpu++; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct rlimit z = {0, RLIM_INFINITY}, back;
  pid_t c = fork();
  if (c == 0) {
    /* A soft limit of 0 is already reached: SIGXCPU may come at the next tick, before the
     * print (natively under load). Ignored here, it cannot end the child first. */
    signal(SIGXCPU, SIG_IGN);
    setrlimit(RLIMIT_CPU, &z);
    getrlimit(RLIMIT_CPU, &back);
    printf("soft 0 reads back as %ld\n", (long)back.rlim_cur);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  int p[2];
  if (pipe(p) < 0) return 1;
  c = fork();
  if (c == 0) {
    signal(SIGXCPU, on_xcpu);
    struct rlimit l = {1, 2};
    setrlimit(RLIMIT_CPU, &l);
    volatile unsigned long x = 0;
    int reported = 0;
    for (;;) {
      x++;
      if (xcpu && !reported) {
        reported = 1;
        if (write(p[1], "x", 1) < 0) _exit(1);
      }
    }
  }
  close(p[1]);
  char b;
  printf("SIGXCPU at the soft limit: %d\n", (int)read(p[0], &b, 1));
  int st;
  waitpid(c, &st, 0);
  printf("then killed at the hard limit: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
  return 0;
}
