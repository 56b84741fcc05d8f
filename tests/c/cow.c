/* Anonymous memory across fork, madvise and mremap, written by the program and by the kernel
 * (read() into it): copy-on-write of heap, stack, brk and mmap'd memory, MADV_DONTNEED zeros,
 * MAP_SHARED|MAP_ANONYMOUS sharing, mremap keeping contents, EFAULT for protected buffers. */
#define _GNU_SOURCE
#include "_check.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

/* A pipe holding `n` bytes of value v, read() into dst: the kernel writes the memory. */
static void kernel_fill(void *dst, int v, size_t n) {
  int p[2];
  if (pipe(p) != 0) abort();
  char buf[PAGE];
  memset(buf, v, sizeof buf);
  size_t done = 0;
  while (done < n) {
    size_t k = n - done < sizeof buf ? n - done : sizeof buf;
    if (write(p[1], buf, k) != (ssize_t)k) abort();
    if (read(p[0], (char *)dst + done, k) != (ssize_t)k) abort();
    done += k;
  }
  close(p[0]);
  close(p[1]);
}

/* The first byte of [p, p+n) that is not v, or -1. */
static long first_not(const void *p, int v, size_t n) {
  for (size_t i = 0; i < n; i++) if (((const unsigned char *)p)[i] != (unsigned char)v) return (long)i;
  return -1;
}

static int sync_p2c[2], sync_c2p[2];
static void tell(int fd) { if (write(fd, "x", 1) != 1) abort(); }
static void hear(int fd) { char c; if (read(fd, &c, 1) != 1) abort(); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  enum { N = 6 };
  /* The last is large enough that the sentry makes it copy-on-write rather than copying it. */
  const size_t sizes[N] = {64, 8 * PAGE, 200, 3 * PAGE, 4 * PAGE, 12 << 20};
  char stackbuf[200];
  char *heap = malloc(64);
  char *big = malloc(8 * PAGE);        /* still brk for this size, or an mmap: either */
  char *brkmem = sbrk(3 * PAGE);
  char *anon = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char *large = mmap(NULL, 12 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *areas[N] = {heap, big, stackbuf, brkmem, anon, large};
  for (int i = 0; i < N; i++) memset(areas[i], 'a', sizes[i]);
  kernel_fill(anon + PAGE, 'k', PAGE); /* part written by the kernel before the fork */
  memset(shared, 's', PAGE);

  if (pipe(sync_p2c) != 0 || pipe(sync_c2p) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    /* The child writes every area, by itself and through the kernel. */
    for (int i = 0; i < N; i++) {
      if (i % 2) kernel_fill(areas[i], 'c', sizes[i]);
      else memset(areas[i], 'c', sizes[i]);
    }
    kernel_fill(shared, 'S', PAGE / 2);
    tell(sync_c2p[1]);
    hear(sync_p2c[0]);
    /* The parent's writes after the fork are not seen here. */
    for (int i = 0; i < N; i++) printf("child area %d: first byte not 'c' %ld\n", i, first_not(areas[i], 'c', sizes[i]));
    printf("child sees the parent's shared write: %c%c\n", shared[0], shared[PAGE - 1]);
    /* MADV_DONTNEED after the fork reads zeros in the child only. */
    printf("child madvise = %d\n", madvise(anon, 4 * PAGE, MADV_DONTNEED));
    printf("child anon after DONTNEED: first nonzero %ld\n", first_not(anon, 0, 4 * PAGE));
    tell(sync_c2p[1]);
    _exit(0);
  }
  hear(sync_c2p[0]);
  for (int i = 0; i < N; i++) printf("parent area %d: first byte not 'a' %ld\n", i, first_not(areas[i], 'a', i == 4 ? PAGE : sizes[i]));
  printf("parent anon kernel part: first byte not 'k' %ld\n", first_not(anon + PAGE, 'k', PAGE));
  printf("parent sees the child's shared write: %c%c\n", shared[0], shared[PAGE - 1]);
  /* The parent writes after the fork, by itself and through the kernel. */
  for (int i = 0; i < N; i++) {
    if (i % 2) memset(areas[i], 'p', sizes[i]);
    else kernel_fill(areas[i], 'p', sizes[i]);
  }
  kernel_fill(shared + PAGE - 1, 'P', 1);
  memset(shared, 'P', 1);
  tell(sync_p2c[1]);
  hear(sync_c2p[0]);
  int st;
  waitpid(pid, &st, 0);
  for (int i = 0; i < N; i++) printf("parent area %d after: first byte not 'p' %ld\n", i, first_not(areas[i], 'p', sizes[i]));
  printf("parent anon after the child's DONTNEED: first byte not 'p' %ld\n", first_not(anon, 'p', 4 * PAGE));

  /* MADV_DONTNEED in the parent after the fork (its memory is copy-on-write now). */
  printf("parent madvise = %d\n", madvise(anon, 2 * PAGE, MADV_DONTNEED));
  printf("parent anon: first nonzero %ld, then first not 'p' %ld\n", first_not(anon, 0, 2 * PAGE),
         first_not(anon + 2 * PAGE, 'p', 2 * PAGE));
  kernel_fill(anon, 'z', 2 * PAGE);
  printf("parent anon refilled: %ld\n", first_not(anon, 'z', 2 * PAGE));

  /* MADV_DONTNEED on fresh private memory (never forked). */
  char *fresh = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(fresh, 1, PAGE);
  kernel_fill(fresh + PAGE, 2, 2 * PAGE);
  R("madvise fresh", madvise(fresh, 2 * PAGE, MADV_DONTNEED));
  printf("fresh: first nonzero %ld, then first not 2 %ld\n", first_not(fresh, 0, 3 * PAGE), first_not(fresh + 2 * PAGE, 2, PAGE));
  /* DONTNEED on shared memory keeps it. */
  R("madvise shared", madvise(shared, PAGE, MADV_DONTNEED));
  printf("shared after DONTNEED: %c%c\n", shared[0], shared[PAGE - 1]);

  /* mremap: grow in place, grow by moving, a forced move; contents are kept. */
  char *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  kernel_fill(m, 'm', 2 * PAGE);
  R("blocker", mprotect(m + 2 * PAGE, PAGE, PROT_READ)); /* the next page is another mapping */
  char *m2 = mremap(m, 2 * PAGE, 6 * PAGE, MREMAP_MAYMOVE);
  printf("moved: %d, old contents %ld, new tail zero %ld\n", m2 != m, first_not(m2, 'm', 2 * PAGE), first_not(m2 + 2 * PAGE, 0, 4 * PAGE));
  kernel_fill(m2 + 2 * PAGE, 'n', 4 * PAGE);
  char *m3 = mremap(m2, 6 * PAGE, 8 * PAGE, 0);
  if (m3 != MAP_FAILED) printf("in place: %d, kept %ld %ld\n", m3 == m2, first_not(m3, 'm', 2 * PAGE), first_not(m3 + 2 * PAGE, 'n', 4 * PAGE));
  else printf("in place failed\n");
  char *target = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *m4 = mremap(m3 != MAP_FAILED ? m3 : m2, 6 * PAGE, 6 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target + 4 * PAGE);
  printf("fixed move: %d, kept %ld %ld\n", m4 == target + 4 * PAGE, first_not(m4, 'm', 2 * PAGE), first_not(m4 + 2 * PAGE, 'n', 4 * PAGE));
  /* glibc realloc of a growing large block (mremap underneath). */
  size_t len = 256 * 1024;
  char *r = malloc(len);
  memset(r, 7, len);
  long bad = -1;
  for (int i = 0; i < 40 && bad < 0; i++) {
    size_t nlen = len + 64 * 1024 + (i % 3) * PAGE;
    r = realloc(r, nlen);
    if (r == NULL) abort();
    bad = first_not(r, 7, len);
    memset(r + len, 7, nlen - len);
    len = nlen;
  }
  printf("realloc grew to %zu, first bad byte %ld\n", len, bad);
  free(r);
  /* The same after a fork (the block is copy-on-write in the child). */
  pid = fork();
  if (pid == 0) {
    size_t l2 = 512 * 1024;
    char *q = malloc(l2);
    memset(q, 9, l2);
    pid_t g = fork();
    if (g == 0) _exit(0);
    waitpid(g, NULL, 0);
    long b2 = -1;
    for (int i = 0; i < 6 && b2 < 0; i++) {
      q = realloc(q, l2 * 2);
      if (q == NULL) abort();
      b2 = first_not(q, 9, l2);
      kernel_fill(q + l2, 9, l2);
      l2 *= 2;
    }
    printf("child realloc grew to %zu, first bad byte %ld\n", l2, b2);
    _exit(0);
  }
  waitpid(pid, &st, 0);

  /* Protections: a read() into read-only memory and a write() from PROT_NONE memory fail. */
  char *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int p[2];
  if (pipe(p) != 0) abort();
  R("write", write(p[1], "hello", 5));
  R("read into PROT_READ", read(p[0], ro, 5));
  R("write from PROT_NONE", write(p[1], none, 5));
  R("mprotect rw", mprotect(ro, PAGE, PROT_READ | PROT_WRITE));
  R("read after mprotect", read(p[0], ro, 5));
  printf("got %.5s\n", ro);
  R("mprotect none", mprotect(ro, PAGE, PROT_NONE));
  R("write from it now", write(p[1], ro, 5));
  return 0;
}
