/* pidfd_send_signal takes a /proc/PID directory's descriptor as a pidfd (LTP
 * pidfd_send_signal01): a signal with its siginfo reaches the process; a /proc file, a
 * /proc/self/task/TID directory and a plain directory are EBADF; a gone process's is ESRCH. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static volatile int got, value, code;
static void handler(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  got = sig;
  value = si->si_value.sival_int;
  code = si->si_code;
}

static long send(int fd, int sig, siginfo_t *info) { return syscall(SYS_pidfd_send_signal, fd, sig, info, 0); }
static void show(const char *what, long r) { printf("%s: %ld %s\n", what, r, en(r < 0 ? errno : 0)); }

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  int self = open("/proc/self", O_DIRECTORY | O_CLOEXEC);
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = SIGUSR1;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = 42;
  show("/proc/self with info", send(self, SIGUSR1, &info));
  printf("handler: sig %d value %d code_queue %d\n", got, value, code == SI_QUEUE);
  got = 0;
  show("/proc/self no info", send(self, SIGUSR1, NULL));
  printf("handler: sig %d code_user %d\n", got, code == SI_USER);
  int file = open("/proc/self/status", O_RDONLY);
  show("/proc/self/status", send(file, SIGUSR1, NULL));
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%ld", (long)syscall(SYS_gettid));
  int task = open(path, O_DIRECTORY);
  show("/proc/self/task/TID", send(task, 0, NULL));
  int tmp = open("/tmp", O_DIRECTORY);
  show("/tmp", send(tmp, 0, NULL));
  pid_t c = fork();
  if (c == 0) _exit(0);
  snprintf(path, sizeof path, "/proc/%d", c);
  int child = open(path, O_DIRECTORY);
  show("child alive (zombie or not)", send(child, 0, NULL));
  waitpid(c, NULL, 0);
  show("child reaped", send(child, 0, NULL));
  return 0;
}
