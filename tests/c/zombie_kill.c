/* A zombie (exited, not yet reaped) still owns its pid: kill(2) and rt_sigqueueinfo(2) find it,
 * check permission against it, and it ignores the signal (its wait status stays its exit
 * status); signal 0 to rt_sigqueueinfo and rt_tgsigqueueinfo only checks. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static long queue(pid_t pid, int sig) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_code = SI_QUEUE;
  return syscall(SYS_rt_sigqueueinfo, pid, sig, &si);
}

static long tgqueue(pid_t tgid, pid_t tid, int sig) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_code = SI_QUEUE;
  return syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &si);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGUSR1, SIG_IGN);
  R("rt_sigqueueinfo(self, 0)", queue(getpid(), 0));
  R("rt_sigqueueinfo(self, -1)", queue(getpid(), -1));
  R("rt_sigqueueinfo(self, 65)", queue(getpid(), 65));
  R("rt_tgsigqueueinfo(self, self, 0)", tgqueue(getpid(), getpid(), 0));
  R("rt_tgsigqueueinfo(0, self, 0)", tgqueue(0, getpid(), 0));
  R("rt_sigqueueinfo(no such pid, 0)", queue(99999999, 0));
  pid_t z = fork();
  if (z == 0) {
    setpgid(0, 0);
    _exit(7);
  }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, z, &si, WEXITED | WNOWAIT); /* z is a zombie now */
  R("kill(zombie, 0)", kill(z, 0));
  R("kill(zombie, SIGKILL)", kill(z, SIGKILL));
  R("kill(-zombie's group, SIGTERM)", kill(-z, SIGTERM));
  R("rt_sigqueueinfo(zombie, SIGUSR1)", queue(z, SIGUSR1));
  R("rt_sigqueueinfo(zombie, 0)", queue(z, 0));
  R("rt_tgsigqueueinfo(zombie, zombie, 0)", tgqueue(z, z, 0));
  R("tgkill(zombie, zombie, SIGUSR1)", syscall(SYS_tgkill, z, z, SIGUSR1));
  R("tkill(zombie, 0)", syscall(SYS_tkill, z, 0));
  R("tgkill(self, zombie, 0)", syscall(SYS_tgkill, getpid(), z, 0));
  pid_t c = fork();
  if (c == 0) {
    setresuid(65534, 65534, 65534);
    R("nobody: kill(root's zombie, 0)", kill(z, 0));
    R("nobody: rt_sigqueueinfo(root's zombie, 0)", queue(z, 0));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  int st;
  R("waitpid(zombie)", waitpid(z, &st, 0) == z);
  printf("  exited %d status %d\n", WIFEXITED(st), WEXITSTATUS(st));
  R("kill(reaped, 0)", kill(z, 0));
  return 0;
}
