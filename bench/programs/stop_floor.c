/*
 * The cost of handing one syscall to a tracer in another process, with no emulation work at
 * all: the floor under any sentry whose application runs in a separate host process. A child
 * makes N getpid syscalls; the parent, pinned with it to CPU 0, answers each one:
 *
 *   ptrace: PTRACE_SYSEMU stops, as the sentry's platform does (waitpid, GETREGS, POKEUSER of
 *           the result, SYSEMU): what the sentry pays per stop, minus its JavaScript.
 *   notif:  seccomp user notifications (SECCOMP_RET_USER_NOTIF; RECV and SEND ioctls), the
 *           cheapest kernel-mediated hand-off there is without ptrace.
 *   trap:   systrap's hand-off (issue #17, gVisor's pkg/sentry/platform/systrap): the syscall
 *           traps (SECCOMP_RET_TRAP) into the child's own SIGSYS handler, which puts the number
 *           in shared memory, wakes the parent with a futex and sleeps on another until the
 *           answer is there, then returns it from the signal. Only the handler's own syscall
 *           site (stub_syscall below) and rt_sigreturn pass the filter.
 *   trapspin: the same, but each side first spins (up to ~20 µs) before it sleeps: what a
 *           stub and a sentry on two free CPUs would do (on one CPU it only adds).
 *
 * Prints "<mode> <ns per syscall>". Usage: stop_floor ptrace|notif|trap|trapspin [N]
 */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void child_loop(long n) {
  for (long i = 0; i < n; i++) syscall(SYS_getpid);
  _exit(0);
}

static double by_ptrace(long n) {
  pid_t c = fork();
  if (c < 0) die("fork");
  if (c == 0) {
    raise(SIGSTOP);
    child_loop(n);
  }
  if (ptrace(PTRACE_SEIZE, c, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) < 0) die("seize");
  int st;
  if (waitpid(c, &st, 0) < 0) die("waitpid");
  long answered = 0;
  double t0 = now();
  if (ptrace(PTRACE_SYSEMU, c, 0, 0) < 0) die("sysemu");
  for (;;) {
    if (waitpid(c, &st, __WALL) < 0) die("waitpid");
    if (!WIFSTOPPED(st)) break;
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, c, 0, &r) < 0) die("getregs");
    if (r.orig_rax != SYS_getpid) {  // exit_group: let the host run it
      ptrace(PTRACE_CONT, c, 0, 0);
      continue;
    }
    answered++;
    ptrace(PTRACE_POKEUSER, c, offsetof(struct user_regs_struct, rax), (void *)(long)c);
    if (ptrace(PTRACE_SYSEMU, c, 0, 0) < 0) die("sysemu");
  }
  return (now() - t0) / answered;
}

/* The child installs the filter and passes its listener to the parent over a socketpair. */
static double by_notif(long n) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
  pid_t c = fork();
  if (c < 0) die("fork");
  if (c == 0) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0) die("seccomp");
    char byte = 'x', ctl[CMSG_SPACE(sizeof(int))];
    struct iovec io = {&byte, 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    if (sendmsg(sv[1], &m, 0) < 0) die("sendmsg");
    close(fd);
    if (read(sv[1], &byte, 1) != 1) die("read");
    child_loop(n);
  }
  char byte, ctl[CMSG_SPACE(sizeof(int))];
  struct iovec io = {&byte, 1};
  struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  if (recvmsg(sv[0], &m, 0) < 0) die("recvmsg");
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
  if (write(sv[0], "g", 1) != 1) die("write");
  double t0 = now();
  for (long i = 0; i < n; i++) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) die("NOTIF_RECV");
    struct seccomp_notif_resp resp = {.id = req.id, .val = c, .error = 0, .flags = 0};
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) die("NOTIF_SEND");
  }
  double per = (now() - t0) / n;
  waitpid(c, NULL, 0);
  return per;
}

/* The only syscall site the trap filter lets through (besides rt_sigreturn): a stub's own. */
long stub_syscall(long nr, long a, long b, long c);
__asm__(".text\n.globl stub_syscall\nstub_syscall:\n"
        "  mov %rdi, %rax\n  mov %rsi, %rdi\n  mov %rdx, %rsi\n  mov %rcx, %rdx\n  xor %r10, %r10\n"
        "  syscall\n  ret\n.globl stub_syscall_end\nstub_syscall_end:\n");
extern char stub_syscall_end[];

/* One thread's hand-off word: 0 idle, 1 a syscall waits for the parent, 2 answered, 3 done. */
struct trap_shared {
  int state;
  long nr, ret;
};
static struct trap_shared *sh;
static int spin_limit;

static void futex_wait(int *w, int v) { stub_syscall(SYS_futex, (long)w, FUTEX_WAIT, v); }
static void futex_wake(int *w) { stub_syscall(SYS_futex, (long)w, FUTEX_WAKE, 1); }

static void on_sigsys(int sig, siginfo_t *si, void *uc_) {
  (void)sig, (void)si;
  ucontext_t *uc = uc_;
  sh->nr = uc->uc_mcontext.gregs[REG_RAX];
  __atomic_store_n(&sh->state, 1, __ATOMIC_RELEASE);
  futex_wake(&sh->state);
  for (int i = 0; i < spin_limit && __atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) != 2; i++) __builtin_ia32_pause();
  while (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) != 2) futex_wait(&sh->state, 1);
  uc->uc_mcontext.gregs[REG_RAX] = sh->ret;
  __atomic_store_n(&sh->state, 0, __ATOMIC_RELEASE);
}

static double by_trap(long n, int spin) {
  sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) die("mmap");
  spin_limit = spin;
  pid_t c = fork();
  if (c < 0) die("fork");
  if (c == 0) {
    if (spin > 0) { /* two CPUs: the child on CPU 1, its parent stays on CPU 0 */
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(1, &one);
      if (sched_setaffinity(0, sizeof one, &one) < 0) die("sched_setaffinity");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) < 0) die("sigaction");
    unsigned long lo = (unsigned long)stub_syscall, hi = (unsigned long)stub_syscall_end;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 5, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(lo >> 32), 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)lo, 0, 2),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)hi, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("seccomp");
    long wrong = 0;
    for (long i = 0; i < n; i++) {
      long r;
      __asm__ volatile("syscall" : "=a"(r) : "a"(SYS_getpid) : "rcx", "r11", "memory");
      if (r != 4242) wrong++;
    }
    sh->ret = wrong;
    __atomic_store_n(&sh->state, 3, __ATOMIC_RELEASE);
    futex_wake(&sh->state);
    stub_syscall(SYS_exit_group, 0, 0, 0);
  }
  double t0 = now();
  long answered = 0;
  for (;;) {
    int s, i = 0;
    while ((s = __atomic_load_n(&sh->state, __ATOMIC_ACQUIRE)) != 1 && s != 3) {
      if (i++ < spin) __builtin_ia32_pause();
      else syscall(SYS_futex, &sh->state, FUTEX_WAIT, s, NULL, NULL, 0);
    }
    if (s == 3) break;
    answered++;
    sh->ret = 4242;
    __atomic_store_n(&sh->state, 2, __ATOMIC_RELEASE);
    syscall(SYS_futex, &sh->state, FUTEX_WAKE, 1, NULL, NULL, 0);
  }
  double per = (now() - t0) / (answered ? answered : 1);
  int st;
  waitpid(c, &st, 0);
  if (answered != n || sh->ret != 0 || !WIFEXITED(st)) {
    fprintf(stderr, "trap: %ld of %ld answered, %ld wrong results, status %#x\n", answered, n, sh->ret, st);
    exit(1);
  }
  return per;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s ptrace|notif|trap|trapspin [N]\n", argv[0]);
    return 2;
  }
  long n = argc > 2 ? atol(argv[2]) : 100000;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
  double per;
  if (strcmp(argv[1], "ptrace") == 0) per = by_ptrace(n);
  else if (strcmp(argv[1], "notif") == 0) per = by_notif(n);
  else if (strcmp(argv[1], "trap") == 0) per = by_trap(n, 0);
  else if (strcmp(argv[1], "trapspin") == 0) per = by_trap(n, 20000);
  else {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  printf("%s %.0f\n", argv[1], per * 1e9);
  return 0;
}
