/* AF_UNIX error cases and options: socket(2) arguments, ECONNREFUSED, EADDRINUSE, ENOTCONN,
 * EISCONN, EINVAL, EOPNOTSUPP, EPROTOTYPE, EMSGSIZE, EPIPE with SIGPIPE for streams only and
 * none under MSG_NOSIGNAL, ECONNREFUSED then ENOTCONN for a datagram whose peer died, autobind,
 * SO_TYPE/SO_DOMAIN/SO_PROTOCOL/SO_ERROR/SO_SNDBUF/SO_RCVBUF/SO_PASSCRED, fstat of a socket,
 * filesystem names (a socket file in a temporary directory: bind, stat, connect, EADDRINUSE,
 * ECONNREFUSED after close, ENOENT after unlink, EPROTOTYPE; a missing directory, an existing
 * file), ENOTSOCK. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Runs x once, then prints its result and errno (never relying on argument order). */
#define T(x)                                                             \
  do {                                                                   \
    errno = 0;                                                           \
    long r_ = (long)(x);                                                 \
    int e_ = errno;                                                      \
    printf("%-62s = %ld%s%s\n", #x, r_, r_ < 0 ? " " : "", r_ < 0 ? strerror(e_) : ""); \
  } while (0)

static volatile int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }

/* Abstract names end in "-PID" so that concurrent native runs on one host never collide. */
static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "%s-%08x", name, (unsigned)getpid());
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path, path);
  return sizeof *a;
}

static int intopt(int s, int name) {
  int v = -7;
  socklen_t l = sizeof v;
  if (getsockopt(s, SOL_SOCKET, name, &v, &l) != 0) return -1000 - errno;
  return v;
}

static void sigpipe_cases(void) {
  const char *names[] = {"", "stream", "dgram", "", "", "seqpacket"};
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  for (int i = 0; i < 3; i++) {
    int t = types[i];
    int sv[2];
    char b[4];
    printf("-- %s\n", names[t]);
    socketpair(AF_UNIX, t, 0, sv);
    shutdown(sv[0], SHUT_WR);
    sigpipes = 0;
    T(send(sv[0], "x", 1, 0));
    T(write(sv[0], "x", 1));
    T(send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("SIGPIPEs after own SHUT_WR: %d\n", sigpipes);
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, t, 0, sv);
    close(sv[1]);
    sigpipes = 0;
    T(send(sv[0], "x", 1, 0));
    T(write(sv[0], "x", 1));
    T(recv(sv[0], b, sizeof b, MSG_DONTWAIT));
    printf("SIGPIPEs after peer close: %d\n", sigpipes);
    close(sv[0]);

    socketpair(AF_UNIX, t, 0, sv);
    shutdown(sv[1], SHUT_RD);
    sigpipes = 0;
    T(send(sv[0], "x", 1, 0));
    T(recv(sv[1], b, sizeof b, MSG_DONTWAIT));
    printf("SIGPIPEs after peer SHUT_RD: %d\n", sigpipes);
    close(sv[0]);
    close(sv[1]);
  }
}

/* Linux names an autobound socket with five lowercase hex digits; only those len bytes are
 * copied out, so what follows them in the buffer is whatever it held before. */
static int hex5(const char *p) {
  for (int i = 0; i < 5; i++)
    if (!strchr("0123456789abcdef", p[i]) || p[i] == 0) return 0;
  return 1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa = {0};
  sa.sa_handler = on_pipe;
  sigaction(SIGPIPE, &sa, NULL);
  char b[8];
  int sv[2];

  printf("-- socket arguments\n");
  T(socket(AF_UNIX, SOCK_STREAM, 0));
  T(socket(AF_UNIX, SOCK_RAW, 0));
  T(socket(AF_UNIX, SOCK_STREAM, 1));
  T(socket(AF_UNIX, SOCK_STREAM, 2));
  T(socket(AF_UNIX, SOCK_RDM, 0));
  T(socket(AF_UNIX, 12, 0));
  T(socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
  T(socket(4242, SOCK_STREAM, 0));
  T(socketpair(4242, SOCK_STREAM, 0, sv));
  T(socketpair(AF_UNIX, SOCK_STREAM, 0, NULL));
  T(bind(0, NULL, 0));
  T(bind(99, NULL, 0));

  printf("-- options\n");
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  printf("type=%d domain=%d protocol=%d error=%d acceptconn=%d passcred=%d\n", intopt(s, SO_TYPE),
         intopt(s, SO_DOMAIN), intopt(s, SO_PROTOCOL), intopt(s, SO_ERROR), intopt(s, SO_ACCEPTCONN),
         intopt(s, SO_PASSCRED));
  printf("O_NONBLOCK=%d FD_CLOEXEC=%d\n", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0, fcntl(s, F_GETFD));
  int v = 1;
  T(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
  printf("SO_SNDBUF after 1: %d\n", intopt(s, SO_SNDBUF));
  T(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
  printf("SO_RCVBUF after 1: %d\n", intopt(s, SO_RCVBUF));
  v = 100000;
  T(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
  printf("SO_SNDBUF after 100000: %d\n", intopt(s, SO_SNDBUF));
  T(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, 2));
  T(setsockopt(s, SOL_SOCKET, SO_TYPE, &v, sizeof v));
  T(setsockopt(s, SOL_SOCKET, 999, &v, sizeof v));
  T(setsockopt(s, 99, 1, &v, sizeof v));
  v = 1;
  T(setsockopt(s, SOL_SOCKET, SO_PASSCRED, &v, sizeof v));
  T(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
  printf("passcred=%d reuseaddr=%d\n", intopt(s, SO_PASSCRED), intopt(s, SO_REUSEADDR));
  short small = 0;
  socklen_t sl = sizeof small;
  T(getsockopt(s, SOL_SOCKET, SO_TYPE, &small, &sl));
  printf("short SO_TYPE: %d len=%u\n", small, sl);
  sl = (socklen_t)-1;
  T(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &sl));
  struct stat st;
  fstat(s, &st);
  printf("fstat: mode=%o size=%ld nlink=%ld blksize=%ld\n", st.st_mode, (long)st.st_size, (long)st.st_nlink,
         (long)st.st_blksize);
  T(lseek(s, 0, SEEK_SET));
  T(pwrite(s, "x", 1, 0));
  close(s);

  printf("-- names\n");
  struct sockaddr_un a, a2;
  socklen_t len = abstract_addr(&a, "sentry-unix-errors");
  s = socket(AF_UNIX, SOCK_STREAM, 0);
  int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
  int d = socket(AF_UNIX, SOCK_DGRAM, 0);
  T(connect(s, (struct sockaddr *)&a, len));
  T(connect(s, (struct sockaddr *)&a, 1));
  T(connect(s, (struct sockaddr *)&a, 2));
  T(connect(s, (struct sockaddr *)&a, 200));
  T(bind(s, (struct sockaddr *)&a, 1));
  T(listen(s, 5));
  T(bind(s, (struct sockaddr *)&a, len));
  T(bind(s, (struct sockaddr *)&a, len));
  T(bind(s2, (struct sockaddr *)&a, len));
  T(bind(d, (struct sockaddr *)&a, len));
  T(connect(s2, (struct sockaddr *)&a, len));
  T(listen(s, 5));
  T(connect(s2, (struct sockaddr *)&a, len));
  T(connect(s2, (struct sockaddr *)&a, len));
  T(connect(s, (struct sockaddr *)&a, len));
  T(send(s, "x", 1, 0));
  T(recv(s, b, 1, 0));
  T(sendto(s2, "x", 1, 0, (struct sockaddr *)&a, len));
  T(accept(s2, NULL, NULL));
  T(accept(d, NULL, NULL));
  T(listen(d, 1));
  T(getpeername(s, (struct sockaddr *)&a2, &len));
  int ds = socket(AF_UNIX, SOCK_DGRAM, 0);
  T(connect(ds, (struct sockaddr *)&a, len));
  T(sendto(ds, "x", 1, 0, (struct sockaddr *)&a, len));
  T(shutdown(s2, 7));
  T(shutdown(s2, SHUT_RDWR));

  len = sizeof a2;
  int u = socket(AF_UNIX, SOCK_STREAM, 0);
  T(getsockname(u, (struct sockaddr *)&a2, &len));
  printf("unbound name len=%u\n", len);
  T(bind(u, (struct sockaddr *)&a2, sizeof(sa_family_t)));
  len = sizeof a2;
  T(getsockname(u, (struct sockaddr *)&a2, &len));
  printf("autobind name len=%u abstract=%d hex=%d\n", len, a2.sun_path[0] == 0,
         len == 8 && hex5(a2.sun_path + 1));
  T(bind(u, (struct sockaddr *)&a2, sizeof(sa_family_t)));
  T(bind(u, (struct sockaddr *)&a, len));
  len = 0;
  T(getsockname(u, (struct sockaddr *)&a2, &len));
  printf("getsockname with len 0 reports %u\n", len);
  T(getsockname(u, (struct sockaddr *)&a2, NULL));
  T(getsockname(1, (struct sockaddr *)&a2, &len));

  printf("-- filesystem names that cannot be\n");
  len = path_addr(&a, "/nonexistent-dir/sock");
  T(bind(u, (struct sockaddr *)&a, len));
  T(connect(s2, (struct sockaddr *)&a, len));
  len = path_addr(&a, "/etc/passwd");
  T(bind(d, (struct sockaddr *)&a, len));
  T(connect(d, (struct sockaddr *)&a, len));
  T(connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, len));

  printf("-- filesystem names\n");
  umask(022);
  char dir[] = "/tmp/sentry-unix-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  char path[128], path2[128];
  snprintf(path, sizeof path, "%s/sock", dir);
  snprintf(path2, sizeof path2, "%s/other", dir);
  int ps = socket(AF_UNIX, SOCK_STREAM, 0);
  len = path_addr(&a, path);
  T(bind(ps, (struct sockaddr *)&a, len));
  struct stat pst;
  T(stat(path, &pst));
  printf("socket file: sock=%d mode=%o\n", S_ISSOCK(pst.st_mode), pst.st_mode & 07777);
  len = sizeof a2;
  T(getsockname(ps, (struct sockaddr *)&a2, &len));
  printf("name len=%u matches=%d\n", len, len == offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1 &&
         strcmp(a2.sun_path, path) == 0);
  T(listen(ps, 2));
  int pc = socket(AF_UNIX, SOCK_STREAM, 0);
  len = path_addr(&a, path);
  T(connect(pc, (struct sockaddr *)&a, len));
  len = sizeof a2;
  T(getpeername(pc, (struct sockaddr *)&a2, &len));
  printf("peer is the path: %d\n", strcmp(a2.sun_path, path) == 0);
  int pa = accept(ps, NULL, NULL);
  T(send(pc, "via path", 8, 0));
  T(recv(pa, b, sizeof b, 0));
  int other = socket(AF_UNIX, SOCK_STREAM, 0);
  len = path_addr(&a, path);
  T(bind(other, (struct sockaddr *)&a, len));
  len = path_addr(&a, path2);
  T(bind(ps, (struct sockaddr *)&a, len));
  T(access(path2, F_OK));
  int pd = socket(AF_UNIX, SOCK_DGRAM, 0);
  len = path_addr(&a, path);
  T(connect(pd, (struct sockaddr *)&a, len));
  T(bind(pd, (struct sockaddr *)&a2, sizeof(sa_family_t)));
  close(ps);
  T(connect(other, (struct sockaddr *)&a, len));
  T(unlink(path));
  T(connect(other, (struct sockaddr *)&a, len));
  len = path_addr(&a, path2);
  int pds = socket(AF_UNIX, SOCK_DGRAM, 0);
  T(bind(pds, (struct sockaddr *)&a, len));
  int pdc = socket(AF_UNIX, SOCK_DGRAM, 0);
  T(sendto(pdc, "dgram", 5, 0, (struct sockaddr *)&a, len));
  socklen_t fl = sizeof a2;
  T(recvfrom(pds, b, sizeof b, 0, (struct sockaddr *)&a2, &fl));
  printf("from an unbound sender: len=%u\n", fl);
  T(connect(other, (struct sockaddr *)&a, len));
  T(unlink(path2));
  T(rmdir(dir));
  close(pa);
  close(pc);

  printf("-- datagrams\n");
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  v = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  static char big[20000];
  T(send(sv[0], big, 8192 - 32, 0));
  T(send(sv[0], big, 8192 - 31, 0));
  T(send(sv[0], big, sizeof big, 0));
  T(recv(sv[1], big, sizeof big, MSG_TRUNC));
  close(sv[1]);
  T(send(sv[0], "x", 1, 0));
  T(send(sv[0], "x", 1, 0));
  T(recv(sv[0], b, 1, MSG_DONTWAIT));
  close(sv[0]);
  int lonely = socket(AF_UNIX, SOCK_DGRAM, 0);
  T(send(lonely, "x", 1, 0));
  T(sendto(lonely, "x", 1, 0, (struct sockaddr *)&a, 1));
  T(recv(lonely, b, 1, MSG_DONTWAIT));
  int qs = socket(AF_UNIX, SOCK_DGRAM, 0);
  len = abstract_addr(&a, "sentry-unix-queue");
  bind(qs, (struct sockaddr *)&a, len);
  int sender = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int sent = 0;
  while (sendto(sender, "q", 1, 0, (struct sockaddr *)&a, len) == 1 && sent < 10000) sent++;
  printf("queued datagrams before %s: %d\n", strerror(errno), sent);

  sigpipe_cases();
  return 0;
}
