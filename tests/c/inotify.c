/* inotify: the events of creating, opening, reading, writing, closing, changing, linking,
 * renaming and removing files and directories, as the directory and the file itself hear them;
 * cookies of a move; IN_ONESHOT, IN_EXCL_UNLINK, IN_DONT_FOLLOW, IN_ONLYDIR, IN_MASK_ADD,
 * IN_MASK_CREATE; rm_watch and IN_IGNORED; coalescing; queue overflow; short reads; poll, epoll,
 * FIONREAD and a blocking read woken by another process; the error cases. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "_check.h"

static const char *names[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
                              "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF"};
static int in;
static unsigned last_cookie;

static void show(const struct inotify_event *e) {
  printf("  wd=%d", e->wd);
  for (int i = 0; i < 12; i++)
    if (e->mask & (1u << i)) printf(" %s", names[i]);
  if (e->mask & IN_ISDIR) printf(" ISDIR");
  if (e->mask & IN_IGNORED) printf(" IGNORED");
  if (e->mask & IN_Q_OVERFLOW) printf(" Q_OVERFLOW");
  if (e->cookie) printf(" cookie=%s", e->cookie == last_cookie ? "same" : "new");
  if (e->cookie) last_cookie = e->cookie;
  printf(" len=%u %s\n", e->len, e->len ? e->name : "");
}

/* Prints every queued event (the instance is non-blocking). */
static void dump(const char *what) {
  static char buf[65536];
  printf("-- %s\n", what);
  for (;;) {
    long n = read(in, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN) printf("  read: %s\n", en(errno));
      return;
    }
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *e = (void *)p;
      show(e);
      p += sizeof *e + e->len;
    }
  }
}

static int queued(void) {
  int n = -1;
  ioctl(in, FIONREAD, &n);
  return n;
}

static void errors(void) {
  R("init1 bad flag", inotify_init1(1));
  R("mask 0", inotify_add_watch(in, ".", 0));
  R("mask of an unknown bit", inotify_add_watch(in, ".", 0x1000));
  R("MASK_ADD|MASK_CREATE", inotify_add_watch(in, ".", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
  R("bad fd", inotify_add_watch(99, ".", IN_MODIFY));
  R("not an inotify fd", inotify_add_watch(1, ".", IN_MODIFY));
  R("missing path", inotify_add_watch(in, "nope", IN_MODIFY));
  R("empty path", inotify_add_watch(in, "", IN_MODIFY));
  R("bad path pointer", inotify_add_watch(in, (char *)8, IN_MODIFY));
  R("rm_watch unknown wd", inotify_rm_watch(in, 4242));
  R("rm_watch not inotify", inotify_rm_watch(1, 1));
  R("rm_watch bad fd", inotify_rm_watch(99, 1));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/inotify-test-XXXXXX";
  if (!mkdtemp(dir) || chdir(dir)) return 1;
  in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  printf("cloexec=%d nonblock=%d\n", (fcntl(in, F_GETFD) & FD_CLOEXEC) != 0, (fcntl(in, F_GETFL) & O_NONBLOCK) != 0);
  errors();

  int wd = inotify_add_watch(in, ".", IN_ALL_EVENTS);
  printf("dir wd=%d\n", wd);
  int fd = open("f", O_CREAT | O_WRONLY, 0644);
  dump("creat f");
  int wf = inotify_add_watch(in, "f", IN_ALL_EVENTS);
  printf("file wd=%d\n", wf);
  R("write", write(fd, "xy", 2));
  R("write", write(fd, "z", 1));
  R("write 0 bytes", write(fd, "", 0));
  dump("writes (the empty one is silent)");
  close(fd);
  dump("close");
  fd = open("f", O_RDONLY);
  char c[8];
  R("read", read(fd, c, 2));
  R("read", read(fd, c, 8));
  R("read at end", read(fd, c, 8));
  R("pread", pread(fd, c, 1, 0));
  close(fd);
  dump("open, reads, close");
  fd = open("f", O_WRONLY | O_TRUNC);
  close(fd);
  dump("open O_TRUNC");
  chmod("f", 0600);
  chown("f", -1, -1);
  dump("chmod, chown -1 -1");
  truncate("f", 10);
  dump("truncate");
  struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  utimensat(AT_FDCWD, "f", ts, 0);
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_nsec = UTIME_NOW;
  utimensat(AT_FDCWD, "f", ts, 0);
  utimensat(AT_FDCWD, "f", NULL, 0);
  dump("utimensat atime, mtime, both");
  R("setxattr", setxattr("f", "user.k", "v", 1, 0));
  dump("setxattr");
  fd = open("f", O_PATH);
  close(fd);
  dump("O_PATH open and close (silent)");

  /* Directories. */
  mkdir("sub", 0755);
  dump("mkdir");
  DIR *dd = opendir(".");
  while (readdir(dd)) {}
  closedir(dd);
  dump("opendir, readdir, closedir");
  rename("f", "sub/g");
  dump("rename f -> sub/g (to an unwatched directory)");
  int ws = inotify_add_watch(in, "sub", IN_ALL_EVENTS | IN_ONLYDIR);
  printf("sub wd=%d\n", ws);
  rename("sub/g", "h");
  dump("rename sub/g -> h (between watched directories)");
  chmod("sub", 0700);
  dump("chmod sub");
  symlink("h", "link");
  mknod("fifo", S_IFIFO | 0600, 0);
  dump("symlink, mknod");
  int wl = inotify_add_watch(in, "link", IN_ATTRIB | IN_DONT_FOLLOW);
  int wh = inotify_add_watch(in, "link", IN_ATTRIB);
  printf("link wd=%d (own), through it wd=%d (h's)\n", wl, wh);
  R("ONLYDIR on a file", inotify_add_watch(in, "h", IN_ATTRIB | IN_ONLYDIR));
  R("MASK_CREATE on a watched file", inotify_add_watch(in, "h", IN_ATTRIB | IN_MASK_CREATE));
  unlink("link");
  unlink("fifo");
  dump("unlink link and fifo");

  /* Changing a watch's mask. */
  R("watch h for OPEN only", inotify_add_watch(in, "h", IN_OPEN));
  inotify_rm_watch(in, wd);
  dump("rm_watch of the directory");
  fd = open("h", O_RDWR);
  R("write", write(fd, "a", 1));
  close(fd);
  dump("h: open, write, close (only OPEN watched)");
  R("MASK_ADD MODIFY", inotify_add_watch(in, "h", IN_MODIFY | IN_MASK_ADD));
  fd = open("h", O_RDWR);
  R("write", write(fd, "a", 1));
  close(fd);
  dump("h: open, write, close (OPEN|MODIFY)");

  /* Coalescing: the same event twice in a row is queued once. */
  fd = open("h", O_WRONLY);
  for (int i = 0; i < 5; i++) write(fd, "b", 1);
  printf("fionread after 5 writes=%d\n", queued());
  dump("five writes");

  /* IN_ONESHOT. */
  int wo = inotify_add_watch(in, "sub", IN_CREATE | IN_ONESHOT);
  printf("oneshot wd=%d (sub's)\n", wo);
  close(open("sub/one", O_CREAT | O_WRONLY, 0600));
  close(open("sub/two", O_CREAT | O_WRONLY, 0600));
  dump("two creates under a one-shot watch");

  /* IN_EXCL_UNLINK: an unlinked child is not heard. */
  mkdir("ex", 0755);
  int we = inotify_add_watch(in, "ex", IN_MODIFY | IN_EXCL_UNLINK);
  int wn = inotify_add_watch(in, "sub", IN_MODIFY);
  int a = open("ex/a", O_CREAT | O_WRONLY, 0600), b = open("sub/b", O_CREAT | O_WRONLY, 0600);
  unlink("ex/a");
  unlink("sub/b");
  write(a, "x", 1);
  write(b, "x", 1);
  close(a);
  close(b);
  printf("ex wd=%d sub wd=%d\n", we, wn);
  dump("writes to unlinked children (ex has IN_EXCL_UNLINK)");

  /*
   * Unlinked while open: the old directory still hears the name's reads, writes and close
   * (not a watch with IN_EXCL_UNLINK, which still hears attribute changes); IN_DELETE_SELF
   * waits for the last close, for a file and for a directory; a hard link's other name is
   * heard as usual (by the directory: a watch on a file is on its inode in Linux, one watch
   * for every name, which sentry does not do).
   */
  mkdir("ul", 0755);
  close(open("ul/f", O_CREAT | O_WRONLY, 0600));
  close(open("ul/e", O_CREAT | O_WRONLY, 0600));
  link("ul/e", "ul/g");
  mkdir("ul/d", 0755);
  int uf = open("ul/f", O_RDWR), ug = open("ul/g", O_RDWR), ud = open("ul/d", O_RDONLY | O_DIRECTORY);
  int ue = open("ul/e", O_RDWR);
  int wul = inotify_add_watch(in, "ul", IN_ALL_EVENTS);
  int wuf = inotify_add_watch(in, "ul/f", IN_ALL_EVENTS);
  int wud = inotify_add_watch(in, "ul/d", IN_ALL_EVENTS);
  printf("ul wd=%d f wd=%d d wd=%d\n", wul, wuf, wud);
  unlink("ul/f");
  unlink("ul/e");
  rmdir("ul/d");
  dump("unlink of open names (one with another link), rmdir of an open directory");
  write(uf, "x", 1);
  write(ue, "z", 1);
  write(ug, "y", 1);
  close(ue);
  fchmod(uf, 0640);
  dump("write and fchmod through the unlinked name, write through the other");
  close(uf);
  dump("close of the unlinked name");
  close(ud);
  dump("close of the removed directory");
  unlink("ul/g");
  dump("unlink of the last name, still open");
  close(ug);
  dump("its last close");
  close(open("ul/h", O_CREAT | O_WRONLY, 0600));
  int uh = open("ul/h", O_RDWR);
  int wux = inotify_add_watch(in, "ul", IN_ALL_EVENTS | IN_EXCL_UNLINK);
  int wuh = inotify_add_watch(in, "ul/h", IN_ALL_EVENTS | IN_EXCL_UNLINK);
  printf("ul wd=%d (IN_EXCL_UNLINK now) h wd=%d\n", wux, wuh);
  unlink("ul/h");
  write(uh, "x", 1);
  ftruncate(uh, 100);
  fchmod(uh, 0600);
  close(uh);
  dump("IN_EXCL_UNLINK: write and close unheard, truncate and fchmod heard, then delete-self");
  inotify_rm_watch(in, wux);
  rmdir("ul");
  dump("rmdir ul");

  /* Removal. */
  int wr = inotify_add_watch(in, "sub/one", IN_ALL_EVENTS);
  wd = inotify_add_watch(in, ".", IN_ALL_EVENTS);
  printf("one wd=%d dir wd=%d\n", wr, wd);
  unlink("sub/one");
  unlink("sub/two");
  rmdir("sub");
  dump("unlink sub/one (watched), sub/two, rmdir sub (watched)");
  close(open("x", O_CREAT | O_WRONLY, 0600));
  close(open("y", O_CREAT | O_WRONLY, 0600));
  int wx = inotify_add_watch(in, "x", IN_ALL_EVENTS), wy = inotify_add_watch(in, "y", IN_ALL_EVENTS);
  printf("x wd=%d y wd=%d\n", wx, wy);
  dump("x and y");
  rename("x", "y");
  dump("rename x over y");
  R("rm_watch of a gone watch", inotify_rm_watch(in, wy));
  R("rm_watch x's", inotify_rm_watch(in, wx));
  dump("rm_watch");

  /* Short reads. */
  close(open("name-of-twenty-chars", O_CREAT | O_WRONLY, 0600));
  char small[64];
  R("read 0 bytes with events queued", read(in, small, 0));
  R("read 16 bytes for a 48-byte event", read(in, small, 16));
  printf("fionread=%d\n", queued());
  R("read 60 bytes: one event", read(in, small, 60));
  dump("rest");
  R("read of an empty queue", read(in, small, sizeof small));

  /* Readiness. */
  struct pollfd p = {.fd = in, .events = POLLIN | POLLOUT};
  poll(&p, 1, 0);
  printf("poll empty=%#x\n", p.revents);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
  epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev);
  R("epoll_wait empty", epoll_wait(ep, &out, 1, 0));
  chmod(".", 0755);
  poll(&p, 1, 0);
  printf("poll after chmod .=%#x\n", p.revents);
  R("epoll_wait", epoll_wait(ep, &out, 1, 0));
  printf("epoll data=%u events=%#x\n", out.data.u32, out.events);
  dump("chmod .");
  close(ep);

  /* A blocking read woken by another process's create. */
  int bin = inotify_init();
  inotify_add_watch(bin, ".", IN_CREATE);
  pid_t child = fork();
  if (child == 0) {
    usleep(20000);
    close(open("from-child", O_CREAT | O_WRONLY, 0600));
    _exit(0);
  }
  char one[sizeof(struct inotify_event) + 16];
  long n = read(bin, one, sizeof one);
  printf("blocking read = %ld\n", n);
  if (n > 0) show((struct inotify_event *)one);
  waitpid(child, NULL, 0);
  close(bin);

  /* Overflow: 16384 events, then one IN_Q_OVERFLOW. */
  int wq = inotify_add_watch(in, "y", IN_MODIFY | IN_ATTRIB);
  fd = open("y", O_WRONLY);
  for (int i = 0; i < 9000; i++) {
    write(fd, "a", 1);
    fchmod(fd, 0600);
  }
  close(fd);
  printf("wd=%d fionread after 18000 alternating events=%d\n", wq, queued());
  static char big[1 << 20];
  long total = 0, events = 0;
  struct inotify_event *lastev = NULL;
  for (;;) {
    n = read(in, big, sizeof big);
    if (n <= 0) break;
    total += n;
    for (char *q = big; q < big + n;) {
      lastev = (void *)q;
      events++;
      q += sizeof *lastev + lastev->len;
    }
  }
  printf("read %ld bytes, %ld events\n", total, events);
  if (lastev) show(lastev);

  /* Closing the instance drops its watches: nothing is left to report. */
  close(in);
  unlink("y");
  unlink("h");
  unlink("from-child");
  unlink("name-of-twenty-chars");
  rmdir("ex");
  chdir("/");
  R("rmdir", rmdir(dir));
  return 0;
}
