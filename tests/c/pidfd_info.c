/* ioctl(PIDFD_GET_INFO): pid, tgid and ppid, the credentials and the mask of a live child, of
 * a zombie, and of a reaped one (its wait status with PIDFD_INFO_EXIT, else ESRCH); a NULL
 * buffer EINVAL, a short or write-only ioctl ENOTTY; a caller in a new PID namespace EREMOTE.
 * Run natively and in the sentry, as root; the outputs must match. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct info {
  uint64_t mask, cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
  uint32_t coredump_mask, spare;
};
#define GET_INFO _IOWR(0xFF, 11, struct info)
#define GET_INFO_SHORT _IOWR(0xFF, 11, char[32])
#define GET_INFO_W _IOW(0xFF, 11, struct info)

static void bad(const char *what, int r) {
  printf("%s: %d %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

static void get(const char *what, int fd, uint64_t mask, pid_t child) {
  struct info in;
  memset(&in, 0xab, sizeof in);
  in.mask = mask;
  errno = 0;
  int r = ioctl(fd, GET_INFO, &in);
  if (r < 0) { printf("%s: -1 %s\n", what, strerrorname_np(errno)); return; }
  printf("%s: mask %#llx pid ok %d tgid ok %d ppid ok %d ids %u %u %u %u %u %u %u %u exit %#x spare %u %u\n", what,
         (unsigned long long)in.mask & ~4ULL, in.pid == (uint32_t)child, in.tgid == (uint32_t)child, in.ppid == (uint32_t)getpid(),
         in.ruid, in.rgid, in.euid, in.egid, in.suid, in.sgid, in.fsuid, in.fsgid, in.exit_code, in.coredump_mask, in.spare);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    char b;
    read(p[0], &b, 1);
    _exit(7);
  }
  int fd = syscall(SYS_pidfd_open, c, 0);
  get("live, mask 0", fd, 0, c);
  get("live, EXIT asked", fd, 8, c);
  bad("NULL buffer", ioctl(fd, GET_INFO, NULL));
  char small[32] = {0};
  bad("short size", ioctl(fd, GET_INFO_SHORT, small));
  struct info in = {0};
  bad("_IOW", ioctl(fd, GET_INFO_W, &in));
  write(p[1], "x", 1);
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  get("zombie, EXIT asked", fd, 8, c);
  int st;
  waitpid(c, &st, 0);
  printf("wait status %#x\n", st);
  get("reaped, EXIT asked", fd, 8, c);
  get("reaped, mask 0", fd, 0, c);
  pid_t k = fork();
  if (k == 0) {
    if (unshare(CLONE_NEWPID) != 0) _exit(1);
    pid_t g = fork();
    if (g == 0) {
      get("from a new PID namespace", fd, 8, c);
      _exit(0);
    }
    waitpid(g, NULL, 0);
    _exit(0);
  }
  waitpid(k, NULL, 0);
  return 0;
}
