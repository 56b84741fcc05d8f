/* mremap growing a MAP_SHARED|MAP_ANONYMOUS mapping, in place and moved: the shared object keeps
 * its size (Linux's shmem file), so the old pages stay shared with a forked child in both
 * directions, and the new tail is past the object's end: a touch is SIGBUS, a write(2) from it
 * EFAULT; a shrink leaves the object its pages, which growing again finds (gVisor's mremap_test
 * MremapDeathTest.SharedAnon). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

static void touch_in_child(volatile char *p, const char *what) {
  pid_t c = fork();
  if (c == 0) {
    (void)*p;
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  printf("  touching %s: %s\n", what, WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "no signal");
}

static void run(const char *name, int move) {
  printf("%s:\n", name);
  /* Room for growing in place, or a mapping after it that forces a move. */
  char *area = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(area, 4 * PG);
  char *m = mmap(area, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  char *blocker = move ? mmap(area + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) : NULL;
  m[0] = 'a';
  int toc[2], top[2];
  if (pipe(toc) || pipe(top)) return;
  pid_t c = fork();
  if (c == 0) {
    char x;
    if (read(toc[0], &x, 1) != 1) _exit(1);
    printf("  the child sees %c\n", m[0]);
    m[0] = 'c';
    if (write(top[1], "x", 1) != 1) _exit(1);
    _exit(0);
  }
  char *g = mremap(m, PG, 2 * PG, move ? MREMAP_MAYMOVE : 0);
  if (g == MAP_FAILED) {
    printf("  mremap: %s\n", strerror(errno));
    return;
  }
  printf("  moved: %d\n", g != m);
  g[0] = 'p';
  if (write(toc[1], "x", 1) != 1) return;
  char x;
  if (read(top[0], &x, 1) != 1) return;
  printf("  the parent sees %c\n", g[0]);
  waitpid(c, NULL, 0);
  touch_in_child(g + PG, "the new page");
  int p[2];
  if (pipe(p)) return;
  errno = 0;
  long r = write(p[1], g + PG, 10);
  printf("  write from the new page: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  munmap(g, 2 * PG);
  if (blocker) munmap(blocker, PG);
  close(p[0]);
  close(p[1]);
  close(toc[0]);
  close(toc[1]);
  close(top[0]);
  close(top[1]);
}

static void shrink_then_grow(void) {
  printf("shrunk, then grown and moved:\n");
  char *area = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *m = mmap(area, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  memset(m, 'a', PG);
  memset(m + PG, 'b', PG);
  printf("  shrink: %d\n", mremap(m, 2 * PG, PG, 0) == m);
  char *g = mremap(m, PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, m + PG);
  printf("  grow: %d\n", g == m + PG);
  printf("  first pages: %c %c\n", g[0], g[PG]);
  touch_in_child(g + 2 * PG, "the page past the object");
  munmap(area, 4 * PG);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  run("grown in place", 0);
  run("grown and moved", 1);
  shrink_then_grow();
  return 0;
}
