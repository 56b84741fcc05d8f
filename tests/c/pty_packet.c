/* Pseudo-terminal details beside pty.c: a slave's default termios, packet mode (TIOCPKT) on the
 * master, the master's poll once the slave closed, master writes beyond the 4 KiB input buffer,
 * and TIOCGPTPEER giving a session leader its controlling terminal. Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int open_pair(int *slave) {
  int m = posix_openpt(O_RDWR | O_NONBLOCK | O_NOCTTY);
  grantpt(m);
  unlockpt(m);
  *slave = open(ptsname(m), O_RDWR | O_NONBLOCK | O_NOCTTY);
  return m;
}

static void show_read(const char *what, int fd) {
  char buf[64];
  usleep(20000);
  ssize_t n = read(fd, buf, sizeof buf);
  printf("%s: %zd", what, n);
  if (n < 0) printf(" %s", strerrorname_np(errno));
  for (ssize_t i = 0; i < n && i < 16; i++) printf(" %02x", (unsigned char)buf[i]);
  printf("\n");
}

static void show_poll(const char *what, int fd) {
  struct pollfd p = {fd, POLLIN | POLLPRI | POLLOUT, 0};
  usleep(20000);
  poll(&p, 1, 0);
  printf("%s: revents %#x\n", what, p.revents);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int s, m = open_pair(&s);
  struct termios t;
  tcgetattr(s, &t);
  printf("default: iflag %o oflag %o cflag %o lflag %o\n", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);

  int on = 1, got = -1;
  printf("TIOCPKT: %d\n", ioctl(m, TIOCPKT, &on));
  ioctl(m, TIOCGPKT, &got);
  printf("TIOCGPKT: %d\n", got);
  write(s, "hi\n", 3);
  show_read("packet data", m);
  tcflush(s, TCIFLUSH);
  show_poll("after the slave's TCIFLUSH", m);
  show_read("status", m);
  tcflush(s, TCIOFLUSH);
  show_read("status after TCIOFLUSH", m);
  tcflush(m, TCIOFLUSH);
  show_poll("after the master's own flush", m);
  tcflow(s, TCOOFF);
  show_read("status after TCOOFF", m);
  tcflow(s, TCOON);
  show_read("status after TCOON", m);
  on = 0;
  ioctl(m, TIOCPKT, &on);

  /* Beyond the input buffer: the master's write is taken whole; 4095 bytes are readable. */
  cfmakeraw(&t);
  tcsetattr(s, TCSANOW, &t);
  char big[4100];
  memset(big, 'M', sizeof big);
  printf("write 4100 raw: %zd\n", write(m, big, sizeof big));
  int avail = 0;
  usleep(20000);
  ioctl(s, FIONREAD, &avail);
  printf("readable: %d\n", avail);
  char in[8192];
  printf("read: %zd\n", read(s, in, sizeof in));
  usleep(20000);
  printf("then: %zd\n", read(s, in, sizeof in));

  close(s);
  show_poll("master after the slave closed", m);
  close(m);

  /* TIOCGPTPEER in a new session: the slave becomes the controlling terminal. */
  pid_t c = fork();
  if (c == 0) {
    setsid();
    signal(SIGHUP, SIG_IGN); /* TIOCNOTTY by a session leader hangs up its foreground group */
    int mm = posix_openpt(O_RDWR | O_NOCTTY);
    unlockpt(mm);
    int ss = ioctl(mm, TIOCGPTPEER, O_RDWR);
    printf("TIOCGPTPEER: %s\n", ss >= 0 ? "ok" : strerrorname_np(errno));
    printf("TIOCNOTTY (it is the controlling terminal): %d\n", ioctl(ss, TIOCNOTTY));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
