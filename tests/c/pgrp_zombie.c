/* getpgid, getsid and setpgid reach a zombie child until it is reaped (Linux's
 * find_task_by_vpid finds it), and wait(-pgid) then finds it in its new group. */
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <sys/wait.h>
int main() {
  pid_t c = fork();
  if (c == 0) _exit(0);
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT); /* a zombie now, not reaped */
  errno = 0; int r = getpgid(c); printf("getpgid zombie %s errno %d\n", r == getpgrp() ? "same" : "other", errno);
  errno = 0; r = getsid(c); printf("getsid zombie %s errno %d\n", r == getsid(0) ? "same" : "other", errno);
  errno = 0; r = setpgid(c, c); printf("setpgid zombie %d errno %d\n", r, errno);
  errno = 0; r = getpgid(c); printf("getpgid after %s\n", r == c ? "own" : "other");
  int st; printf("waitpid(-c) %d\n", waitpid(-c, &st, 0) == c);
}
