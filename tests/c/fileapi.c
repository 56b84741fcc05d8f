/*
 * The file API that changes the tree, run in an empty scratch directory (the cwd): creat,
 * open with O_CREAT/O_EXCL/O_TRUNC/O_APPEND, mkdir(at), mknod(at) for FIFOs and regular files,
 * rmdir, unlink(at), rename, renameat2 (NOREPLACE, EXCHANGE), link(at), symlink(at),
 * chmod/fchmod/fchmodat, chown/fchown/lchown/fchownat, utimensat/futimesat/utimes/utime,
 * truncate/ftruncate, fallocate, fsync/fdatasync/sync/syncfs, xattrs, umask, MAP_SHARED
 * coherency, with their error cases. Prints only what must match natively and in the sentry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

static void show(const char *what, long r) {
  if (r < 0) {
    printf("%s = -1 %s\n", what, strerrorname_np(errno));
  } else {
    printf("%s = %ld\n", what, r);
  }
}

#define T(call)                 \
  do {                          \
    errno = 0;                  \
    show(#call, (long)(call));  \
  } while (0)

static void st(const char *path) {
  struct stat s;
  if (lstat(path, &s) < 0) {
    printf("stat %s: %s\n", path, strerrorname_np(errno));
    return;
  }
  // Directory sizes are the filesystem's business (4096 on ext4, small on tmpfs).
  printf("stat %s: mode=%o nlink=%ld size=%ld uid=%d gid=%d\n", path, s.st_mode, (long)s.st_nlink,
         S_ISDIR(s.st_mode) ? 0L : (long)s.st_size, s.st_uid, s.st_gid);
}

static long mtime(const char *path) {
  struct stat s;
  if (lstat(path, &s) < 0) return -1;
  return (long)s.st_mtime;
}

static void cat(const char *path) {
  char buf[256];
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("cat %s: %s\n", path, strerrorname_np(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  printf("cat %s: [%s]\n", path, buf);
}

static int renameat2_(int od, const char *o, int nd, const char *n, unsigned f) {
  return syscall(SYS_renameat2, od, o, nd, n, f);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  T(umask(022));
  // creat, open flags.
  int fd = creat("f1", 0666);
  T(fd >= 0);
  T(write(fd, "hello", 5));
  T(read(fd, (char[4]){0}, 4));
  close(fd);
  st("f1");
  T(open("f1", O_CREAT | O_EXCL | O_WRONLY, 0600));
  T(open("missing/x", O_CREAT | O_WRONLY, 0600));
  T(open("newdir/", O_CREAT | O_WRONLY, 0600));
  fd = open("f1", O_WRONLY | O_APPEND);
  T(write(fd, " world", 6));
  T(lseek(fd, 0, SEEK_CUR));
  T(pwrite(fd, "!", 1, 0));
  close(fd);
  cat("f1");
  fd = open("f1", O_RDWR | O_TRUNC);
  st("f1");
  T(write(fd, "abc", 3));
  T(ftruncate(fd, 10));
  st("f1");
  T(ftruncate(fd, -1));
  close(fd);
  fd = open("f1", O_RDONLY);
  T(ftruncate(fd, 1));
  close(fd);
  T(truncate("f1", 2));
  cat("f1");
  T(truncate(".", 0));
  T(open("f0", O_CREAT | O_RDWR, 0) >= 0);  // created mode 0 but opened read-write
  st("f0");

  // mkdir, rmdir.
  T(mkdir("d", 0777));
  st("d");
  T(mkdir("d", 0777));
  T(mkdir("d/e/f", 0777));
  T(mkdir("f1/x", 0777));
  T(mkdir("d/e/", 0700));
  st("d");
  T(rmdir("d"));
  T(rmdir("d/e/."));
  T(rmdir("d/e/.."));
  T(rmdir("f1"));
  T(rmdir("nope"));
  T(rmdir("d/e"));
  st("d");
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  T(mkdirat(dfd, "g", 0750));
  st("d/g");
  T(unlinkat(dfd, "g", 0));
  T(unlinkat(dfd, "g", AT_REMOVEDIR));
  T(unlinkat(dfd, "g", 0x8000));

  // mknod: FIFOs, regular files; devices need privilege.
  T(mknod("fifo", S_IFIFO | 0644, 0));
  st("fifo");
  T(mknod("reg", S_IFREG | 0600, 0));
  st("reg");
  T(mknod("dir", S_IFDIR | 0600, 0));
  T(mknodat(dfd, "fifo2", S_IFIFO | 0600, 0));
  T(open("fifo", O_WRONLY | O_NONBLOCK));
  int rfd = open("fifo", O_RDONLY | O_NONBLOCK);
  int wfd = open("fifo", O_WRONLY | O_NONBLOCK);
  T(write(wfd, "pipe", 4));
  char pb[8] = {0};
  T(read(rfd, pb, sizeof pb));
  printf("fifo read: %s\n", pb);
  close(rfd);
  close(wfd);
  pid_t pid = fork();
  if (pid == 0) {
    int w = open("fifo", O_WRONLY);  // waits for the reader
    write(w, "blocking", 8);
    _exit(0);
  }
  rfd = open("fifo", O_RDONLY);  // waits for the writer
  memset(pb, 0, sizeof pb);
  T(read(rfd, pb, 8));
  printf("fifo read: %.8s\n", pb);
  waitpid(pid, NULL, 0);
  close(rfd);

  // unlink.
  T(unlink("fifo"));
  T(unlink("fifo"));
  T(unlink("d"));
  T(unlink("f1/"));
  T(unlink("reg"));

  // symlink, link.
  T(symlink("f1", "s1"));
  T(symlink("f1", "s1"));
  T(symlink("", "s2"));
  T(symlink("dangling", "s3"));
  T(open("s3", O_CREAT | O_WRONLY, 0644) >= 0);  // creates the target
  st("dangling");
  T(open("s3", O_CREAT | O_EXCL | O_WRONLY, 0644));
  char lb[64] = {0};
  T(readlink("s1", lb, sizeof lb));
  printf("readlink: %s\n", lb);
  T(link("f1", "h1"));
  st("f1");
  T(link("f1", "h1"));
  T(link("d", "hd"));
  T(link("nope", "h2"));
  T(linkat(AT_FDCWD, "s1", AT_FDCWD, "h3", 0));
  st("h3");
  T(linkat(AT_FDCWD, "s1", AT_FDCWD, "h4", AT_SYMLINK_FOLLOW));
  st("f1");
  T(unlink("h1"));
  T(unlink("h4"));
  st("f1");

  // rename.
  T(rename("f1", "f2"));
  cat("f2");
  T(rename("f1", "f3"));
  T(rename("f2", "d"));
  T(mkdir("d2", 0755));
  T(mkdir("d2/x", 0755));
  T(rename("d", "d2"));
  T(rmdir("d2/x"));
  T(rename("d", "d2"));
  st("d");
  st("d2");
  T(rename("d2", "d2/sub"));
  T(rename(".", "x"));
  T(rename("f2", "f2/"));
  T(creat("a", 0644) >= 0);
  T(creat("b", 0600) >= 0);
  T(renameat2_(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE));
  T(renameat2_(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE));
  st("a");
  st("b");
  T(renameat2_(AT_FDCWD, "a", AT_FDCWD, "zz", RENAME_EXCHANGE));
  T(renameat2_(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE | RENAME_NOREPLACE));
  T(renameat2_(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
  T(link("c", "c2"));
  T(rename("c", "c2"));  // hard links of one inode: nothing happens
  st("c");

  // chmod, chown.
  T(chmod("c", 04755));
  st("c");
  T(chown("c", 1, 2));
  st("c");
  T(fchmodat(AT_FDCWD, "s1", 0600, AT_SYMLINK_NOFOLLOW));
  T(lchown("s1", 3, 4));
  st("s1");
  fd = open("c", O_RDONLY);
  T(fchmod(fd, 0640));
  T(fchown(fd, -1, 5));
  st("c");
  close(fd);
  fd = open(".", O_PATH);
  T(fchmod(fd, 0700));
  close(fd);
  T(chmod("nope", 0700));
  T(fchownat(AT_FDCWD, "c", 0, 0, 0x4));

  // Times.
  struct timespec ts[2] = {{1000000, 5}, {2000000, 7}};
  T(utimensat(AT_FDCWD, "c", ts, 0));
  printf("mtime c: %ld\n", mtime("c"));
  struct timespec omit[2] = {{0, UTIME_OMIT}, {3000000, 0}};
  T(utimensat(AT_FDCWD, "c", omit, 0));
  printf("mtime c: %ld\n", mtime("c"));
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  T(utimensat(AT_FDCWD, "c", bad, 0));
  struct timeval tv[2] = {{4000000, 0}, {5000000, 0}};
  T(utimes("c", tv));
  printf("mtime c: %ld\n", mtime("c"));
  T(futimesat(AT_FDCWD, "c", tv));
  struct utimbuf ub = {6000000, 7000000};
  T(utime("c", &ub));
  printf("mtime c: %ld\n", mtime("c"));
  T(utimensat(AT_FDCWD, "s1", ts, AT_SYMLINK_NOFOLLOW));
  printf("mtime s1: %ld\n", mtime("s1"));
  T(syscall(SYS_utimensat, AT_FDCWD, NULL, ts, 0));
  // Both omitted: nothing to do, the path is not even looked up, bad flags not seen.
  struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  T(utimensat(AT_FDCWD, "no/such/file", both_omit, 0));
  T(utimensat(AT_FDCWD, "no/such/file", both_omit, -1));
  T(utimensat(AT_FDCWD, "c", bad, -1));
  // A null path acts on the descriptor: not an O_PATH one, and with no flags.
  fd = open("c", O_PATH);
  T(syscall(SYS_utimensat, fd, NULL, ts, 0));
  T(futimesat(fd, NULL, tv));
  close(fd);
  fd = open("c", O_RDONLY);
  T(syscall(SYS_utimensat, fd, NULL, ts, AT_SYMLINK_NOFOLLOW));
  T(futimesat(fd, NULL, tv));
  printf("mtime c: %ld\n", mtime("c"));
  close(fd);
  long before = mtime("d2");
  sleep(1);
  T(creat("d2/new", 0644) >= 0);
  printf("dir mtime moved: %d\n", mtime("d2") > before);

  // fallocate, sync.
  fd = open("c", O_RDWR | O_TRUNC);
  T(fallocate(fd, 0, 0, 8192));
  st("c");
  T(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 100000));
  st("c");
  T(fallocate(fd, 0, -1, 10));
  T(fallocate(fd, 0, 0, 0));
  T(fsync(fd));
  T(fdatasync(fd));
  T(syncfs(fd));
  close(fd);
  sync();
  int p[2];
  pipe(p);
  T(fsync(p[0]));
  close(p[0]);
  close(p[1]);

  // xattrs.
  T(setxattr("c", "user.a", "v1", 2, 0));
  T(setxattr("c", "user.a", "v2", 2, XATTR_CREATE));
  T(setxattr("c", "user.b", "v3", 2, XATTR_REPLACE));
  T(setxattr("c", "user.b", "value", 5, 0));
  T(setxattr("c", "bogus.b", "v", 1, 0));
  char xb[64] = {0};
  T(getxattr("c", "user.a", xb, sizeof xb));
  printf("xattr: %s\n", xb);
  T(getxattr("c", "user.b", NULL, 0));
  T(getxattr("c", "user.b", xb, 2));
  T(getxattr("c", "user.none", xb, sizeof xb));
  T(listxattr("c", NULL, 0));
  T(removexattr("c", "user.a"));
  T(removexattr("c", "user.a"));
  memset(xb, 0, sizeof xb);
  T(listxattr("c", xb, sizeof xb));
  printf("list: %s\n", xb);
  T(lsetxattr("s1", "user.x", "v", 1, 0));
  fd = open("c", O_RDONLY);
  T(fgetxattr(fd, "user.b", xb, sizeof xb));
  close(fd);

  // MAP_SHARED: a child's store is seen by read(2), and a write(2) by the mapping.
  fd = open("m", O_CREAT | O_RDWR, 0644);
  T(ftruncate(fd, 4096));
  char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  pid = fork();
  if (pid == 0) {
    int cfd = open("m", O_RDWR);
    char *cm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    memcpy(cm, "from child", 10);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  memset(xb, 0, sizeof xb);
  T(pread(fd, xb, 10, 0));
  printf("read after child's store: %s\n", xb);
  T(pwrite(fd, "WRITE", 5, 100));
  printf("mapping after write: %.5s\n", m + 100);
  munmap(m, 4096);
  close(fd);

  // umask applies to creation.
  T(umask(077));
  T(creat("u", 0666) >= 0);
  T(mkdir("ud", 0777));
  st("u");
  st("ud");
  return 0;
}
