/*
 * Checkpoint and restore of an io_uring. Before the checkpoint (during the 1.5 s sleep) the
 * program leaves a ring of 4 SQ entries whose 8 CQEs are all unread and 4 more wait in the
 * overflow list (12 NOPs), with a buffer registered. After the sleep it reads the CQEs, lets
 * the overflow in, and runs a READV from a pipe and a READ_FIXED into the registered buffer
 * through the same ring. A restored run must print what a native run prints.
 */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static struct io_uring_sqe *sqe;
static unsigned *tail, *arr, *head, *ctail;
static struct io_uring_cqe *cqes;

static struct io_uring_sqe *next(void) {
  unsigned t = *tail;
  struct io_uring_sqe *s = &sqe[t & 3];
  memset(s, 0, sizeof *s);
  arr[t & 3] = t & 3;
  *tail = t + 1;
  return s;
}

static void reap(const char *what) {
  unsigned h = *head;
  for (; h != *ctail; h++) printf("%s: %llu = %d\n", what, (unsigned long long)cqes[h & 7].user_data, cqes[h & 7].res);
  *head = h;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int fd = syscall(__NR_io_uring_setup, 4, &p);
  char *sq = mmap(0, p.sq_off.array + p.sq_entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQ_RING);
  char *cq = mmap(0, p.cq_off.cqes + p.cq_entries * 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_CQ_RING);
  sqe = mmap(0, p.sq_entries * 64, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQES);
  tail = (unsigned *)(sq + p.sq_off.tail);
  arr = (unsigned *)(sq + p.sq_off.array);
  head = (unsigned *)(cq + p.cq_off.head);
  ctail = (unsigned *)(cq + p.cq_off.tail);
  cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  unsigned *sqflags = (unsigned *)(sq + p.sq_off.flags);
  static char fixed[4096];
  struct iovec reg = {fixed, sizeof fixed};
  printf("register %ld\n", syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, &reg, 1));
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 4; i++) {
      struct io_uring_sqe *s = next();
      s->opcode = IORING_OP_NOP;
      s->user_data = round * 4 + i;
    }
    syscall(__NR_io_uring_enter, fd, 4, 0, 0, NULL, 8);
  }
  printf("before: %u CQEs, overflow flag %d\n", *ctail - *head, !!(*sqflags & IORING_SQ_CQ_OVERFLOW));
  printf("ready\n");
  sleep_ms(1500);
  reap("ring");
  long r = syscall(__NR_io_uring_enter, fd, 0, 4, IORING_ENTER_GETEVENTS, NULL, 8);
  printf("enter %ld, overflow flag %d\n", r, !!(*sqflags & IORING_SQ_CQ_OVERFLOW));
  reap("flushed");
  int pp[2];
  pipe(pp);
  write(pp[1], "after the restore", 17);
  static char buf[32];
  struct iovec iov = {buf, sizeof buf - 1};
  struct io_uring_sqe *s = next();
  s->opcode = IORING_OP_READV;
  s->fd = pp[0];
  s->addr = (uintptr_t)&iov;
  s->len = 1;
  s->user_data = 100;
  printf("enter %ld\n", syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 8));
  write(pp[1], "fixed", 5);
  s = next();
  s->opcode = IORING_OP_READ_FIXED;
  s->fd = pp[0];
  s->addr = (uintptr_t)fixed;
  s->len = 5;
  s->buf_index = 0;
  s->user_data = 101;
  printf("enter %ld\n", syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 8));
  reap("io");
  printf("read \"%s\" and \"%.5s\"\n", buf, fixed);
  return 0;
}
