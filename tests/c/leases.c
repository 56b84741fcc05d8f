/* File leases (fcntl F_SETLEASE, F_GETLEASE) on a private tmpfs: which opens refuse a lease
 * (EAGAIN), the owner rule (EACCES), EINVAL cases, and breaking: an O_NONBLOCK opener gets
 * EWOULDBLOCK after the holder is signalled (F_SETSIG signal with POLL_MSG and si_fd), a blocked
 * opener or truncate(2) waits until the holder downgrades or releases (and meanwhile counts as a
 * writer: no read lease), a lease goes with its description, /proc/sys/fs/lease-break-time
 * forces the break, leases-enable 0 refuses new leases. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static sigset_t rt;
static void on_usr1(int sig) { (void)sig; }

/* Waits for the holder's break signal and prints what it carried. */
static void expect_break(int fd) {
  siginfo_t si;
  int s = sigwaitinfo(&rt, &si);
  printf("  break signal %s code %d band %#lx fd %s\n", s == SIGRTMIN ? "SIGRTMIN" : s == SIGIO ? "SIGIO" : "other",
         si.si_code, (long)si.si_band, si.si_fd == fd ? "ok" : "?");
}

static int sysctl(const char *name, int v) {
  char path[128], buf[32];
  snprintf(path, sizeof path, "/proc/sys/fs/%s", name);
  FILE *f = fopen(path, "r+");
  int old = -1;
  if (f == NULL || fscanf(f, "%d", &old) != 1) return -1;
  rewind(f);
  snprintf(buf, sizeof buf, "%d\n", v);
  fputs(buf, f);
  fclose(f);
  return old;
}

/* A child's call, reported by the parent once the child is reaped (so output keeps one order):
 * the child exits with 0 on success, else with errno. */
#define CHILD(expr) do { errno = 0; _exit((long)(expr) < 0 ? errno : 0); } while (0)
static void reap(const char *name, pid_t c) {
  int st;
  waitpid(c, &st, 0);
  int e = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  printf("%s = %s\n", name, e == 0 ? "ok" : e > 0 ? strerrorname_np(e) : "killed");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/leasesXXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 2;
  if (mount("none", dir, "tmpfs", 0, "") != 0 || chdir(dir) != 0) return 3;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN);
  sigaddset(&rt, SIGIO);
  sigprocmask(SIG_BLOCK, &rt, NULL);
  close(open("f", O_CREAT | O_WRONLY, 0644));

  printf("-- setting and refusing\n");
  int r = open("f", O_RDONLY);
  R("F_GETLEASE, none", fcntl(r, F_GETLEASE));
  R("F_SETLEASE 7", fcntl(r, F_SETLEASE, 7));
  R("F_SETLEASE F_UNLCK, none", fcntl(r, F_SETLEASE, F_UNLCK));
  int d = open(".", O_RDONLY | O_DIRECTORY);
  R("F_SETLEASE F_RDLCK on a directory", fcntl(d, F_SETLEASE, F_RDLCK));
  close(d);
  int p[2];
  pipe(p);
  R("F_SETLEASE F_RDLCK on a pipe", fcntl(p[0], F_SETLEASE, F_RDLCK));
  int o = open("f", O_PATH);
  R("F_SETLEASE on O_PATH", fcntl(o, F_SETLEASE, F_RDLCK));
  R("F_GETLEASE on O_PATH", fcntl(o, F_GETLEASE));
  close(o);
  int w = open("f", O_RDWR);
  R("F_SETLEASE F_RDLCK on O_RDWR", fcntl(w, F_SETLEASE, F_RDLCK));
  R("F_SETLEASE F_WRLCK on O_RDWR with a reader open", fcntl(w, F_SETLEASE, F_WRLCK));
  R("F_SETLEASE F_RDLCK on O_RDONLY with a writer open", fcntl(r, F_SETLEASE, F_RDLCK));
  close(w);
  R("F_SETLEASE F_RDLCK", fcntl(r, F_SETLEASE, F_RDLCK));
  R("F_GETLEASE", fcntl(r, F_GETLEASE));
  R("F_GETOWN (the lease's holder)", fcntl(r, F_GETOWN) == getpid());
  int r2 = open("f", O_RDONLY);
  R("second description F_GETLEASE", fcntl(r2, F_GETLEASE));
  R("second description F_RDLCK", fcntl(r2, F_SETLEASE, F_RDLCK));
  R("second description F_WRLCK", fcntl(r2, F_SETLEASE, F_WRLCK));
  R("upgrade with another reader", fcntl(r, F_SETLEASE, F_WRLCK));
  close(r2);
  R("upgrade alone", fcntl(r, F_SETLEASE, F_WRLCK));
  R("F_GETLEASE", fcntl(r, F_GETLEASE));
  int dup_r = dup(r);
  R("F_GETLEASE through a dup", fcntl(dup_r, F_GETLEASE));
  close(dup_r);
  R("F_SETLEASE F_UNLCK", fcntl(r, F_SETLEASE, F_UNLCK));
  R("F_GETOWN after F_UNLCK", fcntl(r, F_GETOWN));
  R("F_SETLEASE F_UNLCK again", fcntl(r, F_SETLEASE, F_UNLCK));
  R("F_SETLEASE F_WRLCK", fcntl(r, F_SETLEASE, F_WRLCK));
  close(r);
  r = open("f", O_RDONLY);
  R("a closed description's lease went: F_WRLCK", fcntl(r, F_SETLEASE, F_WRLCK));
  R("F_SETLEASE F_UNLCK", fcntl(r, F_SETLEASE, F_UNLCK));

  pid_t c = fork();
  if (c == 0) {
    setresuid(1000, 1000, 1000);
    int f = open("f", O_RDONLY);
    R("not the owner: F_SETLEASE F_RDLCK", fcntl(f, F_SETLEASE, F_RDLCK));
    R("not the owner: F_GETLEASE", fcntl(f, F_GETLEASE));
    _exit(0);
  }
  waitpid(c, NULL, 0);

  printf("-- breaking\n");
  R("F_SETSIG SIGRTMIN", fcntl(r, F_SETSIG, SIGRTMIN));
  R("F_SETLEASE F_WRLCK", fcntl(r, F_SETLEASE, F_WRLCK));
  c = fork();
  if (c == 0) {
    CHILD(open("f", O_RDONLY | O_NONBLOCK));
  }
  expect_break(r);
  reap("child: O_RDONLY|O_NONBLOCK open", c);
  R("F_GETLEASE (downgrade pending)", fcntl(r, F_GETLEASE));
  R("F_SETLEASE F_RDLCK", fcntl(r, F_SETLEASE, F_RDLCK));
  R("F_GETLEASE", fcntl(r, F_GETLEASE));
  c = fork();
  if (c == 0) {
    if (open("f", O_RDONLY) < 0) _exit(100); /* beside a read lease: no wait */
    CHILD(open("f", O_WRONLY));
  }
  expect_break(r);
  R("F_GETLEASE (release pending)", fcntl(r, F_GETLEASE));
  R("F_SETLEASE F_RDLCK with the opener waiting", fcntl(r, F_SETLEASE, F_RDLCK));
  R("F_SETLEASE F_WRLCK with the opener waiting", fcntl(r, F_SETLEASE, F_WRLCK));
  R("F_SETLEASE F_UNLCK", fcntl(r, F_SETLEASE, F_UNLCK));
  reap("child: O_RDONLY open, then O_WRONLY once the holder gave up", c);
  R("F_GETSIG after the lease went", fcntl(r, F_GETSIG));

  R("F_SETLEASE F_RDLCK (SIGIO)", fcntl(r, F_SETLEASE, F_RDLCK));
  c = fork();
  if (c == 0) {
    CHILD(truncate("f", 0));
  }
  expect_break(r);
  R("F_SETLEASE F_UNLCK", fcntl(r, F_SETLEASE, F_UNLCK));
  reap("child: truncate", c);

  printf("-- signals while an opener waits\n");
  for (int restart = 0; restart <= 1; restart++) {
    R("F_SETLEASE F_RDLCK", fcntl(r, F_SETLEASE, F_RDLCK));
    c = fork();
    if (c == 0) {
      struct sigaction sa = {0};
      sa.sa_handler = on_usr1;
      sa.sa_flags = restart ? SA_RESTART : 0;
      sigaction(SIGUSR1, &sa, NULL);
      CHILD(open("f", O_WRONLY));
    }
    expect_break(r);
    kill(c, SIGUSR1);
    if (!restart) {
      reap("child: O_WRONLY open interrupted by a handler", c);
      R("F_GETLEASE (still release pending)", fcntl(r, F_GETLEASE));
      R("F_SETLEASE F_RDLCK once the opener left", fcntl(r, F_SETLEASE, F_RDLCK));
      R("F_GETLEASE (still release pending)", fcntl(r, F_GETLEASE));
      R("F_SETLEASE F_UNLCK", fcntl(r, F_SETLEASE, F_UNLCK));
    } else {
      R("F_SETLEASE F_UNLCK", fcntl(r, F_SETLEASE, F_UNLCK));
      reap("child: O_WRONLY open restarted after an SA_RESTART handler", c);
    }
  }

  printf("-- forced break and leases-enable\n");
  int old = sysctl("lease-break-time", 1);
  R("F_SETLEASE F_WRLCK", fcntl(r, F_SETLEASE, F_WRLCK));
  c = fork();
  if (c == 0) {
    CHILD(open("f", O_RDWR));
  }
  expect_break(r);
  reap("child: O_RDWR open once the break time passed", c);
  R("F_GETLEASE after the forced break", fcntl(r, F_GETLEASE));
  sysctl("lease-break-time", old);
  old = sysctl("leases-enable", 0);
  R("F_SETLEASE F_RDLCK with leases disabled", fcntl(r, F_SETLEASE, F_RDLCK));
  sysctl("leases-enable", old);
  R("F_SETLEASE F_RDLCK enabled again", fcntl(r, F_SETLEASE, F_RDLCK));
  close(r);
  umount(dir);
  chdir("/");
  rmdir(dir);
  return 0;
}
