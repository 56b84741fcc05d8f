/*
 * ptrace(2) between processes of one sandbox, as a debugger or strace uses it: PTRACE_TRACEME
 * and a signal-delivery-stop (SIGSTOP), registers, PEEKDATA/POKEDATA of the tracee's memory,
 * GETSIGINFO and a signal passed on or suppressed, PTRACE_SYSCALL stops with TRACESYSGOOD,
 * the exec stop with and without PTRACE_O_TRACEEXEC, PTRACE_O_TRACEFORK's event and the new
 * child's first stop, PTRACE_SINGLESTEP, PTRACE_ATTACH to a sleeping child and PTRACE_DETACH. Prints what the
 * tracer saw; the same natively.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long target = 1234;
static volatile int got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

static void show(const char *what, int st) {
  if (WIFSTOPPED(st)) {
    int ev = st >> 16;
    printf("%s: stopped by %d%s", what, WSTOPSIG(st) & 0x7f, (WSTOPSIG(st) & 0x80) ? " (syscall)" : "");
    if (ev) printf(", event %d", ev);
    printf("\n");
  } else if (WIFEXITED(st)) {
    printf("%s: exited %d\n", what, WEXITSTATUS(st));
  } else if (WIFSIGNALED(st)) {
    printf("%s: killed by %d\n", what, WTERMSIG(st));
  }
}

static int wait_for(pid_t p, const char *what) {
  int st;
  pid_t r = waitpid(p, &st, __WALL);
  if (r != p) {
    printf("%s: waitpid %d: %s\n", what, (int)r, strerror(errno));
    exit(1);
  }
  show(what, st);
  return st;
}

static void memory_and_signals(void) {
  pid_t c = fork();
  if (c == 0) {
    signal(SIGUSR1, on_usr1);
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    raise(SIGUSR1); /* suppressed by the tracer */
    raise(SIGUSR1); /* passed on */
    _exit(got_usr1 ? (int)target : 100);
  }
  wait_for(c, "traceme");
  struct user_regs_struct regs;
  printf("getregs: %s\n", ptrace(PTRACE_GETREGS, c, 0, &regs) == 0 && regs.rip != 0 ? "ok" : "failed");
  errno = 0;
  long v = ptrace(PTRACE_PEEKDATA, c, (void *)&target, 0);
  printf("peekdata: %ld (errno %d)\n", v, errno);
  printf("pokedata: %d\n", (int)ptrace(PTRACE_POKEDATA, c, (void *)&target, (void *)42L));
  errno = 0;
  long bad = ptrace(PTRACE_PEEKDATA, c, (void *)8, 0);
  printf("peek unmapped: %ld %s\n", bad, strerror(errno));
  errno = 0;
  long pr = ptrace(PTRACE_POKEDATA, c, (void *)16, (void *)1L);
  printf("poke unmapped: %ld %s\n", pr, strerror(errno));
  ptrace(PTRACE_CONT, c, 0, 0);
  wait_for(c, "first SIGUSR1");
  siginfo_t si;
  ptrace(PTRACE_GETSIGINFO, c, 0, &si);
  printf("siginfo: signo %d code %d\n", si.si_signo, si.si_code);
  ptrace(PTRACE_CONT, c, 0, 0);
  wait_for(c, "second SIGUSR1");
  ptrace(PTRACE_CONT, c, 0, (void *)(long)SIGUSR1);
  wait_for(c, "end");
  printf("not a tracee any more: %s\n", ptrace(PTRACE_CONT, c, 0, 0) == -1 && errno == ESRCH ? "ESRCH" : "?");
}

static void syscalls(void) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    syscall(SYS_getppid);
    syscall(SYS_exit_group, 3);
  }
  wait_for(c, "syscalls");
  ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACESYSGOOD);
  for (;;) {
    ptrace(PTRACE_SYSCALL, c, 0, 0);
    int st;
    waitpid(c, &st, 0);
    if (!WIFSTOPPED(st)) {
      show("syscalls end", st);
      break;
    }
    struct user_regs_struct regs;
    ptrace(PTRACE_GETREGS, c, 0, &regs);
    printf("stop %#x: orig_rax %lld, rax %s\n", WSTOPSIG(st), (long long)regs.orig_rax,
           (long long)regs.rax == -ENOSYS ? "-ENOSYS" : (long long)regs.rax == getpid() ? "the tracer's pid" : "other");
  }
}

/* PTRACE_SYSEMU: the syscall at the entry stop is skipped however the tracer resumes it
 * (CONT, DETACH); the tracee sees the rax the tracer put there. */
static void sysemu(int detach) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    long r = syscall(SYS_exit_group, 5);
    _exit(r == 42 ? 0 : 1);
  }
  wait_for(c, "sysemu");
  ptrace(PTRACE_SYSEMU, c, 0, 0);
  wait_for(c, "sysemu entry");
  ptrace(PTRACE_POKEUSER, c, (void *)offsetof(struct user_regs_struct, rax), (void *)42);
  ptrace(detach ? PTRACE_DETACH : PTRACE_CONT, c, 0, 0);
  wait_for(c, detach ? "sysemu then detach" : "sysemu then cont");
}

/* PTRACE_LISTEN: a seized tracee in its group stop leaves its ptrace-stop (requests ESRCH, no
 * wait report) yet stays stopped; SIGCONT traps it again with PTRACE_EVENT_STOP. */
static void listen_stop(void) {
  pid_t c = fork();
  if (c == 0) {
    for (;;) pause();
  }
  ptrace(PTRACE_SEIZE, c, 0, 0);
  kill(c, SIGSTOP);
  wait_for(c, "listen: group stop");
  errno = 0;
  long r = ptrace(PTRACE_LISTEN, c, 0, 0);
  printf("listen: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  errno = 0;
  r = ptrace(PTRACE_CONT, c, 0, 0);
  printf("cont while listening: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  int st;
  printf("wait while listening: %d\n", (int)waitpid(c, &st, WNOHANG));
  kill(c, SIGCONT);
  wait_for(c, "listen: after SIGCONT");
  ptrace(PTRACE_DETACH, c, 0, 0);
  kill(c, SIGKILL);
  wait_for(c, "listen: end");
}

static void exec_stops(int option) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
  }
  wait_for(c, option ? "exec with TRACEEXEC" : "exec");
  if (option) ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACEEXEC);
  ptrace(PTRACE_CONT, c, 0, 0);
  wait_for(c, "at exec");
  unsigned long msg = 0;
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  if (option) printf("event message is the tid: %s\n", msg == (unsigned long)c ? "yes" : "no");
  ptrace(PTRACE_CONT, c, 0, 0);
  wait_for(c, "after exec");
}

static void fork_event(void) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    pid_t g = fork();
    if (g == 0) _exit(5);
    int st;
    waitpid(g, &st, 0);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) + 10 : 99);
  }
  wait_for(c, "fork tracee");
  ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACEFORK);
  ptrace(PTRACE_CONT, c, 0, 0);
  wait_for(c, "at fork");
  unsigned long g = 0;
  ptrace(PTRACE_GETEVENTMSG, c, 0, &g);
  wait_for((pid_t)g, "new child");
  ptrace(PTRACE_CONT, (pid_t)g, 0, 0);
  /* A tracer that is not the parent is told of the exit first; the parent waits until then. */
  wait_for((pid_t)g, "new child end");
  ptrace(PTRACE_CONT, c, 0, 0);
  /* Its SIGCHLD stops it too: passed on, until it exits. */
  for (int st = wait_for(c, "fork tracee"); WIFSTOPPED(st); st = wait_for(c, "fork tracee")) {
    ptrace(PTRACE_CONT, c, 0, (void *)(long)WSTOPSIG(st));
  }
}

static void single_step(void) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    _exit(4);
  }
  wait_for(c, "single-step tracee");
  struct user_regs_struct before, after;
  ptrace(PTRACE_GETREGS, c, 0, &before);
  int moved = 0;
  for (int i = 0; i < 3; i++) {
    ptrace(PTRACE_SINGLESTEP, c, 0, 0);
    wait_for(c, "single step");
    ptrace(PTRACE_GETREGS, c, 0, &after);
    if (after.rip != before.rip) moved++;
    before = after;
  }
  printf("each step moved rip: %s\n", moved == 3 ? "yes" : "no");
  ptrace(PTRACE_CONT, c, 0, 0);
  wait_for(c, "after stepping");
}

static void attach(void) {
  pid_t c = fork();
  if (c == 0) {
    for (;;) pause();
  }
  usleep(100000);
  printf("attach: %d\n", (int)ptrace(PTRACE_ATTACH, c, 0, 0));
  printf("attach again: %s\n", ptrace(PTRACE_ATTACH, c, 0, 0) == -1 ? strerror(errno) : "ok");
  wait_for(c, "attached");
  printf("detach: %d\n", (int)ptrace(PTRACE_DETACH, c, 0, 0));
  kill(c, SIGKILL);
  wait_for(c, "detached child");
  printf("attach to self: %s\n", ptrace(PTRACE_ATTACH, getpid(), 0, 0) == -1 ? strerror(errno) : "ok");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  memory_and_signals();
  syscalls();
  sysemu(0);
  sysemu(1);
  listen_stop();
  exec_stops(0);
  exec_stops(1);
  fork_event();
  single_step();
  attach();
  return 0;
}
