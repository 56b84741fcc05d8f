/* memfd_create: reads and writes, offsets, fstat, a MAP_SHARED mapping coherent with read/write
 * and across fork, seals (F_ADD_SEALS/F_GET_SEALS) and the error cases. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char name[300];
  memset(name, 'n', sizeof name);
  name[249] = 0;
  R("name of 249 bytes", memfd_create(name, 0) >= 0);
  name[249] = 'n';
  name[250] = 0;
  R("name of 250 bytes", memfd_create(name, 0));
  R("bad flags", memfd_create("x", 0x1000));
  R("bad name pointer", syscall(SYS_memfd_create, 8, 0));

  int m = memfd_create("data", MFD_CLOEXEC);
  struct stat st;
  fstat(m, &st);
  printf("cloexec=%d mode=%o size=%ld rdwr=%d\n", (fcntl(m, F_GETFD) & FD_CLOEXEC) != 0, st.st_mode,
         (long)st.st_size, (fcntl(m, F_GETFL) & O_ACCMODE) == O_RDWR);
  R("get seals without sealing", fcntl(m, F_GET_SEALS));
  R("add seals without sealing", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
  char page[4096];
  memset(page, 'a', sizeof page);
  R("write page", write(m, page, sizeof page));
  R("lseek end", lseek(m, 0, SEEK_END));
  R("lseek set 10", lseek(m, 10, SEEK_SET));
  char b[8] = {0};
  R("read 4", read(m, b, 4));
  printf("read %s\n", b);
  R("pwrite at 8192", pwrite(m, "zz", 2, 8192));
  fstat(m, &st);
  printf("size=%ld\n", (long)st.st_size);

  /* Shared mapping: the child writes through it, the parent reads with read(). */
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
  printf("mapped=%d first=%c\n", p != MAP_FAILED, p[0]);
  pid_t c = fork();
  if (c == 0) {
    memcpy(p, "child", 5);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  R("pread", pread(m, b, 5, 0));
  printf("after child: %.5s\n", b);
  R("pwrite", pwrite(m, "PARENT", 6, 0));
  printf("mapping sees: %.6s\n", p);
  munmap(p, 4096);

  /* ftruncate sizes it. */
  R("ftruncate 100", ftruncate(m, 100));
  fstat(m, &st);
  printf("size after ftruncate=%ld\n", (long)st.st_size);

  /* Seals. */
  int s = memfd_create("sealed", MFD_ALLOW_SEALING);
  R("get seals", fcntl(s, F_GET_SEALS));
  R("write", write(s, page, 100));
  R("add grow", fcntl(s, F_ADD_SEALS, F_SEAL_GROW));
  R("get seals", fcntl(s, F_GET_SEALS));
  R("write past end", pwrite(s, "x", 1, 100));
  R("write inside", pwrite(s, "x", 1, 50));
  char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
  R("add write while mapped", fcntl(s, F_ADD_SEALS, F_SEAL_WRITE));
  munmap(w, 4096);
  R("add write", fcntl(s, F_ADD_SEALS, F_SEAL_WRITE));
  R("write sealed", pwrite(s, "x", 1, 0));
  R("map writable sealed", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0) == MAP_FAILED);
  R("map private ok", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, s, 0) != MAP_FAILED);
  R("ftruncate grow sealed", ftruncate(s, 200));
  R("add shrink", fcntl(s, F_ADD_SEALS, F_SEAL_SHRINK));
  R("ftruncate shrink sealed", ftruncate(s, 10));
  R("add seal", fcntl(s, F_ADD_SEALS, F_SEAL_SEAL));
  R("add after seal", fcntl(s, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  R("add bad seal", fcntl(m, F_ADD_SEALS, 0x100));
  int pp[2];
  if (pipe(pp)) return 1;
  R("seals on a pipe", fcntl(pp[0], F_GET_SEALS));
  R("add seals on a pipe", fcntl(pp[1], F_ADD_SEALS, F_SEAL_WRITE));
  return 0;
}
