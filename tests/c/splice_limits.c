/* splice, sendfile and copy_file_range under RLIMIT_FSIZE (EFBIG at the limit, with the pipe's
 * bytes left in it; a transfer cut short of it) and the inotify events they make (IN_ACCESS on
 * the source, IN_MODIFY on the destination); sendfile's EINVAL for a negative count, an offset
 * the count carries past 2^63 - 1, and a directory as the input. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include "_check.h"

static void events(int in, const char *what) {
  char buf[1024];
  long n = read(in, buf, sizeof(buf));
  int access = 0, modify = 0;
  for (long off = 0; off < n;) {
    struct inotify_event *e = (struct inotify_event *)(buf + off);
    if (e->mask & IN_ACCESS) access = 1;
    if (e->mask & IN_MODIFY) modify = 1;
    off += sizeof(*e) + e->len;
  }
  printf("  %s: IN_ACCESS %d, IN_MODIFY %d\n", what, access, modify);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGXFSZ, SIG_IGN);
  char dir[] = "/tmp/splice_limits.XXXXXX";
  mkdtemp(dir);
  char a[64], b[64];
  snprintf(a, sizeof(a), "%s/a", dir);
  snprintf(b, sizeof(b), "%s/b", dir);
  int fa = open(a, O_CREAT | O_RDWR, 0644), fb = open(b, O_CREAT | O_RDWR, 0644);
  char block[4096];
  memset(block, 'x', sizeof(block));
  write(fa, block, sizeof(block));
  int in = inotify_init1(IN_NONBLOCK);
  inotify_add_watch(in, a, IN_ACCESS | IN_MODIFY);
  inotify_add_watch(in, b, IN_ACCESS | IN_MODIFY);

  int p[2];
  pipe(p);
  write(p[1], block, 100);
  loff_t off = 0;
  R("splice pipe -> file", splice(p[0], NULL, fb, &off, 100, 0));
  events(in, "after splice");
  off = 0;
  R("sendfile file -> file", sendfile(fb, fa, &off, 50));
  events(in, "after sendfile");

  struct rlimit rl = {4096, RLIM_INFINITY};
  setrlimit(RLIMIT_FSIZE, &rl);
  write(p[1], block, 100);
  loff_t at = 4096;
  R("splice to the limit", splice(p[0], NULL, fb, &at, 100, 0));
  char back[200];
  R("  the pipe still holds", read(p[0], back, sizeof(back)));
  write(p[1], block, 100);
  at = 4050;
  R("splice across the limit", splice(p[0], NULL, fb, &at, 100, 0));
  R("  left in the pipe", read(p[0], back, sizeof(back)));
  off = 0;
  lseek(fb, 4096, SEEK_SET);
  R("sendfile at the limit", sendfile(fb, fa, &off, 10));
  loff_t oi = 0, oo = 4096;
  R("copy_file_range at the limit", copy_file_range(fa, &oi, fb, &oo, 10, 0));
  oi = 0;
  oo = 4090;
  R("copy_file_range across the limit", copy_file_range(fa, &oi, fb, &oo, 10, 0));
  rl.rlim_cur = RLIM_INFINITY;
  setrlimit(RLIMIT_FSIZE, &rl);
  off = 0x7ffffffffffffffeLL;
  R("sendfile with an offset the count overflows", sendfile(fb, fa, &off, 3));
  R("sendfile of -1 bytes", sendfile(fb, fa, NULL, (size_t)-1));
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  R("sendfile from a directory", sendfile(fb, d, NULL, 1));
  close(d);
  unlink(a);
  unlink(b);
  rmdir(dir);
  return 0;
}
