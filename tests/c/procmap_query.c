/* ioctl(PROCMAP_QUERY) on /proc/self/maps (Linux 6.11): the mapping covering an address or,
 * with COVERING_OR_NEXT_VMA, the next one, filtered by permissions and file backing; its bounds,
 * permissions, page size, file offset, inode, device and name; the argument checks (size,
 * unknown flags, name buffer without address, a name that does not fit, bytes past the struct)
 * and ENOTTY elsewhere. Mappings are made at fixed addresses of the test's own, and only they are
 * queried. Output: the same natively and in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "_check.h"

struct procmap_query_ {
  uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY_ _IOWR('f', 17, struct procmap_query_)
#define BASE 0x200000000UL
#define PG 4096UL

static int maps;
static char name[256];

static long query(uint64_t addr, uint64_t flags, struct procmap_query_ *q) {
  memset(q, 0, sizeof *q);
  q->size = sizeof *q;
  q->query_addr = addr;
  q->query_flags = flags;
  q->vma_name_addr = (uintptr_t)name;
  q->vma_name_size = sizeof name;
  memset(name, 0, sizeof name);
  return ioctl(maps, PROCMAP_QUERY_, q);
}

static void show(const char *label, uint64_t addr, uint64_t flags) {
  struct procmap_query_ q;
  long r = query(addr, flags, &q);
  printf("%s: %ld %s", label, r, r < 0 ? en(errno) : "");
  if (r == 0) {
    printf(" [%#lx, %#lx) flags %#llx page %llu offset %#llx name %u \"%s\" build id %u", (unsigned long)(q.vma_start - BASE),
           (unsigned long)(q.vma_end - BASE), (unsigned long long)q.vma_flags, (unsigned long long)q.vma_page_size,
           (unsigned long long)q.vma_offset, q.vma_name_size, strstr(name, "/tmp/") == name ? "(the temp file)" : name,
           q.build_id_size);
  }
  printf("\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char path[] = "/tmp/procmap-XXXXXX";
  int fd = mkstemp(path);
  if (ftruncate(fd, 4 * PG) != 0) return 1;
  struct stat st;
  fstat(fd, &st);
  char *anon = mmap((void *)BASE, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  char *file = mmap((void *)(BASE + 3 * PG), 2 * PG, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, PG);
  char *exe = mmap((void *)(BASE + 5 * PG), PG, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
  char *sh = mmap((void *)(BASE + 7 * PG), PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (anon != (char *)BASE || file == MAP_FAILED || exe == MAP_FAILED || sh == MAP_FAILED) {
    printf("cannot map\n");
    return 1;
  }
  maps = open("/proc/self/maps", O_RDONLY);
  show("anonymous", BASE + 100, 0);
  show("file", BASE + 3 * PG + 5, 0);
  struct procmap_query_ q;
  query(BASE + 4 * PG, 0, &q);
  printf("file's inode and device match fstat: %d %d %d\n", q.inode == st.st_ino, q.dev_major == major(st.st_dev),
         q.dev_minor == minor(st.st_dev));
  show("in the gap", BASE + 2 * PG, 0);
  show("in the gap, or the next", BASE + 2 * PG, 0x10);
  show("file, writable only", BASE + 3 * PG, 0x2);
  show("file, writable only, or the next", BASE + 3 * PG, 0x12);
  show("file, executable", BASE + 5 * PG, 0x4);
  show("anonymous, file-backed or the next", BASE, 0x30);
  show("shared only, or the next", BASE, 0x18);
  munmap(sh, PG);

  memset(&q, 0, sizeof q);
  q.size = sizeof q;
  q.query_addr = BASE;
  q.vma_name_size = 4;
  q.vma_name_addr = (uintptr_t)name;
  R("name buffer too small", ioctl(maps, PROCMAP_QUERY_, &q));
  q.query_addr = BASE + 3 * PG;
  q.vma_name_size = 4;
  R("name of the file into 4 bytes", ioctl(maps, PROCMAP_QUERY_, &q));
  q.vma_name_addr = 0;
  R("name size without address", ioctl(maps, PROCMAP_QUERY_, &q));
  q.vma_name_size = 0;
  q.query_flags = 0x40;
  R("unknown flag", ioctl(maps, PROCMAP_QUERY_, &q));
  q.query_flags = 0;
  q.size = 16;
  R("size 16", ioctl(maps, PROCMAP_QUERY_, &q));
  q.size = 24;
  q.vma_start = 0;
  R("size 24", ioctl(maps, PROCMAP_QUERY_, &q));
  printf("  vma_start untouched past 24 bytes: %d\n", q.vma_start == 0);
  q.size = 8192;
  R("size 8192", ioctl(maps, PROCMAP_QUERY_, &q));
  static char big[128];
  memcpy(big, &q, sizeof q);
  ((struct procmap_query_ *)big)->size = 120;
  big[112] = 1;
  R("size 120, a byte set past the struct", ioctl(maps, PROCMAP_QUERY_, big));
  big[112] = 0;
  R("size 120, zeros past it", ioctl(maps, PROCMAP_QUERY_, big));
  R("NULL argument", ioctl(maps, PROCMAP_QUERY_, NULL));
  R("another command", ioctl(maps, _IO('f', 18)));
  int status = open("/proc/self/status", O_RDONLY);
  R("on /proc/self/status", ioctl(status, PROCMAP_QUERY_, &q));
  unlink(path);
  return 0;
}
