/* remap_file_pages(2) as natively (Linux >= 4.0 emulates it with mmap): the errors in Linux's
 * order (prot not 0, an empty or wrapping range, no VMA at start, a private mapping, a range
 * past the mapping or over a hole, another file's or other rights' VMA beyond it), then a
 * window of a shared file mapping rearranged page by page: what each page shows, that writes
 * through it reach the file at the new offset, the VMAs /proc/self/maps shows, a range over
 * two remapped VMAs of the same file, MAP_NONBLOCK, a pgoff past the file (SIGBUS), and a System
 * V segment (remapped; once IPC_RMID marked it, the remap dropping its last attach fails). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#define P 4096L
#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-44s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static long rfp(void *start, unsigned long size, unsigned long prot, unsigned long pgoff, unsigned long flags) {
  return syscall(SYS_remap_file_pages, start, size, prot, pgoff, flags);
}

/* The first byte of each page of the window, as letters ('a' + the file page it shows). */
static void show(const char *what, char *w, int pages) {
  printf("%-44s : ", what);
  for (int i = 0; i < pages; i++) putchar(w[i * P]);
  putchar('\n');
}

/* The mappings of [w, w + len) in /proc/self/maps: their extents in pages and file offsets. */
static void maps(const char *what, char *w, long len) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  printf("%s:", what);
  while (fgets(line, sizeof line, f)) {
    unsigned long s, e, off;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s %lx", &s, &e, perms, &off) != 4) continue;
    if (e <= (unsigned long)w || s >= (unsigned long)w + len) continue;
    printf(" [%ld,%ld)%s@%ld", (long)(s - (unsigned long)w) / P, (long)(e - (unsigned long)w) / P, perms, (long)off / P);
  }
  putchar('\n');
  fclose(f);
}

static sigjmp_buf jb;
static void onbus(int sig) {
  (void)sig;
  siglongjmp(jb, 1);
}

int main(void) {
  char path[] = "/tmp/remap_file_pagesXXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  unlink(path);
  char page[P];
  for (int i = 0; i < 8; i++) {
    memset(page, 'a' + i, P);
    if (pwrite(fd, page, P, i * P) != P) return 2;
  }
  /* Nine pages reserved, so that the page after the window is the test's own. */
  char *w = mmap(0, 9 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED || mmap(w, 8 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != w) return 3;
  char *priv = mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (priv == MAP_FAILED) return 3;

  R("prot 1", rfp(w, P, PROT_READ, 1, 0));
  R("size 0", rfp(w, 0, 0, 1, 0));
  R("size under a page", rfp(w, P - 1, 0, 1, 0));
  R("wrapping range", rfp(w, -2 * P, 0, 1, 0));
  R("wrapping pgoff", rfp(w, P, 0, -1UL, 0));
  R("private mapping", rfp(priv, P, 0, 1, 0));
  R("no mapping at start", rfp(w + 8 * P, P, 0, 1, 0));
  R("past the mapping", rfp(w + 7 * P, 2 * P, 0, 1, 0));
  R("unknown flags (ignored)", rfp(w, P, 0, 0, 0x12345));
  show("identity", w, 8);

  /* Reverse the middle four pages, one at a time; an unaligned start and size are rounded down. */
  R("page 2 <- file 5", rfp(w + 2 * P + 5, P + 7, 0, 5, 0));
  R("page 3 <- file 4", rfp(w + 3 * P, P, 0, 4, MAP_NONBLOCK));
  R("page 4 <- file 3", rfp(w + 4 * P, P, 0, 3, 0));
  R("page 5 <- file 2", rfp(w + 5 * P, P, 0, 2, 0));
  show("middle reversed", w, 8);
  maps("maps", w, 8 * P);

  /* A write through the window lands in the file at the page it shows. */
  w[2 * P + 1] = 'Z';
  char b = 0;
  pread(fd, &b, 1, 5 * P + 1);
  printf("%-44s : %c\n", "write via page 2, file page 5 reads", b);

  /* Over several remapped VMAs of the same file and rights: one range. */
  R("pages 2-5 <- file 0-3", rfp(w + 2 * P, 4 * P, 0, 0, 0));
  show("pages 2-5 show file 0-3", w, 8);
  maps("maps", w, 8 * P);

  /* Another mapping's VMA beyond the range, and one with other rights. */
  char *x = mmap(w + 8 * P, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  if (x != w + 8 * P) return 4;
  R("into another mapping of the file", rfp(w + 7 * P, 2 * P, 0, 0, 0));
  mprotect(w + 6 * P, P, PROT_READ);
  R("into a VMA with other rights", rfp(w + 5 * P, 2 * P, 0, 0, 0));
  R("a read-only VMA alone", rfp(w + 6 * P, P, 0, 7, 0));
  show("page 6 shows file 7", w, 8);
  maps("maps", w, 8 * P);
  R("write to the read-only page", mprotect(w + 6 * P, P, PROT_READ | PROT_WRITE));

  /* A pgoff past the end of the file maps, and a touch there is SIGBUS. */
  R("page 0 <- file 100", rfp(w, P, 0, 100, 0));
  signal(SIGBUS, onbus);
  if (sigsetjmp(jb, 1) == 0) {
    volatile char c = w[0];
    (void)c;
    printf("%-44s : no signal\n", "touch past the file");
  } else {
    printf("%-44s : SIGBUS\n", "touch past the file");
  }

  /* A System V segment: remapped in place; once IPC_RMID marked it, the remap that drops its
   * last attach destroys it and fails, the range left unmapped; with another attach left it
   * works. */
  int id = shmget(IPC_PRIVATE, 2 * P, IPC_CREAT | 0600);
  char *s1 = shmat(id, 0, 0), *s2 = shmat(id, 0, 0);
  s1[0] = 'p';
  s1[P] = 'q';
  R("shm: page 0 <- segment page 1", rfp(s1, P, 0, 1, 0));
  printf("%-44s : %c\n", "shm: page 0 shows", s1[0]);
  shmctl(id, IPC_RMID, 0);
  R("shm: marked, another attach left", rfp(s1, P, 0, 0, 0));
  printf("%-44s : %c\n", "shm: page 0 shows", s1[0]);
  shmdt(s2);
  R("shm: marked, the last attaches", rfp(s1, 2 * P, 0, 0, 0));
  R("shm: the range after (msync)", msync(s1, P, MS_ASYNC));
  R("shm: the id after", shmctl(id, IPC_STAT, &(struct shmid_ds){0}));

  /* Shared anonymous memory is left out: Linux remaps its shmem file, the sentry refuses. */
  return 0;
}
