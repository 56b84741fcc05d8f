/*
 * An overlay mounted with mount(2) over directories of a tmpfs: lookups and listings merge the
 * layers; a write, a chmod or a utimes copies the file up (data, mode with set-group-ID, user
 * xattrs and ACLs), leaving the lower file as it was; new files land in the upper directory;
 * a removed lower file stays in the lower directory but is gone from the merged view; statfs
 * says overlay; a lower layer alone, or an upper one without workdir, is EINVAL.
 * Natively it runs in a mount namespace of its own with / made private. Prints what each step
 * returned.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define OVERLAYFS_SUPER_MAGIC 0x794c7630

static char base[] = "/tmp/ovl-XXXXXX";
static char path_buf[4][256];

static const char *at(int slot, const char *rel) {
  snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", base, rel);
  return path_buf[slot];
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

static void cat(const char *what, const char *path) {
  char buf[64] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("%s: %s\n", what, strerrorname_np(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s: \"%.*s\"\n", what, (int)(n < 0 ? 0 : n), buf);
}

static void list(const char *what, const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) {
    printf("%s: %s\n", what, strerrorname_np(errno));
    return;
  }
  char names[16][256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 16) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(names[n++], 256, "%s", e->d_name);
  }
  closedir(d);
  qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
  printf("%s:", what);
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
}

static void mode(const char *what, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %o\n", what, st.st_mode & 07777);
}

static void put(const char *path, const char *data, int mode) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
  if (fd < 0 || write(fd, data, strlen(data)) < 0) perror(path);
  close(fd);
  chmod(path, mode);
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
  put(at(0, "lower/a"), "lower a", 02755);
  put(at(0, "lower/dir/b"), "lower b", 0644);
  put(at(0, "lower/gone"), "doomed", 0644);
  show("user xattr on the lower file", setxattr(at(0, "lower/dir/b"), "user.k", "v", 1, 0));
  struct {
    uint32_t version;
    struct { uint16_t tag, perm; uint32_t id; } e[5];
  } acl = {2, {{1, 6, -1}, {2, 4, 12}, {4, 4, -1}, {0x10, 4, -1}, {0x20, 4, -1}}};
  show("ACL on the lower file", setxattr(at(0, "lower/dir/b"), "system.posix_acl_access", &acl, sizeof acl, 0));

  char opts[512];
  show("lowerdir missing", mount("overlay", at(0, "merged"), "overlay", 0, ""));
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s", at(0, "lower"), at(1, "upper"));
  show("upperdir without workdir", mount("overlay", at(2, "merged"), "overlay", 0, opts));
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", at(0, "lower"), at(1, "upper"), at(2, "work"));
  show("mount", mount("overlay", at(3, "merged"), "overlay", 0, opts));
  struct statfs sf;
  if (statfs(at(0, "merged"), &sf) == 0) printf("statfs type overlay: %d\n", sf.f_type == OVERLAYFS_SUPER_MAGIC);

  list("merged", at(0, "merged"));
  list("merged/dir", at(0, "merged/dir"));
  cat("merged/a", at(0, "merged/a"));
  mode("merged/a mode", at(0, "merged/a"));
  show("upper/a before copy-up", access(at(0, "upper/a"), F_OK));
  show("utimes merged/a", utimensat(AT_FDCWD, at(0, "merged/a"), NULL, 0));
  mode("upper/a mode after copy-up", at(0, "upper/a"));
  cat("upper/a", at(0, "upper/a"));

  int fd = open(at(0, "merged/dir/b"), O_WRONLY | O_APPEND);
  show("append to merged/dir/b", write(fd, " more", 5));
  close(fd);
  cat("merged/dir/b", at(0, "merged/dir/b"));
  cat("lower/dir/b", at(0, "lower/dir/b"));
  cat("upper/dir/b", at(0, "upper/dir/b"));
  char v[8];
  show("user xattr copied up", getxattr(at(0, "upper/dir/b"), "user.k", v, sizeof v));
  show("ACL copied up", getxattr(at(0, "upper/dir/b"), "system.posix_acl_access", NULL, 0));
  mode("upper/dir/b mode", at(0, "upper/dir/b"));

  put(at(0, "merged/new"), "new", 0600);
  cat("upper/new", at(0, "upper/new"));
  show("lower/new", access(at(0, "lower/new"), F_OK));
  show("unlink merged/gone", unlink(at(0, "merged/gone")));
  show("merged/gone", access(at(0, "merged/gone"), F_OK));
  cat("lower/gone", at(0, "lower/gone"));
  list("merged after", at(0, "merged"));
  show("rename merged/dir/b to merged/c", rename(at(0, "merged/dir/b"), at(1, "merged/c")));
  cat("merged/c", at(0, "merged/c"));
  show("merged/dir/b", access(at(0, "merged/dir/b"), F_OK));
  show("umount", umount2(at(0, "merged"), 0));

  /* One lower layer and no upper one is EINVAL (Linux wants two lowers then). */
  snprintf(opts, sizeof opts, "lowerdir=%s", at(0, "lower"));
  show("lowerdir alone", mount("overlay", at(1, "merged"), "overlay", 0, opts));
  show("umount the tmpfs", umount2(base, MNT_DETACH));
  rmdir(base);
  return 0;
}
