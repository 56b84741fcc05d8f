/*
 * Opening files through an overlay opens the layers' real files (Linux's backing files): the
 * lower file's inotify watch and fanotify inode and filesystem marks hear FAN_OPEN and
 * FAN_CLOSE_NOWRITE of a file, and of a directory (ovl_dir_open), with the real inode's file
 * handle; a mount mark on the layer's mount does not (the layers are private clones); a file
 * copied up is heard on the upper layer (what the copy-up itself opens is not compared). A
 * lower-only file or directory removed through the overlay drops the overlay inode's links:
 * its marks hear FAN_DELETE_SELF (the file's at its last close).
 * Natively it runs in a mount namespace of its own with / made private. Prints the events each listener read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/ovfn-XXXXXX";
static char path_buf[4][256];

static const char *at(int slot, const char *rel) {
  snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", base, rel);
  return path_buf[slot];
}

static void put(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, s, strlen(s)) < 0) perror(path);
  close(fd);
}

/* The file handles of the watched objects, to name the events' objects. */
static struct { struct file_handle h; unsigned char b[128]; } handles[4];
static const char *names[4];
static int nhandles;

static void remember(const char *name, const char *path) {
  int mnt;
  handles[nhandles].h.handle_bytes = 128;
  if (name_to_handle_at(AT_FDCWD, path, &handles[nhandles].h, &mnt, 0) != 0) perror(path);
  names[nhandles++] = name;
}

static const char *who(struct file_handle *h) {
  for (int i = 0; i < nhandles; i++) {
    if (handles[i].h.handle_bytes == h->handle_bytes && handles[i].h.handle_type == h->handle_type &&
        memcmp(handles[i].h.f_handle, h->f_handle, h->handle_bytes) == 0) return names[i];
  }
  return "?";
}

static void fan_dump(int fa, const char *what) {
  char buf[4096];
  ssize_t n = read(fa, buf, sizeof buf);
  printf("%s:", what);
  if (n < 0) {
    printf(" %s\n", strerrorname_np(errno));
    return;
  }
  for (struct fanotify_event_metadata *e = (void *)buf; FAN_EVENT_OK(e, n); e = FAN_EVENT_NEXT(e, n)) {
    struct fanotify_event_info_fid *fid = (void *)(e + 1);
    printf(" [%#llx %s]", (unsigned long long)e->mask, fid->hdr.info_type == FAN_EVENT_INFO_TYPE_FID ? who((struct file_handle *)fid->handle) : "no fid");
  }
  printf("\n");
}

static void in_dump(int in, const char *what) {
  char buf[4096] __attribute__((aligned(8)));
  ssize_t n = read(in, buf, sizeof buf);
  printf("%s:", what);
  if (n < 0) {
    printf(" %s\n", strerrorname_np(errno));
    return;
  }
  for (char *p = buf; p < buf + n;) {
    struct inotify_event *e = (void *)p;
    printf(" [%#x%s%s]", e->mask, e->len ? " " : "", e->len ? e->name : "");
    p += sizeof *e + e->len;
  }
  printf("\n");
}

static void open_close(const char *path, int flags) {
  int fd = open(path, flags);
  if (fd < 0) perror(path);
  else close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mkdtemp(base) == NULL || mount("tmpfs", base, "tmpfs", 0, "mode=0755") != 0) return 1;
  mkdir(at(0, "lower"), 0755);
  mkdir(at(0, "upper"), 0755);
  mkdir(at(0, "work"), 0755);
  mkdir(at(0, "merged"), 0755);
  mkdir(at(0, "lower/dir"), 0755);
  put(at(0, "lower/f"), "lower f");
  put(at(0, "lower/g"), "lower g");
  remember("lower/f", at(0, "lower/f"));
  remember("lower/dir", at(0, "lower/dir"));
  remember("lower/g", at(0, "lower/g"));

  char opts[512];
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", at(0, "lower"), at(1, "upper"), at(2, "work"));
  if (mount("overlay", at(0, "merged"), "overlay", 0, opts) != 0) {
    perror("mount overlay");
    return 1;
  }

  int ino = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
  int sb = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
  int mnt = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
  int in = inotify_init1(IN_NONBLOCK);
  const unsigned long long m = FAN_OPEN | FAN_CLOSE_NOWRITE | FAN_ONDIR;
  if (fanotify_mark(ino, FAN_MARK_ADD, m, AT_FDCWD, at(0, "lower/f")) != 0) perror("inode mark f");
  if (fanotify_mark(ino, FAN_MARK_ADD, m, AT_FDCWD, at(0, "lower/dir")) != 0) perror("inode mark dir");
  if (fanotify_mark(sb, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, m, AT_FDCWD, at(0, "lower")) != 0) perror("sb mark");
  if (fanotify_mark(mnt, FAN_MARK_ADD | FAN_MARK_MOUNT, m, AT_FDCWD, at(0, "lower")) != 0) perror("mount mark");
  if (inotify_add_watch(in, at(0, "lower"), IN_OPEN | IN_CLOSE_NOWRITE) < 0) perror("inotify");

  printf("-- open and close merged/f, merged/dir\n");
  open_close(at(0, "merged/f"), O_RDONLY);
  open_close(at(0, "merged/dir"), O_RDONLY | O_DIRECTORY);
  fan_dump(ino, "inode marks");
  fan_dump(sb, "filesystem mark");
  fan_dump(mnt, "mount mark on the layer");
  in_dump(in, "inotify on lower");

  printf("-- merged/g copied up, then opened\n");
  open_close(at(0, "merged/g"), O_WRONLY);
  /* What the copy-up itself opens (the workdir's temporary file) is not compared. */
  char drain[4096];
  while (read(sb, drain, sizeof drain) > 0) {}
  while (read(in, drain, sizeof drain) > 0) {}
  while (read(ino, drain, sizeof drain) > 0) {}
  int up = inotify_add_watch(in, at(0, "upper"), IN_OPEN | IN_CLOSE_NOWRITE);
  if (up < 0) perror("inotify upper");
  open_close(at(0, "merged/g"), O_RDONLY);
  fan_dump(sb, "filesystem mark after copy-up");
  in_dump(in, "inotify on lower and upper after copy-up");

  printf("-- lower-only merged/f and merged/dir removed through the overlay\n");
  int del = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
  if (fanotify_mark(del, FAN_MARK_ADD, FAN_DELETE_SELF | FAN_ONDIR, AT_FDCWD, at(0, "merged/f")) != 0) perror("mark merged/f");
  if (fanotify_mark(del, FAN_MARK_ADD, FAN_DELETE_SELF | FAN_ONDIR, AT_FDCWD, at(0, "merged/dir")) != 0) perror("mark merged/dir");
  struct stat st;
  int keep = open(at(0, "merged/f"), O_RDONLY);
  printf("unlink: %d, rmdir: %d\n", unlink(at(0, "merged/f")), rmdir(at(0, "merged/dir")));
  printf("fstat of the open file: nlink %d\n", fstat(keep, &st) == 0 ? (int)st.st_nlink : -1);
  fan_dump(del, "DELETE_SELF marks, the file still open");
  close(keep);
  fan_dump(del, "DELETE_SELF marks, closed");

  umount2(at(0, "merged"), MNT_DETACH);
  umount2(base, MNT_DETACH);
  rmdir(base);
  return 0;
}
