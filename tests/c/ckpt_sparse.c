/* A 64 GiB MAP_NORESERVE reservation with one page written in each GiB (as a JVM's heap or a
 * sanitizer's shadow leaves most of theirs untouched), checkpointed mid-run: the image holds
 * the written pages only, the restore maps the reservation again, and the program reads back
 * every page it wrote and zeros between. Prints a line per round, 20 ms apart. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 40;
  size_t gib = 1UL << 30, n = 64 * gib;
  unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return 1;
  for (size_t i = 0; i < 64; i++) p[i * gib] = (unsigned char)(i + 1);
  struct timespec ts = {0, 20 * 1000 * 1000};
  for (int r = 0; r < rounds; r++) {
    unsigned long sum = 0, zeros = 0;
    for (size_t i = 0; i < 64; i++) {
      sum += p[i * gib];
      zeros += p[i * gib + gib / 2] == 0;
    }
    printf("%d %lu %lu\n", r, sum, zeros);
    fflush(stdout);
    nanosleep(&ts, NULL);
  }
  return 0;
}
