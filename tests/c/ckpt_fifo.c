/*
 * Checkpoint and restore of FIFOs: /tmp/ckf made with mkfifo, opened for reading (O_NONBLOCK)
 * and for writing, and a second FIFO held O_RDWR; data written into both and not read before
 * the checkpoint (waited for on stdin: tests/c/_ckpt.h); after it everything is read, more is written and
 * read through the same descriptors, and the writer's close gives the reader end of file.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  unlink("/tmp/ckf");
  unlink("/tmp/ckf2");
  if (mkfifo("/tmp/ckf", 0600) || mkfifo("/tmp/ckf2", 0600)) return 2;
  int r = open("/tmp/ckf", O_RDONLY | O_NONBLOCK), w = open("/tmp/ckf", O_WRONLY);
  int rw = open("/tmp/ckf2", O_RDWR);
  if (r < 0 || w < 0 || rw < 0) return 3;
  for (int i = 0; i < 10; i++) dprintf(w, "line %d\n", i);
  write(rw, "both ways", 9);
  printf("written\n");
  await_checkpoint();
  char buf[256];
  ssize_t n = read(r, buf, sizeof buf);
  printf("read %zd: %.*s", n, (int)(n > 0 ? n : 0), buf);
  n = read(rw, buf, sizeof buf);
  printf("rw read %zd: %.*s\n", n, (int)(n > 0 ? n : 0), buf);
  write(w, "after\n", 6);
  n = read(r, buf, sizeof buf);
  printf("then %zd: %.*s", n, (int)(n > 0 ? n : 0), buf);
  n = read(r, buf, sizeof buf);
  printf("empty: %zd\n", n);
  close(w);
  n = read(r, buf, sizeof buf);
  printf("after the writer's close: %zd\n", n);
  return 0;
}
