/*
 * A pseudo-terminal across a checkpoint (issue #13): the process becomes a session leader whose
 * controlling terminal is a pty it opened, with a window size, its own settings (no echo, ^X as
 * VINTR) and a process group in the foreground; a line and a half typed on the master and not
 * read, output written to the slave and not read, and a second pty with nothing but its master.
 * It says "ready", sleeps (the checkpoint comes then), and afterwards types the rest of the half
 * line, reads both lines, reads the master's output, and prints what the terminal says of its
 * settings, size, session and foreground group. The same output natively and restored. (A
 * child does it: the sandbox's init is a session leader already, and setsid refuses one.)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

/** Prints bytes with control characters escaped (\r, \n). */
static void show(const char *label, const char *buf, ssize_t n) {
  printf("%s (%zd):", label, n);
  for (ssize_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c == '\r') printf("\\r");
    else if (c == '\n') printf("\\n");
    else if (c < 0x20) printf("^%c", c + 0x40);
    else putchar(c);
  }
  putchar('\n');
}

static int child(void);

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) return child();
  int st;
  if (waitpid(pid, &st, 0) != pid) die("waitpid");
  printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  return 0;
}

static int child(void) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) die("posix_openpt");
  char name[64];
  if (ptsname_r(m, name, sizeof name) != 0) die("ptsname");
  // A second pty: only its master, never unlocked.
  int m2 = posix_openpt(O_RDWR | O_NOCTTY);
  if (m2 < 0) die("posix_openpt 2");
  if (setsid() < 0) die("setsid");
  int s = open(name, O_RDWR); // a session leader without a terminal: it becomes the controlling one
  if (s < 0) die("open slave");
  struct winsize ws = {.ws_row = 33, .ws_col = 101};
  if (ioctl(m, TIOCSWINSZ, &ws) < 0) die("TIOCSWINSZ");
  struct termios t;
  if (tcgetattr(s, &t) < 0) die("tcgetattr");
  t.c_lflag &= ~ECHO;
  t.c_cc[VINTR] = 0x18;
  if (tcsetattr(s, TCSANOW, &t) < 0) die("tcsetattr");
  if (write(m, "line one\nhalf", 13) != 13) die("write master");
  if (write(s, "out-before\n", 11) != 11) die("write slave");
  printf("ready\n");

  struct timespec nap = {.tv_sec = 1, .tv_nsec = 500 * 1000 * 1000};
  nanosleep(&nap, NULL);

  if (write(m, " a line\n", 8) != 8) die("write master 2");
  char buf[256];
  ssize_t n = read(s, buf, sizeof buf);
  show("first line", buf, n);
  n = read(s, buf, sizeof buf);
  show("second line", buf, n);
  n = read(m, buf, sizeof buf);
  show("master reads", buf, n);
  if (tcgetattr(s, &t) < 0) die("tcgetattr 2");
  printf("echo %s, VINTR ^%c\n", (t.c_lflag & ECHO) ? "on" : "off", t.c_cc[VINTR] + 0x40);
  if (ioctl(s, TIOCGWINSZ, &ws) < 0) die("TIOCGWINSZ");
  printf("size %d %d\n", ws.ws_row, ws.ws_col);
  printf("session is mine %d, foreground is mine %d\n", tcgetsid(s) == getsid(0), tcgetpgrp(s) == getpgrp());
  int tty = open("/dev/tty", O_RDWR);
  printf("/dev/tty opens %d\n", tty >= 0);
  int locked = 0;
  if (ioctl(m2, TIOCGPTLCK, &locked) < 0) die("TIOCGPTLCK");
  printf("second pty locked %d\n", locked);
  return 0;
}
