/* System calls the fuzzer (tools/fuzz.ts) found crashing the sentry, each made once and its end
 * printed; the output must be the same natively and in the sentry:
 *   - clone(2) with an exit signal beyond NSIG (0x80): the child's exit sends no signal, the
 *     parent's wait still sees it (the sentry died: "Cannot read properties of undefined");
 *   - clone(2) with a stack pointer of -1: the child faults on its first use of the stack (the
 *     sentry's handler threw: "Infinity cannot be converted to a BigInt"). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long pid) {
  int st;
  if (pid < 0) {
    printf("%s: clone failed\n", what);
    return;
  }
  if (waitpid((pid_t)pid, &st, __WALL) != pid) {
    printf("%s: waitpid failed\n", what);
    return;
  }
  if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
  else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  long pid = syscall(SYS_clone, 0x80UL, 0UL, 0UL, 0UL, 0UL);
  if (pid == 0) _exit(7);
  report("exit signal 0x80", pid);
  pid = syscall(SYS_clone, (unsigned long)SIGCHLD, ~0UL, 0UL, 0UL, 0UL);
  if (pid == 0) _exit(8); /* not reached: returning from syscall() pops from the stack */
  report("stack -1", pid);
  return 0;
}
