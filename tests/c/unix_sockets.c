/* AF_UNIX data paths: stream, dgram and seqpacket echo over socketpair and over abstract names
 * (with fork), message boundaries, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, readv/writev, a 4 MiB
 * stream transfer that fills the buffer (by send, write and writev: each blocks until all is
 * sent), an empty write that queues nothing, poll readiness, shutdown, SO_RCVTIMEO, EINTR and
 * SA_RESTART in a blocked recv, a full backlog that blocks connect until accept. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x)                                                        \
  do {                                                                  \
    if (!(x)) {                                                         \
      printf("FAILED %s at line %d: %s\n", #x, __LINE__, strerror(errno)); \
      exit(1);                                                          \
    }                                                                   \
  } while (0)

static const char *tname(int type) {
  return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : "seqpacket";
}

static void fill(char *b, int n, int seed) {
  for (int i = 0; i < n; i++) b[i] = (char)(seed * 31 + i * 7);
}

/* The child echoes what it receives until EOF (or a zero-length datagram). */
static void echo_child(int s, int type) {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(s, buf, sizeof buf, 0);
    if (n < 0) _exit(10);
    if (n == 0) {
      if (type == SOCK_DGRAM) send(s, buf, 0, 0);
      _exit(0);
    }
    if (send(s, buf, n, 0) != n) _exit(11);
  }
}

static void echo(int a, int b, int type, const char *how) {
  pid_t c = fork();
  CHECK(c >= 0);
  if (c == 0) {
    close(a);
    echo_child(b, type);
  }
  close(b);
  long total = 0;
  int ok = 1;
  for (int i = 1; i <= 100; i++) {
    char out[4096], in[4096];
    int n = (i * 37) % 2000 + 1;
    fill(out, n, i);
    CHECK(send(a, out, n, 0) == n);
    ssize_t r = recv(a, in, type == SOCK_STREAM ? (size_t)n : sizeof in, type == SOCK_STREAM ? MSG_WAITALL : 0);
    if (r != n || memcmp(in, out, n) != 0) ok = 0;
    total += r;
  }
  if (type == SOCK_STREAM) {
    shutdown(a, SHUT_WR);
    char x;
    printf("  eof after shutdown: %zd\n", recv(a, &x, 1, 0));
  } else {
    send(a, "", 0, 0);
  }
  int st;
  waitpid(c, &st, 0);
  close(a);
  printf("%s %s echo: ok=%d bytes=%ld child=%d\n", how, tname(type), ok, total, WEXITSTATUS(st));
}

/* Abstract names end in "-PID" (8 hex digits) so that concurrent native runs on one host
 * never collide; print_addr leaves that suffix out. */
#define SUFFIX_LEN 9
static char suffix[SUFFIX_LEN + 1];

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  size_t n = strlen(name);
  memcpy(a->sun_path + 1, name, n);
  memcpy(a->sun_path + 1 + n, suffix, SUFFIX_LEN);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n + SUFFIX_LEN);
}

static void print_addr(const char *what, struct sockaddr_un *a, socklen_t len) {
  printf("  %s len=%u", what, len);
  if (len > 2) {
    printf(" %s", a->sun_path[0] == 0 ? "abstract" : "path");
    printf(" '%.*s'", (int)(len - 3 - SUFFIX_LEN), a->sun_path + 1);
  }
  printf("\n");
}

static void abstract_echo(int type) {
  struct sockaddr_un sa;
  char name[64];
  snprintf(name, sizeof name, "sentry-unix-test-%d", type);
  socklen_t len = abstract_addr(&sa, name);
  int srv = socket(AF_UNIX, type, 0);
  CHECK(srv >= 0);
  CHECK(bind(srv, (struct sockaddr *)&sa, len) == 0);
  struct sockaddr_un got;
  socklen_t glen = sizeof got;
  CHECK(getsockname(srv, (struct sockaddr *)&got, &glen) == 0);
  print_addr("server name", &got, glen);
  if (type == SOCK_DGRAM) {
    /* Datagram "echo": the client binds a name too, so that the server can answer it. */
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0) {
      int cl = socket(AF_UNIX, SOCK_DGRAM, 0);
      struct sockaddr_un ca;
      socklen_t clen = abstract_addr(&ca, "sentry-unix-test-client");
      if (bind(cl, (struct sockaddr *)&ca, clen) != 0) _exit(20);
      for (int i = 0; i < 50; i++) {
        char m[32], r[32];
        int n = snprintf(m, sizeof m, "datagram %d", i);
        if (sendto(cl, m, n, 0, (struct sockaddr *)&sa, len) != n) _exit(21);
        if (recv(cl, r, sizeof r, 0) != n || memcmp(r, m, n)) _exit(22);
      }
      _exit(0);
    }
    for (int i = 0; i < 50; i++) {
      char m[32];
      struct sockaddr_un from;
      socklen_t flen = sizeof from;
      ssize_t n = recvfrom(srv, m, sizeof m, 0, (struct sockaddr *)&from, &flen);
      CHECK(n > 0);
      if (i == 0) print_addr("datagram from", &from, flen);
      CHECK(sendto(srv, m, n, 0, (struct sockaddr *)&from, flen) == n);
    }
    int st;
    waitpid(c, &st, 0);
    printf("abstract dgram echo: child=%d\n", WEXITSTATUS(st));
    close(srv);
    return;
  }
  CHECK(listen(srv, 4) == 0);
  pid_t c = fork();
  CHECK(c >= 0);
  if (c == 0) {
    close(srv);
    int cl = socket(AF_UNIX, type, 0);
    if (connect(cl, (struct sockaddr *)&sa, len) != 0) _exit(30);
    struct sockaddr_un p;
    socklen_t plen = sizeof p;
    if (getpeername(cl, (struct sockaddr *)&p, &plen) != 0) _exit(31);
    if (plen != len || memcmp(&p, &sa, len) != 0) _exit(32);
    echo_child(cl, type);
  }
  struct sockaddr_un peer;
  socklen_t plen = sizeof peer;
  int conn = accept4(srv, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
  CHECK(conn >= 0);
  print_addr("accepted peer", &peer, plen);
  glen = sizeof got;
  CHECK(getsockname(conn, (struct sockaddr *)&got, &glen) == 0);
  print_addr("accepted socket's name", &got, glen);
  int fl = -1;
  socklen_t ol = sizeof fl;
  CHECK(getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &fl, &ol) == 0);
  printf("  SO_ACCEPTCONN listener=%d", fl);
  CHECK(getsockopt(conn, SOL_SOCKET, SO_ACCEPTCONN, &fl, &ol) == 0);
  printf(" connection=%d\n", fl);
  close(srv);
  long total = 0;
  int ok = 1;
  for (int i = 1; i <= 100; i++) {
    char out[4096], in[4096];
    int n = (i * 53) % 3000 + 1;
    fill(out, n, i);
    CHECK(send(conn, out, n, 0) == n);
    ssize_t r = recv(conn, in, type == SOCK_STREAM ? (size_t)n : sizeof in, type == SOCK_STREAM ? MSG_WAITALL : 0);
    if (r != n || memcmp(in, out, n) != 0) ok = 0;
    total += r;
  }
  shutdown(conn, SHUT_WR);
  int st;
  waitpid(c, &st, 0);
  close(conn);
  printf("abstract %s echo: ok=%d bytes=%ld child=%d\n", tname(type), ok, total, WEXITSTATUS(st));
}

static void boundaries(void) {
  int sv[2];
  char b[64];
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
  send(sv[0], "first", 5, 0);
  send(sv[0], "second message", 14, 0);
  send(sv[0], "", 0, 0);
  int n = -1;
  ioctl(sv[1], FIONREAD, &n);
  printf("dgram FIONREAD=%d\n", n);
  printf("dgram peek=%zd ", recv(sv[1], b, sizeof b, MSG_PEEK));
  printf("recv=%zd ", recv(sv[1], b, sizeof b, 0));
  printf("trunc=%zd ", recv(sv[1], b, 3, MSG_TRUNC));
  printf("empty=%zd\n", recv(sv[1], b, sizeof b, 0));
  struct iovec iov[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
  printf("writev=%zd ", writev(sv[0], iov, 3));
  char x1[2], x2[10];
  struct iovec rv[2] = {{x1, 2}, {x2, 10}};
  printf("readv=%zd '%.2s' '%.4s'\n", readv(sv[1], rv, 2), x1, x2);

  struct msghdr m = {0};
  struct iovec one = {b, 4};
  m.msg_iov = &one;
  m.msg_iovlen = 1;
  send(sv[0], "0123456789", 10, 0);
  ssize_t r = recvmsg(sv[1], &m, 0);
  printf("recvmsg short buffer: r=%zd flags=%#x\n", r, m.msg_flags);
  close(sv[0]);
  close(sv[1]);

  CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  send(sv[0], "one", 3, 0);
  send(sv[0], "two!", 4, 0);
  n = -1;
  ioctl(sv[1], FIONREAD, &n);
  printf("seqpacket FIONREAD=%d ", n);
  printf("recv=%zd ", recv(sv[1], b, sizeof b, 0));
  printf("recv=%zd\n", recv(sv[1], b, 2, 0));
  close(sv[0]);
  printf("seqpacket after close: %zd\n", recv(sv[1], b, sizeof b, 0));
  close(sv[1]);

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  send(sv[0], "hello ", 6, 0);
  send(sv[0], "world", 5, 0);
  n = -1;
  ioctl(sv[1], FIONREAD, &n);
  printf("stream FIONREAD=%d ", n);
  printf("peek=%zd ", recv(sv[1], b, 3, MSG_PEEK));
  r = recv(sv[1], b, sizeof b, 0);
  printf("recv=%zd '%.*s'\n", r, (int)r, b);
  close(sv[0]);
  close(sv[1]);
}

static void bulk(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  const int total = 4 << 20;
  pid_t c = fork();
  CHECK(c >= 0);
  if (c == 0) {
    close(sv[0]);
    unsigned long sum = 0;
    long got = 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(sv[1], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; i++) sum = sum * 33 + (unsigned char)buf[i];
      got += n;
    }
    printf("bulk reader: %ld bytes, sum %lu\n", got, sum);
    _exit(0);
  }
  close(sv[1]);
  char *big = malloc(total);
  fill(big, total, 5);
  /* One send of 4 MiB: a blocking stream send takes it all, waiting for the reader. */
  ssize_t s = send(sv[0], big, total, 0);
  close(sv[0]);
  int st;
  waitpid(c, &st, 0);
  unsigned long sum = 0;
  for (int i = 0; i < total; i++) sum = sum * 33 + (unsigned char)big[i];
  printf("bulk writer: sent %zd, sum %lu\n", s, sum);
  free(big);

  /* Non-blocking: the buffer fills, then EAGAIN; poll reports it not writable. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  char chunk[1024] = {0};
  long queued = 0;
  ssize_t n;
  while ((n = send(sv[0], chunk, sizeof chunk, 0)) > 0) queued += n;
  printf("non-blocking fill: stopped with %s, queued>0=%d\n", strerror(errno), queued > 0);
  struct pollfd p = {sv[0], POLLOUT, 0};
  int pr = poll(&p, 1, 0);
  printf("poll full: %d revents=%#x\n", pr, p.revents);
  char sink[65536];
  while (recv(sv[1], sink, sizeof sink, 0) > 0) {
  }
  pr = poll(&p, 1, 0);
  printf("poll drained: %d revents=%#x\n", pr, p.revents);
  close(sv[0]);
  close(sv[1]);
}

static void readiness(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  struct pollfd p = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
  poll(&p, 1, 0);
  printf("poll idle=%#x", p.revents);
  send(sv[0], "x", 1, 0);
  poll(&p, 1, 0);
  printf(" data=%#x", p.revents);
  shutdown(sv[0], SHUT_WR);
  poll(&p, 1, 0);
  printf(" peer-shut-wr=%#x", p.revents);
  close(sv[0]);
  poll(&p, 1, 0);
  printf(" peer-closed=%#x\n", p.revents);
  close(sv[1]);

  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct pollfd q = {s, POLLIN | POLLOUT, 0};
  poll(&q, 1, 0);
  printf("poll unconnected stream=%#x", q.revents);
  struct sockaddr_un a;
  socklen_t len = abstract_addr(&a, "sentry-unix-readiness");
  bind(s, (struct sockaddr *)&a, len);
  listen(s, 1);
  poll(&q, 1, 0);
  printf(" listening=%#x", q.revents);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  connect(c, (struct sockaddr *)&a, len);
  poll(&q, 1, 0);
  printf(" pending=%#x\n", q.revents);
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(s, &rd);
  struct timeval tv = {0, 0};
  printf("select on listener: %d\n", select(s + 1, &rd, NULL, NULL, &tv));
  close(c);
  close(s);
}

static volatile int got_signal;
static void on_sig(int s) { (void)s; got_signal++; }

static void timeouts_and_signals(void) {
  int sv[2];
  char b[8];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  struct timeval tv = {0, 50000};
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
  struct timeval back;
  socklen_t bl = sizeof back;
  getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &back, &bl);
  /* Linux rounds the timeout up to the tick (HZ): only its range is stable. */
  printf("SO_RCVTIMEO ~50ms=%d len=%u\n", back.tv_sec == 0 && back.tv_usec >= 50000 && back.tv_usec < 60000, bl);
  errno = 0;
  ssize_t r = recv(sv[0], b, sizeof b, 0);
  printf("recv with timeout: %zd %s\n", r, strerror(errno));
  tv.tv_usec = 2000000;
  int sr = setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  printf("bad timeval: %d %s\n", sr, strerror(errno));
  tv.tv_sec = 0;
  tv.tv_usec = 0;
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  struct sigaction sa = {0};
  sa.sa_handler = on_sig;
  sigaction(SIGUSR1, &sa, NULL);
  pid_t c = fork();
  if (c == 0) {
    usleep(100000);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  errno = 0;
  r = recv(sv[0], b, sizeof b, 0);
  printf("recv interrupted: %zd %s signals=%d\n", r, strerror(errno), got_signal);
  waitpid(c, NULL, 0);

  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  c = fork();
  if (c == 0) {
    usleep(100000);
    kill(getppid(), SIGUSR1);
    usleep(100000);
    send(sv[1], "late", 4, 0);
    _exit(0);
  }
  r = recv(sv[0], b, sizeof b, 0);
  printf("recv restarted: %zd signals=%d\n", r, got_signal);
  waitpid(c, NULL, 0);

  /* With a timeout set, SA_RESTART does not apply: EINTR. */
  tv.tv_sec = 5;
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  c = fork();
  if (c == 0) {
    usleep(100000);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  errno = 0;
  r = recv(sv[0], b, sizeof b, 0);
  printf("recv with timeout interrupted: %zd %s signals=%d\n", r, strerror(errno), got_signal);
  waitpid(c, NULL, 0);

  /* MSG_WAITALL interrupted after some bytes: the count so far, not EINTR. */
  sa.sa_flags = 0;
  sigaction(SIGUSR1, &sa, NULL);
  tv.tv_sec = 0;
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  c = fork();
  if (c == 0) {
    send(sv[1], "abc", 3, 0);
    usleep(100000);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  errno = 0;
  r = recv(sv[0], b, sizeof b, MSG_WAITALL);
  printf("waitall interrupted: %zd signals=%d\n", r, got_signal);
  waitpid(c, NULL, 0);
  close(sv[0]);
  close(sv[1]);
}

static void backlog(void) {
  struct sockaddr_un a;
  socklen_t len = abstract_addr(&a, "sentry-unix-backlog");
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(bind(s, (struct sockaddr *)&a, len) == 0);
  CHECK(listen(s, 1) == 0);
  int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int c3 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  printf("backlog 1: connect %d", connect(c1, (struct sockaddr *)&a, len));
  printf(" %d", connect(c2, (struct sockaddr *)&a, len));
  errno = 0;
  int r = connect(c3, (struct sockaddr *)&a, len);
  printf(" %d %s\n", r, strerror(errno));
  /* Data sent before accept is there after it. */
  send(c1, "early", 5, 0);
  pid_t c = fork();
  if (c == 0) {
    int b = socket(AF_UNIX, SOCK_STREAM, 0);
    int rr = connect(b, (struct sockaddr *)&a, len); /* blocks until the parent accepts */
    _exit(rr == 0 ? 0 : 1);
  }
  usleep(100000);
  int a1 = accept(s, NULL, NULL);
  char buf[8];
  ssize_t n = recv(a1, buf, sizeof buf, 0);
  printf("accepted first: '%.*s'\n", (int)n, buf);
  int st;
  waitpid(c, &st, 0);
  printf("blocked connect finished: %d\n", WEXITSTATUS(st));
  /* Closing the listener resets connections never accepted. */
  close(s);
  errno = 0;
  n = recv(c2, buf, sizeof buf, 0);
  printf("unaccepted after listener close: %zd %s", n, strerror(errno));
  n = recv(c2, buf, sizeof buf, 0);
  printf(", then %zd\n", n);
  close(a1);
  close(c1);
  close(c2);
  close(c3);
}

/* write(2) and writev(2) on a blocking stream socket are sends: they wait until every byte is
 * queued instead of returning a short count when the buffer fills. */
static void blocking_writes(void) {
  const int total = 1 << 20;
  char *big = malloc(total);
  fill(big, total, 9);
  for (int how = 0; how < 2; how++) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0) {
      close(sv[0]);
      unsigned long sum = 0;
      long got = 0;
      char buf[4096];
      ssize_t n;
      while ((n = read(sv[1], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) sum = sum * 33 + (unsigned char)buf[i];
        got += n;
      }
      printf("%s reader: %ld bytes, sum %lu\n", how ? "writev" : "write", got, sum);
      _exit(0);
    }
    close(sv[1]);
    ssize_t w;
    if (how == 0) {
      w = write(sv[0], big, total);
    } else {
      struct iovec iov[2] = {{big, 1000}, {big + 1000, total - 1000}};
      w = writev(sv[0], iov, 2);
    }
    close(sv[0]);
    int st;
    waitpid(c, &st, 0);
    printf("%s of %d bytes returned %zd\n", how ? "writev" : "write", total, w);
  }
  free(big);

  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  char b = 'x';
  printf("empty write: %zd\n", write(sv[0], &b, 0));
  errno = 0;
  ssize_t r = recv(sv[1], &b, 1, MSG_DONTWAIT);
  printf("recv after it: %zd %s\n", r, strerror(errno));
  close(sv[0]);
  close(sv[1]);
}

/* recvfrom reports the sender's address as it is when the data is read: data sent before the
 * sender bound is reported with the name it took since (Linux's unix_copy_addr reads the
 * sending socket), for a stream and for a datagram. */
static void late_bind(void) {
  printf("late bind\n");
  int types[] = {SOCK_STREAM, SOCK_DGRAM};
  for (int i = 0; i < 2; i++) {
    struct sockaddr_un a = {.sun_family = AF_UNIX}, b = {.sun_family = AF_UNIX}, got;
    snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "late-a%s", suffix);
    snprintf(b.sun_path + 1, sizeof b.sun_path - 1, "late-b%s", suffix);
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
    socklen_t blen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(b.sun_path + 1);
    int l = socket(AF_UNIX, types[i], 0), c = socket(AF_UNIX, types[i], 0), r = l;
    CHECK(bind(l, (struct sockaddr *)&a, alen) == 0);
    if (types[i] == SOCK_STREAM) CHECK(listen(l, 1) == 0);
    CHECK(connect(c, (struct sockaddr *)&a, alen) == 0);
    if (types[i] == SOCK_STREAM) CHECK((r = accept(l, NULL, NULL)) >= 0);
    CHECK(send(c, "one", 3, 0) == 3);
    CHECK(bind(c, (struct sockaddr *)&b, blen) == 0);
    CHECK(send(c, "two", 3, 0) == 3);
    char buf[16];
    socklen_t len = sizeof got;
    memset(&got, 0, sizeof got);
    ssize_t n = recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&got, &len);
    printf(" %s: %zd bytes", types[i] == SOCK_STREAM ? "stream" : "dgram", n);
    print_addr("from", &got, len);
    close(c);
    close(l);
    if (r != l) close(r);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(suffix, sizeof suffix, "-%08x", (unsigned)getpid());
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  for (int i = 0; i < 3; i++) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, types[i], 0, sv) == 0);
    echo(sv[0], sv[1], types[i], "socketpair");
  }
  abstract_echo(SOCK_STREAM);
  abstract_echo(SOCK_SEQPACKET);
  abstract_echo(SOCK_DGRAM);
  boundaries();
  bulk();
  blocking_writes();
  readiness();
  timeouts_and_signals();
  backlog();
  late_bind();
  return 0;
}
