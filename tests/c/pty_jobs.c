/* Controlling terminals and job control on a pty: a background process group reading gets
 * SIGTTIN (EINTR with a handler, EIO when ignored), writing with TOSTOP gets SIGTTOU,
 * TIOCSPGRP moves the foreground, setsid detaches, TIOCNOTTY gives the terminal up, and the
 * session leader's exit sends SIGHUP to the foreground group. Output compared with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t last;
static void on_sig(int sig) { last = sig; }

static void catch(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig; /* no SA_RESTART: the call fails with EINTR */
  sigaction(sig, &sa, NULL);
}

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }

/* Runs as the session leader with the slave as controlling terminal. */
static void session(int s, int report) {
  char buf[16];
  pid_t me = getpid();
  pid_t kid = fork();
  if (kid == 0) {
    setpgid(0, 0); /* a background group */
    catch(SIGTTIN);
    last = 0;
    long r = read(s, buf, sizeof buf);
    dprintf(report, "background read: %ld %s, signal %d\n", r, err(r), last);
    signal(SIGTTIN, SIG_IGN);
    r = read(s, buf, sizeof buf);
    dprintf(report, "background read, SIGTTIN ignored: %ld %s\n", r, err(r));
    r = write(s, "w", 1);
    dprintf(report, "background write without TOSTOP: %ld\n", r);
    struct termios t;
    tcgetattr(s, &t);
    catch(SIGTTOU);
    last = 0;
    t.c_lflag |= TOSTOP;
    r = tcsetattr(s, TCSANOW, &t);
    dprintf(report, "background tcsetattr: %ld %s, signal %d\n", r, err(r), last);
    signal(SIGTTOU, SIG_IGN);
    r = tcsetattr(s, TCSANOW, &t);
    dprintf(report, "background tcsetattr, SIGTTOU ignored: %ld %s\n", r, err(r));
    catch(SIGTTOU);
    last = 0;
    r = write(s, "w", 1);
    dprintf(report, "background write with TOSTOP: %ld %s, signal %d\n", r, err(r), last);
    signal(SIGTTOU, SIG_IGN);
    r = tcsetpgrp(s, getpid());
    dprintf(report, "tcsetpgrp to myself: %ld %s, foreground now me %d\n", r, err(r), tcgetpgrp(s) == getpid());
    r = tcsetpgrp(s, 999999);
    dprintf(report, "tcsetpgrp to nobody: %ld %s\n", r, err(r));
    signal(SIGTTIN, SIG_DFL);
    r = write(s, "", 0);
    _exit(0);
  }
  int st;
  waitpid(kid, &st, 0);
  signal(SIGTTOU, SIG_IGN); /* the leader is in the background now */
  dprintf(report, "foreground back to the leader: %d\n", tcsetpgrp(s, me) == 0 && tcgetpgrp(s) == me);

  /* A child that setsid()s has no controlling terminal. */
  kid = fork();
  if (kid == 0) {
    setsid();
    int fd = open("/dev/tty", O_RDWR);
    dprintf(report, "after setsid /dev/tty: %d %s\n", fd, err(fd));
    pid_t pg;
    long r = ioctl(s, TIOCGPGRP, &pg);
    dprintf(report, "after setsid TIOCGPGRP: %ld %s\n", r, err(r));
    _exit(0);
  }
  waitpid(kid, &st, 0);

  /* A child of the foreground group gives the terminal up with TIOCNOTTY. */
  kid = fork();
  if (kid == 0) {
    long r = ioctl(s, TIOCNOTTY);
    int fd = open("/dev/tty", O_RDWR);
    dprintf(report, "TIOCNOTTY %ld, then /dev/tty: %d %s\n", r, fd, err(fd));
    _exit(0);
  }
  waitpid(kid, &st, 0);

  /* A child in the foreground group outlives the leader: it gets SIGHUP. */
  int sync[2];
  pipe(sync);
  kid = fork();
  if (kid == 0) {
    catch(SIGHUP);
    close(sync[0]);
    write(sync[1], "r", 1);
    while (last != SIGHUP) pause();
    dprintf(report, "foreground child: SIGHUP after the leader exited\n");
    int fd = open("/dev/tty", O_RDWR);
    dprintf(report, "foreground child: /dev/tty then: %d %s\n", fd, err(fd));
    _exit(0);
  }
  char c;
  close(sync[1]);
  read(sync[0], &c, 1);
  _exit(0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  (void)setsid();
  int m, s;
  if (openpty(&m, &s, NULL, NULL, NULL) < 0) { perror("openpty"); return 1; }
  int report[2];
  pipe(report);
  pid_t leader = fork();
  if (leader == 0) {
    close(m);
    close(report[0]);
    setsid();
    if (ioctl(s, TIOCSCTTY, 0) < 0) { perror("TIOCSCTTY"); _exit(1); }
    session(s, report[1]);
  }
  close(report[1]);
  int st;
  waitpid(leader, &st, 0);
  /* Everything the session reports, until the last writer (the orphaned child) is gone. */
  char buf[4096];
  ssize_t n;
  while ((n = read(report[0], buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
  printf("leader exit %d\n", WEXITSTATUS(st));
  /* The background child's write without TOSTOP went through. */
  char out[64];
  n = read(m, out, sizeof out);
  printf("master saw %zd bytes\n", n);
  return 0;
}
