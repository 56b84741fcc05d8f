/*
 * Checkpoint and restore of MAP_SHARED mappings of written files, as sqlite's -shm file and LMDB
 * use them: /tmp/cks.db (the overlay's upper layer) mapped by a parent and, through its own
 * open, by its forked child, which take 100 turns each (10 ms apart: 2 s at least) through a
 * "turn" word in the file's first page, across the checkpoint; and /dev/shm/cks (tmpfs) mapped
 * by both, its descriptor closed and its name removed before the fork, so that only the
 * mappings hold it. After the turns, what the mappings wrote is read through a descriptor
 * (pread) and what a pwrite wrote shows in the mapping. If the restore gave each process a copy
 * instead of the file's pages, the turns would stop: each side gives up after 5 s and says so.
 */
#define _GNU_SOURCE
#include <fcntl.h>
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
  unlink("/tmp/cks.db");
  unlink("/dev/shm/cks");
  int db = open("/tmp/cks.db", O_RDWR | O_CREAT | O_EXCL, 0644);
  if (db < 0 || ftruncate(db, 3 * pg) != 0) return 2;
  pwrite(db, "header", 6, 2 * pg);
  char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, db, 0);
  int sh = open("/dev/shm/cks", O_RDWR | O_CREAT | O_EXCL, 0600);
  if (m == MAP_FAILED || sh < 0 || ftruncate(sh, pg) != 0) return 3;
  char *s = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, sh, 0);
  if (s == MAP_FAILED) return 4;
  close(sh);
  unlink("/dev/shm/cks");
  volatile int *turn = (volatile int *)m, *count = (volatile int *)(m + 64);
  *turn = 0;
  pid_t child = fork();
  if (child == 0) {
    /* The child's own description and mapping of the same file. */
    int fd = open("/tmp/cks.db", O_RDWR);
    char *c = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c == MAP_FAILED) return 5;
    volatile int *cturn = (volatile int *)c, *ccount = (volatile int *)(c + 64);
    for (int i = 0; i < TURNS; i++) {
      if (wait_turn(cturn, 1)) {
        printf("child: stuck at turn %d\n", i);
        return 1;
      }
      ++*ccount;
      s[i] = 'a' + i % 26;
      *cturn = 0;
      nap(10);
    }
    if (wait_turn(cturn, 2)) return 6;
    printf("child: count %d, header '%s', parent wrote '%s'\n", *ccount, m + 2 * pg, c + 128);
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
  if (wait_turn(turn, 0)) return 7;
  strcpy(m + 128, "bye");
  *turn = 2;
  int status;
  waitpid(child, &status, 0);
  printf("parent: count %d, child exit %d, unlinked shm '%.30s'\n", *count, WEXITSTATUS(status), s);
  int cnt = 0;
  pread(db, &cnt, sizeof cnt, 64);
  pwrite(db, "through pwrite", 14, 2 * pg);
  printf("pread count %d, the mapping shows '%s'\n", cnt, m + 2 * pg);
  unlink("/tmp/cks.db");
  return 0;
}
