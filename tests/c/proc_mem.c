/* /proc/PID/mem and /proc/PID/comm written to: pread/pwrite at an address, read/write with
 * lseek (SEEK_SET, SEEK_CUR; SEEK_END is EINVAL), a partial read that stops at an unmapped page,
 * EIO on an unmapped page, writes into a read-only private page (as ptrace's POKEDATA), a
 * child's memory read by its parent and then after it exited, EACCES for another user; comm
 * renamed by a write, cut to 15 bytes, and EINVAL for another process's comm. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void show_comm(const char *what) {
  char b[64] = {0};
  int fd = open("/proc/self/comm", O_RDONLY);
  long n = read(fd, b, sizeof(b) - 1);
  close(fd);
  for (char *p = b; *p; p++)
    if (*p == '\n') *p = '|';
  printf("%s: %ld [%s]\n", what, n, b);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char input[] = "hello-world";
  char output[sizeof(input)];
  int fd = open("/proc/self/mem", O_RDWR);
  R("open /proc/self/mem", fd < 0 ? -1 : 0);
  memset(output, 0, sizeof(output));
  R("pread", pread(fd, output, sizeof(output), (off_t)(uintptr_t)input));
  printf("read back: %s\n", output);
  memset(output, 0, sizeof(output));
  R("pwrite", pwrite(fd, input, sizeof(input), (off_t)(uintptr_t)output));
  printf("written: %s\n", output);

  char seq[] = "0123456789abcdefghijkl";
  char part[7];
  printf("lseek SEEK_SET to the address: %d\n", lseek(fd, (off_t)(uintptr_t)seq, SEEK_SET) == (off_t)(uintptr_t)seq);
  R("read", read(fd, part, sizeof(part)));
  printf("  %.7s\n", part);
  printf("lseek SEEK_CUR +7 lands after two reads: %d\n",
         lseek(fd, 7, SEEK_CUR) == (off_t)(uintptr_t)(seq + 14));
  R("read", read(fd, part, sizeof(part)));
  printf("  %.7s\n", part);
  printf("lseek SEEK_CUR -21 back to the start: %d\n", lseek(fd, -21, SEEK_CUR) == (off_t)(uintptr_t)seq);
  R("lseek SEEK_END", lseek(fd, 0, SEEK_END));

  char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(m, 'x', 8192);
  munmap(m + 4096, 4096);
  char big[4096];
  R("pread across the end of a mapping", pread(fd, big, sizeof(big), (off_t)(uintptr_t)(m + 4095)));
  R("pread of an unmapped page", pread(fd, big, 1, (off_t)(uintptr_t)(m + 4096)));
  mprotect(m, 4096, PROT_READ);
  R("pwrite into a read-only private page", pwrite(fd, "y", 1, (off_t)(uintptr_t)m));
  printf("the page now holds: %c\n", m[0]);
  close(fd);

  int p1[2], p2[2];
  pipe(p1);
  pipe(p2);
  pid_t child = fork();
  if (child == 0) {
    char secret[] = "child-secret";
    uintptr_t where = (uintptr_t)secret;
    write(p1[1], &where, sizeof(where));
    char c;
    read(p2[0], &c, 1);
    _exit(0);
  }
  uintptr_t where;
  read(p1[0], &where, sizeof(where));
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/mem", child);
  int cfd = open(path, O_RDONLY);
  char got[13] = {0};
  R("pread of the child's memory", pread(cfd, got, sizeof(got), (off_t)where));
  printf("  %s\n", got);
  /* Another user may not open it (a thread that changed only its own uid). */
  pid_t other = fork();
  if (other == 0) {
    syscall(SYS_setuid, 65534);
    errno = 0;
    int r = open(path, O_RDONLY);
    printf("open as another user = %d %s\n", r < 0 ? -1 : 0, r < 0 ? en(errno) : "");
    char mp[64];
    snprintf(mp, sizeof(mp), "/proc/%d/maps", child);
    errno = 0;
    r = open(mp, O_RDONLY);
    printf("open its maps as another user = %d %s\n", r < 0 ? -1 : 0, r < 0 ? en(errno) : "");
    _exit(0);
  }
  waitpid(other, NULL, 0);
  write(p2[1], "x", 1);
  waitpid(child, NULL, 0);
  R("pread after the child exited", pread(cfd, got, sizeof(got), (off_t)where));
  close(cfd);

  show_comm("comm at start");
  fd = open("/proc/self/comm", O_WRONLY);
  R("write comm", write(fd, "renamed\n", 8));
  close(fd);
  show_comm("comm after");
  fd = open("/proc/self/comm", O_WRONLY);
  R("write a long comm", write(fd, "0123456789abcdefghij", 20));
  close(fd);
  show_comm("comm cut");
  char tpath[64];
  snprintf(tpath, sizeof(tpath), "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
  fd = open(tpath, O_WRONLY);
  R("write the thread's comm", write(fd, "thread", 6));
  close(fd);
  show_comm("comm via task");
  int p3[2];
  pipe(p3);
  pid_t sleeper = fork();
  if (sleeper == 0) {
    char c;
    close(p3[1]);
    read(p3[0], &c, 1); /* until the parent closes its end */
    _exit(0);
  }
  close(p3[0]);
  snprintf(path, sizeof(path), "/proc/%d/comm", sleeper);
  fd = open(path, O_WRONLY);
  R("write another process's comm", write(fd, "x", 1));
  close(fd);
  close(p3[1]);
  waitpid(sleeper, NULL, 0);
  return 0;
}
