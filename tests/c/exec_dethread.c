/* execve in a multithreaded process, as Linux's de_thread: the other threads die and the execve
 * waits until they are gone. A traced thread with PTRACE_O_TRACEEXIT stops for its tracer first
 * (PTRACE_EVENT_EXIT, exit status 0) and the execve sleeps until the tracer resumes it; a traced
 * thread's zombie holds the execve until its tracer waits for it. An execve from a thread other
 * than the leader takes the leader's id, PTRACE_EVENT_EXEC reporting the thread's former id;
 * the old leader goes without a report. (gVisor's PtraceExecveTest, and the de_thread wait of
 * Linux's selftests/ptrace/vmaccess.c.) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static char *self;
static char fdarg[16];

static void exec_self(const char *mode) {
  execl(self, self, mode, fdarg, (char *)0);
  printf("execve failed: %s\n", strerror(errno));
  _exit(99);
}

static void *exec_thread(void *arg) {
  exec_self((const char *)arg);
  return NULL;
}

static void *spin_thread(void *arg) {
  (void)arg;
  for (;;) {
  }
  return NULL;
}

static void *pause_thread(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static int gate[2];

static void *traceme_exit_thread(void *arg) {
  (void)arg;
  ptrace(PTRACE_TRACEME, 0, 0, 0);
  return NULL;
}

static const char *desc(int st) {
  static char bufs[2][64];
  static int next;
  char *b = bufs[next++ & 1];
  if (WIFEXITED(st)) snprintf(b, 64, "exited %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(b, 64, "killed by %d", WTERMSIG(st));
  else if (WIFSTOPPED(st)) snprintf(b, 64, "stopped sig %d event %d", WSTOPSIG(st), st >> 16);
  else snprintf(b, 64, "status %#x", st);
  return b;
}

static int tasks_of_self(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", getpid());
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* 1. gVisor's PtraceExecveTest: a traced non-leader thread execs while the leader, with
 * PTRACE_O_TRACEEXIT, sits in pthread_join. */
static void case_nonleader(int trace_exec, int kill_after) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    pthread_t t;
    pthread_create(&t, NULL, exec_thread, "exit5");
    pthread_join(t, NULL);
    _exit(98);
  }
  int st;
  unsigned long msg = 0;
  waitpid(c, &st, 0);
  printf("1: first stop %s\n", desc(st));
  long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT | (trace_exec ? PTRACE_O_TRACEEXEC : 0);
  ptrace(PTRACE_SETOPTIONS, c, 0, opts);
  ptrace(PTRACE_CONT, c, 0, 0);
  waitpid(c, &st, 0);
  printf("1: leader %s\n", desc(st));
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  pid_t nl = (pid_t)msg;
  pid_t r = waitpid(nl, &st, __WALL);
  printf("1: new thread %d %s\n", r == nl, desc(st));
  ptrace(PTRACE_CONT, c, 0, 0);
  ptrace(PTRACE_CONT, nl, 0, 0);
  r = waitpid(c, &st, 0);
  printf("1: leader %d %s\n", r == c, desc(st));
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  printf("1: leader's exit message %s\n", desc((int)msg));
  pid_t r1 = waitpid(nl, &st, __WALL | WNOHANG);
  pid_t r2 = waitpid(-1, &st, __WALL | WNOHANG);
  printf("1: execing thread reports %d, anyone %d\n", r1, r2);
  ptrace(PTRACE_CONT, c, 0, 0);
  r = waitpid(c, &st, 0);
  printf("1: after the leader's exit stop: %d %s\n", r == c, desc(st));
  msg = 0;
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  if (trace_exec) printf("1: exec event message is the former tid %d\n", (pid_t)msg == nl);
  errno = 0;
  long cs = ptrace(PTRACE_PEEKUSER, c, offsetof(struct user_regs_struct, cs), 0);
  printf("1: cs %#lx errno %d\n", cs, errno);
  errno = 0;
  r = waitpid(nl, &st, __WALL | WNOHANG);
  printf("1: former tid waits %d errno %d\n", r, errno);
  if (kill_after) {
    kill(c, SIGKILL);
    r = waitpid(c, &st, 0);
    printf("1: after SIGKILL %d %s\n", r == c, desc(st));
    ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
    printf("1: exit message %s\n", desc((int)msg));
  } else {
    ptrace(PTRACE_CONT, c, 0, 0); /* the SIGTRAP (or nothing) suppressed */
    r = waitpid(c, &st, 0);
    printf("1: new image exiting %d %s\n", r == c, desc(st));
    ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
    printf("1: exit message %s\n", desc((int)msg));
  }
  ptrace(PTRACE_CONT, c, 0, 0);
  r = waitpid(c, &st, 0);
  printf("1: end %d %s\n", r == c, desc(st));
  errno = 0;
  r = waitpid(-1, &st, __WALL | WNOHANG);
  printf("1: then %d errno %d\n", r, errno);
}

/* 2. The leader execs; another traced thread with PTRACE_O_TRACEEXIT stops, and its zombie is
 * the tracer's to reap before the exec completes. */
static void case_leader(void) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    pthread_t t;
    pthread_create(&t, NULL, pause_thread, NULL);
    char x;
    read(gate[0], &x, 1);
    exec_self("exit5");
  }
  int st;
  unsigned long msg = 0;
  waitpid(c, &st, 0);
  ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC);
  ptrace(PTRACE_CONT, c, 0, 0);
  waitpid(c, &st, 0);
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  pid_t other = (pid_t)msg;
  waitpid(other, &st, __WALL);
  ptrace(PTRACE_CONT, other, 0, 0);
  ptrace(PTRACE_CONT, c, 0, 0);
  write(gate[1], "x", 1);
  pid_t r = waitpid(-1, &st, __WALL);
  printf("2: first report from the other thread %d: %s\n", r == other, desc(st));
  ptrace(PTRACE_GETEVENTMSG, other, 0, &msg);
  printf("2: its exit message %s\n", desc((int)msg));
  printf("2: leader reports %d\n", waitpid(c, &st, __WALL | WNOHANG));
  ptrace(PTRACE_CONT, other, 0, 0);
  r = waitpid(-1, &st, __WALL);
  printf("2: next report from the other thread %d: %s\n", r == other, desc(st));
  r = waitpid(-1, &st, __WALL);
  printf("2: then the leader %d: %s\n", r == c, desc(st));
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  printf("2: exec event message is its own tid %d\n", (pid_t)msg == c);
  ptrace(PTRACE_DETACH, c, 0, 0);
  r = waitpid(c, &st, 0);
  printf("2: end %d %s\n", r == c, desc(st));
}

/* 3. A thread traced by the parent (PTRACE_TRACEME from the thread) exits; the leader's execve
 * waits until the parent reaps that thread's zombie. */
static void case_zombie(void) {
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    pthread_t t;
    pthread_create(&t, NULL, traceme_exit_thread, NULL);
    pthread_join(t, NULL);
    write(p[1], "J", 1);
    snprintf(fdarg, sizeof fdarg, "%d", p[1]);
    exec_self("write");
  }
  close(p[1]);
  char ch = 0;
  read(p[0], &ch, 1);
  printf("3: joined %c\n", ch);
  struct pollfd pf = {p[0], POLLIN, 0};
  printf("3: exec done before the zombie is reaped: %d\n", poll(&pf, 1, 300));
  int st;
  pid_t r = waitpid(-1, &st, __WALL);
  printf("3: reaped the thread %d: %s\n", r > 0 && r != c, desc(st));
  ch = 0;
  read(p[0], &ch, 1);
  printf("3: then the new image wrote %c\n", ch);
  r = waitpid(c, &st, 0);
  printf("3: end %d %s\n", r == c, desc(st));
  close(p[0]);
}

/* 4. Untraced: a non-leader execs while one thread computes and another sleeps; the parent sees
 * one exit, of the new image, under the process id. */
static void case_untraced(void) {
  pid_t c = fork();
  if (c == 0) {
    pthread_t a, b, e;
    pthread_create(&a, NULL, spin_thread, NULL);
    pthread_create(&b, NULL, pause_thread, NULL);
    pthread_create(&e, NULL, exec_thread, "tasks");
    for (;;) pause();
  }
  int st;
  pid_t r = waitpid(-1, &st, 0);
  printf("4: %d %s\n", r == c, desc(st));
  errno = 0;
  r = waitpid(-1, &st, WNOHANG);
  printf("4: then %d errno %d\n", r, errno);
}

/* 5. A traced thread with PTRACE_O_TRACEEXIT that computes in user mode when the leader execs
 * (or, with group_exit, calls exit_group) stops for its tracer too before it dies. */
static void case_user_mode(int group_exit) {
  pid_t c = fork();
  if (c == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    pthread_t t;
    pthread_create(&t, NULL, spin_thread, NULL);
    char x;
    read(gate[0], &x, 1);
    if (group_exit) syscall(SYS_exit_group, 3);
    exec_self("exit5");
  }
  int st;
  unsigned long msg = 0;
  waitpid(c, &st, 0);
  ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC);
  ptrace(PTRACE_CONT, c, 0, 0);
  waitpid(c, &st, 0);
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  pid_t other = (pid_t)msg;
  waitpid(other, &st, __WALL);
  ptrace(PTRACE_CONT, other, 0, 0);
  ptrace(PTRACE_CONT, c, 0, 0);
  write(gate[1], "x", 1);
  pid_t r = waitpid(other, &st, __WALL);
  ptrace(PTRACE_GETEVENTMSG, other, 0, &msg);
  printf("5.%d: the computing thread %d: %s, message %s\n", group_exit, r == other, desc(st), desc((int)msg));
  if (group_exit) {
    r = waitpid(c, &st, __WALL);
    ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
    printf("5.%d: the leader %d: %s, message %s\n", group_exit, r == c, desc(st), desc((int)msg));
    ptrace(PTRACE_CONT, c, 0, 0);
  } else {
    printf("5.%d: leader reports %d\n", group_exit, waitpid(c, &st, __WALL | WNOHANG));
  }
  ptrace(PTRACE_CONT, other, 0, 0);
  r = waitpid(other, &st, __WALL);
  printf("5.%d: then the computing thread %d: %s\n", group_exit, r == other, desc(st));
  if (!group_exit) {
    r = waitpid(c, &st, __WALL);
    printf("5.%d: then the leader %d: %s\n", group_exit, r == c, desc(st));
    ptrace(PTRACE_DETACH, c, 0, 0);
  }
  r = waitpid(c, &st, 0);
  printf("5.%d: end %d %s\n", group_exit, r == c, desc(st));
}

/* 6. The leader has already ended (pthread_exit) when another thread execs: the new image
 * still runs under the process id, alone, and the parent sees only its exit. */
static void *exec_after_leader(void *arg) {
  (void)arg;
  char x;
  read(gate[0], &x, 1);
  exec_self("tasks");
  return NULL;
}

static void case_leader_gone(void) {
  pid_t c = fork();
  if (c == 0) {
    pthread_t t;
    pthread_create(&t, NULL, exec_after_leader, NULL);
    pthread_exit(NULL);
  }
  int st;
  printf("6: nothing to report while the leader is gone: %d\n", waitpid(c, &st, WNOHANG));
  write(gate[1], "x", 1);
  pid_t r = waitpid(c, &st, 0);
  printf("6: %d %s\n", r == c, desc(st));
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc > 1) {
    if (strcmp(argv[1], "exit5") == 0) _exit(5);
    if (strcmp(argv[1], "write") == 0) {
      write(atoi(argv[2]), "E", 1);
      _exit(0);
    }
    if (strcmp(argv[1], "tasks") == 0) {
      int same = getpid() == (pid_t)syscall(SYS_gettid);
      _exit(same * 10 + tasks_of_self());
    }
  }
  snprintf(fdarg, sizeof fdarg, "-");
  setvbuf(stdout, NULL, _IONBF, 0);
  pipe(gate);
  case_nonleader(1, 1);
  case_nonleader(0, 0);
  case_nonleader(1, 0);
  case_leader();
  case_zombie();
  case_untraced();
  case_user_mode(0);
  case_user_mode(1);
  case_leader_gone();
  return 0;
}
