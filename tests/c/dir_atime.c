/* Listing a directory moves its atime as Linux's file_accessed does under relatime: when atime
 * is not newer than mtime (a file was made in it since), not again right after, and never
 * through an O_NOATIME descriptor. In $TMPDIR (or /tmp) and /dev/shm. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct timespec atime_of(const char *p) {
  struct stat st;
  stat(p, &st);
  return st.st_atim;
}

static int moved(struct timespec a, struct timespec b) {
  return a.tv_sec != b.tv_sec || a.tv_nsec != b.tv_nsec;
}

static void list(const char *d, int flags) {
  int fd = open(d, O_RDONLY | O_DIRECTORY | flags);
  DIR *dd = fdopendir(fd);
  while (readdir(dd)) {}
  closedir(dd);
}

static void in(const char *top) {
  char d[256], f[300];
  snprintf(d, sizeof d, "%s/dir_atime.%d", top, getpid());
  mkdir(d, 0755);
  snprintf(f, sizeof f, "%s/a", d);
  close(open(f, O_CREAT | O_WRONLY, 0644));
  struct timespec t0 = atime_of(d);
  usleep(20000);
  list(d, 0);
  struct timespec t1 = atime_of(d);
  usleep(20000);
  list(d, 0);
  struct timespec t2 = atime_of(d);
  snprintf(f, sizeof f, "%s/b", d);
  close(open(f, O_CREAT | O_WRONLY, 0644));
  struct timespec t3 = atime_of(d);
  usleep(20000);
  list(d, O_NOATIME);
  struct timespec t4 = atime_of(d);
  printf("%s: listed after a create: moved %d; again at once: moved %d; O_NOATIME: moved %d\n",
         top[1] == 'd' ? "/dev/shm" : "TMPDIR", moved(t0, t1), moved(t1, t2), moved(t3, t4));
  unlink(f);
  snprintf(f, sizeof f, "%s/a", d);
  unlink(f);
  rmdir(d);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  in(tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
  in("/dev/shm");
  return 0;
}
