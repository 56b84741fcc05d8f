/* fork, copy-on-write memory, wait4 status encoding, vfork + execve, pipes between processes,
 * SIGPIPE, waitid, orphans. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int x = 5;
  pid_t p = fork();
  if (p == 0) {
    x = 7;
    printf("child x=%d\n", x);
    _exit(4);
  }
  int st;
  pid_t w = waitpid(p, &st, 0);
  printf("parent x=%d waited=%d exited=%d code=%d\n", x, w == p, WIFEXITED(st), WEXITSTATUS(st));

  pid_t q = vfork();
  if (q == 0) {
    execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
    _exit(99);
  }
  waitpid(q, &st, 0);
  printf("exec child code=%d\n", WEXITSTATUS(st));

  int fd[2];
  if (pipe(fd) < 0) return 1;
  p = fork();
  if (p == 0) {
    close(fd[0]);
    for (int i = 0; i < 2000; i++) {
      char b[64];
      int n = snprintf(b, sizeof b, "line %d\n", i);
      if (write(fd[1], b, n) != n) _exit(1);
    }
    _exit(0);
  }
  close(fd[1]);
  char buf[4096];
  long total = 0;
  ssize_t n;
  while ((n = read(fd[0], buf, sizeof buf)) > 0) total += n;
  waitpid(p, &st, 0);
  printf("piped %ld bytes, writer code=%d\n", total, WEXITSTATUS(st));

  int g[2];
  if (pipe(g) < 0) return 1;
  close(g[0]);
  p = fork();
  if (p == 0) {
    if (write(g[1], "x", 1) < 0) _exit(5);
    _exit(6);
  }
  waitpid(p, &st, 0);
  printf("write to closed pipe: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));

  p = fork();
  if (p == 0) {
    kill(getpid(), SIGTERM);
    _exit(1);
  }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, p, &si, WEXITED);
  printf("waitid: code=%d status=%d pid-ok=%d\n", si.si_code, si.si_status, si.si_pid == p);

  printf("no children: %d\n", waitpid(-1, &st, WNOHANG));
  return 0;
}
