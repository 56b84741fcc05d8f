/*
 * Checkpoint and restore of directories open as descriptors: the program fills /tmp/ckd with
 * 40 files, reads its first 10 entries with getdents64 (a small buffer: a few per call), removes
 * ten files (the listing being read does not change: it was taken at position 0), waits on
 * stdin for the checkpoint (tests/c/_ckpt.h), reads the rest, and uses the descriptor as a dirfd (openat)
 * and with fchdir. A second descriptor on / has read 3 entries before the wait and counts the
 * rest after. The names print in the order read: a restored run prints what an uninterrupted
 * one prints.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

struct linux_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static char buf[80];
static int pos, len;

/* The next entry's name, or NULL at the end: reads a few entries per getdents64. */
static const char *next(int fd) {
  if (pos >= len) {
    len = syscall(SYS_getdents64, fd, buf, sizeof buf);
    pos = 0;
    if (len <= 0) return NULL;
  }
  struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + pos);
  pos += d->d_reclen;
  return d->d_name;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp/ckd", 0755);
  for (int i = 0; i < 40; i++) {
    char p[32];
    snprintf(p, sizeof p, "/tmp/ckd/f%02d", i);
    int f = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dprintf(f, "content %d\n", i);
    close(f);
  }
  int root = open("/", O_RDONLY | O_DIRECTORY);
  char rbuf[4096];
  /* Three entries of / (the buffer takes them all; the offset is what goes on). */
  int rn = syscall(SYS_getdents64, root, rbuf, 3 * 24 + 8);
  int dfd = open("/tmp/ckd", O_RDONLY | O_DIRECTORY);
  if (root < 0 || dfd < 0 || rn <= 0) return 2;
  int count = 0;
  const char *name;
  while (count < 10 && (name = next(dfd)) != NULL) {
    printf("%s\n", name);
    count++;
  }
  /* Files already listed go: the listing being read is the one taken at position 0. */
  for (int i = 0; i < 10; i++) {
    char p[32];
    snprintf(p, sizeof p, "/tmp/ckd/f%02d", i);
    unlink(p);
  }
  printf("sleeping\n");
  await_checkpoint();
  /* Only the entries still in the buffer and those after the directory's offset remain. */
  while ((name = next(dfd)) != NULL) {
    printf("%s\n", name);
    count++;
  }
  printf("entries %d\n", count);
  int rest = 0, n;
  while ((n = syscall(SYS_getdents64, root, rbuf, sizeof rbuf)) > 0) {
    for (int p = 0; p < n; rest++) p += ((struct linux_dirent64 *)(rbuf + p))->d_reclen;
  }
  printf("root entries after the first read: %d\n", rest);
  int f = openat(dfd, "f17", O_RDONLY);
  char c[32];
  int k = read(f, c, sizeof c);
  printf("openat: %.*s", k > 0 ? k : 0, c);
  if (fchdir(dfd) != 0) return 3;
  struct stat st;
  printf("fchdir: %d\n", stat("f39", &st) == 0 && st.st_size == 11);
  return 0;
}
