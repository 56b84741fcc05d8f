/*
 * Loop devices and loop-control, against Linux: LOOP_CTL_GET_FREE/ADD/REMOVE, the node's
 * stat, an unbound device (ENXIO, size 0, ENOSPC), LOOP_SET_FD/CONFIGURE/SET_STATUS(64)/
 * GET_STATUS(64)/SET_CAPACITY/SET_BLOCK_SIZE/CHANGE_FD/CLR_FD with their errnos, reads, writes
 * and lseek through to the backing file, the BLK* ioctls, O_EXCL, /sys/block/loopN, and the
 * deferred clear (autoclear at the last close, ENXIO opens meanwhile). Prints nothing that
 * depends on which device number is free or on the host's files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case ENOSPC: return "ENOSPC";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOTTY: return "ENOTTY";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return strerror(e);
  }
}

#define R(label, expr) do { errno = 0; long _r = (long)(expr); printf("%s = %ld %s\n", label, _r < 0 ? -1L : _r, _r < 0 ? en(errno) : ""); } while (0)
#define OK(label, expr) do { errno = 0; long _r = (long)(expr); printf("%s: %s\n", label, _r < 0 ? en(errno) : "ok"); } while (0)

static char dev[64], sysdir[128];

static void sysattr(const char *name) {
  char p[256], buf[256] = "";
  snprintf(p, sizeof p, "%s/%s", sysdir, name);
  int fd = open(p, O_RDONLY);
  if (fd < 0) { printf("sys %s: %s\n", name, en(errno)); return; }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0) buf[n] = 0;
  printf("sys %s: %s", name, buf);
}

static uint64_t size64(int fd) {
  uint64_t s = 12345;
  if (ioctl(fd, BLKGETSIZE64, &s) < 0) printf("BLKGETSIZE64: %s\n", en(errno));
  return s;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int ctl = open("/dev/loop-control", O_RDWR);
  if (ctl < 0) { printf("open loop-control: %s\n", en(errno)); return 1; }
  struct stat st;
  fstat(ctl, &st);
  printf("loop-control: chr %d %u:%u\n", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
  {
    // Neither loop-control (loop_ctl_fops) nor a block device (def_blk_fops) has a poll
    // operation: epoll_ctl refuses both.
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    int r = epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &ev);
    printf("epoll_ctl on loop-control: %s\n", r < 0 ? en(errno) : "ok");
    close(ep);
  }
  int n = ioctl(ctl, LOOP_CTL_GET_FREE);
  if (n < 0) { printf("GET_FREE: %s\n", en(errno)); return 1; }
  snprintf(dev, sizeof dev, "/dev/loop%d", n);
  snprintf(sysdir, sizeof sysdir, "/sys/block/loop%d", n);
  stat(dev, &st);
  printf("node: blk %d major %u minor-ok %d mode %o size %ld blksize %ld\n", S_ISBLK(st.st_mode), major(st.st_rdev),
         (int)minor(st.st_rdev) == n, st.st_mode & 07777, (long)st.st_size, (long)st.st_blksize);
  R("ioctl(ctl, 0x1234)", ioctl(ctl, 0x1234, 0));
  R("CTL_REMOVE(-1)", ioctl(ctl, LOOP_CTL_REMOVE, -1));

  char dir[] = "/tmp/loopdevXXXXXX";
  mkdtemp(dir);
  char img[128], img2[128];
  snprintf(img, sizeof img, "%s/img", dir);
  snprintf(img2, sizeof img2, "%s/img2", dir);
  int bf = open(img, O_RDWR | O_CREAT, 0600);
  static char buf[1 << 20];
  for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (char)(i * 7 + i / 512);
  write(bf, buf, sizeof buf);
  write(bf, "tail", 4); /* 1 MiB + 4: the device is 1 MiB */

  int fd = open(dev, O_RDWR);
  if (fd < 0) { printf("open dev: %s\n", en(errno)); return 1; }
  struct loop_info li;
  struct loop_info64 li64;
  R("unbound GET_STATUS", ioctl(fd, LOOP_GET_STATUS, &li));
  R("unbound GET_STATUS64", ioctl(fd, LOOP_GET_STATUS64, &li64));
  R("unbound CLR_FD", ioctl(fd, LOOP_CLR_FD, 0));
  R("unbound SET_CAPACITY", ioctl(fd, LOOP_SET_CAPACITY, 0));
  R("unbound SET_STATUS64", ioctl(fd, LOOP_SET_STATUS64, &li64));
  printf("unbound size %llu\n", (unsigned long long)size64(fd));
  char c;
  R("unbound read", read(fd, &c, 1));
  R("unbound lseek END", lseek(fd, 0, SEEK_END));
  R("unbound lseek 1", lseek(fd, 1, SEEK_SET));
  int ssz = 0;
  R("unbound BLKSSZGET", ioctl(fd, BLKSSZGET, &ssz));
  printf("  ssz %d\n", ssz);
  sysattr("size");
  sysattr("loop/backing_file");

  R("SET_FD(-1)", ioctl(fd, LOOP_SET_FD, -1));
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  R("SET_FD(dir)", ioctl(fd, LOOP_SET_FD, dfd));
  int pfd = open(img, O_PATH);
  R("SET_FD(O_PATH)", ioctl(fd, LOOP_SET_FD, pfd));
  R("SET_FD(img)", ioctl(fd, LOOP_SET_FD, bf));
  R("SET_FD again", ioctl(fd, LOOP_SET_FD, bf));
  R("REMOVE bound", ioctl(ctl, LOOP_CTL_REMOVE, n));
  printf("size %llu\n", (unsigned long long)size64(fd));
  unsigned long sectors = 0;
  R("BLKGETSIZE", ioctl(fd, BLKGETSIZE, &sectors));
  printf("  sectors %lu\n", sectors);
  int v;
  v = -1; ioctl(fd, BLKSSZGET, &v); printf("BLKSSZGET %d\n", v);
  unsigned int uv = 0;
  ioctl(fd, BLKPBSZGET, &uv); printf("BLKPBSZGET %u\n", uv);
  ioctl(fd, BLKIOMIN, &uv); printf("BLKIOMIN %u\n", uv);
  uv = 77; ioctl(fd, BLKIOOPT, &uv); printf("BLKIOOPT %u\n", uv);
  v = -1; ioctl(fd, BLKROGET, &v); printf("BLKROGET %d\n", v);
  v = -1; ioctl(fd, BLKBSZGET, &v); printf("BLKBSZGET %d\n", v);
  v = -1; ioctl(fd, BLKALIGNOFF, &v); printf("BLKALIGNOFF %d\n", v);
  long ra = -1; ioctl(fd, BLKRAGET, &ra); printf("BLKRAGET %ld\n", ra);
  R("BLKFLSBUF", ioctl(fd, BLKFLSBUF, 0));
  R("BLKRRPART", ioctl(fd, BLKRRPART, 0));
  R("HDIO_GETGEO", ioctl(fd, 0x0301, buf));
  R("unknown 0x4cff", ioctl(fd, 0x4cff, 0));
  fstat(fd, &st);
  printf("fstat: blk %d size %ld blksize %ld\n", S_ISBLK(st.st_mode), (long)st.st_size, (long)st.st_blksize);

  R("lseek END", lseek(fd, 0, SEEK_END));
  R("lseek END+1", lseek(fd, 1, SEEK_END));
  R("lseek DATA 4096", lseek(fd, 4096, SEEK_DATA));
  R("lseek HOLE 4096", lseek(fd, 4096, SEEK_HOLE));
  R("lseek 0", lseek(fd, 0, SEEK_SET));
  static char rb[8192];
  R("read 8192", read(fd, rb, sizeof rb));
  printf("read matches %d\n", memcmp(rb, buf, sizeof rb) == 0);
  R("pread at end-100", pread(fd, rb, 4096, (1 << 20) - 100));
  R("pread at end", pread(fd, rb, 4096, 1 << 20));
  R("pwrite at 512", pwrite(fd, "HELLO", 5, 512));
  R("pwrite at end-2", pwrite(fd, "WORLD", 5, (1 << 20) - 2));
  R("pwrite at end", pwrite(fd, "X", 1, 1 << 20));
  R("fsync", fsync(fd));
  char fb[8] = "";
  pread(bf, fb, 5, 512);
  printf("backing at 512: %.5s\n", fb);
  pread(bf, fb, 6, (1 << 20) - 2);
  printf("backing at end-2: %.6s\n", fb);

  memset(&li64, 0, sizeof li64);
  R("GET_STATUS64", ioctl(fd, LOOP_GET_STATUS64, &li64));
  fstat(bf, &st);
  printf("  number-ok %d inode-ok %d offset %llu sizelimit %llu flags %u name '%s'\n", (int)li64.lo_number == n,
         li64.lo_inode == st.st_ino, (unsigned long long)li64.lo_offset, (unsigned long long)li64.lo_sizelimit,
         li64.lo_flags, (char *)li64.lo_file_name);
  sysattr("size");
  sysattr("ro");
  sysattr("loop/offset");
  sysattr("loop/sizelimit");
  sysattr("loop/autoclear");
  sysattr("loop/partscan");
  sysattr("loop/dio");
  {
    char p[256], want[256], got[300] = "";
    snprintf(p, sizeof p, "%s/loop/backing_file", sysdir);
    int sf = open(p, O_RDONLY);
    ssize_t k = read(sf, got, sizeof got - 1);
    close(sf);
    if (k > 0) got[k] = 0;
    snprintf(want, sizeof want, "%s\n", img);
    printf("sys backing_file matches %d\n", strcmp(got, want) == 0);
  }

  memset(&li64, 0, sizeof li64);
  li64.lo_offset = 512;
  li64.lo_sizelimit = 4096;
  li64.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_READ_ONLY | LO_FLAGS_DIRECT_IO;
  strcpy((char *)li64.lo_file_name, "backing-name");
  R("SET_STATUS64", ioctl(fd, LOOP_SET_STATUS64, &li64));
  memset(&li64, 0, sizeof li64);
  ioctl(fd, LOOP_GET_STATUS64, &li64);
  printf("  offset %llu sizelimit %llu flags %u name '%s'\n", (unsigned long long)li64.lo_offset,
         (unsigned long long)li64.lo_sizelimit, li64.lo_flags, (char *)li64.lo_file_name);
  printf("size %llu\n", (unsigned long long)size64(fd));
  R("pread 0", pread(fd, rb, 5, 0));
  printf("  '%.5s'\n", rb);
  sysattr("size");
  sysattr("loop/autoclear");
  li64.lo_encrypt_type = 1;
  R("SET_STATUS64 xor", ioctl(fd, LOOP_SET_STATUS64, &li64));
  li64.lo_encrypt_type = 0;
  li64.lo_offset = 1ULL << 63;
  R("SET_STATUS64 huge offset", ioctl(fd, LOOP_SET_STATUS64, &li64));

  memset(&li, 0, sizeof li);
  li.lo_offset = 1024;
  strcpy(li.lo_name, "old-name");
  R("SET_STATUS", ioctl(fd, LOOP_SET_STATUS, &li));
  memset(&li, 0, sizeof li);
  R("GET_STATUS", ioctl(fd, LOOP_GET_STATUS, &li));
  printf("  number-ok %d offset %d flags %d name '%s'\n", li.lo_number == n, li.lo_offset, li.lo_flags, li.lo_name);
  R("GET_STATUS(NULL)", ioctl(fd, LOOP_GET_STATUS, NULL));
  printf("size %llu\n", (unsigned long long)size64(fd));

  ftruncate(bf, 2 << 20);
  printf("size after growing the file %llu\n", (unsigned long long)size64(fd));
  R("SET_CAPACITY", ioctl(fd, LOOP_SET_CAPACITY, 0));
  printf("size %llu\n", (unsigned long long)size64(fd));
  R("SET_BLOCK_SIZE 1000", ioctl(fd, LOOP_SET_BLOCK_SIZE, 1000));
  R("SET_BLOCK_SIZE 256", ioctl(fd, LOOP_SET_BLOCK_SIZE, 256));
  R("SET_BLOCK_SIZE 8192", ioctl(fd, LOOP_SET_BLOCK_SIZE, 8192));
  R("SET_BLOCK_SIZE 2048", ioctl(fd, LOOP_SET_BLOCK_SIZE, 2048));
  v = -1; ioctl(fd, BLKSSZGET, &v); printf("BLKSSZGET %d\n", v);
  sysattr("queue/logical_block_size");
  R("SET_BLOCK_SIZE 512", ioctl(fd, LOOP_SET_BLOCK_SIZE, 512));
  R("CHANGE_FD (rw device)", ioctl(fd, LOOP_CHANGE_FD, bf));

  uint64_t range[2] = {4096, 8192};
  R("BLKZEROOUT", ioctl(fd, BLKZEROOUT, range));
  pread(fd, rb, 8192, 4096);
  int zero = 1;
  for (int i = 0; i < 8192; i++) if (rb[i]) zero = 0;
  printf("  zeroed %d\n", zero);
  range[0] = 100;
  R("BLKZEROOUT unaligned", ioctl(fd, BLKZEROOUT, range));
  range[0] = 0; range[1] = 1ULL << 40;
  R("BLKZEROOUT too long", ioctl(fd, BLKZEROOUT, range));
  range[0] = 0; range[1] = 4096;
  R("BLKDISCARD", ioctl(fd, BLKDISCARD, range));

  int ro = open(dev, O_RDONLY);
  R("BLKZEROOUT on O_RDONLY", ioctl(ro, BLKZEROOUT, range));
  R("SET_STATUS64 O_RDONLY (root)", ioctl(ro, LOOP_SET_STATUS64, &li64));
  int ex = open(dev, O_RDONLY | O_EXCL);
  printf("open O_EXCL: %s\n", ex < 0 ? en(errno) : "ok");
  int ex2 = open(dev, O_RDONLY | O_EXCL);
  printf("second open O_EXCL: %s\n", ex2 < 0 ? en(errno) : "ok");
  close(ex);
  ex2 = open(dev, O_RDONLY | O_EXCL);
  printf("O_EXCL after close: %s\n", ex2 < 0 ? en(errno) : "ok");
  close(ex2);

  /* Two openers: LOOP_CLR_FD only marks autoclear. */
  memset(&li64, 0, sizeof li64);
  ioctl(fd, LOOP_SET_STATUS64, &li64);
  R("CLR_FD with two openers", ioctl(fd, LOOP_CLR_FD, 0));
  memset(&li64, 0, sizeof li64);
  R("GET_STATUS64 after", ioctl(fd, LOOP_GET_STATUS64, &li64));
  printf("  flags %u\n", li64.lo_flags);
  close(ro);
  R("CLR_FD as the one opener", ioctl(fd, LOOP_CLR_FD, 0));
  R("GET_STATUS64 in rundown", ioctl(fd, LOOP_GET_STATUS64, &li64));
  int again = open(dev, O_RDONLY);
  printf("open in rundown: %s\n", again < 0 ? en(errno) : "ok");
  if (again >= 0) close(again);
  close(fd);
  fd = open(dev, O_RDWR);
  printf("open after last close: %s\n", fd < 0 ? en(errno) : "ok");
  R("GET_STATUS64 cleared", ioctl(fd, LOOP_GET_STATUS64, &li64));
  sysattr("loop/backing_file");

  /* LOOP_CONFIGURE: read-only, 4096-byte blocks. */
  struct loop_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.fd = bf;
  cfg.block_size = 3000;
  R("CONFIGURE bad block size", ioctl(fd, LOOP_CONFIGURE, &cfg));
  cfg.block_size = 4096;
  cfg.info.lo_flags = 0x100;
  R("CONFIGURE bad flags", ioctl(fd, LOOP_CONFIGURE, &cfg));
  cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
  R("CONFIGURE", ioctl(fd, LOOP_CONFIGURE, &cfg));
  v = -1; ioctl(fd, BLKSSZGET, &v); printf("BLKSSZGET %d\n", v);
  v = -1; ioctl(fd, BLKROGET, &v); printf("BLKROGET %d\n", v);
  printf("size %llu\n", (unsigned long long)size64(fd));
  R("write on read-only", pwrite(fd, "x", 1, 0));
  sysattr("ro");
  int bf2 = open(img2, O_RDWR | O_CREAT, 0600);
  ftruncate(bf2, 1 << 20);
  R("CHANGE_FD other size", ioctl(fd, LOOP_CHANGE_FD, bf2));
  ftruncate(bf2, 2 << 20);
  R("CHANGE_FD same size", ioctl(fd, LOOP_CHANGE_FD, bf2));
  R("pread after CHANGE_FD", pread(fd, rb, 4, 0));
  printf("  zero %d\n", rb[0] == 0 && rb[1] == 0);
  close(fd); /* autoclear */
  fd = open(dev, O_RDONLY);
  R("GET_STATUS64 after autoclear", ioctl(fd, LOOP_GET_STATUS64, &li64));
  /* The disk stays read-only once cleared, until the next bind. */
  sysattr("ro");
  R("unbound write after a read-only binding", write(fd, "x", 1));
  close(fd);
  fd = open(dev, O_RDWR);
  R("SET_FD rw", ioctl(fd, LOOP_SET_FD, bf));
  sysattr("ro");
  R("CLR_FD", ioctl(fd, LOOP_CLR_FD, 0));
  close(fd);
  fd = open(dev, O_RDWR);
  sysattr("ro");
  R("unbound write", write(fd, "x", 1));
  close(fd);

  /* LOOP_CTL_ADD and REMOVE of a device nobody has. */
  int hi = 211;
  R("CTL_ADD 211", ioctl(ctl, LOOP_CTL_ADD, hi));
  R("CTL_ADD 211 again", ioctl(ctl, LOOP_CTL_ADD, hi));
  struct stat hs;
  R("stat /dev/loop211", stat("/dev/loop211", &hs));
  printf("  blk %d\n", S_ISBLK(hs.st_mode));
  R("access /sys/block/loop211", access("/sys/block/loop211/size", F_OK));
  int h = open("/dev/loop211", O_RDONLY);
  R("CTL_REMOVE 211 open", ioctl(ctl, LOOP_CTL_REMOVE, hi));
  close(h);
  R("CTL_REMOVE 211", ioctl(ctl, LOOP_CTL_REMOVE, hi));
  R("CTL_REMOVE 211 again", ioctl(ctl, LOOP_CTL_REMOVE, hi));
  R("stat /dev/loop211 after", stat("/dev/loop211", &hs));

  unlink(img);
  unlink(img2);
  rmdir(dir);
  return 0;
}
