/*
 * Hands the kernel values that must not reach the host unchecked: a break beyond the address
 * space, non-canonical TLS bases, flags and lengths beyond their C types, bad buffers for
 * /dev/null and /dev/zero, and the trap flag set across system calls. Prints each result and
 * errno name; every line must be the same natively and in the sentry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s = -1 %s\n", what, strerrorname_np(errno));
  else printf("%s = %s\n", what, r == 0 ? "0" : "ok");
}

#define T(call)                \
  do {                         \
    errno = 0;                 \
    show(#call, (long)(call)); \
  } while (0)

#define BAD ((void *)1)
#define NONCANONICAL 0x0000800000000000UL
#define KERNEL 0xffff800000000000UL
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002

static volatile int traps;

static void on_trap(int sig, siginfo_t *si, void *uc_) {
  (void)sig;
  (void)si;
  ucontext_t *uc = uc_;
  traps++;
  uc->uc_mcontext.gregs[REG_EFL] &= ~0x100L; /* stop stepping */
}

/* Sets EFLAGS.TF and makes one raw syscall right after it; returns the syscall's result. */
static long stepped_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile(
      "pushf\n\t"
      "orq $0x100, (%%rsp)\n\t"
      "popf\n\t"
      "syscall\n\t"
      "nop\n\t"
      "nop\n\t"
      : "=a"(ret)
      : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
      : "rcx", "r11", "memory", "cc");
  return ret;
}

static void stepped(const char *what, long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  traps = 0;
  long r = stepped_syscall6(nr, a1, a2, a3, a4, a5, a6);
  if (nr == SYS_fork && r == 0) _exit(traps > 0 ? 0 : 1);
  int st = -1;
  if (nr == SYS_fork && r > 0) waitpid((pid_t)r, &st, 0);
  if (nr == SYS_fork) printf("fork's child with TF: status %d\n", st);
  printf("%s with TF: %s, traps %s\n", what, r < 0 && r > -4096 ? strerrorname_np((int)-r) : "ok",
         traps > 0 ? "seen" : "none");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  /* brk: a break Linux cannot give leaves it where it was. */
  long cur = syscall(SYS_brk, 0);
  printf("brk(-1) keeps the break: %s\n", syscall(SYS_brk, -1L) == cur ? "yes" : "no");
  printf("brk(2^47) keeps the break: %s\n", syscall(SYS_brk, 1L << 47) == cur ? "yes" : "no");
  printf("brk(2^63) keeps the break: %s\n", syscall(SYS_brk, 1UL << 63) == cur ? "yes" : "no");
  printf("brk(2^53+1) keeps the break: %s\n", syscall(SYS_brk, (1UL << 53) + 1) == cur ? "yes" : "no");
  printf("brk(1) keeps the break: %s\n", syscall(SYS_brk, 1L) == cur ? "yes" : "no");

  /* TLS bases the CPU cannot hold. */
  T(syscall(SYS_arch_prctl, ARCH_SET_FS, NONCANONICAL));
  T(syscall(SYS_arch_prctl, ARCH_SET_GS, NONCANONICAL));
  T(syscall(SYS_arch_prctl, ARCH_SET_FS, KERNEL));
  T(syscall(SYS_arch_prctl, ARCH_SET_FS, -1L));
  errno = 0;
  long c = syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0L, 0L, 0L, NONCANONICAL);
  if (c == 0) _exit(0);
  if (c > 0) waitpid((pid_t)c, NULL, 0);
  show("clone(CLONE_SETTLS, non-canonical)", c);
  errno = 0;
  c = syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0L, 0L, 0L, -1L);
  if (c == 0) _exit(0);
  if (c > 0) waitpid((pid_t)c, NULL, 0);
  show("clone(CLONE_SETTLS, -1)", c);

  /* Flags and lengths wider than their C types or the address space. */
  T(syscall(SYS_memfd_create, "x", 1UL << 32));
  T(syscall(SYS_memfd_create, "x", 0xffffffff00000000UL));
  T(syscall(SYS_memfd_create, "x", -1L));
  T(syscall(SYS_mlock, buf, -1L));
  T(syscall(SYS_mlock, buf, 1UL << 62));
  T(syscall(SYS_mlock, buf, 1UL << 53));
  T(syscall(SYS_munlock, buf, -1L));
  T(syscall(SYS_munlock, buf, 1UL << 62));
  T(syscall(SYS_mlock2, buf, -1L, 0));
  T(syscall(SYS_mlock2, buf, 1UL << 62, 1));
  T(syscall(SYS_mlock2, buf, 4096, 1UL << 40));
  T(syscall(SYS_mlock, -1L, 4096));
  T(syscall(SYS_mlock, NONCANONICAL, 4096));
  T(syscall(SYS_mmap, 0, -1L, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  T(syscall(SYS_mmap, 0, 1UL << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  T(syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1UL << 62));
  T(syscall(SYS_munmap, 1UL << 62, 4096));
  T(syscall(SYS_munmap, 4096, -1L));
  T(syscall(SYS_mprotect, 4096, -4096L, PROT_READ));

  int null = open("/dev/null", O_RDWR), zero = open("/dev/zero", O_RDWR);

  /* Offsets and sizes beyond off_t. */
  T(syscall(SYS_lseek, null, 1UL << 63, SEEK_SET));
  T(syscall(SYS_lseek, zero, -1L, SEEK_SET));
  T(syscall(SYS_ftruncate, zero, -1L));
  T(syscall(SYS_ftruncate, zero, 1UL << 62));

  /* The trap flag across system calls the sentry carries out by running code in the process. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, NULL);
  void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  stepped("getpid", SYS_getpid, 0, 0, 0, 0, 0, 0);
  stepped("mmap", SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  stepped("mprotect", SYS_mprotect, (long)p, 4096, PROT_READ, 0, 0, 0);
  stepped("munmap", SYS_munmap, (long)p, 4096, 0, 0, 0, 0);
  stepped("fork", SYS_fork, 0, 0, 0, 0, 0, 0);
  return 0;
}
