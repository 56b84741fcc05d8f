/* /proc/sys/fs/nr_open: root writes it; RLIMIT_NOFILE may not go above it; descriptors up to it work. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "_check.h"
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char old[32] = {0};
  int fd = open("/proc/sys/fs/nr_open", O_RDWR);
  read(fd, old, sizeof(old) - 1);
  printf("default: %s", old);
  R("write 4194304", pwrite(fd, "4194304", 7, 0));
  R("write 10 (below the minimum)", pwrite(fd, "10", 2, 0));
  R("write junk", pwrite(fd, "x1", 2, 0));
  struct rlimit rl = {4194305, 4194305};
  R("RLIMIT_NOFILE above nr_open", setrlimit(RLIMIT_NOFILE, &rl));
  rl.rlim_cur = rl.rlim_max = 4194304;
  R("RLIMIT_NOFILE at nr_open", setrlimit(RLIMIT_NOFILE, &rl));
  R("dup3 to nr_open", dup3(fd, 4194304, 0));
  R("dup3 to nr_open - 1", dup3(fd, 4194303, 0));
  close(4194303);
  rl.rlim_cur = rl.rlim_max = 1024;
  setrlimit(RLIMIT_NOFILE, &rl);
  R("restore the default", pwrite(fd, old, strlen(old), 0));
  return 0;
}
