/*
 * Checkpoint and restore of MAP_SHARED|MAP_ANONYMOUS memory shared between processes after a
 * fork: parent and child take 100 turns each (10 ms apart: 2 s at least) through a "turn" word in a shared page (polling, a
 * few ms apart), each adding to a shared count, across the checkpoint. The region was split by
 * mprotect before the fork (two mappings of one object); the child also maps a shared region
 * of its own after the fork. If the restore gave each process a copy instead of one memory,
 * the turns would stop: each side gives up after 5 s and says so.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TURNS 100

static void nap(int ms) {
  struct timespec ts = {0, ms * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* Waits until *turn == me (at most 5 s); 0 when it came. */
static int wait_turn(volatile int *turn, int me) {
  for (int i = 0; i < 1000; i++) {
    if (*turn == me) return 0;
    nap(5);
  }
  return -1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long pg = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 2;
  memset(m + 2 * pg, 'z', 2 * pg);
  mprotect(m + 3 * pg, pg, PROT_READ); /* one object, two mappings */
  volatile int *turn = (volatile int *)m, *count = (volatile int *)(m + 64);
  *turn = 0;
  pid_t child = fork();
  if (child == 0) {
    char *own = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    strcpy(own, "child's own");
    for (int i = 0; i < TURNS; i++) {
      if (wait_turn(turn, 1)) {
        printf("child: stuck at turn %d\n", i);
        return 1;
      }
      ++*count;
      *turn = 0;
      nap(10);
    }
    /* The parent's last write reaches the child through the split mapping's first part. */
    if (wait_turn(turn, 2)) return 3;
    printf("child: count %d, last page '%c', own '%s', parent wrote '%s'\n", *count, m[3 * pg], own, m + 128);
    return 0;
  }
  for (int i = 0; i < TURNS; i++) {
    if (wait_turn(turn, 0)) {
      printf("parent: stuck at turn %d\n", i);
      return 1;
    }
    ++*count;
    if (i == 0) printf("started\n");
    *turn = 1;
    nap(10);
  }
  if (wait_turn(turn, 0)) return 4;
  strcpy(m + 128, "bye");
  *turn = 2;
  int status;
  waitpid(child, &status, 0);
  printf("parent: count %d, child exit %d\n", *count, WEXITSTATUS(status));
  return 0;
}
