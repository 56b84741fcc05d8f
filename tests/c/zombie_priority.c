/* getpriority and setpriority find a zombie process until it is reaped (Linux still has its
 * task): by its pid, its process group and its uid, with the ids it died with deciding who may
 * change it; once reaped it is ESRCH. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void get(const char *what, int which, int who) {
  errno = 0;
  int r = getpriority(which, who);
  printf("%s: %d %s\n", what, r, en(errno));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int ready[2];
  pipe(ready);
  pid_t child = fork();
  if (child == 0) {
    setpgid(0, 0);
    setpriority(PRIO_PROCESS, 0, 7);
    setresuid(12345, 12345, 12345);
    write(ready[1], "r", 1);
    _exit(0);
  }
  char c;
  read(ready[0], &c, 1);
  siginfo_t si;
  waitid(P_PID, child, &si, WEXITED | WNOWAIT); /* a zombie now, not reaped */
  get("getpriority of the zombie", PRIO_PROCESS, child);
  get("getpriority of its group", PRIO_PGRP, child);
  get("getpriority of its user", PRIO_USER, 12345);
  R("setpriority of the zombie", setpriority(PRIO_PROCESS, child, 3));
  get("its nice now", PRIO_PROCESS, child);
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  d[CAP_SYS_NICE / 32].effective &= ~(1u << (CAP_SYS_NICE % 32));
  syscall(SYS_capset, &h, d);
  R("setpriority of another user's zombie without CAP_SYS_NICE", setpriority(PRIO_PROCESS, child, 0));
  waitpid(child, NULL, 0);
  get("getpriority once reaped", PRIO_PROCESS, child);
  R("setpriority once reaped", setpriority(PRIO_PROCESS, child, 0));
  return 0;
}
