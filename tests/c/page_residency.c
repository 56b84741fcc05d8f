/* Which pages are resident, and guard pages (kernel/mm/mm.ts residency, installGuard): mincore(2)
 * and /proc/self/pagemap's present bits follow touches, mlock, mlock2(MLOCK_ONFAULT), MAP_POPULATE,
 * MADV_POPULATE_WRITE and MADV_DONTNEED, for small (memory-file) and large private anonymous
 * memory and shared anonymous memory; MADV_GUARD_INSTALL makes pages fault (SIGSEGV) for the
 * program, its forked child and a syscall's copy (EFAULT), across mprotect, MADV_DONTNEED and
 * mremap, with pagemap's guard bit, until MADV_GUARD_REMOVE (the pages then read zeros). Only
 * flag bits of pagemap are printed (never frame numbers). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

static long pg;
static int pm;

static void residency(const char *what, char *p, int n) {
  unsigned char v[64];
  printf("  %s: mincore", what);
  if (mincore(p, n * pg, v)) printf(" %s", strerror(errno));
  else for (int i = 0; i < n; i++) printf(" %d", v[i] & 1);
  printf(", pagemap");
  for (int i = 0; i < n; i++) {
    uint64_t e = 0;
    if (pread(pm, &e, 8, ((uintptr_t)p / pg + i) * 8) != 8) printf(" ?");
    else printf(" %c%c%c", e >> 63 ? 'P' : '-', (e >> 58) & 1 ? 'G' : '-', (e >> 55) & 1 ? 's' : '-');
  }
  printf("\n");
}

static sigjmp_buf jb;
static volatile int sig, code;
static void on_segv(int s, siginfo_t *si, void *uc) {
  (void)uc;
  sig = s;
  code = si->si_code;
  siglongjmp(jb, 1);
}

static void touch(const char *what, volatile char *p) {
  sig = 0;
  if (sigsetjmp(jb, 1) == 0) {
    *p = 'x';
    printf("  %s: written\n", what);
  } else {
    printf("  %s: signal %d code %d\n", what, sig, code);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pg = sysconf(_SC_PAGESIZE);
  pm = open("/proc/self/pagemap", O_RDONLY);
  printf("pagemap open: %d\n", pm >= 0);
  uint64_t e;
  errno = 0;
  long r = pread(pm, &e, 4, 0);
  printf("pagemap read of 4 bytes: %ld %s\n", r, strerror(errno));
  errno = 0;
  r = pread(pm, &e, 8, 4);
  printf("pagemap read at offset 4: %ld %s\n", r, strerror(errno));
  struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
  sigaction(SIGSEGV, &sa, NULL);

  printf("small private anonymous:\n");
  char *a = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  residency("fresh", a, 4);
  a[pg] = 1;
  residency("page 1 written", a, 4);
  volatile char c = a[2 * pg];
  (void)c;
  residency("page 2 read", a, 4);
  mlock(a, 4 * pg);
  residency("mlock", a, 4);
  munlock(a, 4 * pg);
  madvise(a, 4 * pg, MADV_DONTNEED);
  residency("MADV_DONTNEED", a, 4);
  mlock2(a, 2 * pg, MLOCK_ONFAULT);
  residency("mlock2 ONFAULT", a, 4);
  munlock(a, 4 * pg);
  madvise(a + 2 * pg, 2 * pg, MADV_POPULATE_WRITE);
  residency("MADV_POPULATE_WRITE 2-3", a, 4);

  printf("large private anonymous:\n");
  char *b = mmap(NULL, 2048 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  residency("fresh", b + 1000 * pg, 3);
  b[1001 * pg] = 1;
  residency("page 1 written", b + 1000 * pg, 3);

  printf("shared anonymous:\n");
  char *s = mmap(NULL, 4 * pg, PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  residency("fresh", s, 4);
  memset(s, 0, pg);
  mlock2(s, 3 * pg, MLOCK_ONFAULT);
  residency("page 0 written, mlock2 ONFAULT", s, 4);
  mlock(s, 3 * pg);
  residency("mlock 0-2", s, 4);
  munlock(s, 3 * pg);

  printf("MAP_POPULATE:\n");
  char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  residency("mapped", m, 3);

  printf("guard pages:\n");
  char *g = mmap(NULL, 5 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(g, 'a', 5 * pg);
  errno = 0;
  r = madvise(g + 1, pg, MADV_GUARD_INSTALL);
  printf("  unaligned: %ld %s\n", r, strerror(errno));
  printf("  install 1-3: %d\n", madvise(g + pg, 3 * pg, MADV_GUARD_INSTALL));
  residency("installed", g, 5);
  touch("write page 0", g);
  touch("write page 2", g + 2 * pg);
  sig = 0;
  if (sigsetjmp(jb, 1) == 0) {
    volatile char x = g[3 * pg + 7];
    (void)x;
    printf("  read page 3: read\n");
  } else {
    printf("  read page 3: signal %d code %d\n", sig, code);
  }
  int fds[2];
  pipe(fds);
  write(fds[1], "hello", 5);
  errno = 0;
  r = read(fds[0], g + 2 * pg, 5);
  printf("  read(2) into page 2: %ld %s\n", r, strerror(errno));
  errno = 0;
  r = write(fds[1], g + 2 * pg, 5);
  printf("  write(2) from page 2: %ld %s\n", r, strerror(errno));
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);
    g[2 * pg] = 1;
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("  forked child writing page 2: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  mprotect(g, 5 * pg, PROT_READ);
  mprotect(g, 5 * pg, PROT_READ | PROT_WRITE);
  madvise(g, 5 * pg, MADV_DONTNEED);
  touch("after mprotect and MADV_DONTNEED, write page 1", g + pg);
  char *moved = mremap(g, 5 * pg, 5 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, b + 100 * pg);
  printf("  mremap: %d\n", moved == b + 100 * pg);
  residency("moved", moved, 5);
  touch("moved, write page 3", moved + 3 * pg);
  mlock(moved, pg);
  errno = 0;
  r = madvise(moved, 2 * pg, MADV_GUARD_INSTALL);
  printf("  install over a locked page: %ld %s\n", r, strerror(errno));
  munlock(moved, pg);
  printf("  remove 2: %d\n", madvise(moved + 2 * pg, pg, MADV_GUARD_REMOVE));
  residency("page 2 removed", moved, 5);
  printf("  page 2 reads %d\n", moved[2 * pg]);
  touch("write page 2", moved + 2 * pg);
  touch("write page 1", moved + pg);
  printf("  remove all: %d\n", madvise(moved, 5 * pg, MADV_GUARD_REMOVE));
  touch("write page 1", moved + pg);
  printf("  page 0 (never guarded, discarded) reads %d, page 3 reads %d\n", moved[0], moved[3 * pg]);
  munmap(moved, 5 * pg);
  char *again = mmap(moved, 5 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  touch("a fresh mapping there, write page 1", again + pg);
  return 0;
}
