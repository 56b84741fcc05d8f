/* cachestat(2) as natively on tmpfs (/dev/shm): written pages are cached, holes
 * and pages only read through a mapping are not (fallocate is left out: on a tmpfs without
 * size= the sentry gives memory on write), a mapping's writes are; nothing is dirty;
 * the range's edges; and the errors in Linux's order (EBADF, EFAULT, EPERM, EINVAL, EFAULT). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
struct r { uint64_t off, len; };
struct cs { uint64_t cache, dirty, wb, ev, rev; };
static void show(const char *what, int fd, uint64_t off, uint64_t len) {
  struct r r = {off, len}; struct cs c; memset(&c, 0x55, sizeof c);
  errno = 0; long x = syscall(451, fd, &r, &c, 0);
  printf("%-28s = %ld %s cache %lu dirty %lu wb %lu ev %lu rev %lu\n", what, x, x < 0 ? strerrorname_np(errno) : "", c.cache, c.dirty, c.wb, c.ev, c.rev);
}
#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-36s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open("/dev/shm/cs_probe", O_RDWR | O_CREAT | O_TRUNC, 0600);
  char page[4096]; memset(page, 'a', sizeof page);
  ftruncate(fd, 16 * 4096);
  show("truncated 16", fd, 0, 0);
  pwrite(fd, page, 4096, 0); pwrite(fd, page, 100, 3 * 4096 + 50);
  show("written 0,3", fd, 0, 0);
  show("range 1..3", fd, 4096, 3 * 4096);
  show("range off 3 len 1", fd, 3 * 4096 + 4000, 1);
  char *m = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  m[8 * 4096] = 1; (void)m[9 * 4096];
  show("mmap write 8 read 9", fd, 0, 0);
  show("beyond eof", fd, 100 * 4096, 4096);
  show("off huge len 0", fd, UINT64_MAX, 0);
  show("overflow", fd, UINT64_MAX - 10, 100);
  int p[2]; pipe(p);
  show("pipe", p[0], 0, 0);
  int ro = open("/dev/shm/cs_probe", O_RDONLY);
  show("rdonly own", ro, 0, 0);
  int op = open("/dev/shm/cs_probe", O_PATH);
  show("O_PATH", op, 0, 0);
  struct r r = {0, 0}; struct cs c;
  R("bad fd", syscall(451, 999, &r, &c, 0));
  R("bad fd, range NULL", syscall(451, 999, NULL, &c, 0));
  R("range NULL", syscall(451, fd, NULL, &c, 0));
  R("range NULL, flags 1", syscall(451, fd, NULL, &c, 1));
  R("flags 1", syscall(451, fd, &r, &c, 1));
  R("flags 1, out NULL", syscall(451, fd, &r, NULL, 1));
  R("out NULL", syscall(451, fd, &r, NULL, 0));
  fchmod(fd, 0644);
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) _exit(1);
    R("nobody, read-only, not owner", syscall(451, ro, &r, &c, 0));
    R("nobody, flags 1", syscall(451, ro, &r, &c, 1));
    R("nobody, range NULL", syscall(451, ro, NULL, &c, 0));
    R("nobody, opened for writing", syscall(451, fd, &r, &c, 0));
    fchmod(fd, 0666); /* fails: not the owner */
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  fchmod(fd, 0666);
  pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) _exit(1);
    R("nobody, read-only, world-writable", syscall(451, ro, &r, &c, 0));
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  ftruncate(fd, 2 * 4096);
  show("truncated to 2", fd, 0, 0);
  unlink("/dev/shm/cs_probe");
  return 0;
}
