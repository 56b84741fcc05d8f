/* A sealed mapping across a checkpoint (tests/checkpoint_test.ts): after "ready" the program
 * sleeps, is checkpointed and restored; the seal must still refuse munmap and mprotect and
 * show in smaps. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define P 4096L

static int smaps_sealed(char *a) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0, sl = -1;
  unsigned long start;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-", &start) == 1 && strchr(line, '-') && line[0] != 'V') in = start == (unsigned long)a;
    if (in && strncmp(line, "VmFlags:", 8) == 0) sl = strstr(line, " sl") != NULL;
  }
  fclose(f);
  return sl;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *m = mmap(NULL, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  m[P] = 'S';
  if (syscall(462, m + P, P, 0) != 0) { perror("mseal"); return 1; }
  printf("ready\n");
  struct timespec ts = {1, 500000000};
  nanosleep(&ts, NULL);
  errno = 0;
  int r = munmap(m + P, P);
  printf("munmap %d errno %d\n", r, errno);
  errno = 0;
  r = mprotect(m, 3 * P, PROT_READ);
  printf("mprotect %d errno %d\n", r, errno);
  printf("sealed page %c sl %d, neighbour sl %d\n", m[P], smaps_sealed(m + P), smaps_sealed(m));
  return 0;
}
