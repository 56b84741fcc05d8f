/* The vsyscall page: /proc/self/maps lists it last as [vsyscall] when the kernel has one (and
 * gVisor's suite gates its vsyscall tests on that line); its time(), gettimeofday() and getcpu()
 * entries answer; a bad pointer given to one kills with SIGSEGV; the process's seccomp filters
 * see the entry's syscall with the entry as the instruction pointer (SIGSYS for TRAP, with the
 * caller's return address as rip and the syscall number in rax; an errno for ERRNO; death by
 * SIGSYS for KILL). */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static time_t (*vtime)(time_t *) = (time_t(*)(time_t *))0xffffffffff600400;

/* A filter: action for syscall nr when called from the vsyscall page, else allow. */
static void filter(int nr, uint32_t action) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(99);
}

static volatile uintptr_t after_call;

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
  ucontext_t *u = uc;
  printf("SIGSYS: code %d, errno %d, call_addr %#lx, syscall %d, rax %lld, rip is the return address %d\n",
         si->si_code, si->si_errno, (unsigned long)si->si_call_addr, si->si_syscall,
         (long long)u->uc_mcontext.gregs[REG_RAX], (uintptr_t)u->uc_mcontext.gregs[REG_RIP] == after_call);
  _exit(0);
}

static void seccomp_case(int which) {
  pid_t p = fork();
  if (p == 0) {
    if (which == 0) {
      struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
      sigaction(SIGSYS, &sa, NULL);
      filter(SYS_time, SECCOMP_RET_TRAP | 0x1234);
      /* call *%rax, and the address after it */
      __asm__ volatile("lea 1f(%%rip), %%rcx\n\tmov %%rcx, %0\n\txor %%edi, %%edi\n\tmov %1, %%rax\n\tcall *%%rax\n1:"
                       : "=m"(after_call) : "r"(0xffffffffff600400UL) : "rax", "rcx", "rdi", "rsi", "rdx", "r8", "r9", "r10", "r11", "memory");
      printf("TRAP: survived\n");
    } else if (which == 1) {
      filter(SYS_time, SECCOMP_RET_ERRNO | 13);
      printf("ERRNO: time returns %ld\n", (long)vtime(NULL));
    } else {
      filter(SYS_time, SECCOMP_RET_KILL_PROCESS);
      vtime(NULL);
      printf("KILL: survived\n");
    }
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  if (WIFSIGNALED(st)) printf("case %d: killed by signal %d\n", which, WTERMSIG(st));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char line[512], last[512] = "";
  int found = 0;
  FILE *f = fopen("/proc/self/maps", "r");
  while (fgets(line, sizeof(line), f)) {
    strcpy(last, line);
    if (strstr(line, "[vsyscall]")) found = 1;
  }
  fclose(f);
  if (!found) {
    printf("no vsyscall page\n");
    return 0;
  }
  printf("last line: %s", last);
  int (*vgtod)(struct timeval *, void *) = (int (*)(struct timeval *, void *))0xffffffffff600000;
  time_t t1 = time(NULL), t2 = 0;
  time_t t3 = vtime(&t2);
  printf("vsyscall time: same value returned and stored %d, within 5 s %d\n", t3 == t2, t3 >= t1 && t3 <= t1 + 5);
  struct timeval tv = {0, 0};
  int r = vgtod(&tv, NULL);
  printf("vsyscall gettimeofday: %d, within 5 s %d\n", r, tv.tv_sec >= t1 && tv.tv_sec <= t1 + 5);
  for (int i = 0; i < 2; i++) {
    pid_t p = fork();
    if (p == 0) {
      if (i == 0) vtime((time_t *)1);
      else vgtod((struct timeval *)1, (void *)1);
      _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("%s with a bad pointer: killed by SIGSEGV %d\n", i == 0 ? "time" : "gettimeofday", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
  }
  long (*vgetcpu)(unsigned *, unsigned *, void *) = (long (*)(unsigned *, unsigned *, void *))0xffffffffff600800;
  unsigned cpu = 999, node = 999;
  long g = vgetcpu(&cpu, &node, NULL);
  printf("vsyscall getcpu: %ld, a cpu %d, node %u\n", g, cpu < 4096, node);
  for (int i = 0; i < 3; i++) seccomp_case(i);
  return 0;
}
