/*
 * setns(2): with a pidfd, a process joins another's UTS namespace (whose hostname it then
 * sees) and IPC namespace; no type, another flag or a process that has exited are refused;
 * with a /proc/self/ns file, flags 0 join its type (the mount namespace: root and cwd go to its
 * root) and the caller's own user namespace is EINVAL. The child that renames its host does so
 * in a UTS namespace of its own. Prints what each step returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  pipe(p);
  pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWUTS) != 0 || sethostname("setns-test", 10) != 0) _exit(1);
    write(p[1], "R", 1);
    pause();
    _exit(0);
  }
  char c;
  read(p[0], &c, 1);
  int pidfd = syscall(SYS_pidfd_open, child, 0);
  show("pidfd_open", pidfd < 0 ? -1 : 0);
  show("setns with no type", setns(pidfd, 0));
  show("setns with CLONE_VM", setns(pidfd, CLONE_VM));
  pid_t joiner = fork();
  if (joiner == 0) {
    char name[64] = {0};
    if (setns(pidfd, CLONE_NEWUTS) != 0) _exit(2);
    gethostname(name, sizeof name);
    _exit(strcmp(name, "setns-test") == 0 ? 0 : 3);
  }
  int st;
  waitpid(joiner, &st, 0);
  printf("a joiner sees the child's hostname: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char mine[64] = {0};
  gethostname(mine, sizeof mine);
  printf("ours is unchanged: %d\n", strcmp(mine, "setns-test") != 0);
  kill(child, SIGKILL);
  waitpid(child, &st, 0);
  show("setns to a reaped process", setns(pidfd, CLONE_NEWUTS));
  int mnt = open("/proc/self/ns/mnt", O_RDONLY);
  show("setns /proc/self/ns/mnt with flags 0", setns(mnt, 0));
  show("setns /proc/self/ns/mnt with CLONE_NEWUTS", setns(mnt, CLONE_NEWUTS));
  int user = open("/proc/self/ns/user", O_RDONLY);
  show("setns to our own user namespace", setns(user, CLONE_NEWUSER));
  show("setns with a pipe", setns(p[0], CLONE_NEWUTS));
  return 0;
}
