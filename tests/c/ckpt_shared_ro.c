/*
 * Checkpoint and restore of a shared, read-only mapping of a host file of a read-only root (a
 * bundle's root.readonly; glibc maps gconv-modules.cache so): the program maps its own
 * executable MAP_SHARED, sums its first page, prints "ready", waits on stdin for the
 * checkpoint (tests/c/_ckpt.h) and checks the mapping again.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

static unsigned sum(const unsigned char *p) {
  unsigned s = 0;
  for (int i = 0; i < 4096; i++) s = s * 31 + p[i];
  return s;
}

int main(int argc, char **argv) {
  (void)argc;
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open(argv[0], O_RDONLY);
  if (fd < 0) return 2;
  const unsigned char *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return 3;
  close(fd);
  unsigned before = sum(m);
  printf("ready: %c%c%c\n", m[1], m[2], m[3]);
  await_checkpoint();
  printf("after: %c%c%c, page %s\n", m[1], m[2], m[3], sum(m) == before ? "the same" : "CHANGED");
  return 0;
}
