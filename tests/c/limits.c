/* Workloads for the sandbox limits (tests/limits_test.ts), one per mode:
 *   big      one 1 GiB private mapping: prints whether mmap succeeded
 *   chunks   1 MiB mallocs, each written, until one fails: exit 3 (or 4 past 4 GiB)
 *   cow      48 MiB written, then a child writes it all over again (copies on write)
 *   forks    children that sleep, until fork fails: prints how many and the errno
 *   spin     a loop without system calls, for ever
 *   busy N   a loop without system calls for about N hundred million iterations, then exit 0
 *   fill P   writes 64 KiB blocks to file P until a write fails: prints statfs and the errno */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *mode = argv[1];
  if (strcmp(mode, "big") == 0) {
    void *p = mmap(0, 1UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("big mmap: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
    return 0;
  }
  if (strcmp(mode, "chunks") == 0) {
    size_t total = 0;
    for (;;) {
      char *p = malloc(1 << 20);
      if (!p) {
        printf("malloc failed\n");
        return 3;
      }
      memset(p, 1, 1 << 20);
      total += 1 << 20;
      if (total > (1UL << 32)) return 4;
    }
  }
  if (strcmp(mode, "cow") == 0) {
    size_t n = 48 << 20;
    char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 5;
    memset(p, 1, n);
    pid_t c = fork();
    if (c == 0) {
      for (int r = 0; r < 1000; r++) memset(p, r, n);
      _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return 0;
  }
  if (strcmp(mode, "forks") == 0) {
    int n = 0;
    for (;;) {
      pid_t c = fork();
      if (c < 0) {
        printf("forked %d: %s\n", n, strerror(errno));
        return 0;
      }
      if (c == 0) {
        pause();
        _exit(0);
      }
      if (++n > 10000) return 4;
    }
  }
  if (strcmp(mode, "spin") == 0) {
    for (volatile unsigned long i = 0;; i++) {
    }
  }
  if (strcmp(mode, "busy") == 0 && argc > 2) {
    unsigned long n = strtoul(argv[2], 0, 10) * 100000000UL;
    for (volatile unsigned long i = 0; i < n; i++) {
    }
    return 0;
  }
  if (strcmp(mode, "fill") == 0 && argc > 2) {
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 5;
    static char buf[65536];
    memset(buf, 7, sizeof buf);
    long total = 0;
    for (;;) {
      ssize_t w = write(fd, buf, sizeof buf);
      if (w < 0) {
        int e = errno;
        struct statfs s;
        statfs(argv[2], &s);
        printf("wrote %ld: %s; statfs %ld bytes, %ld free\n", total, strerror(e), (long)s.f_blocks * s.f_bsize,
               (long)s.f_bfree * s.f_bsize);
        return 0;
      }
      total += w;
      if (total > (1L << 32)) return 4;
    }
  }
  return 2;
}
