/* PTRACE_O_TRACEEXIT: a traced process stops with PTRACE_EVENT_EXIT before it ends, its wait
 * status the event message: when it calls exit, when the signal its tracer passed on kills it,
 * and when SIGKILL ends a stop; it ends when the tracer resumes it. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
static void show(pid_t c, const char *what) {
  int st;
  pid_t w = waitpid(c, &st, __WALL);
  unsigned long msg = 0;
  if (WIFSTOPPED(st)) {
    ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
    printf("%s: %d stop sig %d event %d msg %#lx\n", what, w == c, WSTOPSIG(st), st >> 16, msg);
  } else if (WIFEXITED(st)) printf("%s: exit %d\n", what, WEXITSTATUS(st));
  else printf("%s: killed %d\n", what, WTERMSIG(st));
}
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int mode = 0; mode < 3; mode++) {
    pid_t c = fork();
    if (c == 0) {
      ptrace(PTRACE_TRACEME, 0, 0, 0);
      raise(SIGSTOP);
      if (mode == 0) exit(3);
      if (mode == 1) raise(SIGTERM);
      pause();
      _exit(9);
    }
    show(c, "start");
    ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACEEXIT);
    if (mode == 2) {
      kill(c, SIGKILL);
      show(c, "sigkill while stopped");
    } else {
      ptrace(PTRACE_CONT, c, 0, 0);
      show(c, "next");
      if (mode == 1) { ptrace(PTRACE_CONT, c, 0, SIGTERM); show(c, "after passing SIGTERM"); }
    }
    ptrace(PTRACE_CONT, c, 0, 0);
    show(c, "end");
  }
  return 0;
}
