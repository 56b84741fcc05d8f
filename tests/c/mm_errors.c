/* mmap, mprotect, madvise and munmap argument errors as Linux 6.18 gives them: file offsets past
 * MAX_LFS_FILESIZE (a negative one too) EOVERFLOW, anonymous ones ignored, unknown mmap
 * protection bits ignored; madvise's valid advice values, wrapping lengths, holes (ENOMEM) and
 * MADV_REMOVE on private memory. Guard regions (102, 103) are left out: the sentry refuses them
 * as kernels before 6.13 do. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_ == -1 ? -1L : 0L, r_ == -1 ? strerrorname_np(errno) : ""); } while (0)
int main(void) {
  int fd = open("/proc/self/exe", O_RDONLY);
  R("mmap file offset -4096", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, -4096));
  R("mmap anon offset -4096", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, -4096));
  R("mmap file offset 2^62", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 1L << 62));
  R("mmap file offset near end", mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0x7ffffffffffff000L));
  R("mmap len 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  R("mmap len -1", mmap(NULL, (size_t)-1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  R("mmap len huge", mmap(NULL, 1UL << 47, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  R("mmap bad prot", mmap(NULL, 4096, 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  R("mmap no type", mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0));
  R("mmap fixed unaligned", mmap((void *)0x10001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  R("mmap fixed high", mmap((void *)(1UL << 47), 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  char *p = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(p + 4096, 4096);
  R("mprotect over hole", mprotect(p, 3 * 4096, PROT_READ | PROT_WRITE));
  R("mprotect unaligned", mprotect(p + 1, 4096, PROT_READ));
  R("mprotect unmapped", mprotect((void *)0x10000, 4096, PROT_READ));
  R("mprotect bad prot", mprotect(p, 4096, 0x100));
  R("mprotect len wraps", mprotect(p, (size_t)-4096, PROT_READ));
  R("mprotect len 0", mprotect(p, 0, PROT_READ));
  R("mprotect high", mprotect((void *)(1UL << 47), 4096, PROT_READ));
  R("madvise over hole", madvise(p, 3 * 4096, MADV_DONTNEED));
  R("madvise hole normal", madvise(p, 3 * 4096, MADV_NORMAL));
  R("madvise unaligned", madvise(p + 1, 4096, MADV_NORMAL));
  R("madvise bad advice", madvise(p, 4096, 999));
  R("madvise len wraps", madvise(p, (size_t)-4096, MADV_NORMAL));
  R("madvise unmapped", madvise((void *)0x10000, 4096, MADV_NORMAL));
  R("madvise unmapped willneed", madvise((void *)0x10000, 4096, MADV_WILLNEED));
  R("madvise dontfork", madvise(p, 4096, MADV_DONTFORK));
  R("madvise hugepage", madvise(p, 4096, MADV_HUGEPAGE));
  R("madvise remove private", madvise(p, 4096, MADV_REMOVE));
  R("madvise free", madvise(p, 4096, MADV_FREE));
  R("munmap unaligned", munmap(p + 1, 4096));
  R("munmap len 0", munmap(p, 0));
  R("munmap high", munmap((void *)(1UL << 47), 4096));
  R("munmap len wraps", munmap(p, (size_t)-4096));
  int pfd[2];
  pipe(pfd);
  R("mmap a pipe", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, pfd[0], 0));
  R("mmap a pipe's write end", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, pfd[1], 0));
  R("mmap a directory", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, open("/", O_RDONLY), 0));
  R("mmap an O_PATH descriptor", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, open("/proc/self/exe", O_PATH), 0));
  R("mmap /dev/random", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, open("/dev/random", O_RDONLY), 0));
  R("mmap /dev/null", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, open("/dev/null", O_RDONLY), 0));
  R("mmap /dev/zero", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, open("/dev/zero", O_RDONLY), 0));
  R("mmap a socket", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, socket(AF_UNIX, SOCK_STREAM, 0), 0));
  R("mmap an eventfd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, eventfd(0, 0), 0));
  R("anonymous MAP_SHARED_VALIDATE", mmap(NULL, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0));
  {
    /* File mappings: flags MAP_SHARED_VALIDATE refuses (EOPNOTSUPP), MAP_HUGETLB without a
     * hugetlbfs file and MAP_GROWSDOWN (EINVAL). */
    int ffd = open("/proc/self/exe", O_RDONLY);
    printf("MAP_SHARED_VALIDATE accepts:");
    for (int b = 2; b < 32; b++) {
      unsigned fl = 1u << b;
      if (fl == MAP_FIXED || fl == MAP_FIXED_NOREPLACE) continue;
      errno = 0;
      void *v = mmap(NULL, 4096, PROT_READ, MAP_SHARED_VALIDATE | fl, ffd, 0);
      if (v != MAP_FAILED) { printf(" %#x", fl); munmap(v, 4096); }
      else if (errno != EOPNOTSUPP) printf(" %#x:%s", fl, strerrorname_np(errno));
    }
    printf("\n");
    R("MAP_SHARED_VALIDATE|MAP_FIXED_NOREPLACE", mmap((void *)0x700000000000, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE, ffd, 0));
    R("file MAP_PRIVATE|MAP_GROWSDOWN", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, ffd, 0));
    R("file MAP_SHARED|MAP_HUGETLB", mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_HUGETLB, ffd, 0));
    close(ffd);
  }
  char *q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("advice values refused:");
  for (int a = 0; a < 110; a++) {
    if (a == 102 || a == 103) continue;
    errno = 0;
    if (madvise(q, 4096, a) != 0) printf(" %d:%s", a, strerrorname_np(errno));
  }
  printf("\n");
  return 0;
}
