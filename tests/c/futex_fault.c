/* A shared futex op (no FUTEX_PRIVATE_FLAG) needs the page of its word (Linux's get_futex_key):
 * EFAULT for an unmapped address, a PROT_NONE mapping and a file mapping's page past the file's
 * end, for WAKE and for either word of CMP_REQUEUE; a private op keys by address only and does
 * not look (LTP futex_wake05, futex_cmp_requeue03). */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "_check.h"

static void show(const char *what, long r) { printf("%s: %ld %s\n", what, r, en(r < 0 ? errno : 0)); }

int main(void) {
  long ps = 4096;
  char *three = mmap(NULL, 3 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(three + ps, ps);
  int *un = (int *)(three + ps);
  int *pn = mmap(NULL, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char name[] = "/tmp/futex_fault_XXXXXX";
  int fd = mkstemp(name);
  ftruncate(fd, 2 * ps);
  int *file = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ftruncate(fd, ps + 8); /* the second page still holds the file's last bytes */
  int *past = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ftruncate(fd, 0);
  close(fd);
  unlink(name);
  int ok = 0;
  int *words[] = {un, pn, past, file + ps / 4};
  const char *names[] = {"unmapped", "PROT_NONE", "truncated file", "page past end after re-truncation"};
  char what[128];
  for (int i = 0; i < 4; i++) {
    snprintf(what, sizeof what, "%s wake", names[i]);
    show(what, syscall(SYS_futex, words[i], FUTEX_WAKE, 1, NULL, NULL, 0));
    snprintf(what, sizeof what, "%s wake private", names[i]);
    show(what, syscall(SYS_futex, words[i], FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0));
    snprintf(what, sizeof what, "%s cmp_requeue uaddr2", names[i]);
    show(what, syscall(SYS_futex, &ok, FUTEX_CMP_REQUEUE, 1, 1, words[i], 0));
    snprintf(what, sizeof what, "%s cmp_requeue uaddr", names[i]);
    show(what, syscall(SYS_futex, words[i], FUTEX_CMP_REQUEUE, 1, 1, &ok, 0));
  }
  show("mapped wake", syscall(SYS_futex, &ok, FUTEX_WAKE, 1, NULL, NULL, 0));
  return 0;
}
