/*
 * tmpfs's size= counts allocated pages, as Linux's shmem: the limit is rounded up to a page;
 * ftruncate allocates nothing (a file may be larger than the filesystem) and frees the pages
 * past the new end; fallocate allocates its whole range or fails with ENOSPC; a write allocates
 * the pages it reaches in order and stops at the first that does not fit (a short write, then
 * ENOSPC); a symlink longer than 127 bytes takes a page, a shorter one none; unlink of the last
 * link and FALLOC_FL_PUNCH_HOLE give pages back; statfs counts them; /proc/self/mounts shows
 * size= and mode=; statfs's f_flags carry the mount's flags; MS_NOATIME keeps atime. Natively it
 * runs in a mount namespace of its own with / made private. Prints what each step returned.
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
#include <unistd.h>

#define PAGE 4096

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

static long size_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

static long bfree(const char *dir) {
  struct statfs st;
  return statfs(dir, &st) == 0 ? (long)st.f_bfree : -1;
}

static char dir[] = "/tmp/tmpfs-size-XXXXXX";

static int fresh(const char *opts, unsigned long flags) {
  umount2(dir, MNT_DETACH);
  return mount("none", dir, "tmpfs", flags, opts);
}

static int create(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return open(path, O_RDWR | O_CREAT, 0666);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mkdtemp(dir) == NULL) return 1;
  char buf[2 * PAGE + 2];
  memset(buf, 'x', sizeof buf);

  /* size= rounds up to a page; fallocate is all or nothing. */
  show("mount size=2048", fresh("size=2048", 0));
  int fd = create("f");
  show("statfs bfree", bfree(dir));
  show("fallocate one page", fallocate(fd, 0, 0, PAGE));
  show("fallocate one page and a byte", fallocate(fd, 0, 0, PAGE + 1));
  show("size", size_of(fd));
  show("statfs bfree", bfree(dir));
  close(fd);

  /* ftruncate allocates nothing and frees what is cut off. */
  show("mount size=4096", fresh("size=4096", 0));
  fd = create("f");
  show("ftruncate to 3 pages", ftruncate(fd, 3 * PAGE));
  show("size", size_of(fd));
  show("pwrite at the last page", pwrite(fd, buf, 10, 2 * PAGE));
  show("pwrite at the first page", pwrite(fd, buf, 10, 0));
  show("ftruncate to 1 page", ftruncate(fd, PAGE));
  show("pwrite at the first page", pwrite(fd, buf, 10, 0));
  show("ftruncate to 0", ftruncate(fd, 0));
  show("fallocate one page", fallocate(fd, 0, 0, PAGE));
  show("punch the page", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE));
  show("statfs bfree", bfree(dir));
  close(fd);

  /* Writes stop at the first page that does not fit. */
  show("mount size=12288", fresh("size=12288", 0));
  fd = create("f");
  show("lseek", lseek(fd, PAGE, SEEK_SET));
  show("write 4", write(fd, buf, 4));
  show("write to the page's end", write(fd, buf, PAGE - 4));
  show("write a page and a byte", write(fd, buf, PAGE + 1));
  show("write a page and a byte", write(fd, buf, PAGE + 1));
  show("write 1", write(fd, buf, 1));
  show("size", size_of(fd));
  show("pwrite into the first page", pwrite(fd, buf, 1, 0));
  close(fd);

  /* Symlinks: 127 bytes fit inline, 128 take a page; unlink gives it back. */
  show("mount size=4096", fresh("size=4096", 0));
  char target[130], path[200];
  memset(target, 'a', sizeof target);
  target[127] = 0;
  snprintf(path, sizeof path, "%s/s1", dir);
  show("symlink of 127 bytes", symlink(target, path));
  target[127] = 'a';
  target[128] = 0;
  snprintf(path, sizeof path, "%s/s2", dir);
  show("symlink of 128 bytes", symlink(target, path));
  snprintf(path, sizeof path, "%s/s3", dir);
  show("another symlink of 128 bytes", symlink(target, path));
  fd = create("f");
  show("fallocate one page", fallocate(fd, 0, 0, PAGE));
  snprintf(path, sizeof path, "%s/s2", dir);
  show("unlink the long symlink", unlink(path));
  show("fallocate one page", fallocate(fd, 0, 0, PAGE));
  close(fd);
  /* An unlinked file's pages go with its last descriptor. */
  snprintf(path, sizeof path, "%s/f", dir);
  fd = open(path, O_RDWR);
  show("unlink f", unlink(path));
  show("statfs bfree while open", bfree(dir));
  close(fd);
  show("statfs bfree once closed", bfree(dir));

  /* Options in /proc/self/mounts, flags in statfs. */
  show("mount size=8k,mode=0123 noexec", fresh("size=8k,mode=0123", MS_NOEXEC | MS_NOSUID));
  FILE *m = fopen("/proc/self/mounts", "r");
  char line[512];
  while (m != NULL && fgets(line, sizeof line, m) != NULL) {
    if (strstr(line, dir) == NULL) continue;
    printf("mounts: noexec %d nosuid %d size=8k %d mode=123 %d\n", strstr(line, "noexec") != NULL,
           strstr(line, "nosuid") != NULL, strstr(line, "size=8k") != NULL, strstr(line, "mode=123") != NULL);
  }
  if (m != NULL) fclose(m);
  struct statfs sf;
  if (statfs(dir, &sf) == 0) {
    printf("f_flags noexec %d nosuid %d noatime %d\n", (sf.f_flags & ST_NOEXEC) != 0, (sf.f_flags & ST_NOSUID) != 0,
           (sf.f_flags & ST_NOATIME) != 0);
  }
  show("mount noatime", fresh("", MS_NOATIME));
  if (statfs(dir, &sf) == 0) printf("f_flags noatime %d\n", (sf.f_flags & ST_NOATIME) != 0);
  fd = create("f");
  show("write", write(fd, buf, 10));
  struct stat a, b;
  fstat(fd, &a);
  usleep(20000);
  show("pread", pread(fd, buf, 10, 0));
  fstat(fd, &b);
  printf("atime kept under noatime: %d\n", a.st_atim.tv_sec == b.st_atim.tv_sec && a.st_atim.tv_nsec == b.st_atim.tv_nsec);
  close(fd);

  show("umount", umount2(dir, 0));
  rmdir(dir);
  return 0;
}
