/* vhangup(2) as natively: EPERM without CAP_SYS_TTY_CONFIG, 0 without a controlling terminal;
 * with one (a new pty in a new session), the leader gets SIGHUP and SIGCONT, the descriptions
 * open at the time read end of file and fail writes and ioctls with EIO, the session loses its
 * terminal, and the slave opened again works. Never touches the terminal the test runs on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-36s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static volatile int hups, conts;
static void on_hup(int s) { (void)s; hups++; }
static void on_cont(int s) { (void)s; conts++; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) _exit(1);
    R("vhangup as nobody", syscall(SYS_vhangup));
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  pid = fork();
  if (pid == 0) {
    setsid();
    R("vhangup without a terminal", syscall(SYS_vhangup));
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    grantpt(m);
    unlockpt(m);
    char name[64];
    ptsname_r(m, name, sizeof name);
    int s = open(name, O_RDWR);
    R("TIOCSCTTY", ioctl(s, TIOCSCTTY, 0));
    struct termios tio;
    tcgetattr(s, &tio);
    cfmakeraw(&tio);
    tcsetattr(s, TCSANOW, &tio);
    signal(SIGHUP, on_hup);
    signal(SIGCONT, on_cont);
    R("vhangup with a terminal", syscall(SYS_vhangup));
    printf("SIGHUP %d SIGCONT %d\n", hups, conts);
    char buf[16];
    R("read of the old slave", read(s, buf, sizeof buf));
    R("write of the old slave", write(s, "x", 1));
    R("TCGETS of the old slave", tcgetattr(s, &tio));
    struct pollfd p = {s, POLLIN | POLLOUT, 0};
    R("poll of the old slave", poll(&p, 1, 0));
    printf("revents %#x\n", p.revents);
    R("open /dev/tty", open("/dev/tty", O_RDWR));
    R("TIOCGSID of the master", ioctl(m, TIOCGSID, &(pid_t){0}));
    int s2 = open(name, O_RDWR | O_NOCTTY);
    printf("reopened: %d\n", s2 >= 0);
    R("write of the new slave", write(s2, "hi", 2));
    memset(buf, 0, sizeof buf);
    R("read of the master", read(m, buf, sizeof buf));
    printf("master read \"%s\"\n", buf);
    R("TCGETS of the new slave", tcgetattr(s2, &tio));
    printf("new slave ICANON %d ECHO %d OPOST %d\n", !!(tio.c_lflag & ICANON), !!(tio.c_lflag & ECHO),
           !!(tio.c_oflag & OPOST));
    R("write of the master", write(m, "yo\n", 3));
    R("read of the new slave", read(s2, buf, 3));
    R("close of the old slave", close(s));
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  return 0;
}
