/*
 * preadv2(2) and pwritev2(2): offset -1 uses and moves the file offset, another reads or writes
 * there without moving it; RWF_APPEND appends, RWF_NOAPPEND overrides O_APPEND for a positional
 * write; RWF_NOWAIT on an empty pipe is EAGAIN instead of blocking; unknown or unsupported flags
 * are EOPNOTSUPP; a pipe with an offset is ESPIPE, a negative offset EINVAL, a write-only file
 * EBADF for reading. Prints what each call returned and the file's contents.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char path[] = "/tmp/rwv2-XXXXXX";
  int fd = mkstemp(path);
  struct iovec iov[2] = {{"hello ", 6}, {"world", 5}};
  show("pwritev2 at -1", pwritev2(fd, iov, 2, -1, 0));
  show("offset after", lseek(fd, 0, SEEK_CUR));
  struct iovec x = {"X", 1};
  show("pwritev2 at 0", pwritev2(fd, &x, 1, 0, 0));
  show("offset after", lseek(fd, 0, SEEK_CUR));
  struct iovec end = {"!", 1};
  show("pwritev2 RWF_APPEND at 2", pwritev2(fd, &end, 1, 2, RWF_APPEND));
  char buf[32] = {0};
  struct iovec r = {buf, sizeof buf - 1};
  show("preadv2 at 0", preadv2(fd, &r, 1, 0, 0));
  printf("contents: %s\n", buf);
  show("preadv2 at -1 (at the end)", preadv2(fd, &r, 1, -1, 0));
  show("preadv2 with an unknown flag", preadv2(fd, &r, 1, 0, 0x10000));
  show("pwritev2 RWF_ATOMIC", pwritev2(fd, &x, 1, 0, 0x40));
  show("preadv2 at -8", preadv2(fd, &r, 1, -8, 0));
  close(fd);
  fd = open(path, O_WRONLY | O_APPEND);
  struct iovec y = {"Y", 1};
  show("pwritev2 RWF_NOAPPEND at 1 on O_APPEND", pwritev2(fd, &y, 1, 1, RWF_NOAPPEND));
  show("preadv2 on a write-only file", preadv2(fd, &r, 1, 0, 0));
  close(fd);
  fd = open(path, O_RDONLY);
  memset(buf, 0, sizeof buf);
  preadv2(fd, &r, 1, 0, 0);
  printf("contents: %s\n", buf);
  close(fd);
  int p[2];
  pipe(p);
  show("preadv2 RWF_NOWAIT on an empty pipe", preadv2(p[0], &r, 1, -1, RWF_NOWAIT));
  show("preadv2 on a pipe at 0", preadv2(p[0], &r, 1, 0, 0));
  write(p[1], "pipe", 4);
  show("preadv2 at -1 on a pipe", preadv2(p[0], &r, 1, -1, 0));
  unlink(path);
  return 0;
}
