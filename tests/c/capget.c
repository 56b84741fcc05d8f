/* capget(2) as capsh, getpcaps and setpriv --dump call it: the version handshake, NULL data,
 * pids, and root's versus nobody's sets. Prints only capabilities that root holds both natively
 * (in a container too) and in the sentry, so that the output is the same everywhere. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct hdr { unsigned version; int pid; };
struct data { unsigned effective, permitted, inheritable; };

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-30s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

/* CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_NET_BIND_SERVICE. */
static const unsigned SOME = 1u << 0 | 1u << 1 | 1u << 5 | 1u << 6 | 1u << 7 | 1u << 10;

static void show(const char *who, int pid) {
  struct hdr h = {0x20080522, pid};
  struct data d[2];
  memset(d, 0xff, sizeof d);
  R(who, syscall(SYS_capget, &h, d));
  printf("  eff %x prm %x inh %x\n", d[0].effective & SOME, d[0].permitted & SOME, d[0].inheritable);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  show("capget v3 self", 0);
  show("capget v3 own pid", getpid());
  struct hdr h = {0x19980330, 0};
  struct data d[2];
  R("capget v1", syscall(SYS_capget, &h, d));
  printf("  eff %x\n", d[0].effective & SOME);
  h.version = 0x20071026;
  R("capget v2", syscall(SYS_capget, &h, d));
  h.version = 0x12345678;
  R("capget bad version", syscall(SYS_capget, &h, d));
  printf("  version now %x\n", h.version);
  h.version = 0x12345678;
  R("capget bad version, NULL data", syscall(SYS_capget, &h, NULL));
  printf("  version now %x\n", h.version);
  h.version = 0x20080522;
  R("capget NULL data", syscall(SYS_capget, &h, NULL));
  h.pid = -1;
  R("capget negative pid", syscall(SYS_capget, &h, d));
  h.pid = 99999999;
  R("capget no such pid", syscall(SYS_capget, &h, d));
  R("capget bad header", syscall(SYS_capget, (void *)8, d));
  h.pid = 0;
  R("capget bad data", syscall(SYS_capget, &h, (void *)8));
  pid_t c = fork();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    show("capget as nobody", 0);
    show("capget of root's process", getppid());
    _exit(0);
  }
  waitpid(c, NULL, 0);
  c = fork();
  if (c == 0) {
    if (setresuid(0, 65534, 0) < 0) _exit(1);
    show("capget with euid nobody", 0);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
