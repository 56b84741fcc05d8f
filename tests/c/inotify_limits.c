// inotify's per-user limits: an unprivileged user with no instances gets exactly
// /proc/sys/fs/inotify/max_user_instances of them, then EMFILE; closing one frees a place.
// With "write" (in the sentry only: natively it would change the host), the two sysctls are
// written (bad values refused), and max_user_watches bounds the watches (ENOSPC).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

static long readnum(const char *path) {
  FILE *f = fopen(path, "r");
  long v = -1;
  if (f) { fscanf(f, "%ld", &v); fclose(f); }
  return v;
}

static const char *writenum(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return strerrorname_np(errno);
  ssize_t n = write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  return n < 0 ? strerrorname_np(e) : "ok";
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long max = readnum("/proc/sys/fs/inotify/max_user_instances");
  printf("max_user_instances readable: %d\n", max > 0);
  pid_t c = fork();
  if (c == 0) {
    if (setgid(54321) || setuid(54321)) { perror("setuid"); _exit(1); }
    int fds[4096], n = 0;
    while (n < 4096) {
      int fd = inotify_init1(IN_CLOEXEC);
      if (fd < 0) { printf("instance %d: %s\n", n + 1, strerrorname_np(errno)); break; }
      fds[n++] = fd;
    }
    printf("instances before EMFILE = max_user_instances: %d\n", n == max);
    close(fds[0]);
    int again = inotify_init();
    printf("after closing one: %s\n", again >= 0 ? "ok" : strerrorname_np(errno));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  if (argc < 2 || strcmp(argv[1], "write") != 0) return 0;

  const char *inst = "/proc/sys/fs/inotify/max_user_instances", *wat = "/proc/sys/fs/inotify/max_user_watches";
  printf("write -1: %s, x: %s, 3: %s\n", writenum(inst, "-1"), writenum(inst, "x"), writenum(inst, "3\n"));
  printf("reads back %ld\n", readnum(inst));
  printf("watches write -5: %s, 4: %s\n", writenum(wat, "-5"), writenum(wat, "4"));
  int a = inotify_init1(0), b = inotify_init1(0), c3 = inotify_init1(0), d = inotify_init1(0);
  printf("root's 4th instance: %s\n", d < 0 ? strerrorname_np(errno) : "ok");
  char path[64];
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "/tmp/inotify-limit-%d", i);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    int w = inotify_add_watch(i < 3 ? a : b, path, IN_MODIFY);
    printf("watch %d: %s\n", i + 1, w < 0 ? strerrorname_np(errno) : "ok");
  }
  // The same file again in the same instance changes a watch, it does not add one.
  printf("watch 1 again: %s\n", inotify_add_watch(a, "/tmp/inotify-limit-0", IN_ATTRIB) < 0 ? strerrorname_np(errno) : "ok");
  close(a);
  printf("after closing an instance with 3 watches, a watch: %s\n",
         inotify_add_watch(c3, "/tmp/inotify-limit-5", IN_MODIFY) < 0 ? strerrorname_np(errno) : "ok");
  return 0;
}
