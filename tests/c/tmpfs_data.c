/* Regular file data semantics that tmpfs keeps in the sentry's memory: shared mappings seen by
 * two processes and by read/write both ways, data kept after the last mapping and descriptor
 * go, truncation (shrinking zeroes, growing reads zeros), sparse files and punched holes, small
 * writes growing a file byte by byte, private mappings. Runs in a scratch directory. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); exit(1); } } while (0)

static char buf[1 << 16];

static int zeros(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) if (p[i]) return 0;
  return 1;
}

static void shared_mappings(void) {
  int fd = open("shared", O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK(write(fd, "hello", 5) == 5);
  CHECK(ftruncate(fd, 8192) == 0);
  char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  CHECK(memcmp(m, "hello", 5) == 0);
  pid_t p = fork();
  if (p == 0) {
    int cfd = open("shared", O_RDWR);
    char *cm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    if (cm == MAP_FAILED) _exit(2);
    memcpy(cm + 100, "child", 5);
    memcpy(cm + 5000, "page2", 5);
    if (pwrite(cfd, "pw", 2, 200) != 2) _exit(3);
    _exit(0);
  }
  int st;
  CHECK(waitpid(p, &st, 0) == p);
  printf("child status %d\n", WEXITSTATUS(st));
  memcpy(m + 300, "parent", 6);
  printf("map: %.5s %.2s %.6s %.5s\n", m + 100, m + 200, m + 300, m + 5000);
  CHECK(pread(fd, buf, 8192, 0) == 8192);
  printf("read: %.5s %.5s %.2s %.6s %.5s\n", buf, buf + 100, buf + 200, buf + 300, buf + 5000);
  CHECK(pwrite(fd, "written", 7, 400) == 7);
  printf("map after write: %.7s\n", m + 400);
  CHECK(munmap(m, 8192) == 0);
  CHECK(close(fd) == 0);

  /* Everything is closed and unmapped: the data stays. */
  fd = open("shared", O_RDONLY);
  CHECK(pread(fd, buf, 8192, 0) == 8192);
  printf("reopened: %.5s %.5s %.2s %.6s %.7s %.5s\n", buf, buf + 100, buf + 200, buf + 300, buf + 400, buf + 5000);
  struct stat s;
  CHECK(fstat(fd, &s) == 0);
  printf("size %lld\n", (long long)s.st_size);
  close(fd);
}

static void truncate_mapped(void) {
  int fd = open("trunc_mapped", O_RDWR | O_CREAT | O_TRUNC, 0644);
  memset(buf, 'm', 8192);
  CHECK(write(fd, buf, 8192) == 8192);
  char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  CHECK(ftruncate(fd, 150) == 0);
  /* The tail of the page that holds the new end reads zeros through the mapping. */
  printf("after shrink: %c zeros=%d\n", m[149], zeros(m + 150, 4096 - 150));
  CHECK(ftruncate(fd, 8192) == 0);
  printf("after grow: %c zeros=%d\n", m[0], zeros(m + 150, 8192 - 150));
  CHECK(pread(fd, buf, 8192, 0) == 8192);
  printf("read after grow: %c zeros=%d\n", buf[149], zeros(buf + 150, 8192 - 150));
  m[6000] = 'z';
  CHECK(pread(fd, buf, 1, 6000) == 1);
  printf("store after grow: %c\n", buf[0]);
  munmap(m, 8192);
  close(fd);
}

static void truncate_unmapped(void) {
  int fd = open("trunc", O_RDWR | O_CREAT | O_TRUNC, 0644);
  memset(buf, 'x', 10000);
  CHECK(write(fd, buf, 10000) == 10000);
  CHECK(ftruncate(fd, 5000) == 0);
  CHECK(ftruncate(fd, 10000) == 0);
  memset(buf, 1, sizeof buf);
  CHECK(pread(fd, buf, sizeof buf, 0) == 10000);
  int xs = 0;
  for (int i = 0; i < 5000; i++) xs += buf[i] == 'x';
  printf("truncate: %d x, zeros=%d\n", xs, zeros(buf + 5000, 5000));
  CHECK(ftruncate(fd, 0) == 0);
  CHECK(pread(fd, buf, 10, 0) == 0);
  CHECK(ftruncate(fd, 3) == 0);
  CHECK(pread(fd, buf, 10, 0) == 3);
  printf("truncate to 0 and 3: zeros=%d\n", zeros(buf, 3));
  close(fd);
}

static void sparse(void) {
  int fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(pwrite(fd, "end", 3, 1 << 20) == 3);
  struct stat s;
  CHECK(fstat(fd, &s) == 0);
  printf("sparse size %lld small=%d\n", (long long)s.st_size, s.st_blocks < 64);
  int nonzero = 0;
  for (off_t off = 0;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    CHECK(n >= 0);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; i++) nonzero += buf[i] != 0;
    off += n;
  }
  printf("sparse nonzero bytes %d\n", nonzero);
  /* A hole punched into data. */
  memset(buf, 'a', 3 * 4096);
  CHECK(pwrite(fd, buf, 3 * 4096, 0) == 3 * 4096);
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 8192) == 0);
  CHECK(pread(fd, buf, 3 * 4096, 0) == 3 * 4096);
  int as = 0;
  for (int i = 0; i < 3 * 4096; i++) as += buf[i] == 'a';
  printf("punched: %c %d a, zeros=%d %c\n", buf[99], as, zeros(buf + 100, 8192), buf[8292]);
  CHECK(fstat(fd, &s) == 0);
  printf("size after punch %lld\n", (long long)s.st_size);
  /* Mapping a sparse file and storing past the hole. */
  char *m = mmap(NULL, (1 << 20) + 3, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  printf("mapped sparse: %c zeros=%d %.3s\n", m[0], zeros(m + 100, 8192), m + (1 << 20));
  m[500000] = 'q';
  munmap(m, (1 << 20) + 3);
  close(fd);
  fd = open("sparse", O_RDONLY);
  CHECK(pread(fd, buf, 3, 500000 - 1) == 3);
  printf("after unmap: %d %c %d\n", buf[0], buf[1], buf[2]);
  CHECK(pread(fd, buf, 3, 1 << 20) == 3);
  printf("end: %.3s\n", buf);
  close(fd);
}

static void small_writes(void) {
  int fd = open("small", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
  for (int i = 0; i < 5000; i++) {
    char c = 'a' + i % 26;
    CHECK(write(fd, &c, 1) == 1);
  }
  CHECK(pread(fd, buf, sizeof buf, 0) == 5000);
  int ok = 1;
  for (int i = 0; i < 5000; i++) ok &= buf[i] == 'a' + i % 26;
  printf("small writes ok=%d\n", ok);
  close(fd);
}

static void private_mapping(void) {
  int fd = open("private", O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(write(fd, "original", 8) == 8);
  char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(m != MAP_FAILED);
  memcpy(m, "PRIVATE!", 8);
  CHECK(pread(fd, buf, 8, 0) == 8);
  printf("private: map %.8s file %.8s\n", m, buf);
  munmap(m, 4096);
  close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  shared_mappings();
  truncate_mapped();
  truncate_unmapped();
  sparse();
  small_writes();
  private_mapping();
  printf("done\n");
  return 0;
}
