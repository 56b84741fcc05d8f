/*
 * Checkpoint and restore of memfd_create(2) files. Before the checkpoint (during the 1.5 s
 * sleep) the program leaves: a sealable memfd with 3 MiB of a pattern, a hole and a tail at
 * 8 MiB, its offset at 1000 and F_SEAL_SHRINK|F_SEAL_GROW added; a second memfd made without
 * MFD_ALLOW_SEALING holding a short text; and a private mapping of the first with a page
 * changed (the file keeps its own); a MAP_SHARED mapping of the first (read only) that sees
 * writes to the file; a memfd mapped MAP_SHARED whose descriptor is closed, which a forked
 * child writes to after the checkpoint and the parent reads; and a memfd mapped writable
 * before F_SEAL_FUTURE_WRITE (the mapping still writes, write(2) may not). After the sleep it
 * reads from the offset, sums the whole file, and tries what the seals forbid. A restored run
 * must print what a native run prints.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static uint64_t fnv_fd(int fd, off_t size) {
  static unsigned char buf[1 << 16];
  uint64_t h = 0xcbf29ce484222325ull;
  for (off_t off = 0; off < size;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
    off += n;
  }
  return h;
}

int main(void) {
  int a = memfd_create("ckpt-data", MFD_ALLOW_SEALING);
  int b = memfd_create("plain", 0);
  if (a < 0 || b < 0) return 1;
  static unsigned char chunk[1 << 16];
  uint32_t x = 7;
  for (int i = 0; i < 48; i++) {
    for (size_t j = 0; j < sizeof chunk; j++) {
      x = x * 1103515245u + 12345u;
      chunk[j] = (unsigned char)(x >> 16);
    }
    if (write(a, chunk, sizeof chunk) != (ssize_t)sizeof chunk) return 1;
  }
  if (pwrite(a, "tail", 4, 8 << 20) != 4) return 1;
  lseek(a, 1000, SEEK_SET);
  if (fcntl(a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) return 1;
  if (write(b, "hello, memfd", 12) != 12) return 1;
  unsigned char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE, a, 0);
  if (p == MAP_FAILED) return 1;
  memset(p + 4096, 0x5a, 4096);
  unsigned char *view = mmap(NULL, 4096, PROT_READ, MAP_SHARED, a, 2 << 20);
  int c = memfd_create("shared", 0);
  if (view == MAP_FAILED || c < 0 || ftruncate(c, 1 << 16) != 0) return 1;
  char *shared = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
  if (shared == MAP_FAILED) return 1;
  close(c);
  strcpy(shared + 100, "parent before");
  int d = memfd_create("future", MFD_ALLOW_SEALING);
  if (d < 0 || ftruncate(d, 4096) != 0) return 1;
  char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
  if (w == MAP_FAILED || fcntl(d, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    sleep_ms(1500);
    strcpy(shared + 200, "child after");
    _exit(0);
  }
  printf("ready\n"); /* after the fork: the checkpoint finds the child */
  fflush(stdout);

  sleep_ms(1500);
  int status;
  waitpid(child, &status, 0);
  printf("shared: %s, %s (child %d)\n", shared + 100, shared + 200, status);
  pwrite(a, "Z", 1, 2 << 20);
  printf("view sees %c\n", view[0]);
  strcpy(w, "mapped write");
  char wb[16] = {0};
  pread(d, wb, 12, 0);
  int wr = pwrite(d, "no", 2, 0);
  printf("future: %s; write %d errno %d; seals %#x\n", wb, wr, wr < 0 ? errno : 0, fcntl(d, F_GET_SEALS));

  char at[11] = {0};
  if (read(a, at, 10) != 10) return 1;
  struct stat st;
  fstat(a, &st);
  printf("size %lld, sum %016llx, at 1000: %02x%02x%02x%02x, offset now %lld\n", (long long)st.st_size,
         (unsigned long long)fnv_fd(a, st.st_size), (unsigned char)at[0], (unsigned char)at[1], (unsigned char)at[2],
         (unsigned char)at[3], (long long)lseek(a, 0, SEEK_CUR));
  char tail[5] = {0};
  pread(a, tail, 4, 8 << 20);
  printf("tail %s, mapping %02x %02x\n", tail, p[4096], p[0]);
  printf("seals %#x and %#x\n", fcntl(a, F_GET_SEALS), fcntl(b, F_GET_SEALS));
  int r = ftruncate(a, 100);
  printf("shrink: %d errno %d\n", r, r < 0 ? errno : 0);
  r = ftruncate(a, 16 << 20);
  printf("grow: %d errno %d\n", r, r < 0 ? errno : 0);
  r = fcntl(b, F_ADD_SEALS, F_SEAL_WRITE);
  printf("seal the unsealable: %d errno %d\n", r, r < 0 ? errno : 0);
  char text[32] = {0};
  pread(b, text, sizeof text - 1, 0);
  char link[64] = {0};
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", b);
  readlink(path, link, sizeof link - 1);
  printf("plain: %s at %lld (%s)\n", text, (long long)lseek(b, 0, SEEK_CUR), link);
  // The file's first page under the mapping's changed one is unchanged.
  unsigned char q[2];
  pread(a, q, 1, 4096);
  printf("file under the mapping %02x\n", q[0]);
  return 0;
}
