/* move_mount(2)'s MOVE_MOUNT_BENEATH, in a mount namespace of the test's own (natively as root):
 * a detached clone goes beneath the mount at a path, which still covers the path and, once
 * unmounted, uncovers the clone; an attached mount moves beneath too; EINVAL beneath the root
 * mount, beneath a path that is not a mount's root, with a source something is mounted on, a
 * file beneath a directory, or a mount beneath one it sits under. Output: the same natively and
 * in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "_check.h"

#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4
#define MOVE_MOUNT_T_EMPTY_PATH_ 0x40
#define MOVE_MOUNT_BENEATH_ 0x200
#define OPEN_TREE_CLONE_ 1

static char dir[64];

static char *p(const char *rel) {
  static char buf[8][128];
  static int i;
  char *out = buf[i++ % 8];
  snprintf(out, 128, "%s%s", dir, rel);
  return out;
}

static void touch(const char *path) {
  close(open(path, O_CREAT | O_WRONLY, 0644));
}

static long beneath(int from, const char *to) {
  int t = open(to, O_PATH);
  long r = syscall(SYS_move_mount, from, "", t, "", MOVE_MOUNT_F_EMPTY_PATH_ | MOVE_MOUNT_T_EMPTY_PATH_ | MOVE_MOUNT_BENEATH_);
  int e = errno;
  close(t);
  errno = e;
  return r;
}

static void seen(const char *label) {
  printf("%s: b/A %d, b/B %d, a/A %d\n", label, access(p("/b/A"), F_OK) == 0, access(p("/b/B"), F_OK) == 0,
         access(p("/a/A"), F_OK) == 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 1;
  strcpy(dir, "/tmp/beneath-XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;
  mkdir(p("/a"), 0755);
  mkdir(p("/b"), 0755);
  mount("A", p("/a"), "tmpfs", 0, NULL);
  mount("B", p("/b"), "tmpfs", 0, NULL);
  touch(p("/a/A"));
  touch(p("/b/B"));
  mkdir(p("/b/sub"), 0755);
  touch(p("/b/file"));

  int a = syscall(SYS_open_tree, AT_FDCWD, p("/a"), OPEN_TREE_CLONE_);
  R("beneath the root mount", beneath(a, "/"));
  R("beneath a directory that is no mount's root", beneath(a, p("/b/sub")));
  R("beneath a file", beneath(a, p("/b/file")));
  seen("before");
  R("the clone of a beneath b", beneath(a, p("/b")));
  seen("after");
  R("umount b", umount(p("/b")));
  seen("b unmounted");
  R("umount b again", umount(p("/b")));
  seen("both unmounted");

  mount("B", p("/b"), "tmpfs", 0, NULL);
  touch(p("/b/B"));
  mkdir(p("/b/x"), 0755);
  mount("X", p("/b/x"), "tmpfs", 0, NULL);
  int x = open(p("/b/x"), O_PATH);
  R("a submount beneath its own parent", beneath(x, p("/b")));
  int c = syscall(SYS_open_tree, AT_FDCWD, p("/a"), OPEN_TREE_CLONE_);
  mkdir(p("/c"), 0755);
  int cm = syscall(SYS_move_mount, c, "", AT_FDCWD, p("/c"), MOVE_MOUNT_F_EMPTY_PATH_);
  printf("clone attached at c: %d\n", cm);
  mkdir(p("/c/y"), 0755);
  mount("Y", p("/c/y"), "tmpfs", 0, NULL);
  int cfd = open(p("/c"), O_PATH);
  R("an attached mount beneath b", beneath(cfd, p("/b")));
  seen("after");
  umount2(p("/b"), MNT_DETACH);
  seen("b unmounted");
  printf("c's submount came along: %d\n", access(p("/b/y"), F_OK) == 0);
  umount2(p("/b"), MNT_DETACH);
  umount2(p("/a"), MNT_DETACH);
  return 0;
}
