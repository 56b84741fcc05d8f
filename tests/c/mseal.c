/* mseal(2) as natively (Linux 6.10+): argument errors in order; a sealed mapping refuses
 * munmap, mprotect, mremap (of it or onto it), mmap(MAP_FIXED) over it and discarding madvise
 * when read-only and anonymous, with EPERM and nothing changed; a writable one may be
 * MADV_DONTNEED'd; smaps shows "sl" on it only; the seal survives fork. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-40s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)
#define P 4096L

static long mseal(void *a, unsigned long len, unsigned long flags) { return syscall(462, a, len, flags); }

/* The VmFlags of the smaps entry starting at a, with "sl" or not. */
static void sealed_flag(const char *what, char *a) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0, sl = -1;
  unsigned long start;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-", &start) == 1 && strchr(line, '-') && line[0] != 'V') in = start == (unsigned long)a;
    if (in && strncmp(line, "VmFlags:", 8) == 0) sl = strstr(line, " sl") != NULL;
  }
  fclose(f);
  printf("%-40s sl=%d\n", what, sl);
}

static long mremap_fixed(void *old, size_t oldlen, size_t newlen, void *to) {
  void *r = mremap(old, oldlen, newlen, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  return r == MAP_FAILED ? -1 : 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *m = mmap(NULL, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 6 * P, P); /* a hole at page 6 */
  R("flags 1", mseal(m, P, 1));
  R("unaligned", mseal(m + 1, P, 0));
  R("length wraps", mseal(m, (unsigned long)-P + 2, 0));
  R("end wraps", mseal((void *)-P, 2 * P, 0));
  R("length 0", mseal(m, 0, 0));
  R("over the hole", mseal(m + 5 * P, 2 * P, 0));
  R("unmapped", mseal((void *)0x10000, P, 0));
  m[P] = 'x';
  R("pages 1-2", mseal(m + P, 2 * P, 0));
  R("again", mseal(m + P, 2 * P, 0));
  sealed_flag("page 0", m);
  sealed_flag("pages 1-2", m + P);
  sealed_flag("page 3", m + 3 * P);
  R("munmap page 1", munmap(m + P, P));
  R("munmap pages 0-3", munmap(m, 4 * P));
  R("mprotect page 2", mprotect(m + 2 * P, P, PROT_READ));
  R("mprotect same prot", mprotect(m + 2 * P, P, PROT_READ | PROT_WRITE));
  R("mremap shrink", mremap(m + P, 2 * P, P, 0) == MAP_FAILED ? -1 : 0);
  R("mremap grow", mremap(m + P, 2 * P, 3 * P, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
  R("mremap move away", mremap_fixed(m + P, 2 * P, 2 * P, m + 10 * P));
  R("mremap onto it", mremap_fixed(m + 3 * P, P, P, m + P));
  R("mmap MAP_FIXED over it", mmap(m + P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ? -1 : 0);
  R("madvise DONTNEED writable", madvise(m + P, P, MADV_DONTNEED));
  printf("page 1 after: %d\n", m[P]);
  R("madvise WILLNEED", madvise(m + P, P, MADV_WILLNEED));
  R("munmap page 3", munmap(m + 3 * P, P));
  R("mprotect page 0", mprotect(m, P, PROT_READ));
  /* A read-only sealed anonymous mapping refuses discards. */
  char *ro = mmap(NULL, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  R("seal read-only", mseal(ro, 2 * P, 0));
  R("madvise DONTNEED read-only", madvise(ro, P, MADV_DONTNEED));
  R("madvise FREE read-only", madvise(ro, P, MADV_FREE));
  R("madvise DONTFORK read-only", madvise(ro, P, MADV_DONTFORK));
  R("madvise WIPEONFORK read-only", madvise(ro, P, MADV_WIPEONFORK));
  R("madvise NORMAL read-only", madvise(ro, P, MADV_NORMAL));
  R("munmap read-only", munmap(ro, 2 * P));
  pid_t pid = fork();
  if (pid == 0) {
    R("child: munmap page 1", munmap(m + P, P));
    sealed_flag("child: pages 1-2", m + P);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  return 0;
}
