/*
 * The page where an executable's initialized data ends and its bss begins: the loader copies
 * the file's bytes into it (kernel/loader/load.ts) instead of mapping the file there. The
 * initialized bytes must be the file's, the rest zeros, and a static buffer straddling the
 * boundary must take a read(2) whole, before and after a fork.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Ends somewhere inside a page, with the bss right after it. */
int init[1537] = {[0 ... 1535] = 7, [1536] = 0x5a5a5a5a};
static unsigned char buf[70000];

static unsigned long sum(const unsigned char *p, size_t n) {
  unsigned long s = 0;
  for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
  return s;
}

static void check(const char *who) {
  long isum = 0;
  for (int i = 0; i < 1536; i++) isum += init[i];
  size_t zeros = 0;
  for (size_t i = 0; i < sizeof buf; i++) zeros += buf[i] == 0;
  printf("%s: init sum %ld last %#x, buf zeros %zu\n", who, isum, init[1536], zeros);
  int fd = open("/proc/self/exe", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  unsigned char again[sizeof buf];
  fd = open("/proc/self/exe", O_RDONLY);
  ssize_t m = read(fd, again, sizeof again);
  close(fd);
  printf("%s: read %zd, same as a stack copy: %d\n", who, n, n == m && memcmp(buf, again, (size_t)n) == 0);
  memset(buf, 0, sizeof buf);
  init[0]++;
}

int main(void) {
  check("parent");
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    check("child");
    return 0;
  }
  int st;
  waitpid(c, &st, 0);
  check("parent again");
  printf("sum of buf %lu\n", sum(buf, sizeof buf));
  return WEXITSTATUS(st);
}
