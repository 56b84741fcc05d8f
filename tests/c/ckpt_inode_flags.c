/*
 * Checkpoint and restore of chattr(1)'s inode flags on tmpfs: /dev/shm/ckf/a is append-only,
 * /dev/shm/ckf/i immutable and /dev/shm/ckf/n no-dump; the program prints their flags and
 * what the first two refuse, waits on stdin for the checkpoint (tests/c/_ckpt.h), and prints
 * them again. A restored run prints what an uninterrupted one prints.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "_ckpt.h"

static int flags_of(const char *path) {
  int fd = open(path, O_RDONLY), f = -1;
  if (fd >= 0) ioctl(fd, FS_IOC_GETFLAGS, &f);
  close(fd);
  return f;
}

static void set(const char *path, int f) {
  int fd = open(path, O_RDONLY);
  if (ioctl(fd, FS_IOC_SETFLAGS, &f) != 0) perror(path);
  close(fd);
}

static void dump(void) {
  printf("flags a %x i %x n %x\n", flags_of("/dev/shm/ckf/a"), flags_of("/dev/shm/ckf/i"), flags_of("/dev/shm/ckf/n"));
  int fd = open("/dev/shm/ckf/a", O_WRONLY);
  printf("a open O_WRONLY: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
  if (fd >= 0) close(fd);
  printf("i unlink: %s\n", unlink("/dev/shm/ckf/i") < 0 ? strerrorname_np(errno) : "ok");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/dev/shm/ckf", 0755);
  close(open("/dev/shm/ckf/a", O_CREAT | O_RDWR, 0644));
  close(open("/dev/shm/ckf/i", O_CREAT | O_RDWR, 0644));
  close(open("/dev/shm/ckf/n", O_CREAT | O_RDWR, 0644));
  set("/dev/shm/ckf/a", FS_APPEND_FL);
  set("/dev/shm/ckf/i", FS_IMMUTABLE_FL);
  set("/dev/shm/ckf/n", FS_NODUMP_FL);
  dump();
  printf("sleeping\n");
  await_checkpoint();
  dump();
  return 0;
}
