/*
 * A pipe's inode attributes survive a checkpoint: one pipe chowned and chmodded by root, one
 * made by a process running as 1000:1001 (its owner); after a wait for the checkpoint
 * (on stdin: tests/c/_ckpt.h), both ends of each show the same mode and owner as before, and data written before
 * is still there. Prints "started", then what it saw.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

static void show(const char *what, int fd) {
  struct stat sb;
  fstat(fd, &sb);
  printf("%s: mode %o owner %d %d\n", what, sb.st_mode, sb.st_uid, sb.st_gid);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int a[2];
  if (pipe(a) != 0 || fchown(a[0], 1, 2) != 0 || fchmod(a[1], 0640) != 0 || write(a[1], "kept", 4) != 4) return 1;
  pid_t child = fork();
  if (child == 0) {
    if (setresgid(1001, 1001, 1001) != 0 || setresuid(1000, 1000, 1000) != 0) _exit(1);
    int b[2];
    if (pipe(b) != 0) _exit(1);
    printf("started\n");
    await_checkpoint();
    show("child's pipe, read end", b[0]);
    show("child's pipe, write end", b[1]);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  show("root's pipe, read end", a[0]);
  show("root's pipe, write end", a[1]);
  char buf[8] = {0};
  printf("data: %.*s\n", (int)read(a[0], buf, sizeof buf), buf);
  return 0;
}
