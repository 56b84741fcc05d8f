/* /dev/null, /dev/zero and /dev/full with bad buffers, as Linux's drivers: /dev/null reads 0 and
 * /dev/null and /dev/zero take writes without reading the buffer; /dev/full refuses writes with
 * ENOSPC; /dev/zero reads fault (EFAULT, or the count up to the fault). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <unistd.h>
#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)
int main(void) {
  int n = open("/dev/null", O_RDWR), z = open("/dev/zero", O_RDWR), f = open("/dev/full", O_RDWR);
  static void *volatile bad_address = (void *)8; /* volatile: gcc must not see the constant */
  void *bad = bad_address;
  R("read /dev/null bad", read(n, bad, 10));
  R("write /dev/null bad", write(n, bad, 10));
  R("read /dev/zero bad", read(z, bad, 10));
  R("write /dev/zero bad", write(z, bad, 10));
  R("read /dev/full bad", read(f, bad, 10));
  R("write /dev/full bad", write(f, bad, 10));
  struct iovec iov[2] = {{bad, 10}, {bad, 5}};
  R("readv /dev/null bad", readv(n, iov, 2));
  R("writev /dev/null bad", writev(n, iov, 2));
  R("readv /dev/zero bad", readv(z, iov, 2));
  R("writev /dev/zero bad", writev(z, iov, 2));
  R("pread /dev/zero bad", pread(z, bad, 10, 0));
  R("pwrite /dev/null bad", pwrite(n, bad, 10, 0));
  char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 4096, 4096);
  R("read /dev/zero partly bad", read(z, m + 100, 8192));
  R("write /dev/null partly bad", write(n, m + 100, 8192));
  R("read /dev/null partly bad", read(n, m + 100, 8192));
  return 0;
}
