/* File names are bytes: names that are not UTF-8 (a lone 0xff, a truncated sequence, an overlong
 * form, an encoded surrogate, a byte-order mark in front) are created, listed, stat'ed, renamed,
 * linked to and read back exactly, on the writable root (/tmp) and on tmpfs (/dev/shm); a
 * 255-byte name of 0xff is NAME_MAX, 256 is ENAMETOOLONG; getcwd, readlink of /proc/self/fd,
 * a symlink's target and size, inotify's names, a bound Unix socket's file, PR_SET_NAME and
 * /proc/self/comm keep the bytes; exec cuts the comm to 15 bytes, through a UTF-8 sequence.
 * With an argument, lists that directory (made on the host) and opens what it lists.
 * Names are printed in hex, sorted. CPython's test_os (Pep383Tests) was the first to notice.
 * With --wait, holds a file so named in /dev/shm until stdin ends (a checkpoint keeps it), then
 * says whether it is there by that name. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "_ckpt.h"

static void hex(const char *label, const char *s, size_t n) {
  printf("%s:", label);
  for (size_t i = 0; i < n; i++) printf(" %02x", (unsigned char)s[i]);
  printf("\n");
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names of dir (but . and ..), sorted, in hex; then each one stat'ed by that name. */
static void list(const char *label, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    printf("%s: opendir %d\n", label, errno);
    return;
  }
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  for (int i = 0; i < n; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    struct stat st;
    int r = lstat(p, &st);
    printf("%s: ", label);
    hex("name", names[i], strlen(names[i]));
    printf("  lstat %d type %o size %lld\n", r < 0 ? -errno : 0, r < 0 ? 0 : st.st_mode & S_IFMT,
           r < 0 ? 0LL : (long long)st.st_size);
    if (r == 0 && S_ISREG(st.st_mode)) {
      char buf[64];
      int fd = open(p, O_RDONLY);
      ssize_t got = fd < 0 ? -errno : read(fd, buf, sizeof buf);
      printf("  read %zd: %.*s\n", got, got > 0 ? (int)got : 0, buf);
      if (fd >= 0) close(fd);
    }
    free(names[i]);
  }
}

static const char *const NAMES[] = {
    "a\xff\xfe" "b",     /* bytes that never start UTF-8 */
    "\xe2\x82",          /* a truncated sequence */
    "\xc0\xaf",          /* an overlong "/" */
    "\xed\xa0\x80",      /* an encoded surrogate */
    "\xef\xbb\xbf" "x",  /* a byte-order mark in front (valid UTF-8, but decoders drop it) */
    "caf\xc3\xa9",       /* UTF-8 */
};
#define NNAMES (sizeof NAMES / sizeof NAMES[0])

static void names_in(const char *label, const char *base) {
  char dir[32];
  snprintf(dir, sizeof dir, "%.16s/nb.XXXXXX", base);
  if (!mkdtemp(dir)) {
    printf("%s: mkdtemp %d\n", label, errno);
    return;
  }
  char p[600];
  for (size_t i = 0; i < NNAMES; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, NAMES[i]);
    int fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
    if (fd >= 0) {
      dprintf(fd, "%zu", i);
      close(fd);
    }
    printf("%s: create %zu: %d\n", label, i, fd < 0 ? -errno : 0);
  }
  char longname[257];
  memset(longname, 0xff, 256);
  longname[255] = 0;
  snprintf(p, sizeof p, "%s/%s", dir, longname);
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  printf("%s: 255 bytes of ff: %d\n", label, fd < 0 ? -errno : 0);
  if (fd >= 0) close(fd);
  longname[255] = (char)0xff;
  longname[256] = 0;
  snprintf(p, sizeof p, "%s/%s", dir, longname);
  printf("%s: 256 bytes of ff: %d\n", label, open(p, O_CREAT | O_WRONLY, 0644) < 0 ? -errno : 0);

  /* Renamed, linked and symlinked, each under another such name. */
  char from[600], to[600];
  snprintf(from, sizeof from, "%s/%s", dir, NAMES[1]);
  snprintf(to, sizeof to, "%s/r\xff", dir);
  printf("%s: rename: %d\n", label, rename(from, to) < 0 ? -errno : 0);
  snprintf(from, sizeof from, "%s/%s", dir, NAMES[2]);
  snprintf(to, sizeof to, "%s/l\xfe", dir);
  printf("%s: link: %d\n", label, link(from, to) < 0 ? -errno : 0);
  snprintf(to, sizeof to, "%s/s\xfd", dir);
  printf("%s: symlink: %d\n", label, symlink("t\xfc\xc3", to) < 0 ? -errno : 0);
  char buf[300];
  ssize_t n = readlink(to, buf, sizeof buf);
  if (n >= 0) hex("  readlink", buf, n);
  list(label, dir);

  /* The contents of each, by its name. */
  for (size_t i = 0; i < NNAMES; i++) {
    if (i == 1) continue;
    snprintf(p, sizeof p, "%s/%s", dir, NAMES[i]);
    fd = open(p, O_RDONLY);
    n = fd < 0 ? -errno : read(fd, buf, sizeof buf);
    printf("%s: read %zu: %.*s\n", label, i, n > 0 ? (int)n : 0, buf);
    if (fd >= 0) {
      /* /proc/self/fd's link ends in the name's bytes. */
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      n = readlink(link, buf, sizeof buf);
      size_t len = strlen(NAMES[i]);
      printf("  fd link ends with the name: %d\n", n >= (ssize_t)len && !memcmp(buf + n - len, NAMES[i], len));
      close(fd);
    }
  }

  /* getcwd inside a directory so named. */
  snprintf(p, sizeof p, "%s/d\xff\x80", dir);
  mkdir(p, 0755);
  char cwd[600];
  if (chdir(p) == 0 && getcwd(cwd, sizeof cwd)) {
    printf("%s: getcwd is the path: %d\n", label, strcmp(cwd, p) == 0);
    hex("  getcwd tail", cwd + strlen(dir), strlen(cwd) - strlen(dir));
  }
  chdir("/");

  /* inotify reports the bytes. */
  int in = inotify_init1(IN_NONBLOCK);
  inotify_add_watch(in, dir, IN_CREATE);
  snprintf(p, sizeof p, "%s/i\xff\xc3", dir);
  close(open(p, O_CREAT | O_WRONLY, 0644));
  char ev[512];
  n = read(in, ev, sizeof ev);
  if (n > 0) {
    struct inotify_event *ie = (struct inotify_event *)ev;
    hex("  inotify", ie->name, strlen(ie->name));
  }
  close(in);

  /* A Unix socket bound to such a path: the file is there, getsockname has the bytes. */
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/u\xfe", dir);
  printf("%s: bind: %d\n", label, bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0);
  struct sockaddr_un got;
  socklen_t gl = sizeof got;
  getsockname(s, (struct sockaddr *)&got, &gl);
  printf("  getsockname is the path: %d\n", strcmp(got.sun_path, sa.sun_path) == 0);
  struct stat st;
  printf("  stat: %d\n", stat(sa.sun_path, &st) < 0 ? -errno : (int)(st.st_mode & S_IFMT));
  close(s);

  /* Clean up, every name by its bytes. */
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (unlink(p) < 0 && rmdir(p) < 0) printf("%s: cannot remove an entry: %d\n", label, errno);
  }
  closedir(d);
  printf("%s: rmdir: %d\n", label, rmdir(dir) < 0 ? -errno : 0);
}

static void show_comm(const char *label) {
  char c[32];
  int fd = open("/proc/self/comm", O_RDONLY);
  ssize_t n = read(fd, c, sizeof c);
  close(fd);
  hex(label, c, n > 0 ? n : 0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && !strcmp(argv[1], "--wait")) {
    int fd = open("/dev/shm/w\xff", O_CREAT | O_RDWR, 0600);
    printf("made: %d\n", fd >= 0);
    await_checkpoint();
    printf("kept: %d\n", access("/dev/shm/w\xff", F_OK) == 0);
    unlink("/dev/shm/w\xff");
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--comm")) {
    show_comm("exec comm");
    return 0;
  }
  names_in("tmp", "/tmp");
  names_in("shm", "/dev/shm");

  prctl(PR_SET_NAME, "n\xff\xfe\xc3");
  char name[16] = {0};
  prctl(PR_GET_NAME, name);
  hex("PR_GET_NAME", name, strlen(name));
  show_comm("comm");

  /* exec through a link named by 9 two-byte characters: the comm is its first 15 bytes. */
  char dir[] = "/tmp/nbx.XXXXXX";
  mkdtemp(dir);
  char link[64];
  snprintf(link, sizeof link, "%s/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", dir);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n < 0 ? 0 : n] = 0;
  symlink(self, link);
  pid_t pid = fork();
  if (pid == 0) {
    execl(link, "x", "--comm", (char *)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  unlink(link);
  rmdir(dir);

  if (argc > 1) list("host", argv[1]);
  return 0;
}
