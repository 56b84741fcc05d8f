/*
 * File syscalls on a known directory (argv[1], tests/c/fileio_data): open, read, lseek, pread,
 * fstat, getdents64, readlink, access, getcwd, chdir, dup, fcntl, with their error cases. Prints
 * only what must be the same natively and in the sentry (no inode numbers or times).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) {
    printf("%s = -1 %s\n", what, strerrorname_np(errno));
  } else {
    printf("%s = %ld\n", what, r);
  }
}

#define T(call)                 \
  do {                          \
    errno = 0;                  \
    show(#call, (long)(call));  \
  } while (0)

static char *at(const char *dir, const char *name) {
  static char paths[8][4096];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

static void print_stat(const char *what, const struct stat *st) {
  const char *type = S_ISREG(st->st_mode) ? "reg" : S_ISDIR(st->st_mode) ? "dir"
                   : S_ISLNK(st->st_mode) ? "lnk" : S_ISCHR(st->st_mode) ? "chr" : "other";
  printf("%s: type=%s perm=%04o size=%ld\n", what, type, st->st_mode & 07777,
         S_ISDIR(st->st_mode) ? -1L : (long)st->st_size);
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(int dfd) {
  char buf[4096];
  char *names[64];
  int n = 0;
  for (;;) {
    long got = syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (got < 0) {
      printf("getdents64 = -1 %s\n", strerrorname_np(errno));
      return;
    }
    if (got == 0) break;
    for (long off = 0; off < got;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      if (n < 64) {
        char *s = malloc(300);
        snprintf(s, 300, "%s type=%d", d->d_name, d->d_type);
        names[n++] = s;
      }
      off += d->d_reclen;
    }
  }
  qsort(names, n, sizeof names[0], cmp);
  for (int i = 0; i < n; i++) printf("dirent: %s\n", names[i]);
  T(syscall(SYS_getdents64, dfd, buf, sizeof buf));
  T(syscall(SYS_getdents64, dfd, buf, 1));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fileio DIR\n");
    return 2;
  }
  const char *dir = argv[1];
  char buf[256];
  char cwd[4096];
  struct stat st;
  long n;

  setvbuf(stdout, NULL, _IOLBF, 0);
  int fd = open(at(dir, "hello.txt"), O_RDONLY);
  T(fd);
  n = read(fd, buf, 5);
  T(n);
  printf("read: %.*s\n", (int)n, buf);
  T(lseek(fd, 0, SEEK_CUR));
  T(lseek(fd, -2, SEEK_END));
  T(lseek(fd, -100, SEEK_SET));
  T(lseek(fd, 0, 42));
  T(lseek(fd, 100, SEEK_SET));
  T(read(fd, buf, sizeof buf));
  T(lseek(fd, 7, SEEK_SET));
  n = read(fd, buf, sizeof buf);
  T(n);
  printf("read: %.*s", (int)n, buf);
  T(read(fd, buf, sizeof buf));
  n = pread(fd, buf, 4, 12);
  T(n);
  printf("pread: %.*s\n", (int)n, buf);
  T(pread(fd, buf, 4, -1));
  T(pread(fd, buf, 4, 1000));
  T(lseek(fd, 0, SEEK_CUR));
  T(fstat(fd, &st));
  print_stat("fstat hello.txt", &st);
  T(fstat(-1, &st));
  T(fstat(999, &st));
  T(stat(at(dir, "link"), &st));
  print_stat("stat link", &st);
  T(lstat(at(dir, "link"), &st));
  print_stat("lstat link", &st);
  T(stat(at(dir, "dangling"), &st));
  T(lstat(at(dir, "dangling"), &st));
  T(stat(at(dir, "sub"), &st));
  print_stat("stat sub", &st);
  T(stat("/dev/null", &st));
  print_stat("stat /dev/null", &st);
  T(fstatat(fd, "", &st, AT_EMPTY_PATH));
  print_stat("fstatat AT_EMPTY_PATH", &st);
  T(fstatat(fd, "", &st, 0));

  /* Opening: errors. */
  T(open(at(dir, "nonexistent"), O_RDONLY));
  T(open(at(dir, "hello.txt/x"), O_RDONLY));
  T(open(at(dir, "hello.txt"), O_RDONLY | O_DIRECTORY));
  T(open(at(dir, "dangling"), O_RDONLY));
  T(open(at(dir, "link"), O_RDONLY | O_NOFOLLOW));
  T(open("", O_RDONLY));
  T(open(at(dir, "sub"), O_WRONLY));
  T(open(at(dir, "sub"), O_RDWR));

  /* Directories. */
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  T(dfd);
  T(read(dfd, buf, sizeof buf));
  list_dir(dfd);
  T(syscall(SYS_getdents64, fd, buf, sizeof buf));
  T(syscall(SYS_getdents64, -1, buf, sizeof buf));
  int rel = openat(dfd, "sub/inner.txt", O_RDONLY);
  T(rel);
  n = read(rel, buf, sizeof buf);
  T(n);
  printf("read: %.*s", (int)n, buf);
  T(openat(fd, "x", O_RDONLY));
  T(openat(-1, "x", O_RDONLY));
  T(openat(-1, "/dev/null", O_RDONLY));

  /* readlink. */
  memset(buf, 0, sizeof buf);
  n = readlink(at(dir, "link"), buf, sizeof buf);
  T(n);
  printf("readlink: %s\n", buf);
  memset(buf, 0, sizeof buf);
  T(readlink(at(dir, "link"), buf, 3));
  printf("readlink short: %s\n", buf);
  T(readlink(at(dir, "hello.txt"), buf, sizeof buf));
  T(readlink(at(dir, "nonexistent"), buf, sizeof buf));
  T(readlink(at(dir, "link"), buf, 0));

  /* access. */
  T(access(at(dir, "hello.txt"), R_OK));
  T(access(at(dir, "hello.txt"), F_OK));
  T(access(at(dir, "hello.txt"), X_OK));
  T(access(at(dir, "sub"), X_OK));
  T(access(at(dir, "nonexistent"), F_OK));
  T(access(at(dir, "dangling"), F_OK));
  T(access(at(dir, "hello.txt"), 8));

  /* getcwd and chdir. */
  T(getcwd(cwd, sizeof cwd) == cwd ? 0 : -1);
  printf("cwd: %s\n", cwd);
  T(getcwd(cwd, 1) == cwd ? 0 : -1);
  T(syscall(SYS_getcwd, cwd, 0));
  T(chdir(dir));
  T(getcwd(cwd, sizeof cwd) == cwd ? 0 : -1);
  printf("cwd: %s\n", cwd);
  T(chdir("sub"));
  T(getcwd(cwd, sizeof cwd) == cwd ? 0 : -1);
  printf("cwd: %s\n", cwd);
  T(chdir(".."));
  T(access("hello.txt", R_OK));
  T(chdir("hello.txt"));
  T(chdir("nonexistent"));
  T(fchdir(dfd));
  T(fchdir(fd));
  T(fchdir(-1));

  /* dup. */
  T(dup(fd));
  T(dup2(fd, 10));
  T(dup2(fd, fd));
  T(dup3(fd, fd, 0));
  T(dup3(fd, 11, 12345));
  T(dup(-1));
  T(dup2(-1, 12));
  T(lseek(10, 0, SEEK_CUR));
  T(lseek(10, 3, SEEK_SET));
  T(lseek(fd, 0, SEEK_CUR));

  /* fcntl. */
  T(fcntl(fd, F_GETFD));
  T(fcntl(fd, F_SETFD, FD_CLOEXEC));
  T(fcntl(fd, F_GETFD));
  T(fcntl(fd, F_DUPFD, 20));
  T(fcntl(20, F_GETFD));
  T(fcntl(fd, F_DUPFD_CLOEXEC, 20));
  T(fcntl(21, F_GETFD));
  T(fcntl(fd, F_GETFL));
  T(fcntl(fd, F_SETFL, O_NONBLOCK | O_APPEND));
  T(fcntl(fd, F_GETFL));
  T(fcntl(10, F_GETFL));
  T(fcntl(-1, F_GETFD));
  T(fcntl(fd, 9999));
  T(fcntl(fd, F_DUPFD, -1));
  int cl = open(at(dir, "hello.txt"), O_RDONLY | O_CLOEXEC);
  T(fcntl(cl, F_GETFD));
  int wr = open("/dev/null", O_WRONLY | O_APPEND);
  T(fcntl(wr, F_GETFL));
  T(read(wr, buf, 1));
  T(write(fd, "x", 1));

  /* close. */
  T(close(fd));
  T(close(fd));
  T(close(-1));
  T(read(fd, buf, 1));
  T(read(10, buf, 1));
  return 0;
}
