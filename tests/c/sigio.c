/* Signal-driven I/O: F_SETOWN/F_GETOWN(_EX), F_SETSIG/F_GETSIG, O_ASYNC through F_SETFL and
 * FIOASYNC, sockets' FIOSETOWN/SIOCGPGRP, and the signal a pipe or socket sends: plain SIGIO
 * (F_SETSIG 0), or the F_SETSIG signal with si_code, si_band and si_fd (the descriptor O_ASYNC
 * was turned on through, even after a dup and a close). Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static volatile int got, got_sig, got_code, got_fd;
static volatile long got_band;

static void on_sig(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  got++;
  got_sig = sig;
  got_code = si->si_code;
  got_band = si->si_band;
  got_fd = si->si_fd;
}

static void catch(int sig) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_sig;
  sa.sa_flags = SA_SIGINFO;
  sigaction(sig, &sa, NULL);
}

static void report(const char *what) {
  printf("  %s: %d signal(s)", what, got);
  if (got) printf(", last %s", got_sig == SIGIO ? "SIGIO" : got_sig == SIGUSR1 ? "SIGUSR1" : got_sig == SIGRTMIN ? "SIGRTMIN" : "other");
  if (got && got_sig != SIGIO) printf(" code %d band %#lx fd %s", got_code, got_band, got_fd >= 3 ? "ok" : "?");
  printf("\n");
  got = 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* A process group of its own to name: natively the test runner's group would be named, and
   * a sandbox's init is in its runtime's group, which the sandbox shows as 0. */
  setpgid(0, 0);
  catch(SIGIO);
  catch(SIGUSR1);
  catch(SIGRTMIN);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct f_owner_ex ex = {0};
  R("F_GETOWN, none", fcntl(s, F_GETOWN));
  R("F_GETOWN_EX, none", fcntl(s, F_GETOWN_EX, &ex));
  printf("  type %d pid %d\n", ex.type, ex.pid);
  R("F_SETOWN INT_MIN", fcntl(s, F_SETOWN, INT_MIN));
  R("F_SETOWN no such pid", fcntl(s, F_SETOWN, 99999999));
  R("F_SETOWN no such group", fcntl(s, F_SETOWN, -99999999));
  R("F_SETOWN -pgrp", fcntl(s, F_SETOWN, -getpgrp()));
  R("F_GETOWN is -pgrp", fcntl(s, F_GETOWN) == -getpgrp());
  R("F_GETOWN_EX", fcntl(s, F_GETOWN_EX, &ex));
  printf("  type %d pid is pgrp %d\n", ex.type, ex.pid == getpgrp());
  R("F_SETOWN 0", fcntl(s, F_SETOWN, 0));
  R("F_GETOWN_EX", fcntl(s, F_GETOWN_EX, &ex));
  printf("  type %d pid %d\n", ex.type, ex.pid);
  ex.type = 7;
  R("F_SETOWN_EX bad type", fcntl(s, F_SETOWN_EX, &ex));
  ex.type = F_OWNER_TID;
  ex.pid = -5;
  R("F_SETOWN_EX negative pid", fcntl(s, F_SETOWN_EX, &ex));
  R("F_SETOWN_EX bad pointer", fcntl(s, F_SETOWN_EX, (void *)8));
  R("F_SETSIG 65", fcntl(s, F_SETSIG, 65));
  R("F_SETSIG -1", fcntl(s, F_SETSIG, -1));
  R("F_SETSIG SIGUSR1", fcntl(s, F_SETSIG, SIGUSR1));
  R("F_GETSIG", fcntl(s, F_GETSIG));
  int pid = getpid();
  R("FIOSETOWN self", ioctl(s, FIOSETOWN, &pid));
  int back = 0;
  R("SIOCGPGRP", ioctl(s, SIOCGPGRP, &back));
  printf("  is self %d\n", back == pid);
  R("FIOASYNC NULL", ioctl(s, FIOASYNC, NULL));
  close(s);

  int p[2];
  pipe2(p, O_NONBLOCK);
  int one = 1;
  R("FIOASYNC on a regular file", ioctl(open("/proc/self/exe", O_RDONLY), FIOASYNC, &one));
  R("F_SETFL O_ASYNC on a regular file", fcntl(open("/proc/self/exe", O_RDONLY), F_SETFL, O_ASYNC));
  R("F_SETOWN self", fcntl(p[0], F_SETOWN, getpid()));
  R("F_SETFL O_ASYNC", fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
  R("F_GETFL has O_ASYNC", (fcntl(p[0], F_GETFL) & O_ASYNC) != 0);
  write(p[1], "a", 1);
  report("pipe write, default signal");
  R("F_SETSIG SIGUSR1", fcntl(p[0], F_SETSIG, SIGUSR1));
  write(p[1], "a", 1);
  report("pipe write, F_SETSIG SIGUSR1");
  R("F_SETSIG SIGIO", fcntl(p[0], F_SETSIG, SIGIO));
  write(p[1], "a", 1);
  report("pipe write, F_SETSIG SIGIO");
  int d = dup(p[0]);
  close(p[0]);
  R("F_SETSIG SIGRTMIN on the dup", fcntl(d, F_SETSIG, SIGRTMIN));
  write(p[1], "a", 1);
  write(p[1], "b", 1);
  report("two writes after dup and close, SIGRTMIN (queued)");
  char buf[16];
  read(d, buf, sizeof buf);
  report("read on the async end");
  close(p[1]);
  report("writer closed");
  close(d);

  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  R("FIOSETOWN", ioctl(sp[1], FIOSETOWN, &pid));
  R("FIOASYNC on", ioctl(sp[1], FIOASYNC, &one));
  R("F_GETFL has O_ASYNC", (fcntl(sp[1], F_GETFL) & O_ASYNC) != 0);
  write(sp[0], "abc", 3);
  report("socket send");
  int zero = 0;
  R("FIOASYNC off", ioctl(sp[1], FIOASYNC, &zero));
  write(sp[0], "abc", 3);
  report("socket send, O_ASYNC off");
  close(sp[0]);
  close(sp[1]);

  /* Another process's pipe: the owner is the parent, the child writes. */
  pipe(p);
  fcntl(p[0], F_SETOWN, getpid());
  fcntl(p[0], F_SETFL, O_ASYNC);
  pid_t c = fork();
  if (c == 0) {
    write(p[1], "x", 1);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  report("child's write to the parent's async pipe");
  return 0;
}
