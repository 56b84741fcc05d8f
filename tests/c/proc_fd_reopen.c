/* Opening /proc/self/fd/N: what Linux gives for each kind of description (a new description
 * for files and directories, a new end of the same pipe, ENXIO for sockets and anonymous
 * inodes). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int reopen(int fd, int flags) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  return open(p, flags);
}

static void show(const char *what, int fd, int flags) {
  int r = reopen(fd, flags);
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else {
    printf("%s: opened, access %d\n", what, fcntl(r, F_GETFL) & O_ACCMODE);
    close(r);
  }
}

int main(void) {
  show("eventfd", eventfd(0, 0), O_RDWR);
  show("epoll", epoll_create1(0), O_RDONLY);
  show("timerfd", timerfd_create(CLOCK_MONOTONIC, 0), O_RDONLY);
  sigset_t set;
  sigemptyset(&set);
  show("signalfd", signalfd(-1, &set, 0), O_RDONLY);
  show("inotify", inotify_init1(0), O_RDONLY);
  show("pidfd", (int)syscall(SYS_pidfd_open, getpid(), 0), O_RDONLY);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  show("socket", sv[0], O_RDWR);

  /* A regular file: a new description with its own offset. */
  int f = open("/etc/passwd", O_RDONLY);
  char c;
  if (read(f, &c, 1) != 1) return 1;
  int f2 = reopen(f, O_RDONLY);
  printf("file: offsets %ld %ld\n", (long)lseek(f, 0, SEEK_CUR), (long)lseek(f2, 0, SEEK_CUR));
  show("directory", open("/", O_RDONLY | O_DIRECTORY), O_RDONLY);

  /* A pipe's read end opened for writing: a new end of the same pipe. */
  int p[2];
  if (pipe(p) != 0) return 1;
  int w = reopen(p[0], O_WRONLY);
  if (write(w, "hi", 2) != 2) return 1;
  char b[3] = {0};
  printf("pipe: read %zd '%s' through the original end\n", read(p[0], b, 2), b);

  /* A memfd: a new description of the same file (own offset and access mode); O_TRUNC
   * truncates it. */
  int m = memfd_create("reopen", 0);
  if (write(m, "hello", 5) != 5) return 1;
  int r = reopen(m, O_RDONLY);
  char mb[6] = {0};
  printf("memfd: read %zd '%s', offsets %ld %ld, access %d\n", read(r, mb, 5), mb,
         (long)lseek(m, 0, SEEK_CUR), (long)lseek(r, 0, SEEK_CUR), fcntl(r, F_GETFL) & O_ACCMODE);
  errno = 0;
  ssize_t wr = write(r, "x", 1);
  printf("memfd: write through the read-only one %zd %s\n", wr, strerrorname_np(errno));
  if (write(m, "!", 1) != 1) return 1;
  printf("memfd: the other sees the write: %zd\n", pread(r, mb, 6, 0));
  close(m);
  int t = reopen(r, O_RDWR | O_TRUNC);
  struct stat st;
  fstat(r, &st);
  printf("memfd: after O_TRUNC size %ld, fd %s\n", (long)st.st_size, t >= 0 ? "ok" : strerrorname_np(errno));
  return 0;
}
