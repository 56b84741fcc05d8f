/* A descriptor table holding a descriptor at or past fs.nr_open (lowered after it was opened)
 * cannot be copied: unshare(CLONE_FILES) and fork are EMFILE (Linux's dup_fd, LTP unshare03).
 * Writes /proc/sys/fs/nr_open, a global setting: run in the sandbox only, never natively. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void set_nr_open(const char *v) {
  int fd = open("/proc/sys/fs/nr_open", O_WRONLY);
  if (fd < 0 || write(fd, v, strlen(v)) < 0) printf("nr_open write: %s\n", en(errno));
  if (fd >= 0) close(fd);
}

int main(void) {
  char old[32] = {0};
  int fd = open("/proc/sys/fs/nr_open", O_RDONLY);
  if (read(fd, old, sizeof old - 1) < 0) return 1;
  close(fd);
  dup2(2, 65);
  fflush(stdout);
  /* A child sharing the table, so that unshare(CLONE_FILES) has something to copy. */
  long pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0) {
    set_nr_open("64");
    int r = unshare(CLONE_FILES);
    printf("unshare(CLONE_FILES) with fd 65, nr_open 64: %d %s\n", r, en(r < 0 ? errno : 0));
    pid_t c = fork();
    if (c == 0) _exit(0);
    printf("fork: %s %s\n", c < 0 ? "-1" : "child", en(c < 0 ? errno : 0));
    if (c > 0) waitpid(c, NULL, 0);
    set_nr_open("128");
    r = unshare(CLONE_FILES);
    printf("unshare(CLONE_FILES) with nr_open 128: %d %s\n", r, en(r < 0 ? errno : 0));
    set_nr_open(old);
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  return 0;
}
