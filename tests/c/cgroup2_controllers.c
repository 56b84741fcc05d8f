/* cgroup v2 controllers (cpu, memory, pids): enabling and disabling them in
 * cgroup.subtree_control with Linux's errors (EINVAL, ENOENT, EBUSY for internal processes and
 * for a controller a child uses), their files appearing and going (ENODEV through an open
 * descriptor), the formats of pids.*, memory.max/high and cpu.max/weight, and pids.max refusing
 * a fork (EAGAIN) with pids.current, pids.peak, pids.events and its poll notification.
 * Natively it needs a hierarchy whose root already enables cpu, memory and pids for its
 * children (it never changes the root): otherwise it prints "no controllers" and stops. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"
#include "_cgroup.h"

static void get(const char *label, const char *path) {
  char buf[512];
  ssize_t n = read_text(label, path, buf, sizeof buf);
  if (n < 0) return;
  printf("%s: %s%s", label, buf, n == 0 || buf[n - 1] != '\n' ? "\n" : "");
}

static int has_word(const char *path, const char *word) {
  char buf[512];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  for (char *w = strtok(buf, " \n"); w != NULL; w = strtok(NULL, " \n")) {
    if (strcmp(w, word) == 0) return 1;
  }
  return 0;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static pid_t parked(int pfd[2], int try_fork) {
  if (pipe(pfd) != 0) exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(pfd[1]);
    if (read(pfd[0], &c, 1) < 0) _exit(2);
    if (!try_fork) _exit(0);
    pid_t g = fork();
    if (g == 0) _exit(0);
    if (g < 0) _exit(errno == EAGAIN ? 10 : 11);
    waitpid(g, NULL, 0);
    _exit(12);
  }
  close(pfd[0]);
  return pid;
}

static void enter(const char *label, const char *cg, pid_t pid) {
  char num[32], path[512];
  snprintf(num, sizeof num, "%d", pid);
  snprintf(path, sizeof path, "%s/cgroup.procs", cg);
  R(label, put(path, num));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (private_mount_dir("cgroup2c") != 0) return 1;
  if (mount("none", mnt, "cgroup2", 0, NULL) != 0) {
    perror("mount");
    return 1;
  }
  char root_st[512];
  snprintf(root_st, sizeof root_st, "%s/cgroup.subtree_control", mnt);
  if (!has_word(root_st, "cpu") || !has_word(root_st, "memory") || !has_word(root_st, "pids")) {
    /* The sentry's root offers them but has not enabled them yet: enable them there only. */
    char ctl[512];
    snprintf(ctl, sizeof ctl, "%s/cgroup.controllers", mnt);
    if (!has_word(ctl, "pids") || getenv("CGROUP_TEST_ENABLE_ROOT") == NULL) {
      printf("no controllers\n");
      umount2(mnt, 0);
      rmdir(mnt);
      return 0;
    }
    if (put(root_st, "+cpu +memory +pids") != 0) {
      printf("enabling at the root: %s\n", en(errno));
      return 1;
    }
  }
  name_base("sentry-cgroup2c");
  R("mkdir base", mkdir(base, 0755));
  printf("base offers cpu %d memory %d pids %d\n", has_word(at("cgroup.controllers"), "cpu"),
         has_word(at("cgroup.controllers"), "memory"), has_word(at("cgroup.controllers"), "pids"));
  R("mkdir p", mkdir(at("p"), 0755));
  printf("p has pids.max before: %d\n", exists(at("p/pids.max")));
  R("enable +garbage", put(at("cgroup.subtree_control"), "+garbage"));
  R("enable without a sign", put(at("cgroup.subtree_control"), "pids"));
  R("write cgroup.controllers", put(at("cgroup.controllers"), "+pids"));
  R("enable +cpu +memory +pids", put(at("cgroup.subtree_control"), "+cpu +memory +pids"));
  get("base/cgroup.subtree_control", at("cgroup.subtree_control"));
  get("p/cgroup.controllers", at("p/cgroup.controllers"));
  printf("p has pids.max after: %d\n", exists(at("p/pids.max")));

  /* Formats. */
  get("pids.max", at("p/pids.max"));
  get("pids.current", at("p/pids.current"));
  get("pids.events", at("p/pids.events"));
  get("memory.max", at("p/memory.max"));
  get("memory.high", at("p/memory.high"));
  R("memory.max 100M", put(at("p/memory.max"), "100M"));
  get("memory.max", at("p/memory.max"));
  R("memory.high 256k", put(at("p/memory.high"), "256k"));
  get("memory.high", at("p/memory.high"));
  R("memory.max 5000", put(at("p/memory.max"), "5000"));
  get("memory.max", at("p/memory.max"));
  R("memory.max -1", put(at("p/memory.max"), "-1"));
  R("memory.max abc", put(at("p/memory.max"), "abc"));
  R("memory.max 100xyz", put(at("p/memory.max"), "100xyz"));
  R("memory.max max", put(at("p/memory.max"), "max"));
  R("memory.high max", put(at("p/memory.high"), "max"));
  get("cpu.max", at("p/cpu.max"));
  get("cpu.weight", at("p/cpu.weight"));
  R("cpu.max 20000 100000", put(at("p/cpu.max"), "20000 100000"));
  get("cpu.max", at("p/cpu.max"));
  R("cpu.max max 500000", put(at("p/cpu.max"), "max 500000"));
  R("cpu.max 20000", put(at("p/cpu.max"), "20000"));
  get("cpu.max", at("p/cpu.max"));
  R("cpu.max abc 100000", put(at("p/cpu.max"), "abc 100000"));
  R("cpu.max 20000 10", put(at("p/cpu.max"), "20000 10"));
  R("cpu.max max", put(at("p/cpu.max"), "max"));
  R("cpu.weight 500", put(at("p/cpu.weight"), "500"));
  get("cpu.weight", at("p/cpu.weight"));
  R("cpu.weight 0", put(at("p/cpu.weight"), "0"));
  R("cpu.weight 10001", put(at("p/cpu.weight"), "10001"));
  R("cpu.weight abc", put(at("p/cpu.weight"), "abc"));
  R("cpu.weight 100", put(at("p/cpu.weight"), "100"));
  R("pids.max abc", put(at("p/pids.max"), "abc"));
  R("pids.max -1", put(at("p/pids.max"), "-1"));

  /* pids.max refuses a fork. */
  R("pids.max 1", put(at("p/pids.max"), "1"));
  int ev = open(at("p/pids.events"), O_RDONLY);
  char buf[64];
  if (read(ev, buf, sizeof buf) < 0) printf("read pids.events: %s\n", en(errno));
  int p1[2];
  pid_t c1 = parked(p1, 1);
  enter("move c1 to p", at("p"), c1);
  get("pids.current", at("p/pids.current"));
  close(p1[1]);
  int st = 0;
  waitpid(c1, &st, 0);
  printf("c1's fork: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 10 ? "EAGAIN" : "not refused");
  struct pollfd pf = {ev, POLLPRI, 0};
  int r = poll(&pf, 1, 5000);
  printf("pids.events notified: %d\n", r == 1 && (pf.revents & POLLPRI) != 0);
  close(ev);
  get("pids.current", at("p/pids.current"));
  get("pids.peak", at("p/pids.peak"));
  get("pids.events", at("p/pids.events"));
  get("pids.events.local", at("p/pids.events.local"));
  R("pids.max max", put(at("p/pids.max"), "max"));

  /* No internal processes. */
  R("mkdir p/q", mkdir(at("p/q"), 0755));
  int p2[2];
  pid_t c2 = parked(p2, 0);
  enter("move c2 to p", at("p"), c2);
  R("p enables pids with a process", put(at("p/cgroup.subtree_control"), "+pids"));
  enter("move c2 to p/q", at("p/q"), c2);
  R("p enables pids", put(at("p/cgroup.subtree_control"), "+pids"));
  enter("move c2 back to p", at("p"), c2);
  R("q enables pids with a process", put(at("p/q/cgroup.subtree_control"), "+pids"));
  close(p2[1]);
  waitpid(c2, NULL, 0);
  R("q enables pids", put(at("p/q/cgroup.subtree_control"), "+pids"));
  R("p disables pids q uses", put(at("p/cgroup.subtree_control"), "-pids"));
  R("q disables pids", put(at("p/q/cgroup.subtree_control"), "-pids"));
  int pm = open(at("p/q/pids.max"), O_RDWR);
  R("p disables pids", put(at("p/cgroup.subtree_control"), "-pids"));
  printf("q has pids.max: %d\n", exists(at("p/q/pids.max")));
  R("read pids.max of a disabled controller", read(pm, buf, sizeof buf));
  close(pm);
  get("p/cgroup.subtree_control", at("p/cgroup.subtree_control"));
  R("rmdir p/q", rmdir(at("p/q")));
  R("rmdir p", rmdir(at("p")));
  R("rmdir base", rmdir(base));
  R("umount", umount2(mnt, 0));
  rmdir(mnt);
  return 0;
}
