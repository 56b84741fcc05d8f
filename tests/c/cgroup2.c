/* The cgroup v2 filesystem: mount, mkdir/rmdir with their limits and errors, the interface
 * files' texts, migration through cgroup.procs (and /proc/PID/cgroup), cgroup.events'
 * "populated" with its poll notifications, cgroup.kill, zombies, files of a removed cgroup.
 * Natively it runs in a mount namespace of its own and works in a cgroup of its own made under
 * the hierarchy's root (removed at the end); paths are printed relative to that cgroup. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"
#include "_cgroup.h"

/* Prints the first line of the file starting with prefix (or its whole text when prefix is ""),
 * with the base cgroup's path shown as BASE. */
static void show(const char *label, const char *path, const char *prefix) {
  char buf[4096];
  ssize_t n = read_text(label, path, buf, sizeof buf);
  if (n < 0) return;
  const char *rel = base + strlen(mnt);
  for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    if (prefix[0] != 0 && strncmp(line, prefix, strlen(prefix)) != 0) continue;
    char *p = strstr(line, rel);
    if (p != NULL && p[strlen(rel)] != '-') {
      printf("%s: %.*sBASE%s\n", label, (int)(p - line), line, p + strlen(rel));
    } else {
      printf("%s: %s\n", label, line);
    }
    if (prefix[0] != 0) return;
  }
  if (n == 0) printf("%s: (empty)\n", label);
}

/* Whether fd reports POLLPRI|POLLERR; an event expected is waited for up to wait_ms (Linux
 * delays a notification that follows another within 20 ms). */
static int pri(int fd, int wait_ms) {
  struct pollfd p = {fd, POLLPRI, 0};
  int r = poll(&p, 1, wait_ms);
  return r > 0 ? (p.revents & (POLLPRI | POLLERR)) == (POLLPRI | POLLERR) : r;
}

static void drain(int fd) {
  char buf[256];
  lseek(fd, 0, SEEK_SET);
  if (read(fd, buf, sizeof buf) < 0) printf("drain: %s\n", en(errno));
}

/* A child that exits when the pipe closes. */
static pid_t parked(int pfd[2]) {
  if (pipe(pfd) != 0) exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(pfd[1]);
    if (read(pfd[0], &c, 1) < 0) _exit(2);
    _exit(0);
  }
  close(pfd[0]);
  return pid;
}

static void procline(const char *label, pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
  show(label, path, "0::");
}

static long clone_into(int cgroup_fd) {
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_INTO_CGROUP;
  ca.exit_signal = SIGCHLD;
  ca.cgroup = (unsigned long)(long)cgroup_fd;
  return syscall(SYS_clone3, &ca, sizeof ca);
}

/* The "root" field of the mountinfo line of the mount at mp. */
static void mountinfo_root(const char *label, const char *mp) {
  char buf[65536], root[512], point[512];
  int fd = open("/proc/self/mountinfo", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    if (sscanf(line, "%*d %*d %*s %511s %511s", root, point) == 2 && strcmp(point, mp) == 0) {
      const char *rel = base + strlen(mnt);
      char *p = strstr(root, rel);
      if (p != NULL) printf("%s: %.*sBASE%s\n", label, (int)(p - root), root, p + strlen(rel));
      else printf("%s: %s\n", label, root);
      return;
    }
  }
  printf("%s: no mount\n", label);
}

/* Namespaces and CLONE_INTO_CGROUP, in a child (its namespace changes stay there). */
static void namespaces(void) {
  pid_t pid = fork();
  if (pid != 0) {
    int st;
    waitpid(pid, &st, 0);
    printf("namespace child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return;
  }
  int a_fd = open(at("a"), O_RDONLY | O_DIRECTORY);
  int pfd[2];
  if (pipe(pfd) != 0) _exit(1);
  R("clone3 into cgroup -1", clone_into(-1));
  R("clone3 into a pipe", clone_into(pfd[0]));
  long c = clone_into(a_fd);
  if (c == 0) _exit(0);
  printf("clone3 into a: %s\n", c > 0 ? "ok" : en(errno));
  if (c > 0) {
    procline("clone3 child", c);
    waitpid(c, NULL, 0);
  }
  R("mkdir a/d", mkdir(at("a/d"), 0755));
  int d_fd = open(at("a/d"), O_RDONLY | O_DIRECTORY);
  R("rmdir a/d", rmdir(at("a/d")));
  R("clone3 into a removed cgroup", clone_into(d_fd));
  char before[64] = "", after[64] = "";
  if (readlink("/proc/self/ns/cgroup", before, sizeof before - 1) < 0) printf("readlink: %s\n", en(errno));
  R("move to a", put(at("a/cgroup.procs"), "0"));
  R("unshare CLONE_NEWCGROUP", unshare(CLONE_NEWCGROUP));
  if (readlink("/proc/self/ns/cgroup", after, sizeof after - 1) < 0) printf("readlink: %s\n", en(errno));
  printf("a new namespace: %d\n", strcmp(before, after) != 0);
  procline("self in its namespace", getpid());
  R("mkdir a/e", mkdir(at("a/e"), 0755));
  R("move to a/e", put(at("a/e/cgroup.procs"), "0"));
  procline("self in a/e", getpid());
  procline("parent", getppid());
  mountinfo_root("the whole hierarchy's mount", mnt);
  char inner[600];
  snprintf(inner, sizeof inner, "%s/a/e/cgroup.type", mnt);
  R("mount in the namespace", mount("none", at("a/e"), "cgroup2", 0, NULL));
  mountinfo_root("the namespace's mount", at("a/e"));
  R("umount", umount2(at("a/e"), MNT_DETACH));
  R("back to a", put(at("a/cgroup.procs"), "0"));
  _exit(0);
}

static void mode(const char *label, const char *path) {
  struct stat st;
  R(label, stat(path, &st));
  printf("  mode %o\n", st.st_mode & 07777);
}

int main(void) {
  char buf[256];
  setvbuf(stdout, NULL, _IONBF, 0);
  if (private_mount_dir("cgroup2") != 0) return 1;
  R("mount", mount("none", mnt, "cgroup2", 0, NULL));
  R("mount again on itself", mount("none", mnt, "cgroup2", 0, NULL));
  R("mount with an unknown option", mount("none", mnt, "cgroup2", 0, "nosuchoption"));
  struct statfs sf;
  R("statfs", statfs(mnt, &sf));
  printf("  f_type %lx\n", (long)sf.f_type);
  name_base("sentry-cgroup2-test");
  R("mkdir base", mkdir(base, 0755));
  R("mkdir a", mkdir(at("a"), 0755));
  R("mkdir a/b", mkdir(at("a/b"), 0700));
  R("mkdir a/b again", mkdir(at("a/b"), 0700));
  mode("stat a/b", at("a/b"));
  mode("stat a/cgroup.procs", at("a/cgroup.procs"));
  mode("stat a/cgroup.events", at("a/cgroup.events"));
  mode("stat a/cgroup.kill", at("a/cgroup.kill"));
  R("chmod a/cgroup.procs", chmod(at("a/cgroup.procs"), 0600));
  mode("stat a/cgroup.procs", at("a/cgroup.procs"));
  show("a/cgroup.type", at("a/cgroup.type"), "");
  show("a/cgroup.events", at("a/cgroup.events"), "");
  show("a/cgroup.controllers", at("a/cgroup.controllers"), "");
  show("a/cgroup.subtree_control", at("a/cgroup.subtree_control"), "");
  show("a/cgroup.max.depth", at("a/cgroup.max.depth"), "");
  show("a/cgroup.max.descendants", at("a/cgroup.max.descendants"), "");
  show("base nr_descendants", at("cgroup.stat"), "nr_descendants");
  show("a/cgroup.procs", at("a/cgroup.procs"), "");
  show("a/cgroup.kill", at("a/cgroup.kill"), "");

  R("rename a control file", rename(at("a/cgroup.procs"), at("a/x")));
  R("rename a cgroup", rename(at("a/b"), at("a/x")));
  R("cgroup.kill 0", put(at("a/cgroup.kill"), "0"));
  R("cgroup.kill 2", put(at("a/cgroup.kill"), "2"));
  R("cgroup.kill abc", put(at("a/cgroup.kill"), "abc"));
  R("cgroup.procs of no process", put(at("a/cgroup.procs"), "99999999"));
  R("cgroup.procs -1", put(at("a/cgroup.procs"), "-1"));
  R("cgroup.procs abc", put(at("a/cgroup.procs"), "abc"));
  R("subtree_control +nosuch", put(at("a/cgroup.subtree_control"), "+nosuchcontroller"));
  R("subtree_control empty", put(at("a/cgroup.subtree_control"), ""));
  R("cgroup.controllers", put(at("a/cgroup.controllers"), "+pids"));
  R("max.depth x", put(at("a/cgroup.max.depth"), "x"));
  R("max.depth -1", put(at("a/cgroup.max.depth"), "-1"));

  /* Limits: a has one descendant (b). */
  R("a max.descendants 1", put(at("a/cgroup.max.descendants"), "1"));
  show("a/cgroup.max.descendants", at("a/cgroup.max.descendants"), "");
  R("mkdir a/c past max.descendants", mkdir(at("a/c"), 0755));
  R("a max.descendants max", put(at("a/cgroup.max.descendants"), "max"));
  R("a max.depth 1", put(at("a/cgroup.max.depth"), "1"));
  R("mkdir a/c at depth 1", mkdir(at("a/c"), 0755));
  R("mkdir a/b/c past max.depth", mkdir(at("a/b/c"), 0755));
  R("a max.depth max", put(at("a/cgroup.max.depth"), "max"));
  R("rmdir a/c", rmdir(at("a/c")));

  /* Migration and populated. */
  int ev_a = open(at("a/cgroup.events"), O_RDONLY);
  int ev_b = open(at("a/b/cgroup.events"), O_RDONLY);
  printf("born ready: %d %d\n", pri(ev_a, 0), pri(ev_b, 0));
  drain(ev_a);
  drain(ev_b);
  printf("after reading: %d %d\n", pri(ev_a, 0), pri(ev_b, 0));
  int p1[2];
  pid_t c1 = parked(p1);
  char num[32];
  snprintf(num, sizeof num, "%d", c1);
  R("move c1 to a/b", put(at("a/b/cgroup.procs"), num));
  procline("c1", c1);
  printf("events after the move: %d", pri(ev_a, 5000));
  printf(" %d\n", pri(ev_b, 5000));
  show("a/cgroup.events", at("a/cgroup.events"), "populated");
  show("a/b/cgroup.events", at("a/b/cgroup.events"), "populated");
  {
    char line[40];
    snprintf(line, sizeof line, "%s\n", num);
    int fd = open(at("a/b/cgroup.procs"), O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    close(fd);
    printf("a/b/cgroup.procs lists c1 alone: %d\n", strcmp(buf, line) == 0);
  }
  show("a/cgroup.procs", at("a/cgroup.procs"), "");
  drain(ev_a);
  drain(ev_b);
  R("rmdir a (has a child)", rmdir(at("a")));
  R("rmdir a/b (populated)", rmdir(at("a/b")));
  R("move c1 to a", put(at("a/cgroup.procs"), num));
  procline("c1", c1);
  printf("events after moving up: b %d", pri(ev_b, 5000));
  printf(" a %d\n", pri(ev_a, 0));
  show("a/b/cgroup.events", at("a/b/cgroup.events"), "populated");
  drain(ev_a);
  drain(ev_b);

  /* cgroup.kill kills the subtree. */
  R("cgroup.kill 1", put(at("a/cgroup.kill"), "1"));
  int st = 0;
  R("wait c1", waitpid(c1, &st, 0) == c1 ? 0 : -1);
  printf("c1 signaled %d signal %d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  close(p1[1]);
  printf("events after the kill: %d\n", pri(ev_a, 5000));
  show("a/cgroup.events", at("a/cgroup.events"), "populated");
  close(ev_a);
  close(ev_b);

  /* A zombie: not listed, not moved, its cgroup removable, "(deleted)". */
  int p2[2];
  pid_t c2 = parked(p2);
  snprintf(num, sizeof num, "%d", c2);
  R("move c2 to a/b", put(at("a/b/cgroup.procs"), num));
  close(p2[1]);
  siginfo_t si;
  R("waitid WNOWAIT", waitid(P_PID, c2, &si, WEXITED | WNOWAIT));
  show("a/b/cgroup.procs", at("a/b/cgroup.procs"), "");
  R("move the zombie", put(at("a/cgroup.procs"), num));
  show("a/cgroup.procs", at("a/cgroup.procs"), "");
  int procs_fd = open(at("a/b/cgroup.procs"), O_RDWR);
  int dir_fd = open(at("a/b"), O_RDONLY | O_DIRECTORY);
  R("rmdir a/b", rmdir(at("a/b")));
  procline("zombie c2", c2);
  R("wait c2", waitpid(c2, &st, 0) == c2 ? 0 : -1);
  R("read a removed cgroup's cgroup.procs", read(procs_fd, buf, sizeof buf));
  R("write a removed cgroup's cgroup.procs", write(procs_fd, "0", 1));
  R("openat in a removed cgroup", openat(dir_fd, "cgroup.procs", O_RDONLY));
  R("mkdirat in a removed cgroup", mkdirat(dir_fd, "x", 0755));
  close(procs_fd);
  close(dir_fd);

  namespaces();
  R("rmdir a/e", rmdir(at("a/e")));

  /* Our own move: pid 0 is the writer. */
  R("move self to a", put(at("a/cgroup.procs"), "0"));
  procline("self", getpid());
  {
    char root_procs[512];
    snprintf(root_procs, sizeof root_procs, "%s/cgroup.procs", mnt);
    R("move self to the root", put(root_procs, "0"));
  }
  procline("self", getpid());
  R("rmdir a", rmdir(at("a")));
  R("rmdir base", rmdir(base));
  R("umount", umount2(mnt, 0));
  rmdir(mnt);
  return 0;
}
