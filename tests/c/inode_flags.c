/* chattr(1)'s inode flags on tmpfs (FS_IOC_GETFLAGS/FS_IOC_SETFLAGS, LTP setxattr03): which
 * flags tmpfs keeps (EOPNOTSUPP for the rest), who may set them (the owner; immutable and
 * append-only also need CAP_LINUX_IMMUTABLE), and what FS_IMMUTABLE_FL and FS_APPEND_FL forbid
 * on a file and on a directory (open for writing, truncation, chmod/chown/utimes, xattrs,
 * unlink, rename, link, new names in the directory). The files live on a tmpfs mounted in a
 * mount namespace of the test's own. Runs as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static void res(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

static int setflags(const char *path, int flags) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  int r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static long getflags(const char *path) {
  int fd = open(path, O_RDONLY), flags = -1;
  if (fd < 0) return -1;
  int r = ioctl(fd, FS_IOC_GETFLAGS, &flags);
  int e = errno;
  close(fd);
  errno = e;
  return r < 0 ? -1 : flags;
}

static long opened(const char *path, int flags) {
  int fd = open(path, flags, 0644);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

/* What a flagged file refuses (flag: "immutable" or "append"). */
static void file_ops(const char *f) {
  char w[128];
#define R(what, call) (snprintf(w, sizeof w, "%s %s", f, what), res(w, (call)))
  R("open O_RDONLY", opened(f, O_RDONLY));
  R("open O_WRONLY", opened(f, O_WRONLY));
  R("open O_WRONLY|O_APPEND", opened(f, O_WRONLY | O_APPEND));
  R("open O_RDONLY|O_TRUNC", opened(f, O_RDONLY | O_TRUNC));
  R("open O_WRONLY|O_APPEND|O_TRUNC", opened(f, O_WRONLY | O_APPEND | O_TRUNC));
  R("access W_OK", access(f, W_OK));
  R("access R_OK", access(f, R_OK));
  R("chmod", chmod(f, 0600));
  R("chown", chown(f, 0, 0));
  R("utimes now", utimensat(AT_FDCWD, f, NULL, 0));
  struct timespec ts[2] = {{1, 0}, {2, 0}};
  R("utimes explicit", utimensat(AT_FDCWD, f, ts, 0));
  R("truncate", truncate(f, 0));
  R("setxattr user.a", setxattr(f, "user.a", "v", 1, 0));
  R("removexattr user.a", removexattr(f, "user.a"));
  R("link", link(f, "linked"));
  R("rename", rename(f, "renamed"));
  R("unlink", unlink(f));
  int fd = open(f, O_WRONLY | O_APPEND);
  if (fd >= 0) {
    R("write O_APPEND", write(fd, "x", 1));
    R("ftruncate", ftruncate(fd, 0));
    R("fallocate 0", fallocate(fd, 0, 0, 4096));
    R("fallocate KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096));
    R("fallocate PUNCH_HOLE", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1));
    close(fd);
  }
#undef R
}

int main(void) {
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    perror("unshare");
    return 1;
  }
  char dir[] = "/tmp/inode-flags-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  if (mount("tmpfs", dir, "tmpfs", 0, NULL) < 0) {
    perror("mount");
    return 1;
  }
  if (chdir(dir) < 0) return 1;
  close(open("f", O_CREAT | O_WRONLY, 0644));
  res("getflags new file", getflags("f"));
  res("setflags FS_SYNC_FL", setflags("f", FS_SYNC_FL));
  res("setflags FS_NOCOW_FL", setflags("f", FS_NOCOW_FL));
  res("setflags FS_CASEFOLD_FL", setflags("f", FS_CASEFOLD_FL));
  res("setflags FS_NODUMP_FL|FS_NOATIME_FL", setflags("f", FS_NODUMP_FL | FS_NOATIME_FL));
  res("getflags", getflags("f"));
  /* FS_NOATIME_FL: a read leaves atime (relatime would move it: it is older than mtime). */
  struct timespec old[2] = {{1000, 0}, {UTIME_OMIT, 0}};
  utimensat(AT_FDCWD, "f", old, 0);
  int rfd = open("f", O_RDONLY);
  char c;
  res("read noatime file", read(rfd, &c, 1));
  close(rfd);
  struct stat ast;
  stat("f", &ast);
  printf("noatime file atime kept: %d\n", ast.st_atime == 1000);
  res("setflags 0", setflags("f", 0));
  rfd = open("f", O_RDONLY);
  res("read plain file", read(rfd, &c, 1));
  close(rfd);
  stat("f", &ast);
  printf("plain file atime kept: %d\n", ast.st_atime == 1000);
  mkdir("d", 0755);
  res("getflags dir", getflags("d"));
  mknod("chr", S_IFCHR | 0666, makedev(1, 3));
  res("getflags chr node (the driver's ENOTTY)", getflags("chr"));
  int p[2];
  if (pipe(p) < 0) return 1;
  int fl;
  res("getflags pipe", ioctl(p[0], FS_IOC_GETFLAGS, &fl));

  close(open("immutable", O_CREAT | O_WRONLY, 0644));
  int wfd = open("immutable", O_WRONLY);
  res("setflags immutable", setflags("immutable", FS_IMMUTABLE_FL));
  res("immutable: fallocate on an earlier descriptor", fallocate(wfd, 0, 0, 4096));
  res("immutable: fallocate KEEP_SIZE on an earlier descriptor", fallocate(wfd, FALLOC_FL_KEEP_SIZE, 0, 4096));
  close(wfd);
  res("getflags immutable", getflags("immutable"));
  file_ops("immutable");
  res("setflags immutable off", setflags("immutable", 0));
  res("unlink after", unlink("immutable"));

  close(open("append", O_CREAT | O_WRONLY, 0644));
  res("setflags append", setflags("append", FS_APPEND_FL));
  file_ops("append");
  /* do_mmap: a shared mapping of an append-only file through a writable descriptor, even
   * read-only, is EACCES; through a read-only descriptor it maps. */
  int afd = open("append", O_RDWR | O_APPEND);
  void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, afd, 0);
  res("append mmap shared via O_RDWR", m == MAP_FAILED ? -1 : 0);
  m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, afd, 0);
  res("append mmap private via O_RDWR", m == MAP_FAILED ? -1 : 0);
  close(afd);
  afd = open("append", O_RDONLY);
  m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, afd, 0);
  res("append mmap shared via O_RDONLY", m == MAP_FAILED ? -1 : 0);
  close(afd);
  struct stat st;
  if (stat("append", &st) == 0) printf("append size %ld\n", (long)st.st_size);
  res("setflags append off", setflags("append", 0));

  /* An immutable directory takes no new names and loses none; an append-only one takes new
   * names but loses none. */
  close(open("d/in", O_CREAT | O_WRONLY, 0644));
  res("setflags dir immutable", setflags("d", FS_IMMUTABLE_FL));
  res("immutable dir: create", opened("d/new", O_CREAT | O_WRONLY));
  res("immutable dir: mkdir", mkdir("d/sub", 0755));
  res("immutable dir: unlink", unlink("d/in"));
  res("immutable dir: rename in", rename("append", "d/moved"));
  res("immutable dir: write existing", opened("d/in", O_WRONLY));
  res("setflags dir append", setflags("d", FS_APPEND_FL));
  res("append dir: create", opened("d/new", O_CREAT | O_WRONLY));
  res("append dir: unlink", unlink("d/new"));
  res("append dir: rename out", rename("d/in", "out"));
  res("append dir: rename in", rename("append", "d/moved"));
  res("setflags dir 0", setflags("d", 0));

  /* Another user: not the owner (EPERM); the owner without CAP_LINUX_IMMUTABLE may set
   * FS_NODUMP_FL but not FS_IMMUTABLE_FL. */
  close(open("mine", O_CREAT | O_WRONLY, 0666));
  chown("mine", 65534, 65534);
  close(open("root", O_CREAT | O_WRONLY, 0666));
  chmod(".", 0777);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) < 0 || setuid(65534) < 0) _exit(1);
    res("nobody: setflags root's file", setflags("root", FS_NODUMP_FL));
    res("nobody: getflags root's file", getflags("root"));
    res("nobody: setflags own nodump", setflags("mine", FS_NODUMP_FL));
    res("nobody: setflags own immutable", setflags("mine", FS_IMMUTABLE_FL | FS_NODUMP_FL));
    res("nobody: setflags own unsupported", setflags("mine", FS_SYNC_FL | FS_NODUMP_FL));
    fflush(stdout);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  res("getflags mine", getflags("mine"));

  if (chdir("/") < 0) return 1;
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  return 0;
}
