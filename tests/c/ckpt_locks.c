/*
 * Checkpoint and restore of held file locks and of processes waiting for them: the parent holds
 * flock(LOCK_EX) on /tmp/ckl_a, POSIX record locks on /tmp/ckl_b (a write lock on [0, 10) and a
 * read lock on [20, 50)) and an OFD write lock on [100, 200) through a second
 * description; one child sleeps in flock(LOCK_EX) on its own description of ckl_a, another in
 * F_SETLKW for [5, 6) of ckl_b. The parent waits on stdin for the checkpoint (tests/c/_ckpt.h). After it, the
 * locks are probed (F_GETLK, F_OFD_GETLK, LOCK_NB) and released one by one: each waiter gets
 * its lock only then, in that order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

static void nap(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

static void getlk(const char *what, int fd, int cmd, short type, off_t start, off_t len, pid_t self) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  if (fcntl(fd, cmd, &fl) != 0) {
    printf("%s: %s\n", what, strerror(errno));
    return;
  }
  if (fl.l_type == F_UNLCK) {
    printf("%s: unlocked\n", what);
    return;
  }
  printf("%s: %s [%ld, +%ld) pid %s\n", what, fl.l_type == F_WRLCK ? "write" : "read", (long)fl.l_start, (long)fl.l_len,
         fl.l_pid == -1 ? "-1" : fl.l_pid == self ? "parent" : "other");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  unlink("/tmp/ckl_a");
  unlink("/tmp/ckl_b");
  int a = open("/tmp/ckl_a", O_RDWR | O_CREAT, 0600);
  int b = open("/tmp/ckl_b", O_RDWR | O_CREAT, 0600);
  int b2 = open("/tmp/ckl_b", O_RDWR);
  if (a < 0 || b < 0 || b2 < 0) return 2;
  pid_t self = getpid();
  if (flock(a, LOCK_EX) != 0) return 3;
  if (setlk(b, F_SETLK, F_WRLCK, 0, 10) != 0 || setlk(b, F_SETLK, F_RDLCK, 20, 30) != 0) return 4;
  if (setlk(b2, F_OFD_SETLK, F_WRLCK, 100, 100) != 0) return 5;

  pid_t c1 = fork();
  if (c1 == 0) {
    int fd = open("/tmp/ckl_a", O_RDWR);
    if (flock(fd, LOCK_EX) != 0) _exit(10);
    printf("child 1 has the flock\n");
    _exit(0);
  }
  pid_t c2 = fork();
  if (c2 == 0) {
    int fd = open("/tmp/ckl_b", O_RDWR);
    if (setlk(fd, F_SETLKW, F_WRLCK, 5, 1) != 0) _exit(11);
    printf("child 2 has [5, 6)\n");
    _exit(0);
  }
  nap(300);
  printf("ready\n");
  await_checkpoint();

  int probe = open("/tmp/ckl_b", O_RDWR);
  getlk("F_OFD_GETLK [0, 300)", probe, F_OFD_GETLK, F_WRLCK, 0, 300, self);
  getlk("F_OFD_GETLK [10, 20)", probe, F_OFD_GETLK, F_WRLCK, 10, 10, self);
  getlk("F_OFD_GETLK read [20, 30)", probe, F_OFD_GETLK, F_RDLCK, 20, 10, self);
  getlk("F_OFD_GETLK [150, 151)", probe, F_OFD_GETLK, F_RDLCK, 150, 1, self);
  getlk("F_GETLK [100, 101)", b, F_GETLK, F_WRLCK, 100, 1, self);
  int a2 = open("/tmp/ckl_a", O_RDONLY);
  int r = flock(a2, LOCK_SH | LOCK_NB);
  printf("LOCK_SH|LOCK_NB while held: %d %s\n", r, strerror(errno));
  printf("child 1 still waits: %d\n", waitpid(c1, NULL, WNOHANG));
  flock(a, LOCK_UN);
  int st;
  waitpid(c1, &st, 0);
  printf("child 1 exited %d\n", WEXITSTATUS(st));
  printf("child 2 still waits: %d\n", waitpid(c2, NULL, WNOHANG));
  setlk(b, F_SETLK, F_UNLCK, 0, 10);
  waitpid(c2, &st, 0);
  printf("child 2 exited %d\n", WEXITSTATUS(st));
  getlk("F_OFD_GETLK [0, 60) after", probe, F_OFD_GETLK, F_WRLCK, 0, 60, self);
  printf("LOCK_SH|LOCK_NB now: %d\n", flock(a2, LOCK_SH | LOCK_NB));
  close(b2);
  getlk("F_GETLK [100, 101) after the OFD's close", b, F_GETLK, F_WRLCK, 100, 1, self);
  close(b);
  getlk("F_OFD_GETLK read [20, 30) after the close", probe, F_OFD_GETLK, F_WRLCK, 20, 10, self);
  unlink("/tmp/ckl_a");
  unlink("/tmp/ckl_b");
  return 0;
}
