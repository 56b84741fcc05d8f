/* A traced sleep interrupted by a signal: its tracer sees -ERESTARTNOHAND (pause) or
 * -ERESTARTSYS (read of a pipe) in rax at the syscall-exit stop, then the signal-delivery stop;
 * what the syscall becomes follows rax when the tracee goes on (gVisor's ptrace_test ERESTART):
 * 0 written there ends pause; a handler gets EINTR from pause, and SA_RESTART runs the read
 * again (a new syscall-entry stop); a suppressed signal restarts pause. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_usr1(int s) { (void)s; }

static int wait_stop(pid_t c, const char *what) {
  int st;
  if (waitpid(c, &st, 0) != c) {
    perror("waitpid");
    exit(1);
  }
  if (WIFSTOPPED(st)) {
    printf("  %s: stop %s\n", what, WSTOPSIG(st) == (SIGTRAP | 0x80) ? "syscall" : WSTOPSIG(st) == SIGUSR1 ? "SIGUSR1" : "other");
  } else if (WIFEXITED(st)) {
    printf("  %s: exit %d\n", what, WEXITSTATUS(st));
  } else {
    printf("  %s: killed by %d\n", what, WTERMSIG(st));
  }
  return st;
}

static void regs(pid_t c, const char *what) {
  struct user_regs_struct r;
  ptrace(PTRACE_GETREGS, c, 0, &r);
  printf("  %s: orig_rax %lld, rax %lld\n", what, (long long)r.orig_rax, (long long)r.rax);
}

/* mode 0: pause, SIGUSR1 ignored, rax set to 0 at the exit stop.
 * mode 1: pause, SIGUSR1 handled: EINTR.
 * mode 2: read of an empty pipe, SIGUSR1 handled with SA_RESTART: read again.
 * mode 3: pause, SIGUSR1 handled but suppressed by the tracer: pause again (then SIGTERM). */
static void run(const char *name, int mode) {
  printf("%s:\n", name);
  int p[2];
  if (pipe(p) != 0) exit(1);
  pid_t c = fork();
  if (c == 0) {
    struct sigaction sa = {0};
    sa.sa_handler = mode == 0 ? SIG_IGN : on_usr1;
    sa.sa_flags = mode == 2 ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    if (mode == 2) {
      char x;
      long r = read(p[0], &x, 1);
      _exit(r == 1 ? 10 : 20);
    }
    int r = pause();
    _exit(r == 0 ? 0 : errno == EINTR ? 4 : 5);
  }
  wait_stop(c, "start");
  ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
  ptrace(PTRACE_SYSCALL, c, 0, 0);
  wait_stop(c, "entry");
  regs(c, "entry");
  ptrace(PTRACE_SYSCALL, c, 0, 0);
  usleep(200 * 1000);
  int st;
  printf("  asleep: %d\n", (int)waitpid(c, &st, WNOHANG));
  kill(c, SIGUSR1);
  wait_stop(c, "interrupted");
  regs(c, "exit");
  if (mode == 0) {
    ptrace(PTRACE_POKEUSER, c, offsetof(struct user_regs_struct, rax), 0);
    ptrace(PTRACE_DETACH, c, 0, 0);
    wait_stop(c, "end");
    return;
  }
  ptrace(PTRACE_SYSCALL, c, 0, 0);
  wait_stop(c, "next");
  ptrace(PTRACE_SYSCALL, c, 0, mode == 3 ? 0 : SIGUSR1);
  if (mode == 1) {
    /* rt_sigreturn's entry stop after the handler, then pause returns EINTR. */
    wait_stop(c, "after the handler");
    regs(c, "after the handler");
    ptrace(PTRACE_DETACH, c, 0, 0);
    wait_stop(c, "end");
    return;
  }
  wait_stop(c, "again");
  regs(c, "again");
  if (mode == 2) {
    /* The handler ran first: its rt_sigreturn, then read's entry again. */
    ptrace(PTRACE_SYSCALL, c, 0, 0);
    wait_stop(c, "after rt_sigreturn");
    ptrace(PTRACE_SYSCALL, c, 0, 0);
    wait_stop(c, "read again");
    regs(c, "read again");
    ptrace(PTRACE_DETACH, c, 0, 0);
    if (write(p[1], "x", 1) != 1) exit(1);
    wait_stop(c, "end");
    return;
  }
  ptrace(PTRACE_DETACH, c, 0, 0);
  usleep(100 * 1000);
  printf("  still paused: %d\n", (int)waitpid(c, &st, WNOHANG));
  kill(c, SIGTERM);
  wait_stop(c, "end");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  run("pause, signal ignored, rax set to 0", 0);
  run("pause, handler", 1);
  run("read, SA_RESTART handler", 2);
  run("pause, signal suppressed", 3);
  return 0;
}
