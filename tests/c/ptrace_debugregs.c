/* x86 debug registers through ptrace, as natively: PEEKUSER/POKEUSER of u_debugreg as Linux's
 * ptrace_get_debugreg/ptrace_set_debugreg check them (a kernel address, a misaligned address for
 * the length DR7 gives, an I/O or a sized execute breakpoint: EINVAL, DR7 then left as it was;
 * DR4/DR5 EIO; DR6 read back as written; DR7's reserved bits ignored), then breakpoints that
 * fire: a write watchpoint and an execute breakpoint stop the tracee with SIGTRAP, si_code
 * TRAP_HWBKPT at the instruction pointer, DR6 naming the one that fired; a write by the kernel
 * (a read(2) into the watched word) does not; single-stepping shows DR_STEP; a fork's child
 * inherits none; an armed watchpoint left after PTRACE_DETACH kills with SIGTRAP. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define DR(n) ((void *)offsetof(struct user, u_debugreg[n]))

static volatile uint64_t watched __attribute__((aligned(8)));
static volatile int counter;

__attribute__((noinline)) static void target_fn(void) {
  counter++;
  __asm__ volatile("" ::: "memory");
}

static void poke(pid_t p, const char *what, int n, unsigned long v) {
  errno = 0;
  long r = ptrace(PTRACE_POKEUSER, p, DR(n), (void *)v);
  printf("%-48s = %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

static void peek(pid_t p, const char *what, int n) {
  errno = 0;
  long r = ptrace(PTRACE_PEEKUSER, p, DR(n), 0);
  if (errno) printf("%-48s : %s\n", what, strerrorname_np(errno));
  else printf("%-48s : %#lx\n", what, (unsigned long)r);
}

/* Waits for the tracee's next stop and says what it was. */
static int stop(pid_t p, const char *what) {
  int st;
  if (waitpid(p, &st, 0) != p) return -1;
  if (WIFEXITED(st)) {
    printf("%-48s : exit %d\n", what, WEXITSTATUS(st));
    return -1;
  }
  if (WIFSIGNALED(st)) {
    printf("%-48s : killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
    return -1;
  }
  siginfo_t si;
  struct user_regs_struct r;
  ptrace(PTRACE_GETSIGINFO, p, 0, &si);
  ptrace(PTRACE_GETREGS, p, 0, &r);
  const char *at = (unsigned long)si.si_addr == r.rip ? "rip" : (unsigned long)si.si_addr == (unsigned long)target_fn ? "target_fn" : "elsewhere";
  printf("%-48s : SIG%s code %d addr %s%s\n", what, sigabbrev_np(WSTOPSIG(st)), si.si_code, at,
         r.rip == (unsigned long)target_fn ? " (rip at target_fn)" : "");
  return WSTOPSIG(st);
}

static void child(void) {
  ptrace(PTRACE_TRACEME, 0, 0, 0);
  raise(SIGSTOP);
  watched = 1;              /* the write watchpoint */
  int fds[2];
  pipe(fds);
  write(fds[1], "abcdefgh", 8);
  read(fds[0], (void *)&watched, 8); /* the kernel writes it: no trap */
  raise(SIGUSR1);           /* a stop to look at */
  target_fn();              /* the execute breakpoint */
  pid_t c = fork();
  if (c == 0) {
    watched = 3;            /* a fork's child has no breakpoints */
    target_fn();
    _exit(4);
  }
  int st;
  waitpid(c, &st, 0);
  raise(WIFEXITED(st) ? SIGUSR2 : SIGTERM);
  counter++;                /* single-stepped */
  raise(SIGUSR1);
  watched = 2;              /* after detach: kills */
  _exit(0);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  pid_t p = fork();
  if (p == 0) child();
  stop(p, "first stop");
  peek(p, "DR0 at first", 0);
  peek(p, "DR4 at first", 4);
  peek(p, "DR6 at first", 6);
  peek(p, "DR7 at first", 7);
  poke(p, "DR0 = a kernel address", 0, 0xffff800000000000UL);
  poke(p, "DR0 = the last page of user space", 0, 0x7ffffffff000UL);
  poke(p, "DR0 = just below it", 0, 0x7fffffffefffUL);
  peek(p, "DR0", 0);
  poke(p, "DR4 = 0", 4, 0);
  poke(p, "DR5 = 0", 5, 0);
  poke(p, "DR6 = 0x1234", 6, 0x1234);
  peek(p, "DR6", 6);
  poke(p, "DR6 = 0", 6, 0);
  peek(p, "DR6", 6);
  poke(p, "DR0 = 1", 0, 1);
  poke(p, "DR7: slot 0 write, 4 bytes (misaligned)", 7, 0x1 | (0x1UL << 16) | (0xcUL << 16));
  peek(p, "DR7", 7);
  poke(p, "DR7: slot 0 execute, 1 byte", 7, 0x1);
  peek(p, "DR7", 7);
  poke(p, "DR7: slot 0 execute, 2 bytes", 7, 0x1 | (0x4UL << 16));
  poke(p, "DR7: slot 0 I/O", 7, 0x1 | (0x2UL << 16));
  poke(p, "DR7: slot 0 disabled, I/O", 7, 0x2UL << 16);
  poke(p, "DR7: slot 2 disabled (no address), I/O", 7, 0x2UL << 24);
  poke(p, "DR7: slot 1 enabled, write 8 bytes at 0", 7, 0x4 | (0x9UL << 20));
  peek(p, "DR1", 1);
  poke(p, "DR1 = 4 (misaligned for 8 bytes)", 1, 4);
  peek(p, "DR1", 1);
  poke(p, "DR1 = 8", 1, 8);
  poke(p, "DR0 = a kernel address (enabled)", 0, 0xffffffff81000000UL);
  peek(p, "DR0", 0);
  poke(p, "DR7: reserved bits, all disabled", 7, 0xffffffff0000fc00UL);
  peek(p, "DR7", 7);
  poke(p, "DR7 = 0", 7, 0);
  peek(p, "DR0 after DR7 = 0", 0);
  peek(p, "DR1 after DR7 = 0", 1);

  /* A write watchpoint on `watched` (slot 0) and an execute breakpoint on target_fn (slot 1). */
  poke(p, "DR0 = &watched", 0, (unsigned long)&watched);
  poke(p, "DR7: slot 0 write 4 bytes", 7, 0x1 | (0xdUL << 16));
  ptrace(PTRACE_CONT, p, 0, 0);
  stop(p, "watched = 1");
  peek(p, "DR6", 6);
  ptrace(PTRACE_CONT, p, 0, 0);
  stop(p, "read(2) into watched, then raise");
  peek(p, "DR6", 6);
  poke(p, "DR1 = target_fn", 1, (unsigned long)target_fn);
  poke(p, "DR7: + slot 1 execute", 7, 0x1 | (0xdUL << 16) | 0x4);
  ptrace(PTRACE_CONT, p, 0, 0);
  stop(p, "target_fn()");
  peek(p, "DR6", 6);
  ptrace(PTRACE_CONT, p, 0, 0);
  stop(p, "the fork's child exits");
  ptrace(PTRACE_CONT, p, 0, 0);
  stop(p, "the fork's child waited for");
  ptrace(PTRACE_SINGLESTEP, p, 0, 0);
  stop(p, "single step");
  peek(p, "DR6", 6);
  ptrace(PTRACE_CONT, p, 0, 0);
  stop(p, "raise");
  ptrace(PTRACE_DETACH, p, 0, 0);
  stop(p, "after detach");
  return 0;
}
