/* Names of anonymous memory in /proc/self/maps: shared anonymous memory shows as the deleted
 * /dev/zero behind it, prctl(PR_SET_VMA_ANON_NAME) names private ([anon:NAME]) and shared
 * ([anon_shmem:NAME]) anonymous memory, splits a mapping named in part, and refuses file
 * mappings (EBADF), bad names and unaligned starts (EINVAL) and holes (ENOMEM). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "_check.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

/* Prints the maps lines that overlap [p, p+len), addresses relative to p. */
static void show(const char *what, char *p, size_t len) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  printf("%s:\n", what);
  while (fgets(line, sizeof(line), f)) {
    unsigned long s, e;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3) continue;
    if (e <= (uintptr_t)p || s >= (uintptr_t)p + len) continue;
    char *name = line;
    for (int field = 0; field < 5 && name; field++) {
      name = strchr(name, ' ');
      if (name) name++;
    }
    while (name && *name == ' ') name++;
    if (name) name[strcspn(name, "\n")] = 0;
    printf("  +%lx-+%lx %s [%s]\n", s - (uintptr_t)p, e - (uintptr_t)p, perms, name ? name : "");
  }
  fclose(f);
}

static long name_vma(void *p, size_t len, const char *name) {
  return prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, len, (unsigned long)name);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *priv = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("private anonymous", priv, 3 * 4096);
  R("name it", name_vma(priv, 3 * 4096, "test"));
  show("named", priv, 3 * 4096);
  R("name the middle page", name_vma(priv + 4096, 4096, "mid"));
  show("middle named apart", priv, 3 * 4096);
  R("empty name", name_vma(priv, 3 * 4096, ""));
  show("empty name", priv, 3 * 4096);
  R("no name", name_vma(priv, 3 * 4096, NULL));
  show("unnamed", priv, 3 * 4096);

  R("unaligned start", name_vma(priv + 1, 4096, "x"));
  R("a name with [", name_vma(priv, 4096, "a[b"));
  R("a name with a newline", name_vma(priv, 4096, "a\nb"));
  char longname[100];
  memset(longname, 'n', sizeof(longname));
  longname[79] = 0;
  R("79 bytes", name_vma(priv, 4096, longname));
  longname[79] = 'n';
  longname[80] = 0;
  R("80 bytes", name_vma(priv, 4096, longname));
  R("another option", prctl(PR_SET_VMA, 1, (unsigned long)priv, 4096, (unsigned long)"x"));
  munmap(priv + 4096, 4096);
  R("a range with a hole", name_vma(priv, 3 * 4096, "holed"));
  show("around the hole", priv, 3 * 4096);

  char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  show("shared anonymous", shared, 4096);
  R("name it", name_vma(shared, 4096, "shm"));
  show("named", shared, 4096);
  R("no name", name_vma(shared, 4096, NULL));
  show("unnamed", shared, 4096);

  int fd = open("/proc/self/exe", O_RDONLY);
  char *file = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  R("name a file mapping", name_vma(file, 4096, "f"));
  R("unname a file mapping", name_vma(file, 4096, NULL));
  return 0;
}
