/*
 * mount(2) from a loop device, against Linux: mkfs.ext2 (the host's, run where the program runs)
 * formats a loop device bound to a file of its own, then mount's errnos (ENOTBLK for a regular
 * file, ENODEV for an unknown type, EINVAL for no source or an unformatted device, EBUSY for
 * an O_EXCL holder, another type or another read-only flag on a mounted device, EACCES for a
 * read-write mount of a read-only device), a second mount sharing the superblock, statfs,
 * data written through one mount read through the device after umount, O_EXCL while mounted,
 * LOOP_CLR_FD while mounted taking effect at the umount, and the new mount API's source.
 * Works in a mount namespace of its own, so the host's tree never changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case ENXIO: return "ENXIO";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case ENOTBLK: return "ENOTBLK";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EROFS: return "EROFS";
    case ENOTDIR: return "ENOTDIR";
    default: return strerror(e);
  }
}

#define R(label, expr) do { errno = 0; long _r = (long)(expr); printf("%s = %ld %s\n", label, _r < 0 ? -1L : _r, _r < 0 ? en(errno) : ""); } while (0)

static char dev[64], dev2[64];

static int bind_new(int ctl, const char *img, char *path, int ro) {
  int n = ioctl(ctl, LOOP_CTL_GET_FREE);
  if (n < 0) return -1;
  snprintf(path, 64, "/dev/loop%d", n);
  int fd = open(path, ro ? O_RDONLY : O_RDWR);
  int bf = open(img, ro ? O_RDONLY : O_RDWR);
  if (fd < 0 || bf < 0 || ioctl(fd, LOOP_SET_FD, bf) < 0) { printf("bind: %s\n", en(errno)); return -1; }
  close(bf);
  return fd;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) { printf("unshare: %s\n", en(errno)); return 1; }
  char dir[] = "/tmp/loopmntXXXXXX";
  mkdtemp(dir);
  char img[128], img2[128], mnt[128], mnt2[128], path[256];
  snprintf(img, sizeof img, "%s/img", dir);
  snprintf(img2, sizeof img2, "%s/img2", dir);
  snprintf(mnt, sizeof mnt, "%s/m", dir);
  snprintf(mnt2, sizeof mnt2, "%s/m2", dir);
  mkdir(mnt, 0755);
  mkdir(mnt2, 0755);
  int f = open(img, O_RDWR | O_CREAT, 0600);
  ftruncate(f, 8 << 20);
  close(f);
  f = open(img2, O_RDWR | O_CREAT, 0600);
  ftruncate(f, 1 << 20);
  close(f);
  int ctl = open("/dev/loop-control", O_RDWR);
  int fd = bind_new(ctl, img, dev, 0);
  if (fd < 0) return 1;
  int fd2 = bind_new(ctl, img2, dev2, 0);
  if (fd2 < 0) return 1;

  R("mount unformatted", mount(dev2, mnt, "ext2", 0, NULL));
  char cmd[256];
  snprintf(cmd, sizeof cmd, "mkfs.ext2 -q -F %s >/dev/null 2>&1", dev);
  printf("mkfs: %d\n", system(cmd));

  R("mount regular file", mount(img, mnt, "ext2", 0, NULL));
  R("mount unknown type", mount(dev, mnt, "ext9", 0, NULL));
  R("mount no source", mount(NULL, mnt, "ext2", 0, NULL));
  R("mount missing source", mount("/dev/nonexistent-loop", mnt, "ext2", 0, NULL));
  snprintf(path, sizeof path, "%s/file", dir);
  R("mount on a file", mount(dev, img, "ext2", 0, NULL));
  int ex = open(dev, O_RDONLY | O_EXCL);
  R("mount while O_EXCL", mount(dev, mnt, "ext2", 0, NULL));
  close(ex);
  R("mount", mount(dev, mnt, "ext2", 0, NULL));
  R("mount again, ext3", mount(dev, mnt2, "ext3", 0, NULL));
  R("mount again, read-only", mount(dev, mnt2, "ext2", MS_RDONLY, NULL));
  R("mount again", mount(dev, mnt2, "ext2", 0, NULL));
  R("O_EXCL while mounted", open(dev, O_RDONLY | O_EXCL));
  struct statfs sf;
  R("statfs", statfs(mnt, &sf));
  printf("  type %lx bsize %ld\n", (long)sf.f_type, (long)sf.f_bsize);
  snprintf(path, sizeof path, "%s/hello", mnt);
  int w = open(path, O_RDWR | O_CREAT, 0644);
  R("write", write(w, "through ext2", 12));
  close(w);
  snprintf(path, sizeof path, "%s/hello", mnt2);
  char buf[64] = "";
  int r = open(path, O_RDONLY);
  R("read through the second mount", read(r, buf, sizeof buf));
  printf("  '%s'\n", buf);
  close(r);
  R("syncfs", syscall(SYS_syncfs, fd));
  R("umount second", umount(mnt2));
  R("CLR_FD while mounted", ioctl(fd, LOOP_CLR_FD, 0));
  struct loop_info64 li;
  R("GET_STATUS64 while mounted", ioctl(fd, LOOP_GET_STATUS64, &li));
  printf("  autoclear %d\n", (li.lo_flags & LO_FLAGS_AUTOCLEAR) != 0);
  R("umount busy?", umount(mnt));
  R("GET_STATUS64 after umount", ioctl(fd, LOOP_GET_STATUS64, &li));
  close(fd);
  R("open cleared", fd = open(dev, O_RDWR));
  R("GET_STATUS64 cleared", ioctl(fd, LOOP_GET_STATUS64, &li));

  /* The image keeps what was written: bound again read-only, mounted read-only. */
  close(fd);
  fd = open(dev, O_RDONLY);
  int bf = open(img, O_RDONLY);
  R("SET_FD read-only", ioctl(fd, LOOP_SET_FD, bf));
  close(bf);
  R("mount rw of a read-only device", mount(dev, mnt, "ext2", 0, NULL));
  R("mount ro", mount(dev, mnt, "ext2", MS_RDONLY, NULL));
  snprintf(path, sizeof path, "%s/hello", mnt);
  memset(buf, 0, sizeof buf);
  r = open(path, O_RDONLY);
  R("read back", read(r, buf, sizeof buf));
  printf("  '%s'\n", buf);
  close(r);
  snprintf(path, sizeof path, "%s/new", mnt);
  R("create on ro", open(path, O_RDWR | O_CREAT, 0644));
  R("umount", umount(mnt));

  /* The new mount API. */
  int fs = syscall(SYS_fsopen, "ext2", 0);
  R("fsopen ext2", fs);
  R("fsconfig source", syscall(SYS_fsconfig, fs, 1 /* SET_STRING */, "source", dev, 0));
  R("fsconfig ro", syscall(SYS_fsconfig, fs, 0 /* SET_FLAG */, "ro", NULL, 0));
  R("fsconfig create", syscall(SYS_fsconfig, fs, 6 /* CMD_CREATE */, NULL, NULL, 0));
  int mfd = syscall(SYS_fsmount, fs, 0, 1 /* MOUNT_ATTR_RDONLY */);
  R("fsmount", mfd >= 0 ? 0 : -1);
  R("move_mount", syscall(SYS_move_mount, mfd, "", AT_FDCWD, mnt, 4 /* F_EMPTY_PATH */));
  close(mfd);
  close(fs);
  snprintf(path, sizeof path, "%s/hello", mnt);
  R("access through the new API's mount", access(path, R_OK));
  R("umount", umount(mnt));
  R("fsopen ext9", syscall(SYS_fsopen, "ext9", 0));
  int fs2 = syscall(SYS_fsopen, "ext2", 0);
  syscall(SYS_fsconfig, fs2, 1, "source", img, 0);
  R("fsconfig create from a file", syscall(SYS_fsconfig, fs2, 6, NULL, NULL, 0));
  close(fs2);

  R("CLR_FD", ioctl(fd, LOOP_CLR_FD, 0));
  close(fd);
  ioctl(fd2, LOOP_CLR_FD, 0);
  close(fd2);
  unlink(img);
  unlink(img2);
  rmdir(mnt);
  rmdir(mnt2);
  rmdir(dir);
  return 0;
}
