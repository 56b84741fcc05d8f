// openat2(2) creating a file with RESOLVE_IN_ROOT: argv[2], an absolute path, is created below
// the directory argv[1] (as if that were "/"), not at that path from the real root.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int root = open(argv[1], O_PATH | O_DIRECTORY);
  if (root < 0) return perror("open"), 1;
  struct open_how how = {.flags = O_CREAT | O_WRONLY, .mode = 0644, .resolve = RESOLVE_IN_ROOT};
  long fd = syscall(SYS_openat2, root, argv[2], &how, sizeof how);
  if (fd < 0) return printf("openat2: %s\n", strerror(errno)), 1;
  if (write(fd, "x", 1) != 1) return perror("write"), 1;
  printf("created\n");
  return 0;
}
