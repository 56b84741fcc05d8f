/* mremap with old_size 0 duplicates a shared mapping (shared anonymous memory, a shared file
 * mapping): the new mapping shows the same bytes and writes through either are seen by the
 * other; the old mapping stays; MREMAP_FIXED puts it where asked; without MREMAP_MAYMOVE it is
 * ENOMEM; a private mapping is EINVAL. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "_check.h"

static void dup_of(const char *what, char *m) {
  m[0] = 'x';
  char *d = mremap(m, 0, 4096, MREMAP_MAYMOVE);
  if (d == MAP_FAILED) {
    printf("%s: mremap %s\n", what, en(errno));
    return;
  }
  printf("%s: moved %d, sees the byte %d", what, d != m, d[0] == 'x');
  d[1] = 'y';
  m[2] = 'z';
  printf(", each sees the other's writes %d %d", m[1] == 'y', d[2] == 'z');
  char *target = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *f = mremap(m, 0, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  printf(", fixed at the target %d, sees %d\n", f == target, f != MAP_FAILED && f[1] == 'y');
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *s = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  dup_of("shared anonymous", s);
  dup_of("shared anonymous, second page", s + 4096);
  R("no MREMAP_MAYMOVE", (long)mremap(s, 0, 4096, 0));
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  R("private", (long)mremap(p, 0, 4096, MREMAP_MAYMOVE));
  char path[] = "/tmp/mremap_dup_XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  ftruncate(fd, 8192);
  char *fm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  dup_of("shared file", fm);
  char c = 0;
  pread(fd, &c, 1, 1);
  printf("the file has the byte written through the copy: %d\n", c == 'y');
  char *fp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  R("private file", (long)mremap(fp, 0, 4096, MREMAP_MAYMOVE));
  /* The copy is a mapping of its own: unmapping the original leaves it. */
  char *o = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  o[0] = 'q';
  char *d = mremap(o, 0, 4096, MREMAP_MAYMOVE);
  munmap(o, 4096);
  printf("the copy outlives the original: %d\n", d != MAP_FAILED && d[0] == 'q');
  return 0;
}
