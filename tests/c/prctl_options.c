/* prctl options LTP prctl02/08 check, printed to compare with a native run:
 * - PR_SET_TIMERSLACK / PR_GET_TIMERSLACK and /proc/self/timerslack_ns: set, 0 resets to the
 *   default, a child's current and default slack are its parent's current one.
 * - PR_GET_NO_NEW_PRIVS with a non-zero argument is EINVAL.
 * - PR_SET_THP_DISABLE / PR_GET_THP_DISABLE: argument checks, the flag read back, kept by fork.
 * - PR_GET_SPECULATION_CTRL: argument checks, ENODEV for an unknown control; the values are
 *   the host CPU's (printed, so compared).
 * - PR_SET_SECCOMP with a bad filter pointer is EFAULT before the privilege check. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void show(const char *what, long r) { printf("%s: %ld %s\n", what, r, en(r < 0 ? errno : 0)); }

static void proc_slack(void) {
  char b[64] = {0};
  int fd = open("/proc/self/timerslack_ns", O_RDONLY);
  if (fd < 0 || read(fd, b, sizeof b - 1) < 0) printf("proc timerslack_ns: %s\n", en(errno));
  else printf("proc timerslack_ns: %s", b);
  if (fd >= 0) close(fd);
}

int main(void) {
  show("get slack", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  proc_slack();
  show("set slack 1", prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0));
  show("get slack", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  show("set slack 70000", prctl(PR_SET_TIMERSLACK, 70000, 0, 0, 0));
  proc_slack();
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    show("child slack", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
    prctl(PR_SET_TIMERSLACK, 5, 0, 0, 0);
    prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0);
    show("child slack after reset", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  show("set slack 0", prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0));
  show("get slack", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));

  show("get no_new_privs 1", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
  show("get no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));

  show("set thp_disable 0,1", prctl(PR_SET_THP_DISABLE, 0, 1, 0, 0));
  show("get thp_disable 1", prctl(PR_GET_THP_DISABLE, 1, 0, 0, 0));
  show("get thp_disable", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  show("set thp_disable 1", prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0));
  show("get thp_disable", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  fflush(stdout);
  c = fork();
  if (c == 0) {
    show("child thp_disable", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  show("set thp_disable 0", prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0));
  show("get thp_disable", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));

  for (int w = 0; w < 4; w++) {
    char what[64];
    snprintf(what, sizeof what, "get speculation %d", w);
    show(what, prctl(PR_GET_SPECULATION_CTRL, w, 0, 0, 0));
  }
  show("get speculation 0 with arg3", prctl(PR_GET_SPECULATION_CTRL, 0, 1, 0, 0));

  show("seccomp filter bad pointer", prctl(PR_SET_SECCOMP, 2, (void *)16, 0, 0));
  return 0;
}
