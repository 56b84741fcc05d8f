/* MAP_GROWSDOWN memory grows when the program touches the pages below it (Linux's stack
 * expansion): by the CPU's fault and then by the kernel (read() into the grown pages), kept
 * across fork; a fault within the guard gap (256 pages) above another accessible mapping is a
 * SIGSEGV. Each mapping sits at the top of a range this program emptied, so that what lies below
 * it is known. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define SPAN (8 << 20)

/* An empty range of SPAN bytes: mapped, then unmapped. */
static char *empty_range(void) {
  char *r = mmap(NULL, SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) abort();
  munmap(r, SPAN);
  return r;
}

static char *grows_down_at(char *addr, size_t len) {
  char *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
  if (p == MAP_FAILED) abort();
  return p;
}

/* Runs f(p) in a child and prints how the child ended. */
static void in_child(const char *what, void (*f)(volatile char *), volatile char *p) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    f(p);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  if (WIFSIGNALED(st)) printf("%s: killed by signal %d\n", what, WTERMSIG(st));
  else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

static void touch(volatile char *p) { *p = 1; }

int main(void) {
  char *r = empty_range();
  char *g = grows_down_at(r + SPAN - 16 * PAGE, 16 * PAGE);
  memset(g, 1, 16 * PAGE);

  /* Three pages below, then 1.5 MiB below: each fault grows the mapping down to it. */
  volatile char *a = g - 3 * PAGE, *b = g - (3 << 19);
  *a = 5;
  *b = 6;
  printf("grown: %d %d, between %d\n", *a, *b, g[-(1 << 20)]);

  /* The kernel writes into pages the growth mapped. */
  int fds[2];
  if (pipe(fds) != 0) abort();
  if (write(fds[1], "xyz", 3) != 3) abort();
  printf("read into grown: %zd %.3s\n", read(fds[0], (char *)b + 100, 3), (char *)b + 100);

  /* The child sees the grown pages and writes its own copy. */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    printf("child sees %d %d\n", *a, *b);
    *a = 9;
    *(g - (2 << 20)) = 7; /* the child grows its own mapping further */
    printf("child grew: %d\n", *(g - (2 << 20)));
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  printf("parent keeps %d\n", *a);

  /* An accessible page 512 KiB below the mapping: a fault 256 KiB below it is within the
   * guard gap (SIGSEGV); without that page, the same fault grows the mapping. */
  char *r2 = empty_range();
  char *g2 = grows_down_at(r2 + SPAN - 4 * PAGE, 4 * PAGE);
  char *low = mmap(g2 - (512 << 10) - PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (low == MAP_FAILED) abort();
  in_child("fault in the guard gap", touch, g2 - (256 << 10));
  munmap(low, PAGE);
  in_child("fault once the page below is gone", touch, g2 - (256 << 10));

  /* An ordinary mapping does not grow: a fault just below it is a SIGSEGV. */
  char *r3 = empty_range();
  char *plain = mmap(r3 + SPAN - 4 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (plain == MAP_FAILED) abort();
  in_child("fault below a plain mapping", touch, plain - PAGE);
  return 0;
}
