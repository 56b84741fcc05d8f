/* Signal permissions after a child drops root: kill, tkill, tgkill, rt_sigqueueinfo,
 * rt_tgsigqueueinfo and pidfd_send_signal to its root parent are EPERM (signal 0 too), except
 * SIGCONT within the session; it may still signal itself and a sibling of its own uid; a
 * thread's id names its process for kill(2) and rt_sigqueueinfo(2). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x)                                                        \
  do {                                                                  \
    if (!(x)) {                                                         \
      printf("FAILED %s at line %d: %s\n", #x, __LINE__, strerror(errno)); \
      exit(1);                                                          \
    }                                                                   \
  } while (0)

static void report(const char *what, long r) {
  printf("%s: %ld %s\n", what, r, r == 0 ? "" : strerror(errno));
}

static siginfo_t user_info(int sig) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  return si;
}

static pid_t thread_tid;
static volatile int thread_done;

static void *thread_main(void *arg) {
  (void)arg;
  thread_tid = (pid_t)syscall(SYS_gettid);
  while (!thread_done) usleep(1000);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGUSR1, SIG_IGN);

  pthread_t th;
  CHECK(pthread_create(&th, NULL, thread_main, NULL) == 0);
  while (thread_tid == 0) usleep(1000);
  report("kill(a thread's tid, 0)", kill(thread_tid, 0));
  siginfo_t si = user_info(SIGUSR1);
  report("rt_sigqueueinfo(a thread's tid)", syscall(SYS_rt_sigqueueinfo, thread_tid, SIGUSR1, &si));
  thread_done = 1;
  pthread_join(th, NULL);

  pid_t parent = getpid();
  int pidfd = (int)syscall(SYS_pidfd_open, parent, 0);
  CHECK(pidfd >= 0);
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t sibling = fork();
  if (sibling == 0) {
    CHECK(setresuid(1000, 1000, 1000) == 0);
    CHECK(write(ready[1], "r", 1) == 1);
    pause();
    _exit(0);
  }
  char r;
  CHECK(read(ready[0], &r, 1) == 1); /* the sibling has dropped root before the child looks */
  pid_t c = fork();
  if (c == 0) {
    CHECK(setresuid(1000, 1000, 1000) == 0);
    report("kill(parent, SIGKILL)", kill(parent, SIGKILL));
    report("kill(parent, 0)", kill(parent, 0));
    report("kill(parent, SIGCONT), same session", kill(parent, SIGCONT));
    report("tkill(parent, SIGKILL)", syscall(SYS_tkill, parent, SIGKILL));
    report("tgkill(parent, parent, SIGKILL)", syscall(SYS_tgkill, parent, parent, SIGKILL));
    siginfo_t si = user_info(SIGKILL);
    report("rt_sigqueueinfo(parent, SIGKILL)", syscall(SYS_rt_sigqueueinfo, parent, SIGKILL, &si));
    report("rt_tgsigqueueinfo(parent, SIGKILL)", syscall(SYS_rt_tgsigqueueinfo, parent, parent, SIGKILL, &si));
    report("pidfd_send_signal(parent, SIGKILL)", syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0));
    report("pidfd_send_signal(parent, 0)", syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0));
    report("kill(self, 0)", kill(getpid(), 0));
    report("kill(same-uid sibling, 0)", kill(sibling, 0));
    _exit(0);
  }
  int st;
  CHECK(waitpid(c, &st, 0) == c);
  printf("child exited %d, parent still here\n", WEXITSTATUS(st));
  kill(sibling, SIGKILL);
  CHECK(waitpid(sibling, &st, 0) == sibling);
  printf("sibling killed by %d\n", WTERMSIG(st));
  return 0;
}
