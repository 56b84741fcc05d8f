/* fanotify with file handles (FAN_REPORT_FID, DIR_FID, NAME, TARGET_FID): the info records of
 * directory entry events (create, delete, moves, FAN_RENAME), attribute changes and self
 * events, on a directory mark and a filesystem mark, for each reporting mode; the handles are
 * name_to_handle_at's (each record's handle is named by the file it matches) and the fsid is
 * statfs's; open_by_handle_at opens what a record names. Runs on a tmpfs of its own. Needs
 * root (CAP_SYS_ADMIN) natively. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static char dir[PATH_MAX];
static fsid_t fsid;

/* Handles of the files the test makes, by label. */
static struct { char label[16]; struct { struct file_handle h; unsigned char b[MAX_HANDLE_SZ]; } fh; } known[64];
static int nknown;

static void learn(const char *label, const char *path) {
  int mnt;
  known[nknown].fh.h.handle_bytes = MAX_HANDLE_SZ;
  if (name_to_handle_at(AT_FDCWD, path, &known[nknown].fh.h, &mnt, 0) < 0) {
    printf("name_to_handle_at %s: %s\n", path, en(errno));
    return;
  }
  snprintf(known[nknown].label, sizeof known[nknown].label, "%s", label);
  nknown++;
}

static const char *which(struct file_handle *h) {
  for (int i = nknown - 1; i >= 0; i--) {
    struct file_handle *k = &known[i].fh.h;
    if (k->handle_type == h->handle_type && k->handle_bytes == h->handle_bytes &&
        memcmp(k->f_handle, h->f_handle, h->handle_bytes) == 0)
      return known[i].label;
  }
  return "?";
}

static const char *masks[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
                              "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF"};

static void show(struct fanotify_event_metadata *e) {
  printf("  len=%u fd=%d", e->event_len, e->fd);
  for (int i = 0; i < 12; i++)
    if (e->mask & (1u << i)) printf(" %s", masks[i]);
  if (e->mask & FAN_RENAME) printf(" RENAME");
  if (e->mask & FAN_ONDIR) printf(" ONDIR");
  if (e->mask & FAN_Q_OVERFLOW) printf(" Q_OVERFLOW");
  printf(" pid=%s\n", e->pid == getpid() ? "self" : "?");
  for (char *p = (char *)(e + 1); p < (char *)e + e->event_len;) {
    struct fanotify_event_info_header *h = (void *)p;
    if (h->len == 0) break;
    const char *t = h->info_type == FAN_EVENT_INFO_TYPE_FID ? "FID" : h->info_type == FAN_EVENT_INFO_TYPE_DFID ? "DFID"
      : h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ? "DFID_NAME" : h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ? "OLD_DFID_NAME"
      : h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME ? "NEW_DFID_NAME" : "other";
    struct fanotify_event_info_fid *f = (void *)p;
    struct file_handle *fh = (void *)f->handle;
    printf("    %s len=%u fsid=%s handle=%s", t, h->len,
           memcmp(&f->fsid, &fsid, sizeof fsid) == 0 ? "statfs" : "other", which(fh));
    if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
        h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
      printf(" name=%s", (char *)fh->f_handle + fh->handle_bytes);
    printf("\n");
    p += h->len;
  }
}

static void dump(int fa, const char *what) {
  static char buf[65536];
  printf("-- %s\n", what);
  for (;;) {
    long n = read(fa, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN) printf("  read: %s\n", en(errno));
      return;
    }
    for (struct fanotify_event_metadata *e = (void *)buf; FAN_EVENT_OK(e, n); e = FAN_EVENT_NEXT(e, n)) show(e);
  }
}

static const unsigned long long ALL = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | FAN_DELETE_SELF |
                                      FAN_MOVE_SELF | FAN_OPEN | FAN_CLOSE_WRITE | FAN_MODIFY | FAN_ONDIR | FAN_EVENT_ON_CHILD;

/* One round of changes inside w/, heard by a group of `flags` with marks as `how`. */
static void round_(const char *title, unsigned flags, int fs_mark) {
  printf("== %s%s\n", title, fs_mark ? " (filesystem mark)" : "");
  int fa = fanotify_init(flags | FAN_NONBLOCK, O_RDONLY);
  if (fa < 0) { printf("  init: %s\n", en(errno)); return; }
  mkdir("w", 0755);
  learn("w", "w");
  unsigned long long m = ALL | ((flags & FAN_REPORT_NAME) ? FAN_RENAME : 0);
  if (fs_mark) m &= ~FAN_EVENT_ON_CHILD;
  int r = fanotify_mark(fa, FAN_MARK_ADD | (fs_mark ? FAN_MARK_FILESYSTEM : 0), m, AT_FDCWD, "w");
  printf("  mark: %s\n", r < 0 ? en(errno) : "0");
  int fd = open("w/a", O_CREAT | O_WRONLY, 0644);
  learn("a", "w/a");
  if (write(fd, "x", 1) < 0) printf("write: %s\n", en(errno));
  close(fd);
  dump(fa, "create, write, close w/a");
  chmod("w/a", 0600);
  dump(fa, "chmod w/a");
  mkdir("w/d", 0755);
  learn("d", "w/d");
  dump(fa, "mkdir w/d");
  rename("w/a", "w/b");
  dump(fa, "rename w/a w/b");
  rename("w/b", "w/d/c");
  dump(fa, "rename w/b w/d/c");
  link("w/d/c", "w/l");
  dump(fa, "link w/d/c w/l");
  unlink("w/l");
  unlink("w/d/c");
  dump(fa, "unlink w/l, w/d/c");
  rmdir("w/d");
  dump(fa, "rmdir w/d");
  /* A mark on a file of its own: self events. */
  close(open("w/s", O_CREAT | O_WRONLY, 0644));
  learn("s", "w/s");
  if (!fs_mark) {
    r = fanotify_mark(fa, FAN_MARK_ADD, FAN_ATTRIB | FAN_DELETE_SELF | FAN_MOVE_SELF, AT_FDCWD, "w/s");
    printf("  mark w/s: %s\n", r < 0 ? en(errno) : "0");
  }
  dump(fa, "create w/s");
  rename("w/s", "w/t");
  chmod("w/t", 0600);
  unlink("w/t");
  dump(fa, "rename w/s w/t, chmod, unlink");
  rmdir("w");
  dump(fa, "rmdir w");
  close(fa);
}

/* An event's handle opens its file again. */
static void open_handle(void) {
  printf("== open_by_handle_at\n");
  int fa = fanotify_init(FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
  close(open("o", O_CREAT | O_WRONLY, 0644));
  fanotify_mark(fa, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "o");
  close(open("o", O_RDONLY));
  static char buf[4096];
  long n = read(fa, buf, sizeof buf);
  if (n <= 0) { printf("  read: %s\n", en(errno)); return; }
  struct fanotify_event_info_fid *f = (void *)(buf + sizeof(struct fanotify_event_metadata));
  int mfd = open(".", O_RDONLY | O_DIRECTORY);
  int fd = open_by_handle_at(mfd, (struct file_handle *)f->handle, O_RDONLY);
  struct stat a, b;
  printf("  open: %s same=%d\n", fd < 0 ? en(errno) : "ok", fd >= 0 && fstat(fd, &a) == 0 && stat("o", &b) == 0 && a.st_ino == b.st_ino);
  if (fd >= 0) close(fd);
  close(mfd);
  close(fa);
  unlink("o");
}

/* The queue's limit: one FAN_Q_OVERFLOW for what is lost; FAN_UNLIMITED_QUEUE has none. */
static void overflow(unsigned extra) {
  printf("== overflow%s\n", extra ? " (unlimited queue)" : "");
  int fa = fanotify_init(FAN_REPORT_DFID_NAME | FAN_NONBLOCK | extra, O_RDONLY);
  /* A directory per round, left for the unmount to drop (half the system calls). */
  const char *q = extra ? "q2" : "q";
  mkdir(q, 0755);
  fanotify_mark(fa, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, q);
  char name[32];
  for (int i = 0; i < 16384 + 10; i++) {
    snprintf(name, sizeof name, "%s/%d", q, i);
    mknod(name, S_IFREG | 0600, 0);
  }
  static char buf[1 << 20];
  int events = 0, overflows = 0, last_overflow = 0;
  for (;;) {
    long n = read(fa, buf, sizeof buf);
    if (n <= 0) break;
    for (struct fanotify_event_metadata *e = (void *)buf; FAN_EVENT_OK(e, n); e = FAN_EVENT_NEXT(e, n)) {
      events++;
      last_overflow = 0;
      if (e->mask & FAN_Q_OVERFLOW) {
        overflows++;
        last_overflow = 1;
        printf("  overflow: len=%u fd=%d pid=%d\n", e->event_len, e->fd, e->pid);
      }
    }
  }
  printf("  events=%d overflows=%d last=%d\n", events, overflows, last_overflow);
  close(fa);
}

/* FAN_REPORT_PIDFD: a pidfd of the process that caused the event, after the handles. */
static void pidfd(void) {
  printf("== pidfd\n");
  int fa = fanotify_init(FAN_REPORT_FID | FAN_REPORT_PIDFD | FAN_NONBLOCK, O_RDONLY);
  if (fa < 0) { printf("  init: %s\n", en(errno)); return; }
  close(open("p", O_CREAT | O_WRONLY, 0644));
  fanotify_mark(fa, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "p");
  close(open("p", O_RDONLY));
  static char buf[4096];
  long n = read(fa, buf, sizeof buf);
  struct fanotify_event_metadata *e = (void *)buf;
  printf("  read: %s len=%u\n", n < 0 ? en(errno) : "ok", n > 0 ? e->event_len : 0);
  for (char *p = (char *)(e + 1); n > 0 && p < (char *)e + e->event_len;) {
    struct fanotify_event_info_header *h = (void *)p;
    printf("  record type=%d len=%u", h->info_type, h->len);
    if (h->info_type == FAN_EVENT_INFO_TYPE_PIDFD) {
      int pfd = ((struct fanotify_event_info_pidfd *)p)->pidfd;
      char path[64], line[128];
      snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pfd);
      FILE *f = fopen(path, "r");
      int pid = -1;
      while (f && fgets(line, sizeof line, f)) sscanf(line, "Pid: %d", &pid);
      if (f) fclose(f);
      printf(" pidfd of self=%d cloexec=%d", pid == getpid(), (fcntl(pfd, F_GETFD) & FD_CLOEXEC) != 0);
      close(pfd);
    }
    printf("\n");
    p += h->len;
  }
  /* A zombie's event still gets a pidfd; a reaped process's gets FAN_NOPIDFD. */
  for (int reap = 0; reap < 2; reap++) {
    pid_t c = fork();
    if (c == 0) {
      close(open("p", O_RDONLY));
      _exit(0);
    }
    siginfo_t si;
    if (reap) waitpid(c, NULL, 0);
    else waitid(P_PID, c, &si, WEXITED | WNOWAIT);
    n = read(fa, buf, sizeof buf);
    e = (void *)buf;
    struct fanotify_event_info_header *h = (void *)(e + 1);
    struct fanotify_event_info_pidfd *pi = (void *)((char *)h + h->len);
    printf("  %s: read=%s pidfd=%s\n", reap ? "reaped" : "zombie", n < 0 ? en(errno) : "ok",
           pi->pidfd >= 0 ? "yes" : pi->pidfd == FAN_NOPIDFD ? "FAN_NOPIDFD" : "other");
    if (pi->pidfd >= 0) close(pi->pidfd);
    if (!reap) waitpid(c, NULL, 0);
  }
  close(fa);
  unlink("p");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    printf("unshare: %s\n", en(errno));
    return 1;
  }
  strcpy(dir, "/tmp/fanotify_fid.XXXXXX");
  if (!mkdtemp(dir)) return 1;
  if (mount("none", dir, "tmpfs", 0, NULL) < 0) {
    printf("mount: %s\n", en(errno));
    return 1;
  }
  if (chdir(dir) < 0) return 1;
  struct statfs sf;
  statfs(".", &sf);
  fsid = sf.f_fsid;
  learn("root", ".");

  round_("FID", FAN_REPORT_FID, 0);
  round_("DIR_FID", FAN_REPORT_DIR_FID, 0);
  round_("DFID_FID", FAN_REPORT_DIR_FID | FAN_REPORT_FID, 0);
  round_("DFID_NAME", FAN_REPORT_DFID_NAME, 0);
  round_("DFID_NAME_FID", FAN_REPORT_DFID_NAME | FAN_REPORT_FID, 0);
  round_("DFID_NAME_TARGET", FAN_REPORT_DFID_NAME_TARGET, 0);
  round_("FID", FAN_REPORT_FID, 1);
  round_("DFID_NAME", FAN_REPORT_DFID_NAME, 1);
  open_handle();
  pidfd();
  overflow(0);
  overflow(FAN_UNLIMITED_QUEUE);

  if (chdir("/") < 0) return 1;
  umount(dir);
  rmdir(dir);
  return 0;
}
