/* Hostile paths through /proc, run as init of a small root filesystem: none may reach the
 * file "secret" that lies beside the root on the host. Prints one line per attempt. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_open(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("open %s: %s\n", path, strerror(errno));
    return;
  }
  char buf[64] = "";
  ssize_t n = read(fd, buf, sizeof buf - 1);
  printf("open %s: read %zd bytes: %s\n", path, n, n > 0 ? buf : "");
  close(fd);
}

static void try_readlink(const char *path) {
  char buf[256];
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n < 0) printf("readlink %s: %s\n", path, strerror(errno));
  else printf("readlink %s: %.*s\n", path, (int)n, buf);
}

int main(void) {
  try_readlink("/proc/self/root");
  try_open("/proc/self/root/../../../secret");
  try_open("/proc/1/root/../secret");
  try_open("/proc/self/cwd/../../secret");
  try_readlink("/proc/self/fd/9");
  try_open("/proc/self/fd/9");
  int dfd = open("/", O_RDONLY | O_DIRECTORY);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", dfd);
  try_readlink(p);
  snprintf(p, sizeof p, "/proc/self/fd/%d/../../secret", dfd);
  try_open(p);
  snprintf(p, sizeof p, "/proc/self/fd/%d/inside", dfd);
  try_open(p);
  if (chdir("/proc/self/root/../..") != 0) perror("chdir");
  char cwd[256];
  printf("cwd after chdir /proc/self/root/../..: %s\n", getcwd(cwd, sizeof cwd));
  try_open("secret");
  try_open("../secret");
  if (chroot("/proc") != 0) perror("chroot");
  try_readlink("/self/root");
  try_open("/self/root/../../secret");
  try_open("/../secret");
  return 0;
}
