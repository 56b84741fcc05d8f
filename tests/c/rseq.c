/* rseq(2): glibc's own registration (EBUSY on its area), Linux's checks and errnos in their
 * order (size, alignment, flags, address, length, signature), the CPU fields written at
 * registration, after sched_setaffinity and reset at unregistration, inheritance (a fork's
 * child keeps the registration, vfork's child has none), a critical section aborted by a
 * signal (the handler's frame holds abort_ip) and by preemption alone, rseq_cs cleared outside
 * a section, and SIGSEGV for a bad signature, an abort_ip inside the section and flags. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include "_check.h"

#define SIG 0x53053053u /* glibc's RSEQ_SIG on x86 */

struct cs {
  uint32_t version, flags;
  uint64_t start_ip, post_commit_offset, abort_ip;
} __attribute__((aligned(32)));

struct area {
  uint32_t cpu_id_start, cpu_id;
  uint64_t rseq_cs;
  uint32_t flags, node_id, mm_cid;
} __attribute__((aligned(32)));

/* spin(area, cs, flag): stores cs into area->rseq_cs, then spins in the section until *flag
 * (rdx) is non-zero; the abort handler (after its signature) returns 1, a commit 0. */
extern char spin_start[], spin_post_commit[], spin_abort[], spin_inside[];
int spin(struct area *a, struct cs *c, volatile int *flag);
__asm__(
    ".text\n"
    ".globl spin\n"
    "spin:\n"
    "  movq %rsi, 8(%rdi)\n"
    ".globl spin_start\n"
    "spin_start:\n"
    "  cmpl $0, (%rdx)\n"
    ".globl spin_inside\n"
    "spin_inside:\n"
    "  je spin_start\n"
    "  xorl %eax, %eax\n"
    ".globl spin_post_commit\n"
    "spin_post_commit:\n"
    "  ret\n"
    "  .long 0x53053053\n"
    ".globl spin_abort\n"
    "spin_abort:\n"
    "  movl $1, %eax\n"
    "  ret\n"
    ".globl trap\n"
    "trap:\n"
    "  movq %rsi, 8(%rdi)\n"
    ".globl trap_start\n"
    "trap_start:\n"
    "  ud2\n"
    "  xorl %eax, %eax\n"
    ".globl trap_post_commit\n"
    "trap_post_commit:\n"
    "  ret\n"
    "  .long 0x53053053\n"
    ".globl trap_abort\n"
    "trap_abort:\n"
    "  movl $1, %eax\n"
    "  ret\n");
/* trap(area, cs): the same with a ud2 in the section, whose SIGILL is delivered in it. */
extern char trap_start[], trap_post_commit[], trap_abort[];
int trap(struct area *a, struct cs *c);

static long rs(void *a, uint32_t len, int flags, uint32_t sig) { return syscall(SYS_rseq, a, len, flags, sig); }
static struct area mine, other;
static char raw[128] __attribute__((aligned(32)));
static volatile int flag;
static volatile uintptr_t handler_rip;

static void on_alarm(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si;
  handler_rip = ((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
  flag = 1;
}

static void on_alarm_plain(int sig) { (void)sig; }

static void section(struct cs *c, uint64_t abort_ip) {
  *c = (struct cs){0, 0, (uintptr_t)spin_start, (uintptr_t)spin_post_commit - (uintptr_t)spin_start, abort_ip};
}

/* Runs a section that can only end by an abort in a child: prints how the child ended. */
static void in_child(const char *what, const struct cs *c, uint32_t sig) {
  pid_t p = fork();
  if (p == 0) {
    static struct cs cc;
    cc = *c;
    if (rs(&mine, 32, RSEQ_FLAG_UNREGISTER, SIG) != 0 || rs(&mine, 32, 0, sig) != 0) _exit(10);
    flag = 0;
    /* Linux preempts a spinning thread only when something else wants its CPU: a signal then
     * aborts the section if no preemption did. */
    signal(SIGALRM, on_alarm_plain);
    struct itimerval late = {{0, 0}, {0, 200000}};
    setitimer(ITIMER_REAL, &late, NULL);
    int r = spin(&mine, &cc, &flag);
    _exit(r == 1 ? 0 : 20);
  }
  int st;
  waitpid(p, &st, 0);
  if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
  else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* glibc registered this thread at start (unless its tunable says not to). */
  struct area *g = __rseq_size > 0 ? (struct area *)((char *)__builtin_thread_pointer() + __rseq_offset) : NULL;
  if (g != NULL) {
    R("glibc's area again", rs(g, 32, 0, SIG));
    R("glibc's area, other signature", rs(g, 32, 0, SIG + 1));
    R("another area while registered", rs(&mine, 32, 0, SIG));
    R("unregister another area", rs(&mine, 32, RSEQ_FLAG_UNREGISTER, SIG));
    R("unregister, other length", rs(g, 64, RSEQ_FLAG_UNREGISTER, SIG));
    R("unregister, other signature", rs(g, 32, RSEQ_FLAG_UNREGISTER, SIG + 1));
    R("unregister, extra flag", rs(g, 32, RSEQ_FLAG_UNREGISTER | 2, SIG));
    R("unregister glibc's", rs(g, 32, RSEQ_FLAG_UNREGISTER, SIG));
    printf("after unregistering: cpu_id_start %u cpu_id %d\n", g->cpu_id_start, (int)g->cpu_id);
  } else {
    printf("glibc registered nothing\n");
  }
  R("unregister while none", rs(&mine, 32, RSEQ_FLAG_UNREGISTER, SIG));
  R("length 31", rs(&mine, 31, 0, SIG));
  R("length 0", rs(&mine, 0, 0, SIG));
  R("unaligned", rs(raw + 8, 32, 0, SIG));
  R("unaligned, length 64", rs(raw + 16, 64, 0, SIG));
  R("flag 2", rs(&mine, 32, 2, SIG));
  R("NULL", rs(NULL, 32, 0, SIG));
  R("kernel address", rs((void *)0xffffffffff600000ul, 32, 0, SIG));

  /* Pinned to one CPU, the fields say which; moved to another, they follow. */
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
  mine.cpu_id = (uint32_t)-1;
  mine.cpu_id_start = 77;
  mine.node_id = mine.mm_cid = 99;
  mine.rseq_cs = (uintptr_t)&other; /* a stale pointer: cleared */
  R("register", rs(&mine, 32, 0, SIG));
  printf("cpu_id_start %u cpu_id %d node_id %u mm_cid ok %d rseq_cs %#lx\n", mine.cpu_id_start, (int)mine.cpu_id, mine.node_id,
         mine.mm_cid < 64, (unsigned long)mine.rseq_cs);
  R("again", rs(&mine, 32, 0, SIG));
  R("again, other signature", rs(&mine, 32, 0, SIG + 1));
  R("again, length 64", rs(&mine, 64, 0, SIG));
  if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    sched_setaffinity(0, sizeof set, &set);
    printf("on CPU 1: cpu_id %d cpu_id_start %u\n", (int)mine.cpu_id, mine.cpu_id_start);
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
  } else {
    printf("on CPU 1: cpu_id 1 cpu_id_start 1\n");
  }
  printf("back on CPU 0: cpu_id %d\n", (int)mine.cpu_id);

  /* A fork's child keeps the registration; vfork's child (a thread of the memory) has none. */
  pid_t p = fork();
  if (p == 0) _exit(rs(&mine, 32, 0, SIG) == -1 && errno == EBUSY ? 0 : 1);
  int st;
  waitpid(p, &st, 0);
  printf("fork's child registered: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
  static volatile long vret, verr;
  p = vfork();
  if (p == 0) {
    vret = syscall(SYS_rseq, &mine, 32, RSEQ_FLAG_UNREGISTER, SIG);
    verr = errno;
    _exit(0);
  }
  waitpid(p, &st, 0);
  printf("vfork's child unregisters: %ld %s\n", vret, en((int)verr));

  /* A signal inside the section: the handler's frame holds abort_ip, and rseq_cs is cleared. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_alarm;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGALRM, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  static struct cs c;
  c = (struct cs){0, 0, (uintptr_t)trap_start, (uintptr_t)trap_post_commit - (uintptr_t)trap_start, (uintptr_t)trap_abort};
  int r = trap(&mine, &c);
  printf("signal in the section: %s, handler saw %s, rseq_cs %#lx\n", r == 1 ? "aborted" : "committed",
         handler_rip == (uintptr_t)trap_abort ? "abort_ip" : "another address", (unsigned long)mine.rseq_cs);
  section(&c, (uintptr_t)spin_abort);
  struct itimerval it = {{0, 0}, {0, 20000}};

  /* rseq_cs set outside any section is cleared at the next preemption or signal. */
  mine.rseq_cs = (uintptr_t)&c;
  flag = 0;
  setitimer(ITIMER_REAL, &it, NULL);
  while (!flag) {
  }
  printf("rseq_cs set outside a section: %#lx\n", (unsigned long)mine.rseq_cs);

  /* Preemption alone aborts a section: the child spins with no signal to come. */
  signal(SIGALRM, SIG_DFL);
  section(&c, (uintptr_t)spin_abort);
  in_child("preempted in the section", &c, SIG);
  in_child("bad signature", &c, SIG + 1);
  section(&c, (uintptr_t)spin_inside);
  in_child("abort_ip inside the section", &c, SIG);
  section(&c, (uintptr_t)spin_abort);
  c.version = 1;
  in_child("version 1", &c, SIG);
  section(&c, (uintptr_t)spin_abort);
  c.flags = 1;
  in_child("rseq_cs flags", &c, SIG);

  R("unregister", rs(&mine, 32, RSEQ_FLAG_UNREGISTER, SIG));
  printf("after unregistering: cpu_id_start %u cpu_id %d\n", mine.cpu_id_start, (int)mine.cpu_id);
  return 0;
}
