/*
 * Hostile paths that try to read or write outside the sandbox's root (tests/hostile_paths_test.ts).
 * Runs as /prog in a rootfs that holds /secret ("rootfs secret") and /inside ("in"), with a rw
 * bind mount of a host directory at /data. argv[1] is the host path of the bundle, whose
 * host file "secret" must never be read or changed.
 *
 *   prog hostile BUNDLE   every attempt, one line each
 *   prog read PATH        prints PATH's contents or the error (for the permission test)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void try_read_at(int dirfd, const char *what, const char *p) {
  char buf[64];
  int fd = openat(dirfd, p, O_RDONLY);
  if (fd < 0) {
    printf("read %s: %s\n", what, strerror(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) {
    printf("read %s: read: %s\n", what, strerror(errno));
    return;
  }
  buf[n] = 0;
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
  printf("read %s: %s\n", what, buf);
}

static void try_read(const char *p) {
  try_read_at(AT_FDCWD, p, p);
}

static void try_create_at(int dirfd, const char *what, const char *p, int flags) {
  int fd = openat(dirfd, p, O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) {
    printf("create %s: %s\n", what, strerror(errno));
    return;
  }
  ssize_t n = write(fd, "pwned\n", 6);
  close(fd);
  printf("create %s: %s\n", what, n == 6 ? "ok" : strerror(errno));
}

static void try_create(const char *p) {
  try_create_at(AT_FDCWD, p, p, O_TRUNC);
}

static void result(const char *what, int r) {
  printf("%s: %s\n", what, r == 0 ? "ok" : strerror(errno));
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "read") == 0) {
    try_read(argv[2]);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "setid") == 0) {
    /* Run as an unprivileged user: its write and truncate clear the set-ID bits. */
    int fd = open("/suid_write", O_WRONLY);
    result("write /suid_write", write(fd, "z", 1) == 1 ? 0 : -1);
    result("empty write /suid_write", write(fd, "", 0) == 0 ? 0 : -1);
    close(fd);
    result("truncate /suid_trunc", truncate("/suid_trunc", 0));
    fd = open("/sgid_noexec", O_WRONLY);
    result("write /sgid_noexec", write(fd, "z", 1) == 1 ? 0 : -1);
    close(fd);
    struct stat a, b, c;
    stat("/suid_write", &a);
    stat("/suid_trunc", &b);
    stat("/sgid_noexec", &c);
    printf("modes %o %o %o\n", a.st_mode & 07777, b.st_mode & 07777, c.st_mode & 07777);
    return 0;
  }
  if (argc != 3 || strcmp(argv[1], "hostile") != 0) return 2;
  const char *bundle = argv[2];
  char host_secret[4096], host_pwned[4096];
  snprintf(host_secret, sizeof host_secret, "%s/secret", bundle);
  snprintf(host_pwned, sizeof host_pwned, "%s/pwned", bundle);

  result("symlink /rootlink -> /", symlink("/", "/rootlink"));
  result("symlink /up -> ../../../..", symlink("../../../..", "/up"));
  result("symlink /hostabs -> BUNDLE/secret", symlink(host_secret, "/hostabs"));
  result("symlink /data/hostlink -> BUNDLE/secret", symlink(host_secret, "/data/hostlink"));
  result("symlink /data/uplink -> ../../..", symlink("../../..", "/data/uplink"));

  /* Reads: each resolves inside the sandbox or not at all. */
  try_read("/../../../secret");
  try_read("/rootlink/../secret");
  try_read("/up/secret");
  try_read("/up/up/secret");
  try_read("/hostabs");
  try_read("/data/hostlink");
  try_read("/data/uplink/secret");
  try_read("/data/../../secret");
  try_read("/proc/self/root/../secret");
  try_read(host_secret);

  /* A dirfd at the root followed by "..". */
  int root = open("/", O_RDONLY | O_DIRECTORY);
  try_read_at(root, "openat(/, ../../secret)", "../../secret");
  try_create_at(root, "openat(/, ../../made_by_openat)", "../../made_by_openat", O_EXCL);

  /* /proc/PID/fd/N of a closed descriptor. */
  int fd = open("/inside", O_RDONLY);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getpid(), fd);
  close(fd);
  try_read_at(AT_FDCWD, "/proc/PID/fd/N (closed)", path);
  snprintf(path, sizeof path, "/proc/self/fd/%d/../secret", root);
  try_read_at(AT_FDCWD, "/proc/self/fd/ROOT/../secret", path);

  /* Writes through the same tricks. */
  try_create("/hostabs");
  try_create("/data/hostlink");
  try_create(host_pwned);
  try_create("/up/made_via_up");
  try_create("/data/uplink/made_via_data_uplink");
  try_create("/data/../../made_via_data_dotdot");
  try_create("/proc/self/root/../made_via_proc_root");
  result("mkdir /rootlink/../../dir_via_rootlink", mkdir("/rootlink/../../dir_via_rootlink", 0755));
  result("rename /inside -> /up/../../renamed", rename("/inside", "/up/../../renamed"));
  result("link /renamed -> /data/../../linked", link("/renamed", "/data/../../linked"));
  result("rename /renamed -> /data/renamed (EXDEV)", rename("/renamed", "/data/renamed"));
  result("truncate /data/hostlink", truncate("/data/hostlink", 0));
  result("chmod /data/hostlink", chmod("/data/hostlink", 0777));
  result("chmod /hostabs", chmod("/hostabs", 0777));
  try_create("/data/ok");
  try_read("/data/ok");
  try_read("/secret");
  return 0;
}
