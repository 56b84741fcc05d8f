/*
 * seccomp for a program in the sandbox: a BPF filter answers getppid with an errno, getuid
 * with SIGSYS (SYS_SECCOMP siginfo, rax holding the syscall number in the handler's context),
 * lets the rest run; a second filter stacked on it wins on an equal action; PR_GET_SECCOMP and
 * /proc/self/status show the mode and count; KILL_PROCESS ends a child with SIGSYS; strict mode
 * allows write and kills on anything else; malformed programs are EINVAL. Prints what it saw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile int sys_nr = -1, sys_code, sys_arch_ok, sys_errno, rax_is_nr;

static void on_sigsys(int s, siginfo_t *si, void *ucv) {
  (void)s;
  ucontext_t *uc = ucv;
  sys_nr = si->si_syscall;
  sys_code = si->si_code;
  sys_arch_ok = si->si_arch == AUDIT_ARCH_X86_64;
  sys_errno = si->si_errno;
  rax_is_nr = uc->uc_mcontext.gregs[REG_RAX] == si->si_syscall;
  uc->uc_mcontext.gregs[REG_RAX] = 77; /* what the "syscall" returns */
}

static int install(struct sock_filter *f, unsigned short n) {
  struct sock_fprog p = {n, f};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
}

#define ON(nr, ret) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1), BPF_STMT(BPF_RET | BPF_K, ret)

static void status_line(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, key, strlen(key)) == 0) printf("%s", line);
  }
  if (f) fclose(f);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t c = fork();
  if (c == 0) {
    struct sock_filter bad[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    printf("before no_new_privs as root: %s\n", prctl(PR_GET_SECCOMP) == 0 ? "mode 0" : "?");
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    errno = 0;
    int ir = install(bad, 2);
    printf("a jump out of the program: %d %s\n", ir, strerrorname_np(errno));
    struct sock_fprog empty = {0, bad};
    errno = 0;
    ir = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &empty);
    printf("an empty program: %d %s\n", ir, strerrorname_np(errno));
    struct sock_filter f1[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        ON(SYS_getppid, SECCOMP_RET_ERRNO | ENOTNAM),
        ON(SYS_getuid, SECCOMP_RET_TRAP | 42),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    printf("install: %d\n", install(f1, sizeof f1 / sizeof f1[0]));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    errno = 0;
    long r = syscall(SYS_getppid);
    printf("getppid: %ld %s\n", r, strerrorname_np(errno));
    r = syscall(SYS_getuid);
    printf("getuid: %ld; SIGSYS for %d, code %d, arch ok %d, errno %d, rax held the number %d\n", r, sys_nr, sys_code,
           sys_arch_ok, sys_errno, rax_is_nr);
    printf("getpid runs: %s\n", syscall(SYS_getpid) == getpid() ? "yes" : "no");
    printf("PR_GET_SECCOMP: %d\n", prctl(PR_GET_SECCOMP));
    struct sock_filter f2[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        ON(SYS_getppid, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    printf("second: %d\n", install(f2, sizeof f2 / sizeof f2[0]));
    errno = 0;
    r = syscall(SYS_getppid);
    printf("getppid now: %ld %s\n", r, strerrorname_np(errno));
    status_line("Seccomp:");
    status_line("Seccomp_filters:");
    fflush(stdout);
    pid_t k = fork();
    if (k == 0) {
      struct sock_filter f3[] = {
          BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
          ON(SYS_getpid, SECCOMP_RET_KILL_PROCESS),
          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      };
      install(f3, sizeof f3 / sizeof f3[0]);
      syscall(SYS_getpid);
      _exit(0);
    }
    int st;
    waitpid(k, &st, 0);
    printf("KILL_PROCESS child: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  pid_t s = fork();
  if (s == 0) {
    syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
    const char msg[] = "strict: write works\n";
    syscall(SYS_write, 1, msg, sizeof msg - 1);
    syscall(SYS_getpid);
    syscall(SYS_exit, 0);
  }
  waitpid(s, &st, 0);
  printf("strict child: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  return 0;
}
