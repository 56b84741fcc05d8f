/*
 * A private file mapping longer than its file, as ld.so leaves one for a moment while it loads a
 * library (the whole span from the file, before the bss is mapped over the tail): a checkpoint
 * taken while it exists must save the pages the file backs and leave out those past its end.
 * Maps /etc/hostname over three pages, writes into its first page, prints "started", and after
 * the checkpoint (it waits on stdin: tests/c/_ckpt.h) prints what the mapping holds: the file's bytes, then the write.
 *
 * Also maps its own executable (argv[0]) privately and writes into two of its pages, one of
 * them then made read-only, as relocations are: a checkpoint saves only the pages that differ
 * from the file, and finds them among the process's own copies (the rest are the file's pages);
 * after the restore the sum of the whole mapping and the written bytes are as before.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open("/etc/hostname", O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0 || st.st_size > 4000) return 1;
  char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return 1;
  close(fd);
  p[st.st_size] = '!';
  int efd = argc > 0 ? open(argv[0], O_RDONLY) : -1;
  struct stat est;
  if (efd < 0 || fstat(efd, &est) != 0 || est.st_size < 16 * 4096) return 1;
  size_t elen = (size_t)est.st_size & ~(size_t)4095;
  unsigned char *e = mmap(NULL, elen, PROT_READ | PROT_WRITE, MAP_PRIVATE, efd, 0);
  if (e == MAP_FAILED) return 1;
  close(efd);
  e[5 * 4096 + 7] ^= 0xff;
  e[9 * 4096 + 100] ^= 0x5a;
  if (mprotect(e + 9 * 4096, 4096, PROT_READ) != 0) return 1;
  printf("started\n");
  await_checkpoint();
  printf("mapped: %.*s\n", (int)st.st_size + 1, p);
  unsigned long sum = 0;
  for (size_t i = 0; i < elen; i++) sum = sum * 31 + e[i];
  printf("executable: %lx, %02x %02x\n", sum, e[5 * 4096 + 7], e[9 * 4096 + 100]);
  return 0;
}
