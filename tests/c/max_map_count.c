/* A process at vm.max_map_count: mmap past it is ENOMEM, and so is any munmap or mprotect that
 * would split a mapping in two (one more mapping), and that failure changes nothing; a whole
 * mapping's protection still changes; unmapping a whole one frees a slot again.
 * Filling the map takes ~65,000 mmaps: each must cost the same however many are held. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define LEN (3 * PAGE)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  long max = 0;
  if (f == NULL || fscanf(f, "%ld", &max) != 1) return 1;
  fclose(f);
  printf("max_map_count readable: %d\n", max > 0);
  static char *maps[1 << 17];
  int n = 0;
  unsigned long addr = 0x10000000UL;
  for (;;) {
    /* Two pages apart, so that no mapping merges with the next. */
    char *p = mmap((void *)addr, LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    addr += 2 * LEN;
    if (p == MAP_FAILED && errno == EEXIST) continue;
    if (p == MAP_FAILED) {
      printf("full: %s\n", strerror(errno));
      break;
    }
    maps[n++] = p;
    if (n == (int)(sizeof maps / sizeof maps[0])) break;
  }
  printf("filled to within 64 of the limit: %d\n", n > max - 64 && n < max);
  char *m = maps[n / 2];
  int r = munmap(m + PAGE, PAGE);
  printf("munmap of a middle page: %d %s\n", r, r ? strerror(errno) : "");
  /* (Not asked: an mprotect that splits one here. The host's limit is the stub's, which holds
   * ~20 mappings of its own, and an mprotect that only adds rights does not reach the host.) */
  r = mprotect(m, LEN, PROT_READ);
  printf("mprotect of a whole mapping: %d %s\n", r, r ? strerror(errno) : "");
  r = munmap(m, PAGE);
  printf("munmap of a first page: %d %s\n", r, r ? strerror(errno) : "");
  r = munmap(maps[n / 3], LEN);
  printf("munmap of a whole mapping: %d %s\n", r, r ? strerror(errno) : "");
  char *again = mmap(NULL, 5 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap after it: %d\n", again != MAP_FAILED);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    if (i == n / 3) continue;
    char *p = maps[i] == m ? m + PAGE : maps[i];
    if (munmap(p, maps[i] == m ? LEN - PAGE : LEN) != 0) bad++;
  }
  printf("unmapped all: %d\n", bad == 0);
  return 0;
}
