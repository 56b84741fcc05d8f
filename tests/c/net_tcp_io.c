/* The ways bytes move through a connected TCP socket on 127.0.0.1: writev/readv with several
 * iovecs, MSG_WAITALL, MSG_PEEK, recv and send with a bad buffer (EFAULT; the queued bytes
 * stay), a zero-length read, and a non-blocking writer that fills the buffers until EAGAIN,
 * after which poll reports no POLLOUT until the reader drains them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void pair(int *a, int *b) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(ls, (struct sockaddr *)&sa, len) || listen(ls, 1) || getsockname(ls, (struct sockaddr *)&sa, &len)) {
    perror("listen");
    exit(1);
  }
  *a = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(*a, (struct sockaddr *)&sa, len)) {
    perror("connect");
    exit(1);
  }
  *b = accept(ls, NULL, NULL);
  close(ls);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* An address nothing is mapped at, hidden from the compiler's buffer checks. */
  volatile unsigned long bad = 16;
  int a, b;
  pair(&a, &b);

  /* writev of three pieces, readv into two of other sizes. */
  char p1[] = "hello, ", p2[] = "wide ", p3[] = "world";
  struct iovec w[3] = {{p1, 7}, {p2, 5}, {p3, 5}};
  printf("writev %zd\n", writev(a, w, 3));
  char r1[4] = {0}, r2[32] = {0};
  struct iovec r[2] = {{r1, 4}, {r2, sizeof r2}};
  ssize_t n = readv(b, r, 2);
  /* Loopback delivers the whole write at once, natively and in the sandbox. */
  printf("readv %zd '%.4s' '%.*s'\n", n, r1, (int)(n > 4 ? n - 4 : 0), r2);

  /* MSG_PEEK leaves the bytes; MSG_WAITALL gathers two writes. */
  write(a, "abc", 3);
  write(a, "def", 3);
  char buf[16] = {0};
  n = recv(b, buf, 2, MSG_PEEK);
  printf("peek %zd '%.2s'\n", n, buf);
  n = recv(b, buf, 6, MSG_WAITALL);
  printf("waitall %zd '%.6s'\n", n, buf);

  /* Bad buffers: EFAULT, and the queued bytes are still there afterwards. */
  write(a, "xyz", 3);
  n = recv(b, (char *)bad, 3, 0);
  printf("recv to a bad buffer: %zd %s\n", n, n < 0 ? strerror(errno) : "");
  n = read(b, (char *)bad, 3);
  printf("read to a bad buffer: %zd %s\n", n, n < 0 ? strerror(errno) : "");
  n = read(b, buf, 0);
  printf("zero-length read: %zd\n", n);
  n = read(b, buf, sizeof buf);
  printf("then read %zd '%.3s'\n", n, buf);
  n = send(a, (char *)bad, 3, 0);
  printf("send from a bad buffer: %zd %s\n", n, n < 0 ? strerror(errno) : "");

  /* Fill: a non-blocking writer until EAGAIN, then no POLLOUT until the reader drains. */
  fcntl(a, F_SETFL, O_NONBLOCK);
  static char big[65536];
  memset(big, 'q', sizeof big);
  long queued = 0;
  for (;;) {
    n = write(a, big, sizeof big);
    if (n < 0) break;
    queued += n;
  }
  printf("filled: %s, queued something: %d\n", strerror(errno), queued > 0);
  struct pollfd pf = {a, POLLOUT, 0};
  printf("poll POLLOUT when full: %d\n", poll(&pf, 1, 0));
  long drained = 0;
  fcntl(b, F_SETFL, O_NONBLOCK);
  for (;;) {
    n = read(b, big, sizeof big);
    if (n <= 0) {
      /* The writer's queue moves on as the reader's window opens: try again once polled. */
      struct pollfd pr = {b, POLLIN, 0};
      if (poll(&pr, 1, 100) <= 0) break;
      continue;
    }
    drained += n;
  }
  printf("drained all: %d\n", drained == queued);
  pf.revents = 0;
  int ready = poll(&pf, 1, 0);
  printf("poll POLLOUT when drained: %d revents %s\n", ready, (pf.revents & POLLOUT) ? "POLLOUT" : "-");
  close(a);
  n = read(b, buf, sizeof buf);
  printf("EOF: %zd\n", n);
  close(b);
  return 0;
}
