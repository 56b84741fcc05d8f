/*
 * Checkpoint and restore of memory that processes share copy-on-write after fork: the parent
 * fills a large private mapping (MIB MiB, argument 1, default 32) and a 2 MiB one with
 * pseudo-random bytes and forks 3 children that only read them. After the checkpoint (which
 * the parent waits for on stdin: tests/c/_ckpt.h) every process writes a page of its own in each region: the parent
 * page 0, child i page i+1. Each then checks every page: its own holds its mark, every other
 * page what the parent wrote before the fork. A restore that shared the pages without copying
 * them on write would show one process's mark to the others.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

#define CHILDREN 3
#define PAGE 4096

static uint64_t page_sum(const unsigned char *p) {
  uint64_t h = 1469598103934665603ull;
  const uint64_t *w = (const uint64_t *)p;
  for (int i = 0; i < PAGE / 8; i++) h = (h ^ w[i]) * 1099511628211ull;
  return h;
}

struct region {
  unsigned char *m;
  size_t pages;
  uint64_t *sums;
};

static void fill(struct region *r, size_t bytes, uint64_t seed) {
  r->pages = bytes / PAGE;
  r->m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  r->sums = malloc(r->pages * sizeof(uint64_t));
  if (r->m == MAP_FAILED || r->sums == NULL) exit(2);
  uint64_t x = seed;
  uint64_t *w = (uint64_t *)r->m;
  for (size_t i = 0; i < bytes / 8; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w[i] = x;
  }
  for (size_t p = 0; p < r->pages; p++) r->sums[p] = page_sum(r->m + p * PAGE);
}

/* Every page as it should be: `mine` holds `mark`, the rest what was there at the fork. */
static int check(const struct region *r, size_t mine, int mark) {
  for (size_t p = 0; p < r->pages; p++) {
    const unsigned char *pg = r->m + p * PAGE;
    if (p == mine) {
      for (int i = 0; i < PAGE; i++)
        if (pg[i] != mark) return -1;
    } else if (page_sum(pg) != r->sums[p]) {
      return -1;
    }
  }
  return 0;
}

static void put(int fd, char c) {
  if (write(fd, &c, 1) != 1) exit(3);
}

static char get(int fd) {
  char c;
  if (read(fd, &c, 1) != 1) exit(4);
  return c;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
  struct region big, small;
  fill(&big, mib << 20, 0x9e3779b97f4a7c15ull);
  fill(&small, 2 << 20, 0x243f6a8885a308d3ull);
  int ready[2], go[CHILDREN][2];
  if (pipe(ready)) return 2;
  for (int c = 0; c < CHILDREN; c++)
    if (pipe(go[c])) return 2;
  pid_t kids[CHILDREN];
  for (int c = 0; c < CHILDREN; c++) {
    kids[c] = fork();
    if (kids[c] < 0) return 2;
    if (kids[c] > 0) continue;
    /* A child reads everything (nothing copied), then waits for the checkpoint to pass. */
    if (check(&big, (size_t)-1, 0) || check(&small, (size_t)-1, 0)) return 1;
    put(ready[1], 'r');
    get(go[c][0]);
    int mark = 0x11 * (c + 1);
    memset(big.m + (c + 1) * PAGE, mark, PAGE);
    memset(small.m + (c + 1) * PAGE, mark, PAGE);
    put(ready[1], 'w');
    get(go[c][0]);
    return check(&big, c + 1, mark) || check(&small, c + 1, mark) ? 1 : 0;
  }
  for (int c = 0; c < CHILDREN; c++) get(ready[0]);
  printf("ready\n");
  await_checkpoint();
  memset(big.m, 0xee, PAGE);
  memset(small.m, 0xee, PAGE);
  for (int c = 0; c < CHILDREN; c++) put(go[c][1], 'g');
  for (int c = 0; c < CHILDREN; c++) get(ready[0]);
  for (int c = 0; c < CHILDREN; c++) put(go[c][1], 'g');
  for (int c = 0; c < CHILDREN; c++) {
    int st;
    if (waitpid(kids[c], &st, 0) != kids[c]) return 2;
    printf("child %d: %s\n", c + 1, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "its own page written, the others as at the fork" : "WRONG");
  }
  printf("parent: %s\n", check(&big, 0, 0xee) || check(&small, 0, 0xee) ? "WRONG" : "its own page written, the others as at the fork");
  return 0;
}
