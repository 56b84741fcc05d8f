/* KSM as a kernel built with it shows it (LTP madvise02 skips its no-KSM cases when
 * /sys/kernel/mm/ksm exists): the directory and its run file are there, run reads as a mode
 * (0, 1 or 2: its value is the host's own, so only its form is printed), and MADV_MERGEABLE and
 * MADV_UNMERGEABLE are accepted on private anonymous and file memory, as natively. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  printf("ksm directory: %s\n", access("/sys/kernel/mm/ksm", F_OK) == 0 ? "present" : strerrorname_np(errno));
  FILE *f = fopen("/sys/kernel/mm/ksm/run", "r");
  int run = -1;
  if (f != NULL) {
    if (fscanf(f, "%d", &run) != 1) run = -1;
    fclose(f);
  }
  printf("run is a mode: %s\n", run >= 0 && run <= 2 ? "yes" : "no");
  char *a = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int fd = open("/proc/self/exe", O_RDONLY);
  char *b = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  errno = 0;
  printf("MADV_MERGEABLE anon: %d %s\n", madvise(a, 4 * 4096, MADV_MERGEABLE), errno ? strerrorname_np(errno) : "");
  errno = 0;
  printf("MADV_UNMERGEABLE anon: %d %s\n", madvise(a, 4 * 4096, MADV_UNMERGEABLE), errno ? strerrorname_np(errno) : "");
  errno = 0;
  printf("MADV_MERGEABLE file: %d %s\n", madvise(b, 4096, MADV_MERGEABLE), errno ? strerrorname_np(errno) : "");
  return 0;
}
