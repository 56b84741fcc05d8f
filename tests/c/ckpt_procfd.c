/*
 * Checkpoint and restore of descriptors of /proc files and pidfds. Before the checkpoint (in
 * main's wait for it on stdin): /proc/self/cmdline read in part, /proc/self/stat and a child's cmdline open
 * and never read, /proc/uptime read to its end; a pidfd of a child asleep in read(2) and one
 * of a child that exited (a zombie). After it: the partly read file gives the rest of what it
 * began, the unread ones render the restored sandbox, the one read to its end stays at its end;
 * the zombie's pidfd is readable and waitid(P_PIDFD) reaps it with its status, the live child's
 * is not until it exits. Two signalfds whose makers exited, one reaped and one a zombie, each
 * held by a grandchild asleep in read(2), read the grandchild's own signal after it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_ckpt.h"

static int pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

static int readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/*
 * A child that makes a signalfd for sig, forks a grandchild holding it and exits. The
 * grandchild waits for a byte on `go`, raises sig (blocked) and reads it through the file,
 * then writes a byte to `done`.
 */
static pid_t signalfd_maker(int sig, int go, int done) {
  pid_t c = fork();
  if (c != 0) return c;
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, sig);
  sigprocmask(SIG_BLOCK, &m, NULL);
  int sfd = signalfd(-1, &m, 0);
  if (fork() == 0) {
    char b;
    if (read(go, &b, 1) != 1) _exit(1);
    raise(sig);
    struct signalfd_siginfo si;
    ssize_t n = read(sfd, &si, sizeof si);
    printf("grandchild read signal %d through its exited parent's signalfd (%d)\n", (int)si.ssi_signo, n == sizeof si);
    write(done, "d", 1);
    _exit(0);
  }
  _exit(sfd >= 0 ? 5 : 6);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 3) {
    fprintf(stderr, "usage: ckpt_procfd ARG1 ARG2\n");
    return 2;
  }
  int p[2];
  if (pipe(p)) return 2;
  pid_t sleeper = fork();
  if (sleeper == 0) {
    char c;
    close(p[1]);
    ssize_t n = read(p[0], &c, 1);
    _exit(n == 1 ? 3 : 4);
  }
  close(p[0]);
  pid_t quick = fork();
  if (quick == 0) _exit(7);
  int go1[2], go2[2], done[2];
  if (pipe(go1) || pipe(go2) || pipe(done)) return 2;
  pid_t reaped = signalfd_maker(SIGUSR1, go1[0], done[1]);
  int st;
  waitpid(reaped, &st, 0);
  int reaped_status = WEXITSTATUS(st);
  pid_t kept = signalfd_maker(SIGUSR2, go2[0], done[1]);
  int live = pidfd_open(sleeper), zombie = pidfd_open(quick);
  if (live < 0 || zombie < 0) return 2;
  int cmd = open("/proc/self/cmdline", O_RDONLY);
  int stat = open("/proc/self/stat", O_RDONLY);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)sleeper);
  int childcmd = open(path, O_RDONLY);
  int up = open("/proc/uptime", O_RDONLY);
  char head[5] = {0}, buf[4096];
  if (cmd < 0 || stat < 0 || childcmd < 0 || up < 0 || read(cmd, head, 4) != 4) return 2;
  while (read(up, buf, sizeof buf) > 0) {}
  siginfo_t si;
  memset(&si, 0, sizeof si);
  while (waitid(P_PID, quick, &si, WEXITED | WNOWAIT) != 0) {}
  while (waitid(P_PID, kept, &si, WEXITED | WNOWAIT) != 0) {}
  printf("armed\n");
  await_checkpoint(); /* the checkpoint comes here */

  ssize_t n = read(cmd, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  char want[256];
  int len = snprintf(want, sizeof want, "%s%c%s%c%s%c", argv[0], 0, argv[1], 0, argv[2], 0);
  printf("cmdline continues: %d (%zd more bytes)\n", n == len - 4 && memcmp(buf, want + 4, n) == 0, n);
  n = read(stat, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  printf("stat renders the restored process: %d\n", atoi(buf) == getpid());
  n = read(childcmd, buf, sizeof buf - 1);
  printf("child's cmdline: %d\n", n == len && memcmp(buf, want, n) == 0);
  printf("uptime at its end: %zd\n", read(up, buf, sizeof buf));
  printf("pidfds readable: zombie %d, live %d\n", readable(zombie), readable(live));
  memset(&si, 0, sizeof si);
  int r = waitid(P_PIDFD, zombie, &si, WEXITED);
  printf("waitid zombie: %d pid ok %d status %d\n", r, si.si_pid == quick, si.si_status);
  write(p[1], "x", 1);
  struct pollfd pf = {live, POLLIN, 0};
  poll(&pf, 1, 5000);
  memset(&si, 0, sizeof si);
  r = waitid(P_PIDFD, live, &si, WEXITED);
  printf("live child exited: readable %d, waitid %d status %d\n", (pf.revents & POLLIN) != 0, r, si.si_status);
  char b;
  write(go1[1], "g", 1);
  read(done[0], &b, 1);
  write(go2[1], "g", 1);
  read(done[0], &b, 1);
  waitpid(kept, &st, 0);
  printf("signalfd makers exited with %d and %d\n", reaped_status, WEXITSTATUS(st));
  return 0;
}
