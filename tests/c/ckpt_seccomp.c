/*
 * Checkpoint and restore of seccomp: a child in strict mode asleep in read(2), and a process
 * with two filters (the second installed with TSYNC and LOG over a thread asleep in read(2)).
 * After the checkpoint (while main waits for it on stdin) the filters still act: getuid fails with 11, getgid
 * with 22, getppid traps (SIGSYS with the filter's data 7 and the syscall's number), in main
 * and in the thread; the strict child may read and write, and dies of SIGKILL at getpid; a
 * third filter installed with TSYNC finds the thread's filters its ancestors (0, not the
 * thread's id), and acts on both; /proc/self/status counts the filters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_ckpt.h"

static volatile int trapped_nr = -1, trapped_data = -1, trapped_code = -1;
static int p[2], q[2], r[2];

static void on_sys(int s, siginfo_t *si, void *u) {
  (void)s;
  (void)u;
  trapped_nr = si->si_syscall;
  trapped_data = si->si_errno;
  trapped_code = si->si_code;
}

/* A filter: nr -> ret for one syscall (or two), ALLOW for the rest. */
static int install(unsigned flags, int nr1, unsigned ret1, int nr2, unsigned ret2) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr1, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, ret1),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr2, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, ret2),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static void probe(const char *who) {
  long u = syscall(SYS_getuid);
  int eu = errno;
  long g = syscall(SYS_getgid);
  int eg = errno;
  trapped_nr = trapped_data = trapped_code = -1;
  syscall(SYS_getppid);
  printf("%s: getuid %ld errno %d, getgid %ld errno %d, getppid trapped nr %d data %d code %d\n", who, u, eu, g, eg,
         trapped_nr, trapped_data, trapped_code);
}

static void *thread(void *arg) {
  (void)arg;
  char c;
  if (read(q[0], &c, 1) != 1) return NULL;
  probe("thread");
  write(r[1], "y", 1);
  if (read(q[0], &c, 1) != 1) return NULL;
  errno = 0;
  long e = syscall(SYS_getegid);
  printf("thread: getegid %ld errno %d\n", e, errno);
  return NULL;
}

static void status_lines(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "Seccomp:", 8) == 0 || strncmp(line, "Seccomp_filters:", 16) == 0) fputs(line, stdout);
  }
  if (f) fclose(f);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (pipe(p) || pipe(q) || pipe(r)) return 2;
  pid_t child = fork();
  if (child == 0) {
    char c;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)) _exit(3);
    if (read(p[0], &c, 1) != 1) syscall(SYS_exit, 4);
    static const char msg[] = "child: strict mode read and wrote\n";
    write(1, msg, sizeof msg - 1);
    syscall(SYS_getpid); /* not read, write, exit or sigreturn: SIGKILL */
    syscall(SYS_exit, 5);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return 2;
  if (install(0, SYS_getuid, SECCOMP_RET_ERRNO | 11, SYS_getuid, SECCOMP_RET_ERRNO | 11)) return 2;
  pthread_t th;
  if (pthread_create(&th, NULL, thread, NULL)) return 2;
  if (install(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG, SYS_getgid, SECCOMP_RET_ERRNO | 22, SYS_getppid,
              SECCOMP_RET_TRAP | 7)) {
    return 2;
  }
  printf("armed\n");
  await_checkpoint(); /* the checkpoint comes here */
  probe("main");
  char c;
  write(q[1], "x", 1);
  if (read(r[0], &c, 1) != 1) return 2;
  write(p[1], "x", 1);
  int st;
  waitpid(child, &st, 0);
  printf("child: signaled %d signal %d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  usleep(100000);
  long r = install(SECCOMP_FILTER_FLAG_TSYNC, SYS_getegid, SECCOMP_RET_ERRNO | 33, SYS_getegid, SECCOMP_RET_ERRNO | 33);
  printf("third filter with TSYNC: %ld\n", r);
  write(q[1], "x", 1);
  pthread_join(th, NULL);
  errno = 0;
  long e = syscall(SYS_getegid);
  printf("main: getegid %ld errno %d\n", e, errno);
  status_lines();
  return 0;
}
