/* Who hears of a traced exit first: a process traced by another (not its parent) is its
 * tracer's to wait for first; its parent's wait blocks (WNOHANG finds nothing, no SIGCHLD)
 * until the tracer has waited, then reaps it. A traced thread that exits is a zombie its tracer
 * waits for by the thread's id, with the thread's exit status. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static volatile sig_atomic_t chld;
static void on_chld(int s) { (void)s; chld++; }

static int gate[2];

static void *thread_main(void *arg) {
  (void)arg;
  pid_t tid = syscall(SYS_gettid);
  write(gate[1], &tid, sizeof tid);
  char c;
  read(gate[0], &c, 1); /* the other end of a second pipe, see below */
  syscall(SYS_exit, 7);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* 1. The parent (middle) of a process (leaf) traced by the top process. */
  int leafgo[2], pidp[2], midgo[2], midback[2];
  pipe(leafgo);
  pipe(pidp);
  pipe(midgo);
  pipe(midback);
  pid_t middle = fork();
  if (middle == 0) {
    signal(SIGCHLD, on_chld);
    pid_t leaf = fork();
    if (leaf == 0) {
      char c;
      read(leafgo[0], &c, 1);
      _exit(5);
    }
    write(pidp[1], &leaf, sizeof leaf);
    /* The top's go: it attached, let the leaf exit, and gave it time to. */
    char c;
    read(midgo[0], &c, 1);
    int st;
    pid_t r0 = waitpid(leaf, &st, WNOHANG);
    printf("middle: WNOHANG before the tracer's wait %d, SIGCHLD %d\n", r0, chld);
    write(midback[1], "w", 1);
    pid_t r = waitpid(leaf, &st, 0);
    read(midgo[0], &c, 1); /* printed after the tracer's line */
    printf("middle: reaped the leaf %d, status %d, SIGCHLD %d\n", r == leaf, WEXITSTATUS(st), chld > 0);
    _exit(0);
  }
  pid_t leaf;
  read(pidp[0], &leaf, sizeof leaf);
  R("attach", ptrace(PTRACE_ATTACH, leaf, 0, 0));
  int st;
  waitpid(leaf, &st, __WALL);
  R("cont", ptrace(PTRACE_CONT, leaf, 0, 0));
  write(leafgo[1], "x", 1);
  usleep(300000);
  write(midgo[1], "y", 1);
  char c;
  read(midback[0], &c, 1);
  usleep(200000); /* the middle blocks in its wait meanwhile */
  pid_t r = waitpid(leaf, &st, __WALL);
  printf("tracer: waited for the leaf %d, exited %d status %d\n", r == leaf, WIFEXITED(st), WEXITSTATUS(st));
  write(midgo[1], "z", 1);
  waitpid(middle, &st, 0);

  /* 2. A traced thread's exit, waited for by its tid. */
  int back[2];
  pipe(gate);
  pipe(back);
  pid_t proc = fork();
  if (proc == 0) {
    close(gate[0]);
    gate[0] = back[0];
    pthread_t th;
    pthread_create(&th, NULL, thread_main, NULL);
    pause();
    _exit(0);
  }
  pid_t tid;
  read(gate[0], &tid, sizeof tid);
  R("attach the thread", ptrace(PTRACE_ATTACH, tid, 0, 0));
  waitpid(tid, &st, __WALL);
  R("cont the thread", ptrace(PTRACE_CONT, tid, 0, 0));
  write(back[1], "e", 1);
  r = waitpid(tid, &st, __WALL);
  printf("tracer: waited for the thread by its tid %d, exited %d status %d\n", r == tid, WIFEXITED(st), WEXITSTATUS(st));
  kill(proc, SIGKILL);
  waitpid(proc, &st, 0);
  return 0;
}
