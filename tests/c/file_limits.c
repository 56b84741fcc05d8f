/*
 * Linux details of writes (tests/files_test.ts, run natively and in the sentry in a scratch
 * directory): the set*id rules; set-user-ID/set-group-ID cleared by an unprivileged write and
 * truncate and by chown (even to -1, -1, which also drops security.capability), kept by root's
 * writes;
 * RLIMIT_FSIZE cutting writes, then SIGXFSZ and EFBIG; O_TMPFILE files linked into the tree
 * through /proc/self/fd/N with AT_SYMLINK_FOLLOW.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld%s%s\n", name, r_, r_ < 0 ? " " : "", r_ < 0 ? strerror(errno) : ""); } while (0)

static volatile int xfsz;
static void on_xfsz(int s) { (void)s; xfsz++; }

/* Runs fn in a child whose stdout is a pipe the parent copies to its own stdout (so that a
 * file-size limit in the child never applies to the test's output); returns the wait status. */
static int in_child(void (*fn)(void)) {
  int p[2];
  pipe(p);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 1);
    close(p[1]);
    fn();
    _exit(0);
  }
  close(p[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) write(1, buf, n);
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  return st;
}

static unsigned mode_of(const char *p) {
  struct stat st;
  if (stat(p, &st) != 0) return 0xffffffff;
  return st.st_mode & 07777;
}

static void print_ids(const char *what) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  printf("%s: uids %u %u %u gids %u %u %u fsuid %d\n", what, r, e, s, gr, ge, gs, setfsuid(-1));
}

/* Linux's set*id rules, then the unprivileged writes (set-ID bits cleared). */
static void unprivileged(void) {
  R("setgroups", setgroups(0, NULL));
  R("setresgid", setresgid(1000, 1000, 1000));
  R("setresuid", setresuid(1000, 1000, 0));
  print_ids("after setresuid");
  R("setuid to the saved id", setuid(0));
  print_ids("after setuid(0)");
  R("setreuid", setreuid(-1, 1000));
  print_ids("after setreuid");
  R("setfsuid", setfsuid(1234));
  R("setuid to a stranger", setuid(1234));
  R("setresuid to a stranger", setresuid(-1, 1234, -1));
  R("setgroups unprivileged", setgroups(0, NULL));
  R("setresuid drop", setresuid(1000, 1000, 1000));
  R("setuid back to root", setuid(0));
  print_ids("dropped");
  int w = open("suid_write", O_WRONLY);
  R("unprivileged write", write(w, "z", 1));
  R("empty write", write(w, "", 0));
  close(w);
  R("unprivileged truncate", truncate("suid_trunc", 0));
  w = open("sgid_noexec", O_WRONLY);
  R("write to set-group-ID without group execute", write(w, "z", 1));
  close(w);
}

static void setid_bits(void) {
  mkdir("ids", 0777);
  chmod("ids", 0777);
  chdir("ids");
  mkdir("ids", 0777);
  chmod("ids", 0777);
  chdir("ids");
  const char *files[] = {"suid_write", "suid_trunc", "sgid_noexec", "suid_chown", "root_write"};
  for (int i = 0; i < 5; i++) {
    int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC, 0);
    write(fd, "x", 1);
    close(fd);
  }
  chmod("suid_write", 06777);
  chmod("suid_trunc", 06777);
  chmod("sgid_noexec", 02666);
  chmod("suid_chown", 06777);
  chmod("root_write", 06777);
  /* Root (CAP_FSETID) keeps the bits when writing. */
  int fd = open("root_write", O_WRONLY);
  write(fd, "y", 1);
  close(fd);
  in_child(unprivileged);
  R("chown by root", chown("suid_chown", 1000, 1000));
  fd = open("noop_chown", O_WRONLY | O_CREAT | O_TRUNC, 0);
  close(fd);
  chmod("noop_chown", 06755);
  R("chown to -1, -1", chown("noop_chown", -1, -1));
  printf("mode after chown to -1, -1: %o\n", mode_of("noop_chown"));
  struct {
    unsigned magic_etc, data[4];
  } caps = {VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, {1 << CAP_SETUID, 0, 0, 0}};
  R("set security.capability", setxattr("noop_chown", "security.capability", &caps, sizeof caps, 0));
  R("chown", chown("noop_chown", 1000, -1));
  R("security.capability after chown", getxattr("noop_chown", "security.capability", NULL, 0));
  R("root truncate", truncate("root_write", 1));
  printf("modes: write %o, truncate %o, sgid-noexec %o, chown %o, root write and truncate %o\n",
         mode_of("suid_write"), mode_of("suid_trunc"), mode_of("sgid_noexec"), mode_of("suid_chown"),
         mode_of("root_write"));
  chdir("..");
}

static void limited(void) {
  signal(SIGXFSZ, on_xfsz);
  struct rlimit rl = {10, 10};
  setrlimit(RLIMIT_FSIZE, &rl);
  int fd = open("limited", O_RDWR | O_CREAT | O_TRUNC, 0644);
  R("write across the limit", write(fd, "0123456789abcdefghij", 20));
  R("write at the limit", write(fd, "x", 1));
  printf("SIGXFSZ seen: %d\n", xfsz);
  R("pwrite across the limit", pwrite(fd, "ABCDE", 5, 8));
  R("ftruncate past the limit", ftruncate(fd, 100));
  R("ftruncate within the limit", ftruncate(fd, 5));
  R("empty write past the limit", pwrite(fd, "", 0, 50));
  printf("SIGXFSZ seen: %d\n", xfsz);
  int p[2];
  pipe(p);
  R("pipe write ignores the limit", write(p[1], "0123456789abcdefghij", 20));
  struct stat st;
  fstat(fd, &st);
  printf("size %ld\n", (long)st.st_size);
  signal(SIGXFSZ, SIG_DFL);
  write(fd, "0123456789z", 11); /* killed by SIGXFSZ */
  printf("not reached\n");
}

static void fsize_limit(void) {
  int st = in_child(limited);
  printf("child: signaled %d sig %d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void o_tmpfile(void) {
  mkdir("tmpdir", 0755);
  R("O_TMPFILE read-only", open("tmpdir", O_TMPFILE | O_RDONLY, 0600));
  R("O_TMPFILE on a file", open("limited", O_TMPFILE | O_RDWR, 0600));
  int fd = open("tmpdir", O_TMPFILE | O_RDWR, 0640);
  printf("O_TMPFILE fd ok: %d\n", fd >= 0);
  R("write", write(fd, "hidden", 6));
  struct stat st;
  fstat(fd, &st);
  printf("nlink %ld mode %o size %ld\n", (long)st.st_nlink, st.st_mode & 07777, (long)st.st_size);
  DIR *d = opendir("tmpdir");
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)) != NULL) n++;
  closedir(d);
  printf("entries before link: %d\n", n);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  R("linkat without AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, path, AT_FDCWD, "tmpdir/nofollow", 0));
  R("linkat AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, path, AT_FDCWD, "tmpdir/named", AT_SYMLINK_FOLLOW));
  fstat(fd, &st);
  printf("nlink after link %ld\n", (long)st.st_nlink);
  close(fd);
  char buf[16] = {0};
  int r = open("tmpdir/named", O_RDONLY);
  read(r, buf, sizeof buf - 1);
  close(r);
  printf("named: %s\n", buf);
  int x = open("tmpdir", O_TMPFILE | O_RDWR | O_EXCL, 0600);
  snprintf(path, sizeof path, "/proc/self/fd/%d", x);
  R("linkat of an O_EXCL tmpfile", linkat(AT_FDCWD, path, AT_FDCWD, "tmpdir/excl", AT_SYMLINK_FOLLOW));
  close(x);
  R("stat excl", stat("tmpdir/excl", &st));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  setid_bits();
  fsize_limit();
  o_tmpfile();
  return 0;
}
