/* mount_setattr(2) in a mount namespace of the test's own (natively as root; the host's tree
 * never changes): the order of its checks (flags, size, struct tail, a request that changes
 * nothing succeeding without a path lookup, propagation and attribute validity, the atime
 * enum's rules, a path that is not a mount's root), attributes set and cleared on one mount or
 * with AT_RECURSIVE on its submounts too (seen through statvfs's f_flag), the atime modes, the
 * propagation (shared:N in mountinfo), and EPERM without CAP_SYS_ADMIN. Output: the same
 * natively and in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

#define NR_mount_setattr 442
#define AT_RECURSIVE_ 0x8000
#define A_RDONLY 0x1
#define A_NOSUID 0x2
#define A_NODEV 0x4
#define A_NOEXEC 0x8
#define A__ATIME 0x70
#define A_RELATIME 0x0
#define A_NOATIME 0x10
#define A_STRICTATIME 0x20
#define A_NODIRATIME 0x80

struct attr {
  uint64_t set, clr, propagation, userns_fd;
};

static char dir[64], t[96], s[96], d[96];

static long setattr(const char *path, unsigned flags, uint64_t set, uint64_t clr, uint64_t prop) {
  struct attr a = {set, clr, prop, 0};
  return syscall(NR_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a);
}

static void flags_of(const char *label) {
  struct statvfs a, b;
  statvfs(t, &a);
  statvfs(s, &b);
  unsigned long m = ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME;
  printf("%s: t %#lx s %#lx\n", label, a.f_flag & m, b.f_flag & m);
}

static int shared(const char *path) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[1024];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    char point[512], opts[512];
    if (sscanf(line, "%*d %*d %*d:%*d %*s %511s %*s %511[^\n]", point, opts) != 2) continue;
    if (strcmp(point, path) == 0) found = strstr(opts, "shared:") != NULL;
  }
  fclose(f);
  return found;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 1;
  strcpy(dir, "/tmp/setattr-XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;
  snprintf(t, sizeof t, "%s/t", dir);
  snprintf(s, sizeof s, "%s/t/s", dir);
  snprintf(d, sizeof d, "%s/t/d", dir);
  mkdir(t, 0755);
  mount("t", t, "tmpfs", 0, NULL);
  mkdir(s, 0755);
  mkdir(d, 0755);
  mount("s", s, "tmpfs", 0, NULL);
  flags_of("start");

  struct attr a = {0, 0, 0, 0};
  R("bad flags", syscall(NR_mount_setattr, AT_FDCWD, t, 1, &a, sizeof a));
  R("size 0", syscall(NR_mount_setattr, AT_FDCWD, t, 0, &a, 0));
  R("size 31", syscall(NR_mount_setattr, AT_FDCWD, t, 0, &a, 31));
  R("size 4097", syscall(NR_mount_setattr, AT_FDCWD, t, 0, &a, 4097));
  static char big[64];
  big[40] = 1;
  R("size 48, a byte set past 32", syscall(NR_mount_setattr, AT_FDCWD, t, 0, big, 48));
  R("nothing to change, no such path", syscall(NR_mount_setattr, AT_FDCWD, "/nonexistent/x", 0, &a, sizeof a));
  R("propagation -1", setattr(t, 0, 0, 0, (uint64_t)-1));
  R("shared and slave", setattr(t, 0, 0, 0, MS_SHARED | MS_SLAVE));
  R("unknown attribute", setattr(t, 0, 0x40000000, 0, 0));
  R("noatime without clearing the atime bits", setattr(t, 0, A_NOATIME, 0, 0));
  R("clearing part of the atime bits", setattr(t, 0, 0, A_NOATIME, 0));
  R("an atime value out of the enum", setattr(t, 0, 0x30, A__ATIME, 0));
  R("not a mount's root", setattr(d, 0, A_RDONLY, 0, 0));
  R("no such path", setattr("/nonexistent/x", 0, A_RDONLY, 0, 0));
  flags_of("after the refusals");
  R("ro, noexec on t", setattr(t, 0, A_RDONLY | A_NOEXEC, 0, 0));
  flags_of("  ");
  R("nosuid, nodev on t, recursively", setattr(t, AT_RECURSIVE_, A_NOSUID | A_NODEV, 0, 0));
  flags_of("  ");
  R("clear ro and nosuid, recursively", setattr(t, AT_RECURSIVE_, 0, A_RDONLY | A_NOSUID, 0));
  flags_of("  ");
  R("noatime on s", setattr(s, 0, A_NOATIME, A__ATIME, 0));
  flags_of("  ");
  R("strictatime, nodiratime on s", setattr(s, 0, A_STRICTATIME | A_NODIRATIME, A__ATIME, 0));
  flags_of("  ");
  R("relatime on s", setattr(s, 0, A_RELATIME, A__ATIME | A_NODIRATIME, 0));
  flags_of("  ");
  printf("t shared before: %d\n", shared(t));
  R("make t shared", setattr(t, 0, 0, 0, MS_SHARED));
  printf("t, s shared: %d %d\n", shared(t), shared(s));
  R("make t private, recursively", setattr(t, AT_RECURSIVE_, 0, 0, MS_PRIVATE));
  R("make t shared, recursively", setattr(t, AT_RECURSIVE_, 0, 0, MS_SHARED));
  printf("t, s shared: %d %d\n", shared(t), shared(s));
  int fd = open(s, O_PATH);
  struct attr e = {A_RDONLY, 0, 0, 0};
  R("by descriptor, AT_EMPTY_PATH", syscall(NR_mount_setattr, fd, "", AT_EMPTY_PATH, &e, sizeof e));
  flags_of("  ");

  pid_t pid = fork();
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct c[2];
    syscall(SYS_capget, &h, c);
    c[0].effective &= ~(1u << CAP_SYS_ADMIN);
    syscall(SYS_capset, &h, c);
    R("without CAP_SYS_ADMIN", setattr(t, 0, A_RDONLY, 0, 0));
    R("without CAP_SYS_ADMIN, size 0", syscall(NR_mount_setattr, AT_FDCWD, t, 0, &a, 0));
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  umount2(t, MNT_DETACH);
  rmdir(t);
  rmdir(dir);
  return 0;
}
