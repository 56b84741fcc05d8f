/*
 * Per-user limits as Linux's ucounts (kernel/ucount.c): /proc/sys/user's files, each user
 * namespace's own limits (a new namespace's are INT_MAX; its root writes them with
 * CAP_SYS_RESOURCE there, 0..INT_MAX), inotify instances (EMFILE) and watches (ENOSPC) held to
 * them, and max_user_namespaces (ENOSPC) for namespaces made inside one. Run as root; the
 * host's own limits are read, never written.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
    case 0: return "ok";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    default: return strerror(e);
  }
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(void) {
  DIR *d = opendir("/proc/sys/user");
  if (d == NULL) return (void)printf("opendir: %s\n", ename(errno));
  char *names[64];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL && n < 64;) {
    if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  printf("/proc/sys/user:");
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
}

static long get(const char *name) {
  char path[128], buf[64] = {0};
  snprintf(path, sizeof path, "/proc/sys/user/%s", name);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n < 0 ? -errno : atol(buf);
}

static const char *set(const char *name, const char *value) {
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/user/%s", name);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return ename(errno);
  ssize_t n = write(fd, value, strlen(value));
  int e = n < 0 ? errno : 0;
  close(fd);
  return ename(e);
}

static void write_file(const char *path, const char *s) {
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, s, strlen(s)) < 0) printf("%s: %s\n", path, ename(errno));
  if (fd >= 0) close(fd);
}

/* A child that makes namespaces of `flags` and holds them until killed; its unshare's result. */
static pid_t holder(int flags, const char **result) {
  int p[2];
  if (pipe(p) < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    int e = unshare(flags) < 0 ? errno : 0;
    if (write(p[1], &e, sizeof e) < 0) _exit(1);
    pause();
    _exit(0);
  }
  int e = -1;
  if (read(p[0], &e, sizeof e) != sizeof e) e = EIO;
  close(p[0]);
  close(p[1]);
  *result = ename(e);
  return pid;
}

static void inside(void) {
  write_file("/proc/self/uid_map", "0 0 1");
  write_file("/proc/self/setgroups", "deny");
  write_file("/proc/self/gid_map", "0 0 1");
  printf("in a new user namespace: max_user_namespaces %ld max_inotify_instances %ld max_inotify_watches %ld max_uts_namespaces %ld\n",
         get("max_user_namespaces"), get("max_inotify_instances"), get("max_inotify_watches"), get("max_uts_namespaces"));
  printf("write -1: %s, 2147483648: %s, 2147483647: %s, x: %s\n", set("max_inotify_instances", "-1"),
         set("max_inotify_instances", "2147483648"), set("max_inotify_instances", "2147483647"),
         set("max_inotify_instances", "x"));

  printf("max_inotify_instances 2: %s\n", set("max_inotify_instances", "2"));
  printf("  now %ld\n", get("max_inotify_instances"));
  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = inotify_init1(IN_CLOEXEC);
    printf("  inotify_init1 %d: %s\n", i + 1, fds[i] < 0 ? ename(errno) : "ok");
  }
  close(fds[1]);
  int again = inotify_init1(IN_CLOEXEC);
  printf("  after a close: %s\n", again < 0 ? ename(errno) : "ok");

  printf("max_inotify_watches 1: %s\n", set("max_inotify_watches", "1"));
  int w1 = inotify_add_watch(fds[0], "/", IN_CREATE);
  printf("  watch 1: %s\n", w1 < 0 ? ename(errno) : "ok");
  int w2 = inotify_add_watch(fds[0], "/proc", IN_CREATE);
  printf("  watch 2: %s\n", w2 < 0 ? ename(errno) : "ok");
  int w3 = inotify_add_watch(fds[0], "/", IN_DELETE);
  printf("  the same inode again: %s\n", w3 < 0 ? ename(errno) : w3 == w1 ? "the same wd" : "another wd");
  inotify_rm_watch(fds[0], w1);
  w2 = inotify_add_watch(fds[0], "/proc", IN_CREATE);
  printf("  after inotify_rm_watch: %s\n", w2 < 0 ? ename(errno) : "ok");

  printf("max_user_namespaces 1: %s\n", set("max_user_namespaces", "1"));
  const char *r1, *r2;
  pid_t h1 = holder(CLONE_NEWUSER, &r1);
  pid_t h2 = holder(CLONE_NEWUSER, &r2);
  printf("  first nested namespace: %s, second while the first lives: %s\n", r1, r2);
  kill(h1, SIGKILL);
  kill(h2, SIGKILL);
  waitpid(h1, NULL, 0);
  waitpid(h2, NULL, 0);

  static const struct { const char *limit; int flag; } kinds[] = {
    {"max_uts_namespaces", CLONE_NEWUTS}, {"max_ipc_namespaces", CLONE_NEWIPC}, {"max_net_namespaces", CLONE_NEWNET},
    {"max_mnt_namespaces", CLONE_NEWNS}, {"max_pid_namespaces", CLONE_NEWPID}, {"max_cgroup_namespaces", CLONE_NEWCGROUP},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    printf("%s 1: %s\n", kinds[i].limit, set(kinds[i].limit, "1"));
    h1 = holder(kinds[i].flag, &r1);
    h2 = holder(kinds[i].flag, &r2);
    printf("  first: %s, second while the first lives: %s\n", r1, r2);
    kill(h1, SIGKILL);
    kill(h2, SIGKILL);
    waitpid(h1, NULL, 0);
    waitpid(h2, NULL, 0);
  }
}

int main(void) {
  list();
  printf("max_inotify_instances %ld, the same as fs/inotify: ", get("max_inotify_instances"));
  FILE *f = fopen("/proc/sys/fs/inotify/max_user_instances", "r");
  long v = -1;
  if (f != NULL && fscanf(f, "%ld", &v) == 1) printf("%s\n", v == get("max_inotify_instances") ? "yes" : "no");
  if (f != NULL) fclose(f);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWUSER) < 0) {
      printf("unshare: %s\n", ename(errno));
      _exit(1);
    }
    inside();
    fflush(stdout);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  printf("child status %d\n", WEXITSTATUS(status));
  return 0;
}
