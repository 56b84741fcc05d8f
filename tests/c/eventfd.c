/* eventfd: counter and semaphore modes, non-blocking reads and writes, the overflow rules,
 * short buffers, blocking until another process writes, and readiness in poll and epoll. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void rd(const char *what, int fd) {
  uint64_t v = 0;
  errno = 0;
  long n = read(fd, &v, 8);
  printf("%s = %ld %s value=%llu\n", what, n, n < 0 ? en(errno) : "", (unsigned long long)v);
}

static long wr(int fd, uint64_t v) { return write(fd, &v, 8); }

static int pollev(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
  poll(&p, 1, 0);
  return p.revents;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  R("eventfd2(bad flags)", eventfd(0, 0x10));
  int e = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
  printf("cloexec=%d nonblock=%d\n", (fcntl(e, F_GETFD) & FD_CLOEXEC) != 0, (fcntl(e, F_GETFL) & O_NONBLOCK) != 0);
  printf("poll %#x\n", pollev(e));
  rd("read counter", e);
  rd("read empty", e);
  printf("poll %#x\n", pollev(e));
  R("write 5", wr(e, 5));
  R("write 7", wr(e, 7));
  rd("read sum", e);
  char small[4];
  R("read 4 bytes", read(e, small, 4));
  R("write 4 bytes", write(e, small, 4));
  R("read 0 bytes", read(e, small, 0));
  R("write max", wr(e, UINT64_MAX));
  R("write max-1", wr(e, UINT64_MAX - 1));
  printf("poll %#x\n", pollev(e));
  R("write 1 more (full)", wr(e, 1));
  R("write 0 (full)", wr(e, 0));
  rd("read full", e);
  R("lseek", lseek(e, 0, SEEK_SET));
  uint64_t big[2] = {9, 9};
  R("write 16 bytes", write(e, big, 16));
  R("read 16 bytes", read(e, big, 16));
  printf("got %llu\n", (unsigned long long)big[0]);

  int s = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  rd("sem 1", s);
  rd("sem 2", s);
  rd("sem 3", s);
  rd("sem empty", s);

  /* Blocking read woken by a child; eventfd(2) without flags. */
  int b = eventfd(0, 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 42};
  epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
  pid_t c = fork();
  if (c == 0) {
    usleep(30000);
    wr(b, 11);
    _exit(0);
  }
  rd("blocking read", b);
  waitpid(c, NULL, 0);
  struct epoll_event out;
  int n = epoll_wait(ep, &out, 1, 0);
  printf("epoll after read: %d\n", n);
  wr(b, 1);
  n = epoll_wait(ep, &out, 1, 0);
  printf("epoll after write: %d [%llu %#x]\n", n, (unsigned long long)out.data.u64, out.events);

  /* A full counter blocks a writer until a reader drains it. */
  int f = eventfd(0, 0);
  wr(f, UINT64_MAX - 1);
  c = fork();
  if (c == 0) {
    usleep(30000);
    uint64_t v;
    if (read(f, &v, 8) != 8) _exit(1);
    _exit(0);
  }
  R("blocking write", wr(f, 2));
  waitpid(c, NULL, 0);
  rd("after blocking write", f);
  return 0;
}
