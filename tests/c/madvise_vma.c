/* madvise's per-mapping rules and MADV_WIPEONFORK: a fork's child reads zeros from a wiped
 * private anonymous mapping (the parent keeps its data), MADV_KEEPONFORK undoes it, smaps shows
 * "wf"; WIPEONFORK of file or shared memory, MADV_FREE of file, shared or locked memory,
 * MADV_REMOVE of locked (EINVAL) or private file memory (EACCES), MADV_COLD and MADV_PAGEOUT of
 * locked memory are refused. Run natively and in the sentry; the outputs must match. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096
#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static int smaps_has_wf(void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0, wf = 0;
  unsigned long want = (unsigned long)p;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') == line + strcspn(line, "-")) in = s <= want && want < e;
    if (in && strncmp(line, "VmFlags:", 8) == 0) wf = strstr(line, " wf") != NULL;
  }
  if (f) fclose(f);
  return wf;
}

static void child_reads(const char *what, char *p) {
  pid_t c = fork();
  if (c == 0) {
    printf("%s: child reads %d %d\n", what, p[0], p[PG]);
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  a[0] = 1;
  a[PG] = 2;
  R("WIPEONFORK first page", madvise(a, PG, MADV_WIPEONFORK));
  R("  smaps wf", smaps_has_wf(a));
  R("  second page wf", smaps_has_wf(a + PG));
  child_reads("wiped first page", a);
  printf("parent keeps %d %d\n", a[0], a[PG]);
  pid_t c = fork();
  if (c == 0) {
    /* The child's own mapping keeps the flag: its child reads zeros again. */
    a[0] = 5;
    child_reads("grandchild", a);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  R("KEEPONFORK", madvise(a, 2 * PG, MADV_KEEPONFORK));
  child_reads("kept", a);

  char *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  R("WIPEONFORK shared anonymous", madvise(sh, PG, MADV_WIPEONFORK));
  R("FREE shared anonymous", madvise(sh, PG, MADV_FREE));
  R("KEEPONFORK shared anonymous", madvise(sh, PG, MADV_KEEPONFORK));
  char path[] = "/tmp/madvise_vma_XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  ftruncate(fd, 2 * PG);
  char *fp = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
  char *fs = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
  R("WIPEONFORK private file", madvise(fp, PG, MADV_WIPEONFORK));
  R("FREE private file", madvise(fp, PG, MADV_FREE));
  R("REMOVE private file", madvise(fp, PG, MADV_REMOVE));
  R("REMOVE anonymous", madvise(a, PG, MADV_REMOVE));
  R("REMOVE shared file", madvise(fs, PG, MADV_REMOVE));
  R("FREE private anonymous", madvise(a, PG, MADV_FREE));
  R("mlock", mlock(a, PG));
  R("FREE locked", madvise(a, PG, MADV_FREE));
  R("COLD locked", madvise(a, PG, MADV_COLD));
  R("PAGEOUT locked", madvise(a, PG, MADV_PAGEOUT));
  R("COLD unlocked page", madvise(a + PG, PG, MADV_COLD));
  R("mlock shared file", mlock(fs, PG));
  R("REMOVE locked shared file", madvise(fs, PG, MADV_REMOVE));
  return 0;
}
