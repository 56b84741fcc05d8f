/* lseek(2)'s SEEK_DATA and SEEK_HOLE on tmpfs, on an overlay over tmpfs (the lower file and the
 * copied-up one), on a memfd and on a host file: written pages (zeros too) are data, pages never
 * written, punched out or only fallocated are holes, the end of the file is a hole, an offset at
 * or past the end or negative is ENXIO; also while the file is mapped shared (a store into a hole
 * makes it data) and after the mapping goes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096

static void seeks(const char *what, int fd) {
  struct stat st;
  fstat(fd, &st);
  long size = st.st_size;
  long offs[] = {-1, 0, 1, PAGE - 1, PAGE, PAGE + 7, 2 * PAGE, 3 * PAGE + 5, 5 * PAGE, 8 * PAGE - 1, 8 * PAGE, size - 1, size, size + 1, 1L << 40};
  printf("%s (size %ld):", what, size);
  for (unsigned i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    errno = 0;
    long d = lseek(fd, offs[i], SEEK_DATA);
    int ed = errno;
    errno = 0;
    long h = lseek(fd, offs[i], SEEK_HOLE);
    int eh = errno;
    printf(" %ld:", offs[i]);
    if (d < 0) printf("%s", strerrorname_np(ed)); else printf("%ld", d);
    printf("/");
    if (h < 0) printf("%s", strerrorname_np(eh)); else printf("%ld", h);
  }
  printf(" pos %ld\n", (long)lseek(fd, 0, SEEK_CUR));
}

/* Pages 1 and 4 written (4 with zeros), 6 partly, size 8 pages + 100. */
static void layout(int fd) {
  char buf[PAGE];
  memset(buf, 'a', sizeof buf);
  pwrite(fd, buf, PAGE, PAGE);
  memset(buf, 0, sizeof buf);
  pwrite(fd, buf, PAGE, 4 * PAGE);
  pwrite(fd, "x", 1, 6 * PAGE + 10);
  ftruncate(fd, 8 * PAGE + 100);
}

static void exercise(const char *name, int fd) {
  char what[128];
  snprintf(what, sizeof what, "%s empty", name);
  seeks(what, fd);
  layout(fd);
  snprintf(what, sizeof what, "%s layout", name);
  seeks(what, fd);
  /* fallocate: a hole on shmem; punch: page 4 goes, page 6 only partly. */
  fallocate(fd, 0, 2 * PAGE, PAGE);
  fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * PAGE, PAGE + 20);
  snprintf(what, sizeof what, "%s fallocate+punch", name);
  seeks(what, fd);
  char *m = mmap(NULL, 9 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return; }
  snprintf(what, sizeof what, "%s mapped", name);
  seeks(what, fd);
  m[7 * PAGE + 3] = 'm';
  volatile char c = m[3 * PAGE]; /* a read of a hole makes no data */
  (void)c;
  snprintf(what, sizeof what, "%s mapped, stored", name);
  seeks(what, fd);
  munmap(m, 9 * PAGE);
  ftruncate(fd, 5 * PAGE);
  snprintf(what, sizeof what, "%s truncated", name);
  seeks(what, fd);
  ftruncate(fd, 12 * PAGE);
  snprintf(what, sizeof what, "%s extended", name);
  seeks(what, fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  char dir[] = "/tmp/seek-hole-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  if (mount("none", dir, "tmpfs", 0, NULL) != 0) { perror("tmpfs"); return 1; }
  char path[512];
  snprintf(path, sizeof path, "%s/f", dir);
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  exercise("tmpfs", fd);
  close(fd);
  fd = open(path, O_RDONLY);
  seeks("tmpfs reopened", fd);
  close(fd);

  fd = memfd_create("m", 0);
  exercise("memfd", fd);
  close(fd);

  /* An overlay over tmpfs: the lower file's holes, then the copy-up's. */
  char lower[300], upper[300], work[300], merged[300], opts[1024];
  snprintf(lower, sizeof lower, "%s/lower", dir);
  snprintf(upper, sizeof upper, "%s/upper", dir);
  snprintf(work, sizeof work, "%s/work", dir);
  snprintf(merged, sizeof merged, "%s/merged", dir);
  mkdir(lower, 0755); mkdir(upper, 0755); mkdir(work, 0755); mkdir(merged, 0755);
  snprintf(path, sizeof path, "%s/g", lower);
  fd = open(path, O_RDWR | O_CREAT, 0644);
  layout(fd);
  close(fd);
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
  if (mount("overlay", merged, "overlay", 0, opts) != 0) { perror("overlay"); return 1; }
  snprintf(path, sizeof path, "%s/g", merged);
  fd = open(path, O_RDONLY);
  seeks("overlay lower", fd);
  close(fd);
  snprintf(path, sizeof path, "%s/h", merged);
  fd = open(path, O_RDWR | O_CREAT, 0644);
  exercise("overlay upper", fd);
  close(fd);

  /* A host file without holes: this program. */
  fd = open("/proc/self/exe", O_RDONLY);
  struct stat st;
  fstat(fd, &st);
  errno = 0;
  printf("exe: data at 0 %d, hole at 0 is the size %d, data at the size %s\n", (int)lseek(fd, 0, SEEK_DATA),
         lseek(fd, 0, SEEK_HOLE) == st.st_size, lseek(fd, st.st_size, SEEK_DATA) < 0 ? strerrorname_np(errno) : "?");
  close(fd);
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  return 0;
}
