/* fanotify: fanotify_init and fanotify_mark's checks; events of opening, reading, writing and
 * closing files and directories as inode, directory (FAN_EVENT_ON_CHILD, FAN_ONDIR), mount and
 * filesystem marks hear them, on a tmpfs of the test's own (so no other process's events reach
 * mount and filesystem marks); merging; ignore masks (legacy and FAN_MARK_IGNORE, surviving a
 * modification or not); the descriptor each event carries (opened without events of its own);
 * FAN_REPORT_TID; remove and flush; FIONREAD, short reads, O_NONBLOCK, poll; fdinfo; the
 * permission events FAN_OPEN_PERM and FAN_ACCESS_PERM answered FAN_ALLOW and FAN_DENY, and a
 * closed group letting its held tasks go. Needs root (CAP_SYS_ADMIN) natively. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static const char *names[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
                              "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF",
                              "OPEN_EXEC", "?", "Q_OVERFLOW", "FS_ERROR", "OPEN_PERM", "ACCESS_PERM",
                              "OPEN_EXEC_PERM"};
static char dir[PATH_MAX];
static pid_t other = -1;
static pid_t other_tid = -1;

static void show_mask(unsigned long long m) {
  for (int i = 0; i < 19; i++)
    if (m & (1ull << i)) printf(" %s", names[i]);
  if (m & FAN_ONDIR) printf(" ONDIR");
  if (m & ~((1ull << 19) - 1) & ~(unsigned long long)FAN_ONDIR) printf(" other=%llx", m);
}

/* The file an event's descriptor names, relative to the test directory. */
static const char *fd_name(int fd) {
  static char link[PATH_MAX + 64], path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  long n = readlink(path, link, sizeof link - 1);
  if (n < 0) return "?";
  link[n] = 0;
  size_t l = strlen(dir);
  if (strncmp(link, dir, l) == 0) return link[l] ? link + l + 1 : ".";
  return link;
}

static void show(const struct fanotify_event_metadata *e) {
  printf("  vers=%d len=%u", e->vers, e->event_len);
  show_mask(e->mask);
  if (e->fd >= 0) {
    int fl = fcntl(e->fd, F_GETFL);
    int fdfl = fcntl(e->fd, F_GETFD);
    printf(" fd=%s acc=%d cloexec=%d", fd_name(e->fd), fl & O_ACCMODE, fdfl & FD_CLOEXEC);
  } else {
    printf(" fd=%d", e->fd);
  }
  if (e->pid == getpid()) printf(" pid=self");
  else if (e->pid == other) printf(" pid=other");
  else if (e->pid == other_tid) printf(" pid=thread");
  else printf(" pid=%s", e->pid == 0 ? "0" : "?");
  printf("\n");
}

/* Prints (and closes the descriptors of) every queued event of the non-blocking group fa. */
static void dump(int fa, const char *what) {
  static char buf[65536];
  printf("-- %s\n", what);
  for (;;) {
    long n = read(fa, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN) printf("  read: %s\n", en(errno));
      return;
    }
    for (struct fanotify_event_metadata *e = (void *)buf; FAN_EVENT_OK(e, n); e = FAN_EVENT_NEXT(e, n)) {
      show(e);
      if (e->fd >= 0) close(e->fd);
    }
  }
}

static int mark(int fa, unsigned flags, unsigned long long mask, int dfd, const char *path) {
  return fanotify_mark(fa, flags, mask, dfd, path) == 0 ? 0 : errno;
}

static void touch(const char *name) {
  int fd = open(name, O_RDONLY);
  if (fd >= 0) close(fd);
}

static void rw(const char *name) {
  char b[8];
  int fd = open(name, O_RDWR);
  if (fd < 0) return;
  if (write(fd, "x", 1) < 0) printf("write: %s\n", en(errno));
  lseek(fd, 0, SEEK_SET);
  if (read(fd, b, 1) < 0) printf("read: %s\n", en(errno));
  close(fd);
}

static void errors(void) {
  printf("-- init errors\n");
  int r;
  r = fanotify_init(0x80000000u, O_RDONLY); printf("  unknown flag: %s\n", r < 0 ? en(errno) : "ok");
  r = fanotify_init(FAN_REPORT_NAME, O_RDONLY); printf("  NAME without DIR_FID: %s\n", r < 0 ? en(errno) : "ok");
  r = fanotify_init(FAN_REPORT_PIDFD | FAN_REPORT_TID, O_RDONLY); printf("  PIDFD|TID: %s\n", r < 0 ? en(errno) : "ok");
  r = fanotify_init(0, 3); printf("  accmode 3: %s\n", r < 0 ? en(errno) : "ok");
  r = fanotify_init(0, O_RDONLY | O_TRUNC); printf("  O_TRUNC: %s\n", r < 0 ? en(errno) : "ok");
  r = fanotify_init(FAN_CLASS_CONTENT | FAN_REPORT_FID, O_RDONLY); printf("  CONTENT|FID: %s\n", r < 0 ? en(errno) : "ok");
  r = fanotify_init(FAN_REPORT_TARGET_FID | FAN_REPORT_DFID_NAME, O_RDONLY); printf("  TARGET without FID: %s\n", r < 0 ? en(errno) : "ok");
  r = fanotify_init(FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT, O_RDONLY); printf("  both classes: %s\n", r < 0 ? en(errno) : "ok");
  if (r >= 0) close(r);

  int fa = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
  int fid = fanotify_init(FAN_REPORT_FID, O_RDONLY);
  printf("-- mark errors\n");
  printf("  mask 0: %s\n", en(mark(fa, FAN_MARK_ADD, 0, AT_FDCWD, ".")));
  printf("  bad fd: %s\n", en(mark(999, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, ".")));
  printf("  not fanotify: %s\n", en(mark(0, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, ".")));
  printf("  perm on NOTIF: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, ".")));
  printf("  CREATE without FID: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, ".")));
  printf("  ATTRIB on mount mark: %s\n", en(mark(fid, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_ATTRIB, AT_FDCWD, ".")));
  printf("  RENAME without NAME: %s\n", en(mark(fid, FAN_MARK_ADD, FAN_RENAME, AT_FDCWD, ".")));
  printf("  remove no mark: %s\n", en(mark(fa, FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, ".")));
  printf("  ONLYDIR on a file: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN, AT_FDCWD, "f")));
  printf("  ONLYDIR fd on a file: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN, fa, NULL)));
  printf("  FLUSH with ONLYDIR: %s\n", en(mark(fa, FAN_MARK_FLUSH | FAN_MARK_ONLYDIR, 0, AT_FDCWD, ".")));
  printf("  upper mask bits: %s\n", en(mark(fa, FAN_MARK_ADD, 1ull << 40 | FAN_OPEN, AT_FDCWD, ".")));
  printf("  MOUNT|FILESYSTEM: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD, ".")));
  printf("  ADD|REMOVE: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, ".")));
  printf("  missing path: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "nothing")));
  printf("  NULL path AT_FDCWD: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, NULL)));
  printf("  IGNORE|IGNORED_MASK: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORE | FAN_MARK_IGNORED_MASK, FAN_OPEN, AT_FDCWD, ".")));
  printf("  EVICTABLE mount: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_EVICTABLE, FAN_OPEN, AT_FDCWD, ".")));
  printf("  IGNORE ONDIR on file: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV, FAN_OPEN | FAN_ONDIR, AT_FDCWD, "f")));
  printf("  unknown flag: %s\n", en(mark(fa, FAN_MARK_ADD | 0x10000, FAN_OPEN, AT_FDCWD, ".")));
  /* A FAN_MARK_IGNORE mark on a directory, a mount or a filesystem must survive modification. */
  printf("  IGNORE without SURV on a directory: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORE, FAN_OPEN, AT_FDCWD, ".")));
  printf("  IGNORE without SURV on a mount: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_IGNORE, FAN_OPEN, AT_FDCWD, ".")));
  printf("  IGNORE without SURV on a filesystem: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_FILESYSTEM | FAN_MARK_IGNORE, FAN_OPEN, AT_FDCWD, ".")));
  /* The old ignore semantics cannot follow the new on one mark. */
  printf("  IGNORE: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV, FAN_OPEN, AT_FDCWD, "f")));
  printf("  then IGNORED_MASK: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN, AT_FDCWD, "f")));
  printf("  then IGNORE without SURV: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORE, FAN_OPEN, AT_FDCWD, "f")));
  printf("  then EVICTABLE: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_EVICTABLE, FAN_OPEN, AT_FDCWD, "f")));
  close(fa);
  close(fid);
}

static void file_events(void) {
  int fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDWR | O_CLOEXEC);
  printf("-- group cloexec=%d nonblock=%d\n", fcntl(fa, F_GETFD) & FD_CLOEXEC, !!(fcntl(fa, F_GETFL) & O_NONBLOCK));
  printf("  mark f: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_ACCESS | FAN_MODIFY | FAN_CLOSE, AT_FDCWD, "f")));
  rw("f");
  dump(fa, "open, write, read, close f (merged)");
  touch("f");
  touch("g");
  dump(fa, "open f, open g");
  /* Events of the event's own descriptor: none. */
  int fd = open("f", O_RDONLY);
  char b[4];
  if (read(fd, b, 1) < 0) printf("read: %s\n", en(errno));
  static char buf[4096];
  long n = read(fa, buf, sizeof buf);
  struct fanotify_event_metadata *e = (void *)buf;
  printf("-- one read: %s events=%ld\n", n > 0 ? "ok" : en(errno), n / (long)sizeof *e);
  for (long i = 0; i < n / (long)sizeof *e; i++) show(&e[i]);
  if (n > 0 && e->fd >= 0) {
    if (read(e->fd, b, 1) < 0) printf("read: %s\n", en(errno));
    close(e->fd);
  }
  close(fd);
  dump(fa, "the event descriptor's read and close: only f's own close");
  /* Short buffer, FIONREAD, poll. */
  touch("f");
  int q = -1;
  ioctl(fa, FIONREAD, &q);
  struct pollfd p = {fa, POLLIN | POLLOUT, 0};
  printf("-- FIONREAD=%d poll=%d revents=%x\n", q, poll(&p, 1, 0), p.revents);
  printf("  read 10 bytes: %s\n", read(fa, buf, 10) < 0 ? en(errno) : "ok");
  dump(fa, "after the short read");
  p.revents = 0;
  printf("-- empty: poll=%d revents=%x read=%s\n", poll(&p, 1, 0), p.revents, read(fa, buf, sizeof buf) < 0 ? en(errno) : "ok");
  /* Remove some of the mask, then all. */
  printf("  remove OPEN: %s\n", en(mark(fa, FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, "f")));
  rw("f");
  dump(fa, "after removing OPEN");
  printf("  remove the rest: %s\n", en(mark(fa, FAN_MARK_REMOVE, FAN_ACCESS | FAN_MODIFY | FAN_CLOSE, AT_FDCWD, "f")));
  printf("  remove again: %s\n", en(mark(fa, FAN_MARK_REMOVE, FAN_ACCESS, AT_FDCWD, "f")));
  rw("f");
  dump(fa, "after removing everything");
  close(fa);
}

static void dir_events(void) {
  int fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
  printf("-- directory mark without EVENT_ON_CHILD: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_CLOSE, AT_FDCWD, ".")));
  touch("f");
  touch(".");
  dump(fa, "open f, open . (no ONDIR)");
  printf("  add ONDIR|EVENT_ON_CHILD: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_ONDIR | FAN_EVENT_ON_CHILD, AT_FDCWD, ".")));
  touch("f");
  touch(".");
  touch("sub");
  touch("sub/h");
  dump(fa, "open f, ., sub, sub/h");
  /* An ignore mask on the child (legacy, then a modification clears it). */
  printf("  ignore OPEN on f: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN, AT_FDCWD, "f")));
  touch("f");
  touch("g");
  dump(fa, "open f (ignored), open g");
  rw("f");
  touch("f");
  dump(fa, "write f clears the ignore mask: open f heard again");
  printf("  ignore OPEN on f, surviving: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN, AT_FDCWD, "f")));
  rw("f");
  touch("f");
  dump(fa, "write f keeps it: open f ignored");
  /* Legacy ignore on the directory itself hides its own events, not its children's. */
  printf("  ignore CLOSE on .: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_CLOSE_NOWRITE, AT_FDCWD, ".")));
  touch(".");
  touch("g");
  dump(fa, "ignore on the directory: . and its children");
  printf("  flush inode marks: %s\n", en(mark(fa, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL)));
  touch("g");
  dump(fa, "after flush");
  close(fa);

  /* FAN_MARK_IGNORE: the ignore mask's own ONDIR and EVENT_ON_CHILD. */
  fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
  printf("-- new ignore: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_ONDIR | FAN_EVENT_ON_CHILD, AT_FDCWD, ".")));
  printf("  ignore OPEN for children: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV, FAN_OPEN | FAN_EVENT_ON_CHILD, AT_FDCWD, ".")));
  touch("g");
  touch(".");
  touch("sub");
  dump(fa, "g ignored, . heard, sub heard");
  printf("  and for subdirs: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV, FAN_OPEN | FAN_ONDIR, AT_FDCWD, ".")));
  touch("g");
  touch(".");
  touch("sub");
  dump(fa, "all ignored");
  close(fa);
}

static void *thread_open(void *arg) {
  (void)arg;
  other_tid = syscall(SYS_gettid);
  touch("f");
  return NULL;
}

static void mount_events(void) {
  int fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_REPORT_TID, O_RDONLY);
  printf("-- mount mark: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN | FAN_CLOSE_NOWRITE, AT_FDCWD, ".")));
  touch("f");
  touch("sub/h");
  touch(".");
  mkfifo("fifo", 0600);
  int fd = open("fifo", O_RDWR);
  close(fd);
  pthread_t th;
  pthread_create(&th, NULL, thread_open, NULL);
  pthread_join(th, NULL);
  dump(fa, "f, sub/h, . (no ONDIR: heard on a mount mark), a FIFO (never), f from a thread (REPORT_TID)");
  printf("  ignore f: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN, AT_FDCWD, "f")));
  touch("f");
  touch("g");
  dump(fa, "an inode ignore mask over a mount mark");
  close(fa);

  fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
  printf("-- filesystem mark: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN | FAN_ONDIR, AT_FDCWD, "sub")));
  touch("f");
  touch("sub");
  dump(fa, "f, sub");
  printf("  flush filesystem marks: %s\n", en(mark(fa, FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, NULL)));
  touch("f");
  dump(fa, "after flush");
  close(fa);
}

static void fdinfo(void) {
  int fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
  mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_CLOSE_WRITE, AT_FDCWD, "f");
  mark(fa, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_MODIFY, AT_FDCWD, "f");
  mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_ACCESS, AT_FDCWD, ".");
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fa);
  FILE *f = fopen(path, "r");
  printf("-- fdinfo\n");
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "fanotify", 8) != 0) continue;
    /* Device numbers, inode numbers, mount ids and handles are the host's: the masks only. */
    char *m = strstr(line, "mflags:");
    if (strncmp(line, "fanotify flags", 14) == 0) printf("  %s", line);
    else if (m) {
      char *end = strstr(m, " fhandle");
      if (end) *end = 0;
      printf("  %s %s", strncmp(line, "fanotify ino", 12) == 0 ? "inode" : "mount", m);
      if (end) printf("\n");
    }
  }
  if (f) fclose(f);
  close(fa);
}

/* A child opens (then reads) f; the group answers each permission event as told. */
static void perm(void) {
  int fa = fanotify_init(FAN_CLASS_CONTENT, O_RDONLY);
  printf("-- permission group: %s\n", fa < 0 ? en(errno) : "ok");
  printf("  mark: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_CLOSE_NOWRITE, AT_FDCWD, "f")));
  int pfd[2];
  if (pipe(pfd) < 0) return;
  other = fork();
  if (other == 0) {
    /* The child's results go through the pipe, printed once it is done (no interleaving). */
    char b[4], out[512];
    int o = 0;
    close(fa);
    /* O_PATH opens nothing: no permission event. */
    int path_fd = open("f", O_PATH);
    o += snprintf(out + o, sizeof out - o, "  child O_PATH open: %s\n", path_fd < 0 ? en(errno) : "ok");
    close(path_fd);
    for (int i = 0; i < 3; i++) {
      int fd = open("f", O_RDONLY);
      o += snprintf(out + o, sizeof out - o, "  child open %d: %s\n", i, fd < 0 ? en(errno) : "ok");
      if (fd >= 0) {
        long n = read(fd, b, 1);
        o += snprintf(out + o, sizeof out - o, "  child read %d: %s\n", i, n < 0 ? en(errno) : "ok");
        close(fd);
      }
    }
    if (write(pfd[1], out, o) < 0) _exit(1);
    _exit(0);
  }
  close(pfd[1]);
  /* deny the first open; allow the second, deny its read; allow the third and its read */
  int answers[] = {FAN_DENY, FAN_ALLOW, FAN_DENY, FAN_ALLOW, FAN_ALLOW};
  static char buf[4096];
  for (int k = 0; k < 5;) {
    long n = read(fa, buf, sizeof buf);
    if (n <= 0) { printf("  read: %s\n", en(errno)); break; }
    struct fanotify_event_metadata *e = (void *)buf;
    for (; FAN_EVENT_OK(e, n); e = FAN_EVENT_NEXT(e, n)) {
      show(e);
      if (e->mask & (FAN_OPEN_PERM | FAN_ACCESS_PERM)) {
        struct fanotify_response r = {e->fd, answers[k]};
        printf("  answer %s: %s\n", answers[k] == FAN_DENY ? "DENY" : "ALLOW", write(fa, &r, sizeof r) == sizeof r ? "ok" : en(errno));
        printf("  answer again: %s\n", write(fa, &r, sizeof r) < 0 ? en(errno) : "ok");
        k++;
      }
      close(e->fd);
    }
  }
  {
    char out[512];
    long n = read(pfd[0], out, sizeof out - 1);
    if (n > 0) { out[n] = 0; printf("%s", out); }
    close(pfd[0]);
  }
  int st;
  waitpid(other, &st, 0);
  {
    struct fanotify_response r = {0, 3};
    printf("-- bad response: %s\n", write(fa, &r, sizeof r) < 0 ? en(errno) : "ok");
    r.response = FAN_ALLOW;
    r.fd = -1;
    printf("  fd -1: %s\n", write(fa, &r, sizeof r) < 0 ? en(errno) : "ok");
    printf("  short: %s\n", write(fa, &r, 4) < 0 ? en(errno) : "ok");
    r.response = FAN_DENY | FAN_AUDIT;
    r.fd = 5;
    printf("  audit without ENABLE_AUDIT: %s\n", write(fa, &r, sizeof r) < 0 ? en(errno) : "ok");
  }
  /* A task held by a group that closes goes on (allowed). */
  other = fork();
  if (other == 0) {
    close(fa); /* the group goes with the parent's descriptor */
    int fd = open("f", O_RDONLY);
    printf("  child open with the group closing: %s\n", fd < 0 ? en(errno) : "ok");
    fflush(stdout);
    _exit(0);
  }
  long n = read(fa, buf, sizeof buf);
  if (n > 0) {
    show((void *)buf);
    close(((struct fanotify_event_metadata *)buf)->fd);
  }
  usleep(1000);
  close(fa);
  waitpid(other, &st, 0);
  printf("-- child exited %d\n", WEXITSTATUS(st));
}

/* FAN_OPEN_EXEC_PERM then FAN_OPEN_PERM on an executable: a denied execve fails, an allowed one runs. */
static void exec_perm(void) {
  int in = open("/bin/true", O_RDONLY), out = open("t", O_CREAT | O_WRONLY | O_TRUNC, 0755);
  char b[65536];
  long n;
  while ((n = read(in, b, sizeof b)) > 0)
    if (write(out, b, n) != n) return;
  close(in);
  close(out);
  int fa = fanotify_init(FAN_CLASS_CONTENT, O_RDONLY);
  printf("-- exec permission: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN_EXEC_PERM | FAN_OPEN_PERM, AT_FDCWD, "t")));
  int answers[] = {FAN_DENY, FAN_ALLOW, FAN_ALLOW, FAN_ALLOW, FAN_DENY};
  int k = 0;
  for (int round = 0; round < 3; round++) {
    other = fork();
    if (other == 0) {
      close(fa);
      execl("./t", "t", (char *)NULL);
      _exit(errno == EPERM ? 3 : 4);
    }
    /* One event a read: Linux asks FAN_OPEN_PERM only once FAN_OPEN_EXEC_PERM is allowed. */
    for (;;) {
      struct fanotify_event_metadata e;
      struct pollfd p = {fa, POLLIN, 0};
      int st;
      if (poll(&p, 1, 50) == 0) {
        if (waitpid(other, &st, WNOHANG) == other) {
          printf("  child exited %d\n", WEXITSTATUS(st));
          break;
        }
        continue;
      }
      if (read(fa, &e, sizeof e) != sizeof e) { printf("  read: %s\n", en(errno)); break; }
      show(&e);
      struct fanotify_response r = {e.fd, answers[k]};
      printf("  answer %s: %s\n", answers[k] == FAN_DENY ? "DENY" : "ALLOW", write(fa, &r, sizeof r) == sizeof r ? "ok" : en(errno));
      k++;
      close(e.fd);
    }
  }
  close(fa);
  unlink("t");
}

/* Two groups: the pre-content one is asked first, the content one once it allowed. */
static void perm_order(void) {
  int pre = fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_NONBLOCK, O_RDONLY);
  int con = fanotify_init(FAN_CLASS_CONTENT | FAN_NONBLOCK, O_RDONLY);
  printf("-- two permission groups: %s %s\n", en(mark(con, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, "f")),
         en(mark(pre, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, "f")));
  other = fork();
  if (other == 0) {
    close(pre);
    close(con);
    int fd = open("f", O_RDONLY);
    _exit(fd < 0 ? 3 : 0);
  }
  int fds[2] = {pre, con};
  const char *name[2] = {"pre-content", "content"};
  for (int k = 0; k < 2; k++) {
    struct pollfd p[2] = {{pre, POLLIN, 0}, {con, POLLIN, 0}};
    poll(p, 2, 5000);
    usleep(20000);
    p[0].revents = p[1].revents = 0;
    poll(p, 2, 0);
    printf("  readable: pre-content=%d content=%d\n", !!(p[0].revents & POLLIN), !!(p[1].revents & POLLIN));
    struct fanotify_event_metadata e;
    int which = p[0].revents & POLLIN ? 0 : 1;
    if (read(fds[which], &e, sizeof e) != sizeof e) { printf("  read: %s\n", en(errno)); break; }
    printf("  %s:", name[which]);
    show(&e);
    struct fanotify_response r = {e.fd, FAN_ALLOW};
    if (write(fds[which], &r, sizeof r) != sizeof r) printf("  answer: %s\n", en(errno));
    close(e.fd);
  }
  int st;
  waitpid(other, &st, 0);
  printf("  child exited %d\n", WEXITSTATUS(st));
  close(pre);
  close(con);
}

/* Without CAP_SYS_ADMIN: FID groups only, inode marks only, the pids of others hidden. */
static void unprivileged(void) {
  int go[2], done[2];
  if (pipe(go) < 0 || pipe(done) < 0) return;
  printf("-- unprivileged\n");
  other = fork();
  if (other == 0) {
    char out[1024];
    int o = 0;
    if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) _exit(1);
    int r = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
    o += snprintf(out + o, sizeof out - o, "  init without FID: %s\n", r < 0 ? en(errno) : "ok");
    r = fanotify_init(FAN_REPORT_FID | FAN_UNLIMITED_QUEUE, O_RDONLY);
    o += snprintf(out + o, sizeof out - o, "  init UNLIMITED_QUEUE: %s\n", r < 0 ? en(errno) : "ok");
    int fa = fanotify_init(FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
    o += snprintf(out + o, sizeof out - o, "  init FID: %s\n", fa < 0 ? en(errno) : "ok");
    o += snprintf(out + o, sizeof out - o, "  mount mark: %s\n", en(mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN, AT_FDCWD, ".")));
    o += snprintf(out + o, sizeof out - o, "  inode mark: %s\n", en(mark(fa, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "f")));
    touch("f");
    if (write(go[1], "x", 1) < 0 || read(done[0], out + o, 1) < 0) _exit(1);
    static char buf[4096];
    long n = read(fa, buf, sizeof buf);
    for (struct fanotify_event_metadata *e = (void *)buf; n > 0 && FAN_EVENT_OK(e, n); e = FAN_EVENT_NEXT(e, n))
      o += snprintf(out + o, sizeof out - o, "  event fd=%d pid=%s\n", e->fd, e->pid == getpid() ? "self" : e->pid == 0 ? "0" : "?");
    if (write(1, out, o) < 0) _exit(1);
    _exit(0);
  }
  char c;
  if (read(go[0], &c, 1) == 1) touch("f");
  if (write(done[1], "x", 1) < 0) return;
  int st;
  waitpid(other, &st, 0);
  close(go[0]); close(go[1]); close(done[0]); close(done[1]);
}

/* Files a process leaves open are closed by its exit, or its death by SIGKILL: its pid. */
static void exit_close(void) {
  int fa = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
  mark(fa, FAN_MARK_ADD, FAN_CLOSE_NOWRITE, AT_FDCWD, "f");
  int p[2];
  if (pipe(p) < 0) return;
  for (int killed = 0; killed < 2; killed++) {
    other = fork();
    if (other == 0) {
      close(fa);
      if (open("f", O_RDONLY) < 0 || write(p[1], "x", 1) < 0) _exit(1);
      if (killed) pause();
      _exit(0);
    }
    char x;
    if (read(p[0], &x, 1) < 0) return;
    if (killed) kill(other, SIGKILL);
    waitpid(other, NULL, 0);
    struct fanotify_event_metadata e;
    if (read(fa, &e, sizeof e) != sizeof e) return;
    printf("-- %s:", killed ? "killed" : "exited");
    show(&e);
    close(e.fd);
  }
  close(p[0]);
  close(p[1]);
  close(fa);
}

/* An inode's marks go with it. */
static void deleted_marks(void) {
  int fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
  close(open("x", O_CREAT | O_WRONLY, 0644));
  mark(fa, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "x");
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fa);
  for (int i = 0; i < 2; i++) {
    int marks = 0;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) marks += strncmp(line, "fanotify ino", 12) == 0;
    if (f) fclose(f);
    printf("-- %s: inode marks=%d\n", i ? "after unlink" : "marked", marks);
    unlink("x");
  }
  close(fa);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* A tmpfs of our own, so that mount and filesystem marks hear only this test. */
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    printf("unshare: %s\n", en(errno));
    return 1;
  }
  strcpy(dir, "/tmp/fanotify.XXXXXX");
  if (!mkdtemp(dir)) return 1;
  if (mount("none", dir, "tmpfs", 0, NULL) < 0) {
    printf("mount: %s\n", en(errno));
    return 1;
  }
  if (chdir(dir) < 0) return 1;
  close(open("f", O_CREAT | O_WRONLY, 0644));
  close(open("g", O_CREAT | O_WRONLY, 0644));
  mkdir("sub", 0755);
  close(open("sub/h", O_CREAT | O_WRONLY, 0644));

  errors();
  file_events();
  dir_events();
  mount_events();
  fdinfo();
  perm();
  exec_perm();
  perm_order();
  unprivileged();
  deleted_marks();
  exit_close();

  if (chdir("/") < 0) return 1;
  umount(dir);
  rmdir(dir);
  return 0;
}
