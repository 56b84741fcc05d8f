/* A memfd (tmpfs) grows to MAX_LFS_FILESIZE, 2^63 - 1 bytes: ftruncate to it succeeds and fstat
 * shows it exactly; one byte more is negative (EINVAL); a read at its end is EINVAL (the end of
 * the range would pass 2^63), as Linux's rw_verify_area. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
  int fd = memfd_create("big", 0);
  int r = ftruncate(fd, LLONG_MAX);
  printf("ftruncate(LLONG_MAX): %s\n", r == 0 ? "ok" : strerrorname_np(errno));
  struct stat st;
  fstat(fd, &st);
  printf("st_size is LLONG_MAX: %d\n", st.st_size == LLONG_MAX);
  char buf[10];
  ssize_t n = pread(fd, buf, sizeof buf, LLONG_MAX);
  printf("pread at LLONG_MAX: %zd %s\n", n, n < 0 ? strerrorname_np(errno) : "");
  n = pread(fd, buf, sizeof buf, 4096);
  printf("pread of a hole: %zd, zeros: %d\n", n, buf[0] == 0 && buf[9] == 0);
  r = ftruncate(fd, (off_t)((unsigned long long)LLONG_MAX + 1));
  printf("ftruncate(LLONG_MAX + 1): %s\n", r == 0 ? "ok" : strerrorname_np(errno));
  r = ftruncate(fd, 1 << 20);
  fstat(fd, &st);
  printf("back to 1 MiB: %s, size %lld\n", r == 0 ? "ok" : strerrorname_np(errno), (long long)st.st_size);
  return 0;
}
