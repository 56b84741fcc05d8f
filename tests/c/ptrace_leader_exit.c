/* A process whose leader thread ends (SYS_exit) before its other thread, traced by a task that
 * is not its parent: the leader's zombie is held back while the group has threads, and while a
 * traced thread's zombie waits for its tracer (Linux's delay_group_leader); then it is reported
 * to the leader's tracer, with the process's status, and only after that wait may the parent
 * reap the process. An execve by the other thread (de_thread) drops the old leader's zombie
 * without a report. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static int tidp[2], go[2];
static int exec_after;

static void *thread_main(void *arg) {
  (void)arg;
  pid_t t = syscall(SYS_gettid);
  write(tidp[1], &t, sizeof t);
  char c;
  read(go[0], &c, 1);
  usleep(200000); /* the leader has ended by now */
  if (exec_after) execl("/bin/true", "true", (char *)NULL);
  syscall(SYS_exit, 5);
  return NULL;
}

/* Whether the pipe has a byte now (the middle reaped the leaf). */
static int ready(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

static const char *who(pid_t w, pid_t leaf, pid_t tid) {
  return w == leaf ? "leader" : w == tid ? "thread" : w < 0 ? en(errno) : w == 0 ? "nothing" : "other";
}

/* One round: trace the leader (and the thread when trace_thread), let both end, and print in
 * which order the tracer and the parent hear of them. */
static void round_(const char *name, int trace_thread, int exec) {
  int leafp[2], reaped[2];
  pipe(tidp); pipe(go); pipe(leafp); pipe(reaped);
  exec_after = exec;
  pid_t middle = fork();
  if (middle == 0) {
    pid_t leaf = fork();
    if (leaf == 0) {
      pthread_t th;
      pthread_create(&th, NULL, thread_main, NULL);
      char c;
      read(go[0], &c, 1);
      syscall(SYS_exit, 3);
    }
    write(leafp[1], &leaf, sizeof leaf);
    int st;
    pid_t r = waitpid(leaf, &st, 0);
    char msg[2] = {r == leaf ? 'R' : '?', (char)WEXITSTATUS(st)};
    write(reaped[1], msg, 2);
    _exit(0);
  }
  pid_t leaf, tid;
  read(leafp[0], &leaf, sizeof leaf);
  read(tidp[0], &tid, sizeof tid);
  R("seize leader", ptrace(PTRACE_SEIZE, leaf, 0, 0));
  if (trace_thread) R("seize thread", ptrace(PTRACE_SEIZE, tid, 0, 0));
  write(go[1], "xx", 2);
  usleep(500000); /* both have ended (or the thread exec'd) */
  int st;
  printf("%s: parent reaped before any wait of the tracer: %d\n", name, ready(reaped[0]));
  for (int i = 0; i < 3; i++) {
    pid_t w = waitpid(-1, &st, __WALL | WNOHANG);
    if (w == middle) { printf("%s: wait %d: the middle\n", name, i); break; }
    printf("%s: wait %d: %s", name, i, who(w, leaf, tid));
    if (w > 0) printf(" exited %d status %d", WIFEXITED(st), WEXITSTATUS(st));
    printf("\n");
    if (w <= 0) break;
    usleep(100000);
    printf("%s: parent reaped after it: %d\n", name, ready(reaped[0]));
  }
  char msg[2];
  read(reaped[0], msg, 2);
  printf("%s: parent reaped %c status %d\n", name, msg[0], msg[1]);
  waitpid(middle, &st, 0);
  close(tidp[0]); close(tidp[1]); close(go[0]); close(go[1]);
  close(leafp[0]); close(leafp[1]); close(reaped[0]); close(reaped[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  round_("both traced", 1, 0);
  round_("leader traced", 0, 0);
  round_("thread execs", 0, 1);
  return 0;
}
