/* RLIMIT_AS: mmap, mremap and brk that would take the address space past the soft limit fail
 * with ENOMEM (brk leaves the break where it was); replacing a mapping in place with MAP_FIXED
 * does not grow it and succeeds. The limit is set relative to the process's own VmSize. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define MB (1024L * 1024L)

static long vmsize(void) {
  char line[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmSize:", 7) == 0) kb = atol(line + 7);
  fclose(f);
  return kb * 1024;
}

static const char *res(void *p) {
  return p == MAP_FAILED ? (errno == ENOMEM ? "ENOMEM" : strerror(errno)) : "ok";
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  void *heap = sbrk(0);
  long base = vmsize();
  struct rlimit r = {base + 4 * MB, RLIM_INFINITY};
  if (setrlimit(RLIMIT_AS, &r) != 0) return 1;
  int prot = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
  void *a = mmap(NULL, 2 * MB, prot, anon, -1, 0);
  printf("mmap 2MB under the limit: %s\n", res(a));
  printf("mmap 4MB past the limit: %s\n", res(mmap(NULL, 4 * MB, prot, anon, -1, 0)));
  printf("mmap MAP_FIXED over the 2MB mapping: %s\n", res(mmap(a, 2 * MB, prot, anon | MAP_FIXED, -1, 0)));
  printf("MAP_SHARED 4MB past the limit: %s\n", res(mmap(NULL, 4 * MB, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0)));
  printf("mremap 2MB to 5MB: %s\n", res(mremap(a, 2 * MB, 5 * MB, MREMAP_MAYMOVE)));
  void *b = mremap(a, 2 * MB, 3 * MB, MREMAP_MAYMOVE);
  printf("mremap 2MB to 3MB: %s\n", res(b));
  void *cur = sbrk(0);
  int rb = brk((char *)cur + 4 * MB);
  printf("brk 4MB past the limit: %d %s, break unchanged: %d\n", rb, rb ? strerror(errno) : "", sbrk(0) == cur);
  rb = brk((char *)cur + 64 * 1024);
  printf("brk 64KB more: %d, moved: %d\n", rb, sbrk(0) == (char *)cur + 64 * 1024);
  munmap(b, 3 * MB);
  printf("after munmap, mmap 3MB: %s\n", res(mmap(NULL, 3 * MB, prot, anon, -1, 0)));
  struct rlimit g;
  getrlimit(RLIMIT_AS, &g);
  printf("limit kept: %d, heap grew: %d\n", g.rlim_cur == r.rlim_cur, sbrk(0) > heap);
  return 0;
}
