/*
 * Calls syncfs(2) three times and prints each result, then exits 0: the containment test makes
 * the sentry's syncfs handler fail with a bug and checks that only the call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  for (int i = 0; i < 3; i++) {
    errno = 0;
    long r = syscall(SYS_syncfs, 0);
    printf("syncfs = %ld %s\n", r, r < 0 ? strerrorname_np(errno) : "");
  }
  printf("getpid works: %s\n", syscall(SYS_getpid) > 0 ? "yes" : "no");
  return 0;
}
