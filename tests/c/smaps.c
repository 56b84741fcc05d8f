/*
 * /proc/self/smaps: the entries of a populated shared anonymous mapping, a private write-only
 * one, a shared read-only file mapping, a locked one, a grown-down stack-like one and a
 * MADV_DONTFORK one: sizes, resident counts (all pages touched), sharing, Anonymous, Locked and
 * VmFlags, as Linux shows them. Prints the fields of each.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void show(const char *what, void *addr) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512], want[32];
  snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
  int in = 0;
  long clean = 0, dirty = 0;
  printf("%s:\n", what);
  while (fgets(line, sizeof line, f) != NULL) {
    if (strchr(line, '-') != NULL && strchr(line, ':') != NULL && line[0] != ' ' && strncmp(line, "VmFlags", 7) != 0 &&
        strstr(line, " kB") == NULL && strncmp(line, "THP", 3) != 0) {
      in = strncmp(line, want, strlen(want)) == 0;
      if (in) printf("  %.4s\n", strchr(line, ' ') + 1);
      continue;
    }
    if (!in) continue;
    long v;
    char key[64];
    if (sscanf(line, "%63[^:]: %ld kB", key, &v) == 2) {
      if (!strcmp(key, "Private_Clean")) clean = v;
      else if (!strcmp(key, "Private_Dirty")) dirty = v;
      else if (!strcmp(key, "Size") || !strcmp(key, "Rss") || !strcmp(key, "Pss") || !strcmp(key, "Shared_Clean") ||
               !strcmp(key, "Shared_Dirty") || !strcmp(key, "Anonymous") || !strcmp(key, "Locked") ||
               !strcmp(key, "KernelPageSize") || !strcmp(key, "Swap"))
        printf("  %s %ld\n", key, v);
    } else if (!strncmp(line, "VmFlags:", 8)) {
      printf("  %s", line);
      printf("  Private %ld\n", clean + dirty);
    }
  }
  fclose(f);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long pg = sysconf(_SC_PAGESIZE);
  void *sa = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  show("shared anonymous", sa);
  void *pa = mmap(NULL, 3 * pg, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  show("private write-only", pa);
  char path[] = "/tmp/smaps-XXXXXX";
  int fd = mkstemp(path);
  if (ftruncate(fd, pg) != 0) return 1;
  close(fd);
  fd = open(path, O_RDONLY);
  void *fm = mmap(NULL, pg, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  show("shared read-only file", fm);
  unlink(path);
  /* Another file: a page mapped by two mappings would count as shared. */
  char path2[] = "/tmp/smaps-XXXXXX";
  int fd2 = mkstemp(path2);
  if (ftruncate(fd2, pg) != 0) return 1;
  void *pm = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd2, 0);
  show("private file", pm);
  unlink(path2);
  void *lk = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
  show("locked", lk);
  void *df = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  madvise(df, pg, MADV_DONTFORK);
  show("dontfork", df);
  return 0;
}
