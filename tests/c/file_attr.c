/* file_getattr(2) and file_setattr(2) (Linux 6.17) on tmpfs, as natively: the argument checks
 * in order (flags EINVAL, a size over a page E2BIG, under the first version EINVAL, nonzero
 * bytes past the struct E2BIG, unknown xflags EINVAL), the path (ENOENT, ENOTDIR for a file as
 * dirfd, AT_EMPTY_PATH on the descriptor, EBADF for O_PATH, AT_SYMLINK_NOFOLLOW), flags set and
 * read back (immutable, append, nodump, noatime) also as FS_IOC_GETFLAGS shows them, what tmpfs
 * does not keep (sync, DAX, project ids, extent sizes: EOPNOTSUPP, EINVAL where the type
 * forbids the flag), a pipe (EOPNOTSUPP), and an immutable file's write EPERM. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct fattr {
  uint64_t xflags;
  uint32_t extsize, nextents, projid, cowextsize;
};

static long getattr(int dfd, const char *p, void *a, size_t sz, unsigned fl) { return syscall(468, dfd, p, a, sz, fl); }
static long setattr(int dfd, const char *p, void *a, size_t sz, unsigned fl) { return syscall(469, dfd, p, a, sz, fl); }

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-52s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static void show(const char *what, int dfd, const char *p, unsigned fl) {
  struct fattr a;
  memset(&a, 0xa5, sizeof a);
  errno = 0;
  long r = getattr(dfd, p, &a, sizeof a, fl);
  if (r < 0) printf("%-52s : %s\n", what, strerrorname_np(errno));
  else printf("%-52s : xflags %#llx extsize %u nextents %u projid %u cow %u\n", what, (unsigned long long)a.xflags, a.extsize, a.nextents, a.projid, a.cowextsize);
}

int main(void) {
  char dir[] = "/dev/shm/file_attrXXXXXX";
  if (!mkdtemp(dir)) return 1;
  if (chdir(dir) != 0) return 2;
  int fd = open("f", O_RDWR | O_CREAT, 0644);
  mkdir("d", 0755);
  symlink("f", "l");
  int pfd = open("f", O_PATH);
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  struct fattr a = {0};
  char big[4200];
  memset(big, 0, sizeof big);

  show("f", AT_FDCWD, "f", 0);
  show("d", AT_FDCWD, "d", 0);
  R("get: flags 0x4", getattr(AT_FDCWD, "f", &a, sizeof a, 0x4));
  R("get: size 4097", getattr(AT_FDCWD, "f", big, 4097, 0));
  R("get: size 23", getattr(AT_FDCWD, "f", &a, 23, 0));
  R("get: size 4096", getattr(AT_FDCWD, "f", big, 4096, 0));
  R("get: missing", getattr(AT_FDCWD, "nope", &a, sizeof a, 0));
  R("get: file as dirfd", getattr(fd, "f", &a, sizeof a, 0));
  R("get: O_PATH file as dirfd", getattr(pfd, "f", &a, sizeof a, 0));
  R("get: AT_EMPTY_PATH, fd", getattr(fd, "", &a, sizeof a, AT_EMPTY_PATH));
  R("get: AT_EMPTY_PATH, null path", getattr(fd, NULL, &a, sizeof a, AT_EMPTY_PATH));
  R("get: AT_EMPTY_PATH, O_PATH fd", getattr(pfd, "", &a, sizeof a, AT_EMPTY_PATH));
  R("get: empty path without AT_EMPTY_PATH", getattr(fd, "", &a, sizeof a, 0));
  R("get: null path without AT_EMPTY_PATH", getattr(fd, NULL, &a, sizeof a, 0));
  R("get: AT_EMPTY_PATH, AT_FDCWD", getattr(AT_FDCWD, "", &a, sizeof a, AT_EMPTY_PATH));
  R("get: symlink, nofollow", getattr(AT_FDCWD, "l", &a, sizeof a, AT_SYMLINK_NOFOLLOW));
  R("get: bad pointer", getattr(AT_FDCWD, "f", (void *)8, sizeof a, 0));
  int pp[2];
  pipe(pp);
  R("get: a pipe", getattr(pp[0], "", &a, sizeof a, AT_EMPTY_PATH));
  R("get: dirfd d, relative", getattr(dfd, ".", &a, sizeof a, 0));

  memset(&a, 0, sizeof a);
  R("set: flags 0x4", setattr(AT_FDCWD, "f", &a, sizeof a, 0x4));
  R("set: size 4097", setattr(AT_FDCWD, "f", big, 4097, 0));
  R("set: size 16", setattr(AT_FDCWD, "f", &a, 16, 0));
  big[100] = 1;
  R("set: nonzero past the struct", setattr(AT_FDCWD, "f", big, 200, 0));
  R("set: nonzero past the struct, missing file", setattr(AT_FDCWD, "nope", big, 200, 0));
  big[100] = 0;
  uint64_t bits[] = {0x1, 0x2, 0x4, 0x100, 0x400, 0x2000, 0x4000, 0x20000, 0x40000000, 0x80000000ULL, 1ULL << 32};
  for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "set: xflags %#llx", (unsigned long long)bits[i]);
    a.xflags = bits[i];
    R(name, setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  }
  a.xflags = 0x80;
  R("set: unknown xflag, missing file", setattr(AT_FDCWD, "nope", &(struct fattr){.xflags = 0x4}, sizeof a, 0));
  R("set: nodump", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  show("f", AT_FDCWD, "f", 0);
  int ifl = -1;
  ioctl(fd, FS_IOC_GETFLAGS, &ifl);
  printf("%-52s : %#x\n", "FS_IOC_GETFLAGS", ifl);
  a.xflags = 0x40 | 0x10;
  R("set: noatime append, by fd", setattr(fd, NULL, &a, sizeof a, AT_EMPTY_PATH));
  show("f", fd, "", AT_EMPTY_PATH);
  R("write to an append-only file (not O_APPEND)", write(fd, "x", 1));
  a.xflags = 0x8;
  R("set: immutable", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  show("f", AT_FDCWD, "f", 0);
  R("open for writing", open("f", O_WRONLY));
  R("unlink", unlink("f"));
  a.xflags = 0;
  R("set: none", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  show("f", AT_FDCWD, "f", 0);
  a.xflags = 0x20;
  R("set: sync", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  a.xflags = 0x8000;
  R("set: dax on a file", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  a.xflags = 0x200;
  R("set: projinherit on a directory", setattr(AT_FDCWD, "d", &a, sizeof a, 0));
  a.xflags = 0;
  a.projid = 5;
  R("set: project id 5", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  a.projid = 0xffffffff;
  R("set: project id -1", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  a.projid = 0;
  a.xflags = 0x800;
  R("set: extsize flag on a directory", setattr(AT_FDCWD, "d", &a, sizeof a, 0));
  R("set: extsize flag, size 0, on a file", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  a.extsize = 4096;
  R("set: extsize 4096 on a file", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  a.extsize = 0;
  a.xflags = 0x1000;
  R("set: extszinherit on a file", setattr(AT_FDCWD, "f", &a, sizeof a, 0));
  a.xflags = 0x10000;
  R("set: cowextsize flag, size 0, on a symlink (nofollow)", setattr(AT_FDCWD, "l", &a, sizeof a, AT_SYMLINK_NOFOLLOW));
  a.xflags = 0;
  R("set: a pipe", setattr(pp[1], "", &a, sizeof a, AT_EMPTY_PATH));
  R("set: symlink, nofollow", setattr(AT_FDCWD, "l", &a, sizeof a, AT_SYMLINK_NOFOLLOW));
  R("set: O_PATH fd, AT_EMPTY_PATH", setattr(pfd, "", &a, sizeof a, AT_EMPTY_PATH));

  unlink("f");
  unlink("l");
  rmdir("d");
  chdir("/");
  rmdir(dir);
  return 0;
}
