/* /proc odds and ends: root opens read-only /proc files for writing and the write fails (EIO
 * for /proc's own files, EINVAL for a process's; /proc/sys refuses the open), listing a reaped
 * process's task/ through an earlier descriptor is ENOENT, /proc/devices' layout, and
 * kernel/randomize_va_space reads as a level. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *paths[] = {"/proc/meminfo", "/proc/cpuinfo", "/proc/self/stat", "/proc/self/maps",
                         "/proc/self/status", "/proc/sys/kernel/ostype"};
  for (int i = 0; i < 6; i++) {
    errno = 0;
    int fd = open(paths[i], O_WRONLY);
    printf("%s: open = %d %s", paths[i], fd < 0 ? -1 : 0, fd < 0 ? en(errno) : "");
    if (fd >= 0) {
      errno = 0;
      long r = write(fd, "x", 1);
      printf(" write = %ld %s", r, r < 0 ? en(errno) : "");
      close(fd);
    }
    printf("\n");
  }

  int p[2];
  pipe(p);
  pid_t child = fork();
  if (child == 0) {
    char c;
    close(p[1]);
    read(p[0], &c, 1);
    _exit(0);
  }
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task", child);
  int dfd = open(path, O_RDONLY | O_DIRECTORY);
  snprintf(path, sizeof(path), "/proc/%d", child);
  int pdfd = open(path, O_RDONLY | O_DIRECTORY);
  close(p[1]);
  waitpid(child, NULL, 0);
  char buf[1024];
  R("getdents64 of a reaped process's task/", syscall(SYS_getdents64, dfd, buf, sizeof(buf)));
  close(dfd);
  R("readlinkat exe through a reaped process's directory", readlinkat(pdfd, "exe", buf, sizeof(buf)));
  R("readlinkat ns/net there", readlinkat(pdfd, "ns/net", buf, sizeof(buf)));
  close(pdfd);

  char dev[4096] = {0};
  int fd = open("/proc/devices", O_RDONLY);
  read(fd, dev, sizeof(dev) - 1);
  close(fd);
  char *mem = strstr(dev, "  1 mem\n"), *blk = strstr(dev, "\n\nBlock devices:\n");
  printf("/proc/devices: header %d, 1 mem %d, block devices after it %d\n",
         strncmp(dev, "Character devices:\n", 19) == 0, mem != NULL, blk != NULL && mem != NULL && mem < blk);
  char v[16] = {0};
  fd = open("/proc/sys/kernel/randomize_va_space", O_RDONLY);
  read(fd, v, sizeof(v) - 1);
  close(fd);
  printf("randomize_va_space is a level 0-2: %d\n", (v[0] == '0' || v[0] == '1' || v[0] == '2') && v[1] == '\n');

  /* CPU time shows while the process runs: its own stat's utime+stime, and /proc/stat's
   * user+system, grow with 300 ms of work: of CPU time, not wall time (a loaded machine gives
   * less CPU than wall time; 30 s of wall time at most). */
  unsigned long long before = 0, after = 0, a, b, c2, d;
  FILE *f = fopen("/proc/stat", "r");
  if (fscanf(f, "cpu %llu %llu %llu %llu", &a, &b, &c2, &d) == 4) before = a + b + c2;
  fclose(f);
  struct timespec t0, t1, c0, c1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  volatile unsigned long sink = 0;
  do {
    for (int i = 0; i < 100000; i++) sink += i;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  } while ((c1.tv_sec - c0.tv_sec) * 1000000000L + (c1.tv_nsec - c0.tv_nsec) < 300000000L &&
           t1.tv_sec - t0.tv_sec < 30);
  f = fopen("/proc/stat", "r");
  if (fscanf(f, "cpu %llu %llu %llu %llu", &a, &b, &c2, &d) == 4) after = a + b + c2;
  fclose(f);
  char st[1024] = {0};
  fd = open("/proc/self/stat", O_RDONLY);
  read(fd, st, sizeof(st) - 1);
  close(fd);
  char *q = strrchr(st, ')');
  unsigned long ut = 0, stt = 0;
  for (int field = 3; q != NULL && field <= 15; field++) {
    q = strchr(q + 1, ' ');
    if (q && field == 13) ut = strtoul(q + 1, NULL, 10);
    if (q && field == 14) stt = strtoul(q + 1, NULL, 10);
  }
  printf("300 ms of work: /proc/stat grew %d, own utime+stime at least 10 ticks %d\n", after > before, ut + stt >= 10);
  return 0;
}
