/* A hardware watchpoint across a checkpoint (tests/checkpoint_test.ts): a tracer arms one on
 * its child and detaches; after "ready" the child sleeps, is checkpointed and restored, then
 * writes the watched word: its SIGTRAP handler must see TRAP_HWBKPT, as natively. */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t watched __attribute__((aligned(8)));

static void on_trap(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  char msg[64];
  int n = snprintf(msg, sizeof msg, "child: SIGTRAP code %d\n", si->si_code);
  write(1, msg, (size_t)n);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t c = fork();
  if (c == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, 0);
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    struct timespec ts = {1, 500000000};
    nanosleep(&ts, NULL);
    watched = 1;
    watched = 2;
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  long a = ptrace(PTRACE_POKEUSER, c, (void *)offsetof(struct user, u_debugreg[0]), (void *)&watched);
  long b = ptrace(PTRACE_POKEUSER, c, (void *)offsetof(struct user, u_debugreg[7]), (void *)(0x1UL | (0xdUL << 16)));
  ptrace(PTRACE_DETACH, c, 0, 0);
  printf("armed %ld %ld\nready\n", a, b);
  waitpid(c, &st, 0);
  printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  return 0;
}
