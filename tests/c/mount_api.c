/*
 * The mount API and moving mounts: fsopen/fsconfig/fsmount make a detached tmpfs (its
 * parameters and flags checked, nr_inodes and mount attributes shown by fstatfs) usable as a
 * dirfd before move_mount attaches it; move_mount moves attached mounts too, never under
 * themselves (ELOOP), and never a submount out of a detached tree (EINVAL); open_tree gives an
 * O_PATH descriptor, or with OPEN_TREE_CLONE a detached copy of a mount (with AT_RECURSIVE its
 * submounts); a mount unmounted with MNT_DETACH cannot be cloned nor bound (a detached mount
 * from fsmount can be bound); mount(2)'s MS_MOVE moves, except under a shared parent; two propagation types at
 * once are EINVAL. Natively it runs in a mount namespace of its own with / made private.
 * Prints what each step returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x1
#endif
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x1
#endif
#ifndef MOUNT_ATTR_NODEV
#define MOUNT_ATTR_NODEV 0x4
#endif
#ifndef MOUNT_ATTR_NOEXEC
#define MOUNT_ATTR_NOEXEC 0x8
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x4
#endif
#define OPEN_TREE_CLONE 1
#define AT_RECURSIVE 0x8000

static int fsopen_(const char *fs, unsigned flags) { return syscall(SYS_fsopen, fs, flags); }
static int fsconfig_(int fd, unsigned cmd, const char *key, const void *value, int aux) {
  return syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static int fsmount_(int fd, unsigned flags, unsigned attr) { return syscall(SYS_fsmount, fd, flags, attr); }
static int move_mount_(int fd, const char *from, int tfd, const char *to, unsigned flags) {
  return syscall(SYS_move_mount, fd, from, tfd, to, flags);
}
static int open_tree_(int fd, const char *path, unsigned flags) { return syscall(SYS_open_tree, fd, path, flags); }

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

static char base[] = "/tmp/mntapi-XXXXXX";
static char bufs[4][256];
static const char *at(int i, const char *rel) {
  snprintf(bufs[i], sizeof bufs[i], "%s/%s", base, rel);
  return bufs[i];
}

/* The mountinfo line of the mount at path (the last one there), or "". */
static const char *mountinfo_line(const char *path) {
  static char line[1024], found[1024];
  found[0] = 0;
  FILE *f = fopen("/proc/self/mountinfo", "r");
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char mp[512];
    if (sscanf(line, "%*d %*d %*s %*s %511s", mp) == 1 && strcmp(mp, path) == 0) strcpy(found, line);
  }
  if (f != NULL) fclose(f);
  return found;
}

/* The peer group of the mount at path ("shared:N"), 0 when private. */
static int peer_group(const char *path) {
  const char *s = strstr(mountinfo_line(path), " shared:");
  return s == NULL ? 0 : atoi(s + 8);
}

/* The source column of the mount at path. */
static const char *mount_source(const char *path) {
  static char src[256];
  const char *dash = strstr(mountinfo_line(path), " - ");
  src[0] = 0;
  if (dash != NULL) sscanf(dash + 3, "%*s %255s", src);
  return src;
}

/* A detached tmpfs from the new API, or -1. */
static int new_tmpfs(const char *source) {
  int fsfd = fsopen_("tmpfs", FSOPEN_CLOEXEC);
  if (fsfd < 0 || fsconfig_(fsfd, FSCONFIG_SET_STRING, "source", source, 0) != 0 ||
      fsconfig_(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
    return -1;
  }
  int m = fsmount_(fsfd, FSMOUNT_CLOEXEC, 0);
  close(fsfd);
  return m;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mkdtemp(base) == NULL) return 1;
  mkdir(at(0, "a"), 0755);
  mkdir(at(0, "b"), 0755);
  mkdir(at(0, "c"), 0755);

  show("fsopen of an unknown type", fsopen_("nosuchfs", 0));
  show("fsopen with bad flags", fsopen_("tmpfs", -1));
  int fsfd = fsopen_("tmpfs", FSOPEN_CLOEXEC);
  show("fsopen tmpfs", fsfd);
  {
    // A filesystem context has no poll operation (fscontext_fops): epoll_ctl refuses it.
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    show("epoll_ctl on an fsopen context", epoll_ctl(ep, EPOLL_CTL_ADD, fsfd, &ev));
    int pick = syscall(SYS_fspick, AT_FDCWD, "/", 0);
    show("epoll_ctl on an fspick context", pick < 0 ? pick : epoll_ctl(ep, EPOLL_CTL_ADD, pick, &ev));
    if (pick >= 0) close(pick);
    close(ep);
  }
  show("source", fsconfig_(fsfd, FSCONFIG_SET_STRING, "source", "src", 0));
  show("source again", fsconfig_(fsfd, FSCONFIG_SET_STRING, "source", "src2", 0));
  show("nr_inodes=1234", fsconfig_(fsfd, FSCONFIG_SET_STRING, "nr_inodes", "1234", 0));
  show("an unknown parameter", fsconfig_(fsfd, FSCONFIG_SET_STRING, "nosuch", "1", 0));
  show("ro", fsconfig_(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0));
  show("fsmount before create", fsmount_(fsfd, 0, 0));
  show("create", fsconfig_(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
  show("create again", fsconfig_(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
  show("fsmount with bad flags", fsmount_(fsfd, -1, 0));
  int m = fsmount_(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  show("fsmount", m);
  show("fsmount again", fsmount_(fsfd, 0, 0));
  struct statfs sf;
  if (fstatfs(m, &sf) == 0) {
    printf("fstatfs: files %ld nodev %d noexec %d rdonly %d\n", (long)sf.f_files, (sf.f_flags & ST_NODEV) != 0,
           (sf.f_flags & ST_NOEXEC) != 0, (sf.f_flags & ST_RDONLY) != 0);
  }
  show("mkdirat on the read-only detached mount", mkdirat(m, "d", 0755));
  close(m);
  close(fsfd);

  m = new_tmpfs("one");
  show("mkdirat on a detached mount", mkdirat(m, "sub", 0755));
  show("move_mount without F_EMPTY_PATH", move_mount_(m, "", AT_FDCWD, at(0, "a"), 0));
  show("move_mount onto a", move_mount_(m, "", AT_FDCWD, at(0, "a"), MOVE_MOUNT_F_EMPTY_PATH));
  close(m);
  show("a/sub is there", access(at(0, "a/sub"), F_OK));
  show("move a under itself", move_mount_(AT_FDCWD, at(0, "a"), AT_FDCWD, at(1, "a/sub"), 0));
  show("move a to b", move_mount_(AT_FDCWD, at(0, "a"), AT_FDCWD, at(1, "b"), 0));
  show("b/sub is there", access(at(0, "b/sub"), F_OK));
  show("a/sub is gone", access(at(0, "a/sub"), F_OK));

  /* A detached tree with a submount. */
  int p = new_tmpfs("parent");
  mkdirat(p, "sub", 0755);
  int c = new_tmpfs("child");
  show("move child onto parent/sub (both detached)", move_mount_(c, "", p, "sub", MOVE_MOUNT_F_EMPTY_PATH));
  close(c);
  close(openat(p, "sub/marker", O_CREAT | O_RDWR, 0644));
  show("move the submount out of its detached tree", move_mount_(p, "sub", AT_FDCWD, at(0, "c"), 0));
  int t1 = open_tree_(p, "", AT_EMPTY_PATH | OPEN_TREE_CLONE);
  show("open_tree clone", t1);
  show("clone: sub", faccessat(t1, "sub", F_OK, 0));
  show("clone: sub/marker", faccessat(t1, "sub/marker", F_OK, 0));
  int t2 = open_tree_(p, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | AT_RECURSIVE);
  show("open_tree recursive clone", t2);
  show("recursive clone: sub/marker", faccessat(t2, "sub/marker", F_OK, 0));
  show("open_tree AT_RECURSIVE without clone", open_tree_(AT_FDCWD, base, AT_RECURSIVE));
  show("open_tree bad flags", open_tree_(AT_FDCWD, base, 1u << 30));
  int t3 = open_tree_(AT_FDCWD, base, 0);
  struct stat st;
  show("open_tree without clone, fstat", t3 < 0 ? -1 : fstat(t3, &st));
  show("move the recursive clone onto c", move_mount_(t2, "", AT_FDCWD, at(0, "c"), MOVE_MOUNT_F_EMPTY_PATH));
  show("c/sub/marker", access(at(0, "c/sub/marker"), F_OK));
  close(t1);
  close(t2);
  close(t3);

  /* Binds and unmounted mounts. */
  char fdpath[64];
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", p);
  show("bind from a detached mount", mount(fdpath, at(0, "a"), NULL, MS_BIND, NULL));
  show("umount the bind", umount2(at(0, "a"), 0));
  close(p);
  m = new_tmpfs("gone");
  show("attach at a", move_mount_(m, "", AT_FDCWD, at(0, "a"), MOVE_MOUNT_F_EMPTY_PATH));
  show("umount2 a MNT_DETACH", umount2(at(0, "a"), MNT_DETACH));
  show("clone of an unmounted mount", open_tree_(m, "", AT_EMPTY_PATH | OPEN_TREE_CLONE));
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", m);
  show("bind from an unmounted mount", mount(fdpath, at(0, "a"), NULL, MS_BIND, NULL));
  close(m);

  /* mount(2): MS_MOVE and propagation. */
  show("umount c/sub", umount2(at(0, "c/sub"), 0));
  show("umount c", umount2(at(0, "c"), 0));
  show("MS_MOVE b to c", mount(at(0, "b"), at(1, "c"), NULL, MS_MOVE, NULL));
  show("c/sub is there", access(at(0, "c/sub"), F_OK));
  show("MS_MOVE of a directory that is no mount", mount(at(0, "b"), at(1, "a"), NULL, MS_MOVE, NULL));
  show("shared and private at once", mount(NULL, at(0, "c"), NULL, MS_SHARED | MS_PRIVATE, NULL));
  show("mount a tmpfs on a", mount("t", at(0, "a"), "tmpfs", 0, NULL));
  show("make a shared", mount(NULL, at(0, "a"), NULL, MS_SHARED, NULL));
  mkdir(at(0, "a/x"), 0755);
  show("mount a tmpfs on a/x", mount("t", at(0, "a/x"), "tmpfs", 0, NULL));
  int ga = peer_group(at(0, "a")), gx = peer_group(at(0, "a/x"));
  printf("a is shared: %d, a/x too: %d, in another group: %d\n", ga > 0, gx > 0, ga != gx);
  show("bind a onto c/sub", mount(at(0, "a"), at(1, "c/sub"), NULL, MS_BIND, NULL));
  printf("the bind is a's peer: %d\n", peer_group(at(0, "c/sub")) == ga);
  show("umount the bind", umount2(at(0, "c/sub"), 0));
  show("MS_MOVE out from under a shared parent", mount(at(0, "a/x"), at(1, "b"), NULL, MS_MOVE, NULL));
  show("make a private", mount(NULL, at(0, "a"), NULL, MS_PRIVATE, NULL));
  printf("a is shared after: %d\n", peer_group(at(0, "a")) > 0);
  show("MS_MOVE now", mount(at(0, "a/x"), at(1, "b"), NULL, MS_MOVE, NULL));
  show("umount b", umount2(at(0, "b"), 0));
  show("mount a tmpfs with no source on b", mount(NULL, at(0, "b"), "tmpfs", 0, NULL));
  printf("its source: %s\n", mount_source(at(0, "b")));
  show("umount b", umount2(at(0, "b"), 0));
  show("umount a", umount2(at(0, "a"), 0));
  show("umount c", umount2(at(0, "c"), 0));
  rmdir(at(0, "a"));
  rmdir(at(0, "b"));
  rmdir(at(0, "c"));
  rmdir(base);
  return 0;
}
