/* /proc/self/auxv holds the auxiliary vector the program started with: 16-byte pairs ending in
 * AT_NULL whose values getauxval(3) agrees with, and /proc/PID/auxv of another user's process
 * is refused (EACCES). Run as root. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open("/proc/self/auxv", O_RDONLY);
  Elf64_auxv_t a[64];
  ssize_t n = read(fd, a, sizeof a);
  int pairs = 0, agree = 0, ends = 0;
  for (int i = 0; i < n / 16; i++) {
    pairs++;
    if (a[i].a_type == AT_NULL) {
      ends = i == n / 16 - 1;
      break;
    }
    /* AT_HWCAP and a few others can be queried; AT_IGNORE-like entries cannot. */
    errno = 0;
    unsigned long v = getauxval(a[i].a_type);
    if (errno == 0 && v == a[i].a_un.a_val) agree++;
  }
  printf("size a multiple of 16: %d, ends with AT_NULL: %d, at least 15 pairs: %d\n", (int)(n % 16 == 0), ends, pairs > 15);
  printf("getauxval disagrees with at most one pair: %d\n", pairs - 1 - agree <= 1);
  printf("AT_PAGESZ %lu, AT_ENTRY set %d, AT_PHDR set %d\n", getauxval(AT_PAGESZ), getauxval(AT_ENTRY) != 0, getauxval(AT_PHDR) != 0);
  pid_t c = fork();
  if (c == 0) {
    setresuid(65534, 65534, 65534);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/auxv", getppid());
    int f = open(path, O_RDONLY);
    printf("nobody opens root's auxv: %s\n", f < 0 ? strerrorname_np(errno) : "ok");
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
