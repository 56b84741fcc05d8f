/* Pseudo-terminals through glibc: openpty, posix_openpt/grantpt/unlockpt/ptsname, canonical
 * and raw reads, echo, ^C to a child's foreground group, TIOCSWINSZ -> SIGWINCH, EIO and
 * end of file after the other side closes. Prints what it sees; run natively and in the
 * sentry, the output must be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void show(const char *what, const char *buf, ssize_t n) {
  printf("%s: %zd \"", what, n);
  for (ssize_t i = 0; i < n; i++) {
    unsigned char c = buf[i];
    if (c == '\n') printf("\\n");
    else if (c == '\r') printf("\\r");
    else if (c < 32 || c == 127) printf("\\x%02x", c);
    else putchar(c);
  }
  printf("\"\n");
}

/* Reads what the master has, waiting up to 2 s for the first byte. */
static ssize_t drain(int fd, char *buf, size_t cap) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 2000) <= 0) return 0;
  usleep(20000);
  ssize_t n = read(fd, buf, cap);
  return n;
}

static void basics(void) {
  int m, s;
  char name[64], buf[256];
  if (openpty(&m, &s, name, NULL, NULL) < 0) { perror("openpty"); exit(1); }
  printf("name is /dev/pts/N: %d\n", strncmp(name, "/dev/pts/", 9) == 0);
  printf("isatty slave %d master %d\n", isatty(s), isatty(m));
  char *tn = ttyname(s);
  printf("ttyname matches: %d\n", tn != NULL && strcmp(tn, name) == 0);
  struct termios t;
  tcgetattr(s, &t);
  printf("default lflag ICANON %d ECHO %d ISIG %d, oflag ONLCR %d, VMIN %d\n",
         !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO), !!(t.c_lflag & ISIG), !!(t.c_oflag & ONLCR), t.c_cc[VMIN]);

  /* Canonical: the slave sees one line at a time; the master sees the echo. */
  write(m, "ab\x7f" "c\nrest", 9);
  ssize_t n = read(s, buf, sizeof buf);
  show("canonical read", buf, n);
  n = drain(m, buf, sizeof buf);
  show("echo", buf, n);
  int avail = -1;
  ioctl(s, FIONREAD, &avail);
  printf("FIONREAD with a partial line: %d\n", avail);
  write(m, "\n", 1);
  n = read(s, buf, sizeof buf);
  show("second line", buf, n);
  drain(m, buf, sizeof buf);

  /* Output processing: \n becomes \r\n. */
  write(s, "x\ny\n", 4);
  n = drain(m, buf, sizeof buf);
  show("output", buf, n);

  /* EOF at the start of a line reads 0; after text, ends the line. */
  write(m, "\x04", 1);
  n = read(s, buf, sizeof buf);
  printf("read at EOF: %zd\n", n);
  write(m, "hi\x04", 3);
  n = read(s, buf, sizeof buf);
  show("read before EOF", buf, n);

  /* Raw mode: bytes as they come, no echo. */
  cfmakeraw(&t);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  tcsetattr(s, TCSANOW, &t);
  tcflush(m, TCIFLUSH);
  write(m, "q\r", 2);
  n = read(s, buf, sizeof buf);
  show("raw read", buf, n);
  struct pollfd p = {m, POLLIN, 0};
  printf("master readable after raw input (no echo): %d\n", poll(&p, 1, 50));

  /* VMIN 0, VTIME 1: a read with nothing there returns 0 after the timer. */
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 1;
  tcsetattr(s, TCSANOW, &t);
  n = read(s, buf, sizeof buf);
  printf("VTIME read with no input: %zd\n", n);
  /* VMIN 0, VTIME 0: never waits. */
  t.c_cc[VTIME] = 0;
  tcsetattr(s, TCSANOW, &t);
  n = read(s, buf, sizeof buf);
  printf("polling read: %zd\n", n);

  struct winsize ws = {33, 111, 0, 0}, got = {0, 0, 0, 0};
  ioctl(m, TIOCSWINSZ, &ws);
  ioctl(s, TIOCGWINSZ, &got);
  printf("winsize %d x %d\n", got.ws_row, got.ws_col);

  /* The slave closes: the master reads EIO once drained. */
  write(s, "z", 1);
  close(s);
  n = read(m, buf, sizeof buf);
  show("master after slave close", buf, n);
  n = read(m, buf, sizeof buf);
  printf("then: %zd %s\n", n, n < 0 ? strerror(errno) : "");
  close(m);
}

static void posix_api(void) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  printf("posix_openpt: %d\n", m >= 0);
  int locked = -1;
  ioctl(m, TIOCGPTLCK, &locked);
  printf("new pty locked: %d\n", locked);
  char *name = ptsname(m);
  int early = open(name, O_RDWR | O_NOCTTY);
  printf("open while locked: %d %s\n", early, early < 0 ? strerror(errno) : "");
  printf("grantpt %d unlockpt %d\n", grantpt(m), unlockpt(m));
  int s = open(name, O_RDWR | O_NOCTTY);
  printf("open after unlockpt: %d\n", s >= 0);
  int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  printf("TIOCGPTPEER: %d\n", peer >= 0);
  struct stat a, b;
  fstat(s, &a);
  fstat(peer, &b);
  printf("same device: %d, char device %d, major %u\n", a.st_rdev == b.st_rdev, S_ISCHR(a.st_mode), major(a.st_rdev));
  unsigned ptn = 9999;
  ioctl(m, TIOCGPTN, &ptn);
  char expect[64];
  snprintf(expect, sizeof expect, "/dev/pts/%u", ptn);
  printf("TIOCGPTN matches ptsname: %d\n", strcmp(expect, name) == 0);
  pid_t pg = 0;
  int r = ioctl(s, TIOCGPGRP, &pg);
  printf("TIOCGPGRP on a slave that is not our terminal: %d %s\n", r, strerror(errno));

  /* The master closes: the slave reads end of file and writes fail with EIO. */
  close(m);
  char buf[8];
  ssize_t n = read(s, buf, sizeof buf);
  printf("slave read after master close: %zd\n", n);
  n = write(s, "x", 1);
  printf("slave write after master close: %zd %s\n", n, n < 0 ? strerror(errno) : "");
  struct pollfd p = {s, POLLIN | POLLOUT, 0};
  poll(&p, 1, 0);
  printf("slave poll: HUP %d\n", !!(p.revents & POLLHUP));
  int again = open(name, O_RDWR | O_NOCTTY);
  printf("reopen after master close: %d %s\n", again, again < 0 ? strerror(errno) : "");
  close(s);
  close(peer);
}

static volatile sig_atomic_t got_sig;
static void on_sig(int sig) { got_sig = sig; }

/* A child in a session of its own with the slave as its controlling terminal: ^C typed on
 * the master reaches it as SIGINT, a window size change as SIGWINCH. */
static void job_control(void) {
  int m, s;
  if (openpty(&m, &s, NULL, NULL, NULL) < 0) { perror("openpty"); exit(1); }
  int ready[2], go[2];
  pipe(ready);
  pipe(go);
  pid_t pid = fork();
  if (pid == 0) {
    close(m);
    setsid();
    int r = ioctl(s, TIOCSCTTY, 0);
    signal(SIGINT, on_sig);
    signal(SIGWINCH, on_sig);
    pid_t fg = -1;
    ioctl(s, TIOCGPGRP, &fg);
    pid_t sid = -1;
    ioctl(s, TIOCGSID, &sid);
    printf("child: TIOCSCTTY %d, foreground is me %d, sid is me %d\n", r, fg == getpid(), sid == getpid());
    int tty = open("/dev/tty", O_RDWR);
    printf("child: /dev/tty opens: %d\n", tty >= 0);
    fflush(stdout);
    write(ready[1], "r", 1);
    char c;
    while (got_sig != SIGINT) pause();
    printf("child: got SIGINT\n");
    fflush(stdout);
    got_sig = 0;
    write(ready[1], "r", 1);
    while (got_sig != SIGWINCH) pause();
    printf("child: got SIGWINCH\n");
    fflush(stdout);
    read(go[0], &c, 1);
    _exit(0);
  }
  char c;
  read(ready[0], &c, 1);
  int tty = open("/dev/tty", O_RDWR);
  printf("parent: /dev/tty without a controlling terminal: %d %s\n", tty, tty < 0 ? strerror(errno) : "");
  write(m, "\x03", 1);
  read(ready[0], &c, 1);
  struct winsize ws = {10, 20, 0, 0};
  ioctl(m, TIOCSWINSZ, &ws);
  write(go[1], "g", 1);
  int st;
  waitpid(pid, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));
  char buf[64];
  ssize_t n = drain(m, buf, sizeof buf);
  show("echo of ^C", buf, n);
  close(m);
  close(s);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* No controlling terminal, whoever started us (in the sentry init already has none). */
  (void)setsid();
  basics();
  posix_api();
  job_control();
  return 0;
}
