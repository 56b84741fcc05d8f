/* mbind(2): a range of mappings takes a NUMA policy of its own (split at the edges, joined
 * again when it goes back to the default one), which get_mempolicy(MPOL_F_ADDR) reports and a
 * fork keeps; Linux's checks: mode and flags, an unaligned start, a hole (EFAULT, but not for
 * the default policy), MPOL_MF_MOVE_ALL without CAP_SYS_NICE. Node 0 only (every machine has it). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_ADDR 2
#define MPOL_MF_STRICT 1
#define MPOL_MF_MOVE 2
#define MPOL_MF_MOVE_ALL 4

static long pg;
static char *base;

static const char *mbind_(void *addr, unsigned long len, int mode, unsigned long mask, unsigned long flags) {
  unsigned long m = mask;
  long r = syscall(SYS_mbind, addr, len, mode, mask ? &m : NULL, mask ? 64 : 0, flags);
  return r == 0 ? "ok" : strerrorname_np(errno);
}

static void show(const char *what) {
  printf("%s:", what);
  for (int i = 0; i < 4; i++) {
    int mode = -1;
    unsigned long mask = 0;
    long r = syscall(SYS_get_mempolicy, &mode, &mask, 64, base + i * pg, MPOL_F_ADDR);
    if (r != 0) printf(" %s", strerrorname_np(errno));
    else printf(" %d/%lx", mode, mask);
  }
  /* How many mappings /proc/self/maps shows for the four pages. */
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < (unsigned long)base + 4 * pg && e > (unsigned long)base) n++;
  }
  fclose(f);
  printf(" (%d mappings)\n", n);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pg = sysconf(_SC_PAGESIZE);
  /* Guard pages around, so that the mappings counted are these. */
  char *area = mmap(NULL, 6 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  base = mmap(area + pg, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  show("fresh");
  printf("bind pages 1-2 to node 0: %s\n", mbind_(base + pg, 2 * pg, MPOL_BIND, 1, MPOL_MF_STRICT | MPOL_MF_MOVE));
  show("after");
  printf("preferred with no node (local) on page 3: %s\n", mbind_(base + 3 * pg, pg, MPOL_PREFERRED, 0, 0));
  show("after");
  pid_t c = fork();
  if (c == 0) {
    show("in a child");
    _exit(0);
  }
  waitpid(c, NULL, 0);
  printf("interleave over all, length not page-aligned: %s\n", mbind_(base, 3 * pg + 1, MPOL_INTERLEAVE, 1, 0));
  show("after");
  printf("default again: %s\n", mbind_(base, 4 * pg, MPOL_DEFAULT, 0, 0));
  show("after");
  printf("unaligned start: %s\n", mbind_(base + 1, pg, MPOL_BIND, 1, 0));
  printf("bad flag: %s\n", mbind_(base, pg, MPOL_BIND, 1, 8));
  printf("bad mode: %s\n", mbind_(base, pg, 7, 1, 0));
  printf("bind with no node: %s\n", mbind_(base, pg, MPOL_BIND, 0, 0));
  printf("default with a node: %s\n", mbind_(base, pg, MPOL_DEFAULT, 1, 0));
  printf("zero length: %s\n", mbind_(base, 0, MPOL_BIND, 1, 0));
  munmap(base + pg, pg);
  printf("over a hole: bind %s", mbind_(base, 4 * pg, MPOL_BIND, 1, 0));
  printf(", default %s\n", mbind_(base, 4 * pg, MPOL_DEFAULT, 0, 0));
  printf("nothing mapped, default: %s\n", mbind_(area + 10 * pg, pg, MPOL_DEFAULT, 0, 0));
  c = fork();
  if (c == 0) {
    if (setuid(65534) != 0) _exit(1);
    printf("MPOL_MF_MOVE_ALL unprivileged: %s", mbind_(base, pg, MPOL_BIND, 1, MPOL_MF_MOVE_ALL));
    printf(", MPOL_MF_MOVE: %s\n", mbind_(base, pg, MPOL_BIND, 1, MPOL_MF_MOVE));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
