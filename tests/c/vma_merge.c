/* Adjacent private anonymous mappings alike are one VMA, as Linux merges them: after an
 * mprotect there and back, or an mmap right after another, an mremap of the whole range works
 * (a range spanning VMAs would be EFAULT). Also after a fork of more than 8 MiB (the sentry's
 * copy-on-write path) with a discarded part: the grown mapping keeps every byte. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static char *anon(char *addr, size_t len, int flags) {
  char *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  if (p == MAP_FAILED) abort();
  return p;
}

static char *grow(char *p, size_t old, size_t len) {
  char *n = mremap(p, old, len, MREMAP_MAYMOVE);
  if (n == MAP_FAILED) perror("mremap");
  return n;
}

int main(void) {
  /* mprotect a middle part read-only, then writable again: one VMA again. */
  char *m = anon(NULL, 64 * PAGE, 0);
  memset(m, 3, 64 * PAGE);
  mprotect(m + 10 * PAGE, 5 * PAGE, PROT_READ);
  mprotect(m + 10 * PAGE, 5 * PAGE, PROT_READ | PROT_WRITE);
  char *n = grow(m, 64 * PAGE, 128 * PAGE);
  if (n != MAP_FAILED) printf("after mprotect: %d %d\n", n[12 * PAGE], n[64 * PAGE + 1]);

  /* A mapping placed right after another (in a range emptied first). */
  char *a = anon(NULL, 16 * PAGE, 0);
  munmap(a + 8 * PAGE, 8 * PAGE);
  char *b = anon(a + 8 * PAGE, 8 * PAGE, MAP_FIXED_NOREPLACE);
  a[5] = 1;
  b[5] = 2;
  char *c = grow(a, 16 * PAGE, 32 * PAGE);
  if (c != MAP_FAILED) printf("after adjacent mmap: %d %d %d\n", c[5], c[8 * PAGE + 5], c[20 * PAGE]);

  /* 24 MiB across a fork, then in the child: a write, mprotect there and back, a discard, growth. */
  size_t sz = 24 << 20;
  char *big = anon(NULL, sz, 0);
  for (size_t i = 0; i < sz; i += 64) big[i] = (char)(i / 64 % 251);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    memset(big, 0x5a, 50 * PAGE);
    mprotect(big + 1000 * PAGE, 10 * PAGE, PROT_READ);
    mprotect(big + 1000 * PAGE, 10 * PAGE, PROT_READ | PROT_WRITE);
    madvise(big + 2000 * PAGE, 20 * PAGE, MADV_DONTNEED);
    char *g = grow(big, sz, sz + (4 << 20));
    if (g == MAP_FAILED) _exit(1);
    g[sz + 5] = 1;
    long bad = 0;
    for (size_t i = 50 * PAGE; i < sz; i += 64) {
      int want = i >= 2000 * PAGE && i < 2020 * PAGE ? 0 : (char)(i / 64 % 251);
      if (g[i] != want) bad++;
    }
    printf("child: %d %d %d, %ld bytes differ\n", g[0], g[2000 * PAGE + 64], g[sz + 5], bad);
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  long bad = 0;
  for (size_t i = 0; i < sz; i += 64)
    if (big[i] != (char)(i / 64 % 251)) bad++;
  printf("parent: child status %d, %ld bytes differ\n", WEXITSTATUS(st), bad);
  return 0;
}
