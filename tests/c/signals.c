/* Signal delivery: handlers with SA_SIGINFO, masks and pending signals, a fault handled on
 * the alternate stack (NULL write and stack overflow), siglongjmp out of a handler, EINTR
 * without SA_RESTART and restart with it, abort() in a child. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static sigjmp_buf jb;

static void on_usr1(int s, siginfo_t *si, void *uc) {
  (void)uc;
  got = s;
  char b[80];
  int n = snprintf(b, sizeof b, "handler sig=%d code=%d\n", s, si->si_code);
  if (write(1, b, n) < 0) _exit(2);
}

static void on_segv(int s, siginfo_t *si, void *uc) {
  (void)s; (void)uc;
  char b[80];
  int n = snprintf(b, sizeof b, "segv code=%d null=%d\n", si->si_code, si->si_addr == (void *)16);
  if (write(1, b, n) < 0) _exit(2);
  siglongjmp(jb, 1);
}

static void on_alrm(int s) { got = s; }

static volatile int depth;
static volatile int limit = 1 << 30; /* never reached: the stack overflows first */
__attribute__((noinline)) static int recurse(void) {
  volatile char big[4096];
  memset((char *)big, depth, sizeof big);
  if (++depth > limit) return 0;
  return recurse() + big[depth % 4096];
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("after raise got=%d\n", got);

  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  sigprocmask(SIG_BLOCK, &m, NULL);
  got = 0;
  kill(getpid(), SIGUSR1);
  printf("blocked got=%d\n", got);
  sigset_t p;
  sigpending(&p);
  printf("pending=%d\n", sigismember(&p, SIGUSR1));
  sigprocmask(SIG_UNBLOCK, &m, NULL);
  printf("unblocked got=%d\n", got);

  struct sigaction sb = {0};
  sb.sa_sigaction = on_segv;
  sb.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sb, NULL);
  stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  if (!sigsetjmp(jb, 1)) *(volatile int *)16 = 1;
  printf("recovered from NULL write\n");
  if (!sigsetjmp(jb, 1)) printf("never %d\n", recurse());
  printf("recovered from stack overflow\n");

  int fd[2];
  if (pipe(fd) < 0) return 1;
  struct sigaction sc = {0};
  sc.sa_handler = on_alrm;
  sigaction(SIGALRM, &sc, NULL);
  pid_t c = fork();
  if (c == 0) {
    usleep(100000);
    kill(getppid(), SIGALRM);
    _exit(0);
  }
  char buf[8];
  errno = 0;
  int r = read(fd[0], buf, sizeof buf);
  printf("read r=%d errno=%s got=%d\n", r, strerror(errno), got);
  waitpid(c, NULL, 0);

  sc.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sc, NULL);
  got = 0;
  c = fork();
  if (c == 0) {
    usleep(100000);
    kill(getppid(), SIGALRM);
    usleep(100000);
    if (write(fd[1], "x", 1) != 1) _exit(1);
    _exit(0);
  }
  r = read(fd[0], buf, sizeof buf);
  printf("restarted read r=%d got=%d\n", r, got);
  waitpid(c, NULL, 0);

  c = fork();
  if (c == 0) abort();
  int st;
  waitpid(c, &st, 0);
  printf("abort child: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
  return 0;
}
