/*
 * A private file mapping longer than its file, as ld.so leaves one for a moment while it loads a
 * library (the whole span from the file, before the bss is mapped over the tail): a checkpoint
 * taken while it exists must save the pages the file backs and leave out those past its end.
 * Maps /etc/hostname over three pages, writes into its first page, prints "started", and after
 * 600 ms prints what the mapping holds: the file's bytes, then the write.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open("/etc/hostname", O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0 || st.st_size > 4000) return 1;
  char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return 1;
  close(fd);
  p[st.st_size] = '!';
  printf("started\n");
  struct timespec ts = {0, 600 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0) {
  }
  printf("mapped: %.*s\n", (int)st.st_size + 1, p);
  return 0;
}
