/* Reading a symlink moves its atime under relatime, whether by following it (Linux's pick_link)
 * or by readlink(2) (do_readlinkat): its times set two days back first, each read is checked
 * by lstat. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

static char dir[64], target[96], link_[96];

static void age(void) {
  struct timespec ts[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
  utimensat(AT_FDCWD, link_, ts, AT_SYMLINK_NOFOLLOW);
}

static int moved(void) {
  struct stat st;
  lstat(link_, &st);
  return st.st_atim.tv_sec > time(NULL) - 3600;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  strcpy(dir, "/tmp/symlink_atime.XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;
  snprintf(target, sizeof(target), "%s/target", dir);
  snprintf(link_, sizeof(link_), "%s/link", dir);
  close(open(target, O_CREAT | O_WRONLY, 0644));
  symlink(target, link_);
  age();
  printf("aged: atime moved %d\n", moved());
  struct stat st;
  stat(link_, &st);
  printf("after stat through it: atime moved %d\n", moved());
  age();
  lstat(link_, &st);
  printf("after lstat: atime moved %d\n", moved());
  char buf[128];
  readlink(link_, buf, sizeof(buf));
  printf("after readlink: atime moved %d\n", moved());
  age();
  close(open(link_, O_RDONLY));
  printf("after open through it: atime moved %d\n", moved());
  unlink(link_);
  unlink(target);
  rmdir(dir);
  return 0;
}
