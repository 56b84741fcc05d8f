/* mprotect that only adds rights is not passed to the host at once (platform/ptrace/ptrace.ts
 * StubAddressSpace.protect): whatever the host mapping's protection, the program must see
 * exactly Linux's. Reads, writes and execution after each kind of change, a write to a page
 * made read-only again (SIGSEGV, SEGV_ACCERR, at the address), and a forked child, an mremap
 * and MADV_DONTNEED of memory whose protection was raised, and a signal frame on an
 * alternate stack flipped between read-only and read-write (LTP's signal06). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile void *fault_addr;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  fault_addr = si->si_addr;
  fault_code = si->si_code;
  siglongjmp(jb, 1);
}

/* Returns 0 if the write went through, else 1 (and checks where the fault was). */
static int try_write(volatile char *p, char v) {
  fault_addr = 0;
  if (sigsetjmp(jb, 1) == 0) {
    *p = v;
    return 0;
  }
  if (fault_addr != (void *)p) printf("  fault at the wrong address\n");
  return fault_code == SEGV_ACCERR ? 1 : 2;
}

static int try_read(volatile char *p, char *out) {
  if (sigsetjmp(jb, 1) == 0) {
    *out = *p;
    return 0;
  }
  return fault_code == SEGV_ACCERR ? 1 : 2;
}

static int try_exec(void *code) {
  if (sigsetjmp(jb, 1) == 0) return ((int (*)(void))code)();
  return -(fault_code == SEGV_ACCERR ? 1 : 2);
}

static char alt[4096 * 4] __attribute__((aligned(4096)));
static volatile int handled;
static void on_hup(int s) {
  (void)s;
  handled++;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);

  long pg = 4096;
  char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(m, 'a', 4 * pg);
  char c = 0;

  /* 1. RW -> R -> RW -> R, writing after each. */
  mprotect(m, pg, PROT_READ);
  printf("1: write to R: %d\n", try_write(m, 'b'));
  mprotect(m, pg, PROT_READ | PROT_WRITE);
  int r = try_write(m, 'c');
  printf("1: write to RW again: %d, value %c\n", r, m[0]);
  mprotect(m, pg, PROT_READ);
  r = try_write(m, 'd');
  printf("1: write to R again: %d, value %c\n", r, m[0]);
  mprotect(m, pg, PROT_READ | PROT_WRITE);
  mprotect(m, pg, PROT_READ);
  mprotect(m, pg, PROT_READ | PROT_WRITE);
  r = try_write(m, 'e');
  printf("1: flipped twice more, write: %d, value %c\n", r, m[0]);

  /* 2. NONE -> R -> RW, a middle page of a larger mapping. */
  mprotect(m + pg, pg, PROT_NONE);
  printf("2: read of NONE: %d\n", try_read(m + pg, &c));
  mprotect(m + pg, pg, PROT_READ);
  r = try_read(m + pg, &c);
  int r2 = try_write(m + pg, 'x');
  printf("2: read of R: %d %c, write %d\n", r, c, r2);
  mprotect(m + pg, pg, PROT_READ | PROT_WRITE);
  r = try_write(m + pg + 5, 'y');
  printf("2: write to RW: %d, value %c, neighbours %c %c\n", r, m[pg + 5], m[0], m[2 * pg]);

  /* 3. Raised, never touched, lowered: the write still faults. */
  mprotect(m + 2 * pg, pg, PROT_READ);
  mprotect(m + 2 * pg, pg, PROT_READ | PROT_WRITE);
  mprotect(m + 2 * pg, pg, PROT_READ);
  r = try_write(m + 2 * pg, 'z');
  printf("3: write after R, RW, R: %d, value %c\n", r, m[2 * pg]);
  mprotect(m + 2 * pg, pg, PROT_NONE);
  printf("3: read after NONE: %d\n", try_read(m + 2 * pg, &c));

  /* 4. Code written, then made executable (RW -> R -> RX). */
  unsigned char *code = (unsigned char *)(m + 3 * pg);
  static const unsigned char ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
  memcpy(code, ret42, sizeof ret42);
  mprotect(code, pg, PROT_READ);
  printf("4: execute R: %d\n", try_exec(code));
  mprotect(code, pg, PROT_READ | PROT_EXEC);
  printf("4: execute RX: %d\n", try_exec(code));
  mprotect(code, pg, PROT_READ | PROT_WRITE);
  printf("4: execute RW: %d\n", try_exec(code));

  /* 5. A forked child sees the raised protection and the parent's bytes. */
  mprotect(m, pg, PROT_READ);
  mprotect(m, pg, PROT_READ | PROT_WRITE);
  pid_t k = fork();
  if (k == 0) {
    int w = try_write(m, 'f');
    mprotect(m, pg, PROT_READ);
    int w2 = try_write(m, 'g');
    printf("5: child write %d value %c, after R %d\n", w, m[0], w2);
    _exit(0);
  }
  waitpid(k, NULL, 0);
  r = try_write(m, 'h');
  printf("5: parent write %d value %c\n", r, m[0]);

  /* 6. mremap of memory whose protection was raised, and MADV_DONTNEED of it. */
  char *n = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  n[0] = 'n';
  mprotect(n, 2 * pg, PROT_READ);
  mprotect(n, 2 * pg, PROT_READ | PROT_WRITE);
  char *moved = mremap(n, 2 * pg, 8 * pg, MREMAP_MAYMOVE);
  r = try_write(moved + pg, 'o');
  printf("6: moved %c, write %d %c\n", moved[0], r, moved[pg]);
  mprotect(moved, pg, PROT_READ);
  mprotect(moved, pg, PROT_READ | PROT_WRITE);
  madvise(moved, pg, MADV_DONTNEED);
  int z = moved[0];
  r = try_write(moved, 'p');
  printf("6: after DONTNEED %d, write %d %c\n", z, r, moved[0]);
  mprotect(moved, pg, PROT_READ);
  printf("6: then R, write %d\n", try_write(moved, 'q'));

  /* 7. signal06: SIGHUP on an alternate stack that another thread would flip; here in turn. */
  stack_t st = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
  sigaltstack(&st, NULL);
  struct sigaction sh;
  memset(&sh, 0, sizeof sh);
  sh.sa_handler = on_hup;
  sh.sa_flags = SA_ONSTACK;
  sigaction(SIGHUP, &sh, NULL);
  int pid = getpid();
  for (int i = 0; i < 200; i++) {
    mprotect(alt, sizeof alt, (i % 3 == 0) ? PROT_READ : PROT_READ | PROT_WRITE);
    fault_addr = 0;
    if (sigsetjmp(jb, 1) == 0) syscall(SYS_tkill, pid, SIGHUP);
  }
  printf("7: SIGHUP handled %d times\n", handled);
  return 0;
}
