/* Shared by the cgroup v2 fixtures (cgroup2.c, cgroup2_controllers.c, bpf_cgroup_device.c):
 * natively each mounts the hierarchy in a mount namespace of its own, on a new directory under
 * /tmp, and works in a cgroup of its own (BASE) made under the hierarchy's root, removed at the
 * end; paths inside it are named relative to BASE. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static char mnt[64];   /* where the hierarchy is mounted */
static char base[256]; /* the test's own cgroup */

/* BASE/rel, in one of four buffers used in turn (a call may name up to four paths). */
static const char *at(const char *rel) {
  static char buf[4][512];
  static int n;
  char *b = buf[n++ % 4];
  snprintf(b, 512, "%s/%s", base, rel);
  return b;
}

/* Writes text to the file; returns 0 or -1 with errno. */
static int put(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  int r = write(fd, text, strlen(text)) < 0 ? -1 : 0;
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

/* Reads the file into buf (NUL-terminated); returns its length, or -1 after printing
 * "label: open ERRNO" or "label: read ERRNO" (en() is _check.h's, included first). */
static inline ssize_t read_text(const char *label, const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("%s: open %s\n", label, en(errno));
    return -1;
  }
  ssize_t n = read(fd, buf, size - 1);
  int e = errno;
  close(fd);
  if (n < 0) {
    printf("%s: read %s\n", label, en(e));
    return -1;
  }
  buf[n] = 0;
  return n;
}

/* Enters a mount namespace of its own where it may (natively, as root: the mounts leave no
 * trace) and makes MNT, /tmp/TAG-XXXXXX, to mount the hierarchy on. Returns 0, or -1 after
 * saying why. */
static int private_mount_dir(const char *tag) {
  if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return -1;
  }
  snprintf(mnt, sizeof mnt, "/tmp/%s-XXXXXX", tag);
  if (mkdtemp(mnt) == NULL) {
    perror("mkdtemp");
    return -1;
  }
  return 0;
}

/* Names BASE: MNT/NAME-PID (not made yet). */
static void name_base(const char *name) {
  snprintf(base, sizeof base, "%s/%s-%d", mnt, name, (int)getpid());
}
