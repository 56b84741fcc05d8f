/* A syscall's buffer below a MAP_GROWSDOWN mapping grows the mapping down to it, as the CPU's
 * fault does: the kernel's copy_to_user and copy_from_user fault there and Linux's fault
 * handler expands the stack. Not past the guard gap above another mapping, nor past
 * RLIMIT_STACK, nor for a read that copies nothing (EOF). A signal frame on an alternate stack
 * whose top lies below such a mapping grows it as well. mmap never places memory within the
 * guard gap below such a mapping. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define SPAN (8 << 20)

/* A MAP_GROWSDOWN mapping of 4 pages at the top of an empty range of SPAN bytes. */
static char *grows_down(void) {
  char *r = mmap(NULL, SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) abort();
  munmap(r, SPAN);
  char *g = mmap(r + SPAN - 4 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
  if (g == MAP_FAILED) abort();
  return g;
}

/* How many pages below end the mapping holding the page below end reaches, by /proc/self/maps
 * (what lies above end may be merged into the same line, or not). */
static long pages(char *end) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  long n = -1;
  unsigned long e = (unsigned long)end;
  while (fgets(line, sizeof line, f)) {
    unsigned long a, b;
    if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < e && e <= b) n = (long)((e - a) / PAGE);
  }
  fclose(f);
  return n;
}

static void show(const char *what, long r, char *end) {
  if (r < 0) printf("%s: %s, %ld pages\n", what, strerrorname_np(errno), pages(end));
  else printf("%s: %ld, %ld pages\n", what, r, pages(end));
}

static char *volatile handler_sp;
static void on_usr1(int sig) { handler_sp = __builtin_frame_address(0); }

int main(void) {
  int fds[2];
  if (pipe(fds) != 0) abort();

  char *g = grows_down(), *end = g + 4 * PAGE;
  show("read at EOF, 10 pages below", read(open("/dev/null", O_RDONLY), g - 10 * PAGE, 100), end);
  if (write(fds[1], "abcdef", 6) != 6) abort();
  show("read from a pipe, 3 pages below", read(fds[0], g - 3 * PAGE + 10, 3), end);
  printf("  it holds %.3s\n", g - 3 * PAGE + 10);
  show("write to a pipe from 5 pages below", write(fds[1], g - 5 * PAGE, 4), end);

  char path[] = "/tmp/growsdown-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, "file bytes", 10) != 10) abort();
  unlink(path);
  show("pread from a file, 7 pages below", pread(fd, g - 7 * PAGE + 100, 10, 0), end);
  printf("  it holds %.10s\n", g - 7 * PAGE + 100);
  struct iovec iov[2] = {{g, 4}, {g - 12 * PAGE, 6}};
  show("preadv, second buffer 12 pages below", preadv(fd, iov, 2, 0), end);
  printf("  it holds %.6s\n", g - 12 * PAGE);
  show("stat into a struct 16 pages below", stat("/", (struct stat *)(g - 16 * PAGE + 8)), end);
  show("getcwd into 18 pages below", getcwd(g - 18 * PAGE, 100) == NULL ? -1 : 0, end);

  /* A signal frame on an alternate stack whose top is 40 pages below the mapping. */
  stack_t ss = {.ss_sp = g - 48 * PAGE, .ss_size = 8 * PAGE};
  struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
  if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0) abort();
  raise(SIGUSR1);
  printf("handler ran on the alternate stack: %s, %ld pages\n",
         handler_sp > g - 48 * PAGE && handler_sp < g - 40 * PAGE ? "yes" : "no", pages(end));

  /* An accessible page 512 KiB below the mapping: a buffer 256 KiB below it is within the
   * guard gap. */
  char *g2 = grows_down(), *end2 = g2 + 4 * PAGE;
  /* mmap placed it (and its range) outside the guard gap below the first one. */
  printf("a new mapping leaves the guard gap below a growsdown one: %s\n",
         end - pages(end) * PAGE - end2 >= 256 * PAGE ? "yes" : "no");
  char *low = mmap(g2 - (512 << 10) - PAGE, PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (low == MAP_FAILED) abort();
  if (write(fds[1], "gh", 2) != 2) abort();
  show("read into the guard gap", read(fds[0], g2 - (256 << 10), 2), end2);
  munmap(low, PAGE);
  show("the same read once the page below is gone", read(fds[0], g2 - (256 << 10), 2), end2);

  /* Past RLIMIT_STACK (64 KiB: 16 pages). */
  char *g3 = grows_down(), *end3 = g3 + 4 * PAGE;
  struct rlimit rl = {64 << 10, 64 << 10};
  if (setrlimit(RLIMIT_STACK, &rl) != 0) abort();
  show("stat 20 pages below, RLIMIT_STACK 16 pages", stat("/", (struct stat *)(g3 - 20 * PAGE)), end3);
  show("stat 10 pages below, RLIMIT_STACK 16 pages", stat("/", (struct stat *)(g3 - 10 * PAGE)), end3);

  /* An ordinary mapping does not grow. */
  char *plain = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(plain - PAGE, PAGE);
  show("stat just below a plain mapping", stat("/", (struct stat *)(plain - 200)), plain + 4 * PAGE);
  return 0;
}
