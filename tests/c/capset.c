/* Capabilities as Linux keeps them: capset(2)'s rules, the checks that honour the effective set
 * (file permissions, chown, chmod, kill, setuid), the fix-ups of set*uid and setfsuid, keepcaps,
 * securebits, the bounding and ambient sets, access(2)'s override, and exec's transformation.
 * Prints only capabilities in MASK, which root holds both natively (on a host or in a
 * container) and in the sentry, so that the output is the same everywhere. Run as root. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

struct hdr { unsigned version; int pid; };
struct data { unsigned effective, permitted, inheritable; };

enum { CHOWN = 0, DAC_OVERRIDE = 1, DAC_READ_SEARCH = 2, FOWNER = 3, KILL = 5, SETGID = 6,
       SETUID = 7, SETPCAP = 8, NET_BIND_SERVICE = 10, NET_RAW = 13 };
#define BIT(c) (1u << (c))
static const unsigned MASK = BIT(CHOWN) | BIT(DAC_OVERRIDE) | BIT(DAC_READ_SEARCH) | BIT(FOWNER) |
  BIT(KILL) | BIT(SETGID) | BIT(SETUID) | BIT(SETPCAP) | BIT(NET_BIND_SERVICE) | BIT(NET_RAW);

static struct data d[2];

static long capget(void) {
  struct hdr h = {0x20080522, 0};
  return syscall(SYS_capget, &h, d);
}

static long capset(void) {
  struct hdr h = {0x20080522, 0};
  return syscall(SYS_capset, &h, d);
}

static void show(const char *what) {
  capget();
  printf("  %s: eff %x prm %x inh %x\n", what, d[0].effective & MASK, d[0].permitted & MASK,
         d[0].inheritable & MASK);
}

/* Drops (or with on = 1 raises back) capability c in the effective set. */
static long effective(int c, int on) {
  capget();
  if (on) d[0].effective |= BIT(c);
  else d[0].effective &= ~BIT(c);
  return capset();
}

/* open(2) then close: 0, or -1 with open's errno. */
static int opened(const char *path, int flags) {
  int fd = open(path, flags);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

static const char *F000 = "/tmp/capset-f000", *D700 = "/tmp/capset-d700";

static void dac(void) {
  R("open 000 file rdonly, all caps", opened(F000, O_RDONLY));
  R("drop DAC_OVERRIDE", effective(DAC_OVERRIDE, 0));
  R("open 000 file rdonly (DAC_READ_SEARCH)", opened(F000, O_RDONLY));
  R("open 000 file wronly", opened(F000, O_WRONLY));
  R("drop DAC_READ_SEARCH", effective(DAC_READ_SEARCH, 0));
  R("open 000 file rdonly", opened(F000, O_RDONLY));
  R("access 000 file R_OK (real uid 0: permitted counts)", access(F000, R_OK));
  R("faccessat AT_EACCESS R_OK", faccessat(AT_FDCWD, F000, R_OK, AT_EACCESS));
  R("raise DAC_OVERRIDE again", effective(DAC_OVERRIDE, 1));
  R("open 000 file rdwr", opened(F000, O_RDWR));
  R("raise DAC_READ_SEARCH", effective(DAC_READ_SEARCH, 1));
}

static void ownership(void) {
  R("drop CHOWN", effective(CHOWN, 0));
  R("chown to nobody", chown(F000, 65534, -1));
  R("chown to own uid (no change)", chown(F000, 0, -1));
  R("raise CHOWN", effective(CHOWN, 1));
  R("chown to nobody", chown(F000, 65534, -1));
  R("drop FOWNER", effective(FOWNER, 0));
  R("chmod nobody's file", chmod(F000, 0));
  R("raise FOWNER", effective(FOWNER, 1));
  R("chmod nobody's file", chmod(F000, 0));
  R("chown back", chown(F000, 0, -1));
}

/* fs.protected_hardlinks (1 on our hosts, as on most distributions), linkat(AT_EMPTY_PATH)'s
 * same-credentials rule (Linux 6.10+) and chroot's CAP_SYS_CHROOT. */
static void linking(void) {
  const char *setuid_file = "/tmp/capset-suid", *rw_file = "/tmp/capset-rw";
  unlink("/tmp/capset-l1");
  close(open(setuid_file, O_CREAT | O_WRONLY, 0666));
  chmod(setuid_file, 04666);
  close(open(rw_file, O_CREAT | O_WRONLY, 0666));
  chmod(rw_file, 0666);
  pid_t c = fork();
  if (c == 0) {
    setresuid(65534, 65534, 65534);
    R("nobody: link root's 000 file", link(F000, "/tmp/capset-l1"));
    R("nobody: link root's setuid 0666 file", link(setuid_file, "/tmp/capset-l1"));
    R("nobody: link root's 0666 file", link(rw_file, "/tmp/capset-l1"));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  unlink("/tmp/capset-l1"); /* root's inode in sticky /tmp: nobody may not unlink it */
  unlink(setuid_file);
  unlink(rw_file);
  int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
  R("drop DAC_READ_SEARCH", effective(DAC_READ_SEARCH, 0));
  int fd2 = open("/tmp", O_TMPFILE | O_RDWR, 0600);
  R("linkat AT_EMPTY_PATH, opened before the capset", linkat(fd, "", AT_FDCWD, "/tmp/capset-l2", AT_EMPTY_PATH));
  R("linkat AT_EMPTY_PATH, opened with these creds", linkat(fd2, "", AT_FDCWD, "/tmp/capset-l2", AT_EMPTY_PATH));
  unlink("/tmp/capset-l2");
  c = fork();
  if (c == 0) {
    R("child: linkat AT_EMPTY_PATH, the parent's file", linkat(fd2, "", AT_FDCWD, "/tmp/capset-l3", AT_EMPTY_PATH));
    unlink("/tmp/capset-l3");
    _exit(0);
  }
  waitpid(c, NULL, 0);
  R("raise DAC_READ_SEARCH", effective(DAC_READ_SEARCH, 1));
  R("linkat AT_EMPTY_PATH with DAC_READ_SEARCH", linkat(fd, "", AT_FDCWD, "/tmp/capset-l4", AT_EMPTY_PATH));
  unlink("/tmp/capset-l4");
  close(fd);
  close(fd2);
  c = fork();
  if (c == 0) {
    R("drop SYS_CHROOT", effective(18, 0));
    R("chroot /tmp", chroot("/tmp"));
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

static void killing(void) {
  pid_t c = fork();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    pause();
    _exit(0);
  }
  usleep(100000);
  R("drop KILL", effective(KILL, 0));
  R("kill(nobody's child, 0)", kill(c, 0));
  R("raise KILL", effective(KILL, 1));
  R("kill(nobody's child, SIGKILL)", kill(c, SIGKILL));
  waitpid(c, NULL, 0);
}

static void rules(void) {
  capget();
  struct data save[2];
  memcpy(save, d, sizeof d);
  d[0].effective |= BIT(SETPCAP);
  d[0].permitted &= ~BIT(SETPCAP);
  R("capset effective outside permitted", capset());
  struct hdr h = {0x20080522, 99999999};
  capget();
  R("capset another pid", syscall(SYS_capset, &h, d));
  h.version = 0x12345678;
  h.pid = 0;
  R("capset bad version", syscall(SYS_capset, &h, d));
  printf("  version now %x\n", h.version);
  h.version = 0x20080522;
  R("capset bad data", syscall(SYS_capset, &h, (void *)8));
  pid_t c = fork();
  if (c == 0) {
    capget();
    d[0].permitted &= ~BIT(NET_RAW);
    d[0].effective &= ~BIT(NET_RAW);
    R("child: capset drop NET_RAW from permitted", capset());
    show("child");
    d[0].permitted |= BIT(NET_RAW);
    R("child: capset raise it back", capset());
    d[0].permitted &= ~BIT(NET_RAW);
    d[0].inheritable |= BIT(NET_RAW);
    R("child: inheritable NET_RAW with SETPCAP", capset());
    d[0].inheritable = 0;
    d[0].effective &= ~BIT(SETPCAP);
    R("child: capset drop SETPCAP", capset());
    d[0].inheritable |= BIT(NET_RAW);
    R("child: inheritable outside permitted without SETPCAP", capset());
    d[0].inheritable = BIT(CHOWN);
    R("child: inheritable inside permitted", capset());
    show("child");
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

static void ids(void) {
  pid_t c = fork();
  if (c == 0) {
    R("seteuid(nobody)", seteuid(65534));
    show("euid nobody");
    R("open 000 file", opened(F000, O_RDONLY));
    R("seteuid(0)", seteuid(0));
    show("euid 0 again");
    R("setfsuid(nobody)", setfsuid(65534));
    show("fsuid nobody");
    R("setfsuid(0)", setfsuid(0));
    show("fsuid 0");
    R("setresuid(nobody x3)", setresuid(65534, 65534, 65534));
    show("all uids nobody");
    R("setuid(0)", setuid(0));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  c = fork();
  if (c == 0) {
    R("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    R("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
    R("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    R("PR_GET_SECUREBITS", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
    R("setresuid(nobody x3), keepcaps", setresuid(65534, 65534, 65534));
    show("kept");
    R("raise DAC_OVERRIDE", effective(DAC_OVERRIDE, 1));
    R("open 000 file", opened(F000, O_RDONLY));
    R("drop SETUID from effective", effective(SETUID, 0));
    R("setuid(0) without SETUID", setuid(0));
    R("raise SETUID", effective(SETUID, 1));
    R("setuid(0) with SETUID", setuid(0));
    show("uid 0 again (effective not refilled by setuid)");
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

static void bounding_ambient(const char *self) {
  R("PR_CAPBSET_READ NET_RAW", prctl(PR_CAPBSET_READ, NET_RAW, 0, 0, 0));
  R("PR_CAPBSET_READ 64", prctl(PR_CAPBSET_READ, 64, 0, 0, 0));
  R("PR_CAP_AMBIENT bad op", prctl(PR_CAP_AMBIENT, 9, NET_BIND_SERVICE, 0, 0));
  R("PR_CAP_AMBIENT_IS_SET", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, NET_BIND_SERVICE, 0, 0));
  R("PR_CAP_AMBIENT_RAISE not inheritable", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, NET_BIND_SERVICE, 0, 0));
  R("PR_CAP_AMBIENT_CLEAR_ALL with arg", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
  pid_t c = fork();
  if (c == 0) {
    R("PR_CAPBSET_DROP NET_RAW", prctl(PR_CAPBSET_DROP, NET_RAW, 0, 0, 0));
    R("PR_CAPBSET_READ NET_RAW", prctl(PR_CAPBSET_READ, NET_RAW, 0, 0, 0));
    capget();
    d[0].inheritable = BIT(NET_BIND_SERVICE);
    R("capset inheritable NET_BIND_SERVICE", capset());
    R("PR_CAP_AMBIENT_RAISE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, NET_BIND_SERVICE, 0, 0));
    R("PR_CAP_AMBIENT_IS_SET", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, NET_BIND_SERVICE, 0, 0));
    R("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    R("setresuid(nobody x3)", setresuid(65534, 65534, 65534));
    R("PR_CAP_AMBIENT_IS_SET after setuid", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, NET_BIND_SERVICE, 0, 0));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  c = fork();
  if (c == 0) {
    prctl(PR_CAPBSET_DROP, NET_RAW, 0, 0, 0);
    capget();
    d[0].inheritable = BIT(NET_BIND_SERVICE) | BIT(CHOWN);
    capset();
    R("PR_CAP_AMBIENT_RAISE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, NET_BIND_SERVICE, 0, 0));
    execl(self, self, "root-exec", (char *)NULL);
    _exit(127);
  }
  waitpid(c, NULL, 0);
  c = fork();
  if (c == 0) {
    capget();
    d[0].inheritable = BIT(NET_BIND_SERVICE);
    capset();
    R("PR_CAP_AMBIENT_RAISE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, NET_BIND_SERVICE, 0, 0));
    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
    setresuid(65534, 65534, 65534);
    capget();
    R("PR_CAP_AMBIENT_RAISE again (ambient was cleared)", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, NET_BIND_SERVICE, 0, 0));
    execl(self, self, "nobody-exec", (char *)NULL);
    _exit(127);
  }
  waitpid(c, NULL, 0);
}

static void securebits(void) {
  pid_t c = fork();
  if (c == 0) {
    R("PR_SET_SECUREBITS bad bit", prctl(PR_SET_SECUREBITS, 1 << 12, 0, 0, 0));
    R("PR_SET_SECUREBITS KEEP_CAPS|LOCKED", prctl(PR_SET_SECUREBITS, 0x30, 0, 0, 0));
    R("PR_GET_SECUREBITS", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
    R("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    R("PR_SET_KEEPCAPS 0 while locked", prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
    R("PR_SET_SECUREBITS unlock", prctl(PR_SET_SECUREBITS, 0x10, 0, 0, 0));
    R("PR_SET_SECUREBITS NO_SETUID_FIXUP", prctl(PR_SET_SECUREBITS, 0x34, 0, 0, 0));
    R("seteuid(nobody)", seteuid(65534));
    show("euid nobody, no fix-up");
    R("drop SETPCAP", effective(SETPCAP, 0));
    R("PR_SET_SECUREBITS without SETPCAP", prctl(PR_SET_SECUREBITS, 0x34, 0, 0, 0));
    R("PR_CAPBSET_DROP without SETPCAP", prctl(PR_CAPBSET_DROP, NET_RAW, 0, 0, 0));
    R("drop SYS_RESOURCE", effective(24, 0));
    R("PR_SET_MM without SYS_RESOURCE", prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0));
    R("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    R("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    pid_t g = fork();
    if (g == 0) {
      R("grandchild: PR_GET_NO_NEW_PRIVS (inherited)", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
      _exit(0);
    }
    waitpid(g, NULL, 0);
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    printf("after exec as %s:\n", argv[1]);
    show("sets");
    R("  ambient NET_BIND_SERVICE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, NET_BIND_SERVICE, 0, 0));
    R("  bounding NET_RAW", prctl(PR_CAPBSET_READ, NET_RAW, 0, 0, 0));
    R("  keepcaps", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    return 0;
  }
  if (geteuid() != 0) {
    printf("run as root\n");
    return 1;
  }
  unlink(F000);
  rmdir(D700);
  close(open(F000, O_CREAT | O_WRONLY, 0));
  chmod(F000, 0);
  show("root at start");
  dac();
  ownership();
  linking();
  killing();
  rules();
  ids();
  bounding_ambient(argv[0]);
  securebits();
  show("root at end");
  unlink(F000);
  return 0;
}
