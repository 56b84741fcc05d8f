/* Protection keys and mprotect's flags (node and V8 probe pkey_alloc at start-up). What this
 * prints is the same on a machine with protection keys and on one without (where pkey_alloc
 * is ENOSPC or EINVAL): argument checks and their order, pkey -1 as plain mprotect, unallocated keys,
 * PROT_SEM accepted, PROT_GROWSDOWN reaching down to the start of a MAP_GROWSDOWN mapping. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PROT_SEM 0x8 /* <asm-generic/mman-common.h>; glibc does not define it */

static long pkey_alloc_(unsigned long flags, unsigned long init) {
  return syscall(SYS_pkey_alloc, flags, init);
}
static long pkey_free_(long key) { return syscall(SYS_pkey_free, key); }
static long pkey_mprotect_(void *p, size_t len, unsigned long prot, long key) {
  return syscall(SYS_pkey_mprotect, p, len, prot, key);
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

/* Whether a write to p kills a child with SIGSEGV. */
static const char *writable(volatile char *p) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    *p = 1;
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? "read-only" : "writable";
}

int main(void) {
  char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) abort();

  show("pkey_alloc flags 1", pkey_alloc_(1, 0));
  show("pkey_alloc init 4", pkey_alloc_(0, 4));
  show("pkey_alloc init 1<<32", pkey_alloc_(0, 1UL << 32));
  /* A key where the machine has them; where it does not, ENOSPC, or EINVAL on some hosts (our
   * AMD EPYC VMs with Linux 6.18 answer EINVAL natively; the sentry answers ENOSPC, as the man
   * page documents). Either way, give a key back. */
  long k = pkey_alloc_(0, 0);
  if (k >= 1 && k < 16) printf("pkey_alloc: a key or none\n");
  else if (k < 0 && (errno == ENOSPC || errno == EINVAL)) printf("pkey_alloc: a key or none\n");
  else printf("pkey_alloc: %ld %s\n", k, strerrorname_np(errno));
  if (k >= 0 && pkey_free_(k) != 0) printf("pkey_free of it: %s\n", strerrorname_np(errno));
  show("pkey_free 7 (never allocated)", pkey_free_(7));
  show("pkey_free 16", pkey_free_(16));
  show("pkey_free -1", pkey_free_(-1));

  show("pkey_mprotect key -1", pkey_mprotect_(p, PAGE, PROT_READ, -1));
  printf("page 0 after key -1 read-only: %s\n", writable(p));
  show("pkey_mprotect key 7", pkey_mprotect_(p + PAGE, PAGE, PROT_READ, 7));
  printf("page 1 after key 7: %s\n", writable(p + PAGE));
  show("pkey_mprotect key 16", pkey_mprotect_(p, PAGE, PROT_READ, 16));
  show("pkey_mprotect unaligned, key 7", pkey_mprotect_(p + 1, PAGE, PROT_READ, 7));
  show("pkey_mprotect length 0, key 7", pkey_mprotect_(p, 0, PROT_READ, 7));
  show("pkey_mprotect bad prot, key 7", pkey_mprotect_(p, PAGE, 0x10, 7));
  munmap(p + 3 * PAGE, PAGE);
  show("pkey_mprotect unmapped, key 7", pkey_mprotect_(p + 3 * PAGE, PAGE, PROT_READ, 7));
  show("pkey_mprotect unmapped, key -1", pkey_mprotect_(p + 3 * PAGE, PAGE, PROT_READ, -1));

  show("mprotect PROT_SEM", mprotect(p + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE | PROT_SEM));
  printf("page 2 after PROT_SEM: %s\n", writable(p + 2 * PAGE));
  show("mprotect 0x10", mprotect(p, PAGE, PROT_READ | 0x10));
  show("mprotect GROWSDOWN|GROWSUP", mprotect(p, PAGE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP));
  show("mprotect GROWSDOWN, not a growsdown mapping", mprotect(p + 2 * PAGE, PAGE, PROT_READ | PROT_GROWSDOWN));
  show("mprotect GROWSUP", mprotect(p + 2 * PAGE, PAGE, PROT_READ | PROT_GROWSUP));
  printf("page 2 after refused GROWSDOWN: %s\n", writable(p + 2 * PAGE));

  /* PROT_GROWSDOWN on a MAP_GROWSDOWN mapping: from the start of the mapping to the end of
   * the range given. The mapping sits above a hole so that nothing else is changed. */
  char *hole = mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (hole == MAP_FAILED) abort();
  munmap(hole, 64 * PAGE);
  char *g = mmap(hole + 56 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
  if (g == MAP_FAILED) abort();
  show("mprotect GROWSDOWN on page 2 of a growsdown mapping", mprotect(g + 2 * PAGE, PAGE, PROT_READ | PROT_GROWSDOWN));
  printf("growsdown pages: %s %s %s %s\n", writable(g), writable(g + PAGE), writable(g + 2 * PAGE),
         writable(g + 3 * PAGE));
  show("mprotect GROWSDOWN below the mapping", mprotect(g - 4 * PAGE, PAGE, PROT_READ | PROT_GROWSDOWN));
  return 0;
}
