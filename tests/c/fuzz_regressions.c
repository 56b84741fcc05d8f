/* System calls the fuzzer (tools/fuzz.ts) found crashing the sentry, each made once and its end
 * printed; the output must be the same natively and in the sentry:
 *   - clone(2) with an exit signal beyond NSIG (0x80): the child's exit sends no signal, the
 *     parent's wait still sees it (the sentry died: "Cannot read properties of undefined");
 *   - clone(2) with a stack pointer of -1: the child faults on its first use of the stack (the
 *     sentry's handler threw: "Infinity cannot be converted to a BigInt");
 *   - a clone child (exit signal 0) orphaned to a subreaper reports with SIGCHLD, so a plain
 *     wait() reaps it (the fuzzer's init waited for ever);
 *   - processes forking in a loop when their group is sent SIGKILL: none survives (a child
 *     created while the kill was held escaped it);
 *   - clone(2) with CLONE_PARENT_SETTID at an unmapped address: the child exists and runs, the
 *     fault is ignored (the sentry failed the call after making the child, which then never
 *     ran and which its parent's wait() waited on for ever); CLONE_PIDFD with it: EINVAL;
 *   - mmap(2) with a hint of -1 (past 2^53): the hint is ignored and the mapping made elsewhere
 *     (the sentry's handler threw: "NaN cannot be converted to a BigInt"). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long pid) {
  int st;
  if (pid < 0) {
    printf("%s: clone failed\n", what);
    return;
  }
  if (waitpid((pid_t)pid, &st, __WALL) != pid) {
    printf("%s: waitpid failed\n", what);
    return;
  }
  if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
  else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  for (int shared = 0; shared < 2; shared++) {
    void *p = mmap((void *)~0UL, 4, PROT_READ, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    printf("mmap %s at hint -1: %s\n", shared ? "shared" : "private", p == MAP_FAILED ? strerrorname_np(errno) : "mapped");
    if (p != MAP_FAILED) munmap(p, 4);
  }
  long pid = syscall(SYS_clone, 0x80UL, 0UL, 0UL, 0UL, 0UL);
  if (pid == 0) _exit(7);
  report("exit signal 0x80", pid);
  pid = syscall(SYS_clone, (unsigned long)SIGCHLD, ~0UL, 0UL, 0UL, 0UL);
  if (pid == 0) _exit(8); /* not reached: returning from syscall() pops from the stack */
  report("stack -1", pid);
  pid = syscall(SYS_clone, (unsigned long)(CLONE_PARENT_SETTID | SIGCHLD), 0UL, 0xfUL, 0UL, 0UL);
  if (pid == 0) _exit(3);
  report("parent_tid unmapped", pid);
  pid = syscall(SYS_clone, (unsigned long)(CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD), 0UL, 0xfUL, 0UL, 0UL);
  if (pid == 0) _exit(4);
  printf("CLONE_PIDFD with CLONE_PARENT_SETTID: %s\n", pid < 0 ? strerrorname_np(errno) : "a child");
  if (pid > 0) waitpid((pid_t)pid, 0, 0);

  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t middle = fork();
  if (middle == 0) {
    long g = syscall(SYS_clone, 0UL, 0UL, 0UL, 0UL, 0UL); /* exit signal 0 */
    if (g == 0) {
      usleep(100000);
      _exit(5);
    }
    _exit(0);
  }
  report("middle", middle);
  int st;
  pid_t w = wait(&st); /* no __WALL: only children that report with SIGCHLD */
  printf("orphaned clone child: %s, exit %d\n", w > 0 ? "reaped by wait()" : "not seen", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

  pid_t leader = fork();
  if (leader < 0) return 3; /* never kill(-leader) with leader -1: that is pid 1 */
  if (leader == 0) {
    setpgid(0, 0);
    for (int i = 0; i < 4; i++) {
      if (fork() == 0) {
        for (;;) {
          pid_t c = fork();
          if (c == 0) _exit(0);
          if (c > 0) waitpid(c, 0, 0);
        }
      }
    }
    for (;;) pause();
  }
  setpgid(leader, leader);
  usleep(200000);
  kill(-leader, SIGKILL);
  int reaped = 0;
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    pid_t r = waitpid(-1, 0, WNOHANG);
    if (r > 0) reaped++;
    else if (r < 0) break; /* ECHILD: nothing left */
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > 10) break;
    usleep(1000);
  }
  printf("forkers killed: %s\n", kill(-leader, 0) < 0 ? "none left" : "some survived");
  if (kill(-leader, 0) == 0) kill(-leader, SIGKILL);
  return 0;
}
