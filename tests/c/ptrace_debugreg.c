/* PTRACE_POKEUSER/PEEKUSER of the debug registers (LTP ptrace08, ptrace10): a breakpoint
 * address is read back, a second write replaces it, a kernel address is EINVAL and leaves it,
 * DR4 and DR5 are EIO, DR7 with no breakpoint enabled is accepted. (Enabling one, which the
 * sandbox refuses with ENOSPC, is not compared.) */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

#define DR(n) (void *)offsetof(struct user, u_debugreg[n])

int main(void) {
  pid_t c = fork();
  if (c == 0) {
    raise(SIGSTOP);
    _exit(0);
  }
  int st;
  waitpid(c, &st, WUNTRACED);
  ptrace(PTRACE_ATTACH, c, NULL, NULL);
  waitpid(c, &st, 0);
  long r = ptrace(PTRACE_POKEUSER, c, DR(0), (void *)1);
  printf("dr0=1: %ld %s\n", r, en(r < 0 ? errno : 0));
  r = ptrace(PTRACE_POKEUSER, c, DR(0), (void *)2);
  printf("dr0=2: %ld %s, reads %#lx\n", r, en(r < 0 ? errno : 0), ptrace(PTRACE_PEEKUSER, c, DR(0), NULL));
  r = ptrace(PTRACE_POKEUSER, c, DR(1), (void *)0xffff800000000000UL);
  int e = r < 0 ? errno : 0;
  printf("dr1=kernel: %ld %s, reads %#lx\n", r, en(e), ptrace(PTRACE_PEEKUSER, c, DR(1), NULL));
  r = ptrace(PTRACE_POKEUSER, c, DR(0), (void *)0xffffffffffffffffUL);
  e = r < 0 ? errno : 0;
  printf("dr0=max: %ld %s, reads %#lx\n", r, en(e), ptrace(PTRACE_PEEKUSER, c, DR(0), NULL));
  r = ptrace(PTRACE_POKEUSER, c, DR(4), (void *)1);
  printf("dr4: %ld %s\n", r, en(r < 0 ? errno : 0));
  r = ptrace(PTRACE_POKEUSER, c, DR(5), (void *)1);
  printf("dr5: %ld %s\n", r, en(r < 0 ? errno : 0));
  r = ptrace(PTRACE_POKEUSER, c, DR(7), (void *)0);
  printf("dr7=0: %ld %s, reads %#lx\n", r, en(r < 0 ? errno : 0), ptrace(PTRACE_PEEKUSER, c, DR(7), NULL));
  ptrace(PTRACE_DETACH, c, NULL, NULL);
  kill(c, SIGCONT);
  waitpid(c, &st, 0);
  printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  return 0;
}
