/* Checks /proc/self/maps against addresses the program knows: its code, a global, the heap,
 * a stack variable, an anonymous mmap (then mprotect'ed and unmapped), and the shared
 * library holding printf. Prints one line per check, so the output is the same natively and
 * in the sentry whatever the addresses are. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int global_var = 1;

/* Finds the maps line covering addr; copies its permissions and path. Returns 1 if found. */
static int lookup(unsigned long addr, char perms[5], char *path, size_t pathlen) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) { perror("fopen"); exit(1); }
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, ino;
    char p[5], dev[16];
    int n = 0;
    if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &lo, &hi, p, &off, dev, &ino, &n) < 6) {
      printf("unparsable line: %s", line);
      exit(1);
    }
    if (addr >= lo && addr < hi) {
      memcpy(perms, p, 5);
      char *name = line + n;
      name[strcspn(name, "\n")] = 0;
      snprintf(path, pathlen, "%s", name);
      found = 1;
    }
  }
  fclose(f);
  return found;
}

static void check(const char *what, const void *addr) {
  char perms[5] = "", path[256] = "";
  if (!lookup((unsigned long)addr, perms, path, sizeof path)) {
    printf("%s: not mapped\n", what);
    return;
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  /* The C library's file name varies (libc.so.6, libc-2.31.so): print only its stem. */
  if (strncmp(base, "libc", 4) == 0) base = "libc";
  printf("%s: %s %s\n", what, perms, base);
}

int main(int argc, char **argv) {
  (void)argc;
  int stack_var = 0;
  void *heap = malloc(16);
  check("main", (void *)main);
  check("global", &global_var);
  check("heap", heap);
  check("stack", &stack_var);
  check("printf", (void *)printf);
  check("argv string", argv[0]);
  char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check("mmap", m);
  mprotect(m + 4096, 4096, PROT_READ);
  check("mprotect middle", m + 4096);
  check("mprotect after", m + 8192);
  munmap(m + 4096, 4096);
  check("after munmap", m + 4096);
  free(heap);
  return 0;
}
