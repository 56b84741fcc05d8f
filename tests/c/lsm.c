/* The LSM syscalls as natively, where the hosts agree: the module list holds capabilities
 * and Landlock (the host may have more), no module has per-process attributes, and the
 * argument checks come in Linux's order. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-36s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  uint64_t ids[32];
  uint32_t size = sizeof ids;
  long n = syscall(461, ids, &size, 0);
  int cap = 0, landlock = 0;
  for (long i = 0; i < n; i++) cap |= ids[i] == 100, landlock |= ids[i] == 110;
  printf("list: positive %d, size is 8 per module %d, capability %d, landlock %d\n", n > 0, size == 8 * n, cap, landlock);
  uint32_t small = 0;
  R("list size too small", syscall(461, ids, &small, 0));
  printf("size told: %d\n", small == 8 * n);
  R("list flags 1", syscall(461, ids, &size, 1));
  R("list flags 1, size NULL", syscall(461, ids, NULL, 1));
  R("list size NULL", syscall(461, ids, NULL, 0));
  size = sizeof ids;
  R("list ids NULL", syscall(461, NULL, &size, 0));

  char buf[256];
  uint32_t sz = sizeof buf;
  R("get attr 1", syscall(459, 1, buf, &sz, 0));
  printf("size after: %u\n", sz);
  sz = sizeof buf;
  R("get attr 0", syscall(459, 0, buf, &sz, 0));
  R("get size NULL", syscall(459, 1, buf, NULL, 0));
  R("get size bad", syscall(459, 1, buf, (void *)8, 0));
  sz = sizeof buf;
  R("get flags 2", syscall(459, 1, buf, &sz, 2));
  R("get SINGLE, ctx NULL", syscall(459, 1, NULL, &sz, 1));
  memset(buf, 0, sizeof buf);
  R("get SINGLE, id 0", syscall(459, 1, buf, &sz, 1));
  R("get SINGLE, ctx bad", syscall(459, 1, (void *)8, &sz, 1));
  *(uint64_t *)buf = 100;
  R("get SINGLE, capability", syscall(459, 1, buf, &sz, 1));
  sz = sizeof buf;
  R("get ctx NULL", syscall(459, 1, NULL, &sz, 0));
  R("get attr 100", syscall(459, 100, buf, &sz, 0));

  memset(buf, 0, sizeof buf);
  R("set size 0", syscall(460, 1, buf, 0, 0));
  R("set size 31", syscall(460, 1, buf, 31, 0));
  R("set flags 1", syscall(460, 1, buf, 64, 1));
  R("set size 8192", syscall(460, 1, buf, 8192, 0));
  R("set ctx NULL", syscall(460, 1, NULL, 64, 0));
  R("set zero ctx", syscall(460, 1, buf, 64, 0));
  uint64_t *h = (uint64_t *)buf;
  h[0] = 110, h[1] = 0, h[2] = 40, h[3] = 8;
  R("set landlock", syscall(460, 1, buf, 64, 0));
  R("set attr 0", syscall(460, 0, buf, 64, 0));
  h[0] = 100;
  R("set capability", syscall(460, 1, buf, 64, 0));
  h[2] = 72;
  R("set len beyond size", syscall(460, 1, buf, 64, 0));
  h[2] = 40, h[3] = 16;
  R("set ctx_len beyond len", syscall(460, 1, buf, 64, 0));
  h[3] = (uint64_t)-32;
  R("set ctx_len wrapping", syscall(460, 1, buf, 64, 0));
  return 0;
}
