/* The size of Linux's descriptor array (fdt->max_fds), which programs see in two places:
 * select(2) looks at no bit beyond it (a set naming only an unopened descriptor past it
 * selects nothing, one inside it is EBADF), and /proc/self/status's FDSize. It starts at 64,
 * grows to hold the highest descriptor installed (in powers of two of 128), never shrinks,
 * and fork sizes the child's for the descriptors open then. Run in a forked child of a process
 * that closed everything above stderr first, so the array the test harness left does not
 * matter. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static int fdsize(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  char *p = strstr(buf, "FDSize:");
  return p ? atoi(p + 7) : -1;
}

/* select(2) on one descriptor, by hand: glibc's FD_SET stops at FD_SETSIZE (1024). */
static void sel(const char *what, int fd) {
  static unsigned long set[64];
  memset(set, 0, sizeof(set));
  set[fd / 64] |= 1UL << (fd % 64);
  struct timeval tv = {0, 0};
  long r = syscall(SYS_select, fd + 1, set, NULL, NULL, &tv);
  printf("%s: select on fd %d = %ld %s; FDSize %d\n", what, fd, r, r < 0 ? en(errno) : "", fdsize());
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  syscall(SYS_close_range, 3, ~0U, 0);
  pid_t pid = fork();
  if (pid == 0) {
    sel("fresh", 50);
    sel("fresh", 63);
    sel("fresh", 64);
    sel("fresh", 900);
    dup2(1, 200);
    sel("after dup2 to 200", 250);
    sel("after dup2 to 200", 255);
    sel("after dup2 to 200", 256);
    sel("after dup2 to 200", 200);
    close(200);
    sel("after close of 200", 250);
    int f = fcntl(1, F_DUPFD, 1000);
    printf("F_DUPFD 1000 = %d\n", f);
    sel("after F_DUPFD 1000", 1500);
    sel("after F_DUPFD 1000", 2047);
    sel("after F_DUPFD 1000", 2048);
    close(f);
    dup2(1, 130);
    pid_t c = fork();
    if (c == 0) {
      /* Sized for fds 0..130: three words of the bitmap, so 192: one 128-page power, 256. */
      sel("forked child, fd 130 open", 255);
      sel("forked child, fd 130 open", 256);
      close(130);
      pid_t g = fork();
      if (g == 0) {
        sel("grandchild, fds 0-2 open", 63);
        sel("grandchild, fds 0-2 open", 64);
        _exit(0);
      }
      waitpid(g, NULL, 0);
      _exit(0);
    }
    waitpid(c, NULL, 0);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("child status %d\n", st);
  return 0;
}
