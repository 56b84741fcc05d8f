/* membarrier(2): QUERY's commands, flag checks, the private commands' EPERM before their
 * registration, GET_REGISTRATIONS, and the registrations a fork keeps and an execve drops. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static long mb(int cmd, unsigned flags, int cpu) { return syscall(SYS_membarrier, cmd, flags, cpu); }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    R("after execve: GET_REGISTRATIONS", mb(1 << 9, 0, 0));
    R("after execve: PRIVATE_EXPEDITED", mb(1 << 3, 0, 0));
    return 0;
  }
  printf("QUERY = %#lx\n", mb(0, 0, 0));
  R("QUERY with flags", mb(0, 1, 0));
  R("GET_REGISTRATIONS", mb(1 << 9, 0, 0));
  R("GLOBAL", mb(1, 0, 0));
  R("GLOBAL with flags", mb(1, 1, 0));
  R("GLOBAL_EXPEDITED unregistered", mb(2, 0, 0));
  R("two commands", mb(3, 0, 0));
  R("unknown command", mb(1 << 12, 0, 0));
  R("negative command", mb(-1, 0, 0));
  R("PRIVATE_EXPEDITED unregistered", mb(1 << 3, 0, 0));
  R("PRIVATE_EXPEDITED_SYNC_CORE unregistered", mb(1 << 5, 0, 0));
  R("PRIVATE_EXPEDITED_RSEQ unregistered", mb(1 << 7, 0, 0));
  R("PRIVATE_EXPEDITED_RSEQ flag 2", mb(1 << 7, 2, 0));
  R("REGISTER_PRIVATE_EXPEDITED with flags", mb(1 << 4, 1, 0));
  R("REGISTER_PRIVATE_EXPEDITED", mb(1 << 4, 0, 0));
  R("PRIVATE_EXPEDITED", mb(1 << 3, 0, 0));
  R("PRIVATE_EXPEDITED_SYNC_CORE (other registration)", mb(1 << 5, 0, 0));
  R("REGISTER_PRIVATE_EXPEDITED_RSEQ", mb(1 << 8, 0, 0));
  R("PRIVATE_EXPEDITED_RSEQ on CPU 0", mb(1 << 7, 1, 0));
  R("PRIVATE_EXPEDITED_RSEQ on CPU 100000", mb(1 << 7, 1, 100000));
  R("PRIVATE_EXPEDITED_RSEQ on CPU -1", mb(1 << 7, 1, -1));
  R("REGISTER_GLOBAL_EXPEDITED", mb(1 << 2, 0, 0));
  R("GET_REGISTRATIONS", mb(1 << 9, 0, 0));
  pid_t p = fork();
  if (p == 0) {
    R("child: GET_REGISTRATIONS", mb(1 << 9, 0, 0));
    R("child: PRIVATE_EXPEDITED", mb(1 << 3, 0, 0));
    _exit(0);
  }
  waitpid(p, NULL, 0);
  p = fork();
  if (p == 0) {
    execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
    _exit(127);
  }
  waitpid(p, NULL, 0);
  return 0;
}
