/* The session and process group a sandbox's init starts in: its starter's, outside the
 * sandbox, which it sees as 0 (as a container's init without a terminal, in a new PID
 * namespace); init is no group leader, so it may setsid(2) or make a group of its own, and a
 * child starts in init's. (Natively run in `unshare --pid --fork`, as gVisor's suite runs.) */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("pid %d sid %d pgrp %d\n", getpid(), getsid(0), getpgrp());
  pid_t c = fork();
  if (c == 0) {
    printf("child: sid %d pgrp %d\n", getsid(0), getpgrp());
    _exit(0);
  }
  waitpid(c, NULL, 0);
  pid_t g = fork();
  if (g == 0) {
    R("child: setpgid(0, 0)", setpgid(0, 0));
    printf("child: sid %d pgrp is itself %d\n", getsid(0), getpgrp() == getpid());
    _exit(0);
  }
  waitpid(g, NULL, 0);
  R("setsid", setsid());
  printf("sid %d pgrp %d\n", getsid(0), getpgrp());
  R("setsid again", setsid());
  R("setpgid(0, 0) as a session leader", setpgid(0, 0));
  return 0;
}
