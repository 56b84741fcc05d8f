/* The alternate signal stack across fork, threads and exec: a forked child inherits it (a
 * stack overflow in the child runs its SIGSEGV handler on that stack), a new thread starts
 * without one, execve clears it. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *alt;
#define ALT_SIZE (64 * 1024)

static void describe(const char *who) {
  stack_t ss;
  if (sigaltstack(NULL, &ss) != 0) {
    printf("%s: sigaltstack failed %s\n", who, strerror(errno));
    return;
  }
  printf("%s: disabled %d same stack %d size %zu\n", who, (ss.ss_flags & SS_DISABLE) != 0,
         ss.ss_sp == alt, ss.ss_size);
}

static void on_segv(int sig) {
  (void)sig;
  char here;
  const char msg[] = "handler ran on the alternate stack\n";
  const char bad[] = "handler ran on the wrong stack\n";
  if (&here >= alt && &here < alt + ALT_SIZE) write(1, msg, sizeof msg - 1);
  else write(1, bad, sizeof bad - 1);
  _exit(7);
}

static volatile int depth_limit = 1 << 30;

static int recurse(int n) {
  volatile char pad[4096];
  pad[0] = (char)n;
  if (n >= depth_limit) return 0;
  return recurse(n + 1) + pad[0];
}

static void *thread_main(void *arg) {
  (void)arg;
  describe("thread");
  return NULL;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    describe("after exec");
    return 0;
  }
  alt = malloc(ALT_SIZE);
  stack_t ss = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) return 1;
  struct sigaction sa = {0};
  sa.sa_handler = on_segv;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGSEGV, &sa, NULL);
  describe("parent");

  pthread_t th;
  pthread_create(&th, NULL, thread_main, NULL);
  pthread_join(th, NULL);

  pid_t c = fork();
  if (c == 0) {
    describe("child");
    recurse(0);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child: exited %d status %d signaled %d\n", WIFEXITED(st), WIFEXITED(st) ? WEXITSTATUS(st) : -1,
         WIFSIGNALED(st));

  c = vfork();
  if (c == 0) {
    execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
    _exit(127);
  }
  waitpid(c, &st, 0);
  printf("exec child: status %d\n", WEXITSTATUS(st));
  return 0;
}
