/* SCM_RIGHTS and credentials over AF_UNIX: an open file passed to a forked child that reads
 * it (sharing the offset), several descriptors with a short control buffer (MSG_CTRUNC),
 * MSG_CMSG_CLOEXEC, a descriptor closed by its sender while in flight, a socket passed through
 * a socket, a stream read that stops at a message carrying descriptors, bad descriptors and
 * malformed control messages, SCM_CREDENTIALS with SO_PASSCRED, SO_PEERCRED. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x)                                                             \
  do {                                                                       \
    if (!(x)) {                                                              \
      printf("FAILED %s at line %d: %s\n", #x, __LINE__, strerror(errno));   \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

/* Sends data with n descriptors; returns sendmsg's result. */
static ssize_t send_fds(int s, const char *data, size_t len, const int *fds, int n) {
  char ctl[CMSG_SPACE(sizeof(int) * 8)];
  memset(ctl, 0, sizeof ctl);
  struct iovec io = {(void *)data, len};
  struct msghdr m = {0};
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  if (n > 0) {
    m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  return sendmsg(s, &m, 0);
}

/* Receives into buf; stores up to max descriptors in fds and returns their count in *n. */
static ssize_t recv_fds(int s, char *buf, size_t len, int *fds, int *n, size_t ctlspace, int flags, int *msgflags) {
  char ctl[512];
  struct iovec io = {buf, len};
  struct msghdr m = {0};
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = ctlspace ? ctl : NULL;
  m.msg_controllen = ctlspace;
  ssize_t r = recvmsg(s, &m, flags);
  *n = 0;
  if (msgflags) *msgflags = m.msg_flags;
  if (r < 0) return r;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      memcpy(fds + *n, CMSG_DATA(c), k * sizeof(int));
      *n += k;
    }
  }
  return r;
}

static void pass_file_to_child(const char *self) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  pid_t c = fork();
  CHECK(c >= 0);
  if (c == 0) {
    close(sv[0]);
    char b[8];
    int fds[4], n;
    ssize_t r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, 0, NULL);
    if (r != 4 || n != 1) _exit(2);
    char magic[4] = {0};
    if (read(fds[0], magic, 3) != 3) _exit(3);
    printf("child read '%s' through the passed descriptor after '%.4s'\n", magic, b);
    _exit(0);
  }
  close(sv[1]);
  int fd = open(self, O_RDONLY);
  CHECK(fd >= 0);
  CHECK(lseek(fd, 1, SEEK_SET) == 1);
  CHECK(send_fds(sv[0], "file", 4, &fd, 1) == 4);
  int st;
  waitpid(c, &st, 0);
  printf("child status %d; the shared offset is now %ld\n", WEXITSTATUS(st), (long)lseek(fd, 0, SEEK_CUR));
  close(fd);
  close(sv[0]);
}

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static void control_rules(void) {
  int sv[2], p[2], fds[8], n, mf;
  char b[16];
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
  CHECK(pipe(p) == 0);
  int three[3] = {p[0], p[1], p[0]};
  CHECK(send_fds(sv[0], "3fds", 4, three, 3) == 4);
  int before = dup(0);
  close(before);
  /* Room for one descriptor only. */
  ssize_t r = recv_fds(sv[1], b, sizeof b, fds, &n, CMSG_SPACE(sizeof(int)), 0, &mf);
  printf("short control: r=%zd fds=%d ctrunc=%d first=%d next-free-unused=%d\n", r, n, (mf & MSG_CTRUNC) != 0,
         n > 0 && fds[0] == before, !is_open(before + 1));
  if (n > 0) close(fds[0]);

  CHECK(send_fds(sv[0], "none", 4, three, 1) == 4);
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 0, 0, &mf);
  printf("no control buffer: r=%zd fds=%d ctrunc=%d\n", r, n, (mf & MSG_CTRUNC) != 0);

  CHECK(send_fds(sv[0], "cloexec", 7, three, 1) == 7);
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, MSG_CMSG_CLOEXEC, &mf);
  printf("MSG_CMSG_CLOEXEC: r=%zd fds=%d FD_CLOEXEC=%d\n", r, n, n == 1 ? fcntl(fds[0], F_GETFD) : -1);
  if (n == 1) close(fds[0]);

  CHECK(send_fds(sv[0], "peek", 4, three, 1) == 4);
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, MSG_PEEK, &mf);
  printf("peek: r=%zd fds=%d", r, n);
  if (n == 1) close(fds[0]);
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, 0, &mf);
  printf(" then recv: r=%zd fds=%d\n", r, n);
  if (n == 1) close(fds[0]);

  /* The sender closes its descriptor while it is in flight: the message keeps it open. */
  int q[2];
  CHECK(pipe(q) == 0);
  CHECK(write(q[1], "kept", 4) == 4);
  CHECK(send_fds(sv[0], "inflight", 8, &q[0], 1) == 8);
  close(q[0]);
  close(q[1]);
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, 0, &mf);
  char k[8] = {0};
  printf("in flight: fds=%d read=%zd '%s'\n", n, n == 1 ? read(fds[0], k, sizeof k) : -1, k);
  if (n == 1) close(fds[0]);

  int bad = 77;
  errno = 0;
  r = send_fds(sv[0], "bad", 3, &bad, 1);
  printf("bad descriptor: %zd %s\n", r, strerror(errno));

  char ctl[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec io = {"x", 1};
  struct msghdr m = {0};
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = sizeof ctl + 8;
  errno = 0;
  r = sendmsg(sv[0], &m, 0);
  printf("cmsg_len too long: %zd %s\n", r, strerror(errno));
  c->cmsg_len = CMSG_LEN(sizeof(int));
  c->cmsg_type = 99;
  errno = 0;
  r = sendmsg(sv[0], &m, 0);
  printf("unknown SOL_SOCKET type: %zd %s\n", r, strerror(errno));
  c->cmsg_level = 1234;
  errno = 0;
  r = sendmsg(sv[0], &m, 0);
  printf("other level ignored: %zd\n", r);
  recv(sv[1], b, sizeof b, 0);
  close(sv[0]);
  close(sv[1]);
  close(p[0]);
  close(p[1]);

  /* A stream read does not merge past a message that carries descriptors. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(pipe(p) == 0);
  send(sv[0], "ab", 2, 0);
  send_fds(sv[0], "cd", 2, &p[0], 1);
  send(sv[0], "ef", 2, 0);
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, 0, &mf);
  printf("stream read 1: %zd '%.*s' fds=%d", r, (int)r, b, n);
  r = recv_fds(sv[1], b, sizeof b, fds + 1, &n, 256, 0, &mf);
  printf(", read 2: %zd '%.*s' fds=%d", r, (int)r, b, n);
  if (n == 1) close(fds[1]);
  errno = 0;
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, MSG_DONTWAIT, &mf);
  printf(", read 3: %zd %s\n", r, strerror(errno));

  /* A socket passed through a socket still works. */
  int inner[2];
  CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, inner) == 0);
  send_fds(sv[0], "s", 1, &inner[1], 1);
  close(inner[1]);
  r = recv_fds(sv[1], b, sizeof b, fds, &n, 256, 0, &mf);
  send(inner[0], "via passed socket", 17, 0);
  char big[32] = {0};
  r = n == 1 ? recv(fds[0], big, sizeof big, 0) : -1;
  printf("passed socket: %zd '%s'\n", r, big);
  close(sv[0]);
  close(sv[1]);
}

static void credentials(void) {
  int sv[2], on = 1;
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
  CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
  send(sv[0], "implicit", 8, 0);

  char ctl[CMSG_SPACE(sizeof(struct ucred))];
  struct ucred cr = {getpid(), getuid(), getgid()};
  struct iovec io = {"explicit", 8};
  struct msghdr m = {0};
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof cr);
  memcpy(CMSG_DATA(c), &cr, sizeof cr);
  printf("send explicit creds: %zd\n", sendmsg(sv[0], &m, 0));
  cr.pid = 999999;
  memcpy(CMSG_DATA(c), &cr, sizeof cr);
  errno = 0;
  ssize_t r = sendmsg(sv[0], &m, 0);
  printf("send creds of a missing pid: %zd %s\n", r, strerror(errno));
  c->cmsg_len = CMSG_LEN(sizeof cr - 4);
  errno = 0;
  r = sendmsg(sv[0], &m, 0);
  printf("send short creds: %zd %s\n", r, strerror(errno));

  for (int i = 0; i < 2; i++) {
    char b[16], rc[256];
    struct iovec ri = {b, sizeof b};
    struct msghdr rm = {0};
    rm.msg_iov = &ri;
    rm.msg_iovlen = 1;
    rm.msg_control = rc;
    rm.msg_controllen = sizeof rc;
    r = recvmsg(sv[1], &rm, 0);
    struct cmsghdr *h = CMSG_FIRSTHDR(&rm);
    int ok = h && h->cmsg_type == SCM_CREDENTIALS && h->cmsg_len == CMSG_LEN(sizeof(struct ucred));
    struct ucred got = {0};
    if (ok) memcpy(&got, CMSG_DATA(h), sizeof got);
    printf("recv '%.*s': creds=%d pid-is-sender=%d uid=%d gid=%d controllen=%zu\n", (int)r, b, ok,
           got.pid == getpid(), got.uid, got.gid, (size_t)rm.msg_controllen);
  }
  close(sv[0]);
  close(sv[1]);

  struct ucred pc;
  socklen_t len = sizeof pc;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &len) == 0);
  printf("SO_PEERCRED socketpair: pid-is-self=%d uid=%d gid=%d len=%u\n", pc.pid == getpid(), pc.uid, pc.gid, len);
  close(sv[0]);
  close(sv[1]);

  int u = socket(AF_UNIX, SOCK_STREAM, 0);
  len = sizeof pc;
  getsockopt(u, SOL_SOCKET, SO_PEERCRED, &pc, &len);
  printf("SO_PEERCRED unconnected: pid=%d uid=%d gid=%d\n", pc.pid, pc.uid, pc.gid);
  close(u);

  struct sockaddr_un a = {0};
  a.sun_family = AF_UNIX;
  /* "-PID" keeps concurrent native runs on one host apart. */
  int nl = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "sentry-unix-peercred-%08x", (unsigned)getpid());
  socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + nl;
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(bind(l, (struct sockaddr *)&a, alen) == 0);
  CHECK(listen(l, 1) == 0);
  pid_t child = fork();
  if (child == 0) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, alen) != 0) _exit(1);
    struct ucred p;
    socklen_t pl = sizeof p;
    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &p, &pl);
    _exit(p.pid == getppid() ? 0 : 2);
  }
  int conn = accept(l, NULL, NULL);
  len = sizeof pc;
  getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &pc, &len);
  int st;
  waitpid(child, &st, 0);
  printf("SO_PEERCRED accepted: pid-is-client=%d; client saw the listener's pid: %d\n", pc.pid == child,
         WEXITSTATUS(st) == 0);
  close(conn);
  close(l);
}

int main(int argc, char **argv) {
  (void)argc;
  setvbuf(stdout, NULL, _IONBF, 0);
  pass_file_to_child(argv[0]);
  control_rules();
  credentials();
  return 0;
}
