/* What each kind of descriptor answers: fsync and fdatasync (EINVAL without an fsync
 * operation: pipes, FIFOs, sockets, character devices, /proc), O_PATH descriptors in socket
 * calls and epoll_ctl (EBADF, not ENOTSOCK or EPERM), epoll_ctl on the memory devices (EPERM
 * but for random and urandom), fcntl's F_CREATED_QUERY and F_DUPFD_QUERY, and bind(2) to a
 * port below 1024 without CAP_NET_BIND_SERVICE (EACCES). Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027
#endif
#ifndef F_CREATED_QUERY
#define F_CREATED_QUERY 1028
#endif

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static void syncs(const char *what, int fd) {
  char n[128];
  snprintf(n, sizeof n, "fsync %s", what);
  R(n, fsync(fd));
  snprintf(n, sizeof n, "fdatasync %s", what);
  R(n, fdatasync(fd));
}

static int bind_port(int type, int port) {
  int s = socket(AF_INET, type, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int r = bind(s, (struct sockaddr *)&a, sizeof a);
  int e = errno;
  close(s);
  errno = e;
  return r;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/fdkindsXXXXXX";
  if (mkdtemp(dir) == NULL || chdir(dir) != 0) return 1;

  printf("-- fsync and fdatasync\n");
  int p[2];
  pipe(p);
  syncs("pipe", p[1]);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  syncs("socket", s);
  mkfifo("fifo", 0600);
  int fr = open("fifo", O_RDONLY | O_NONBLOCK), fw = open("fifo", O_WRONLY);
  syncs("FIFO", fw);
  int dn = open("/dev/null", O_WRONLY);
  syncs("/dev/null", dn);
  int pr = open("/proc/self/status", O_RDONLY);
  syncs("/proc/self/status", pr);
  int pd = open("/proc", O_RDONLY | O_DIRECTORY);
  syncs("/proc", pd);
  int f = open("file", O_CREAT | O_RDWR, 0600);
  syncs("regular file", f);
  int d = open(".", O_RDONLY | O_DIRECTORY);
  syncs("directory", d);
  int m = memfd_create("m", 0);
  syncs("memfd", m);
  int ep = epoll_create1(0);
  syncs("epoll", ep);
  int op = open("file", O_PATH);
  syncs("O_PATH", op);

  printf("-- O_PATH and epoll\n");
  R("accept on O_PATH", accept(op, NULL, NULL));
  R("listen on O_PATH", listen(op, 1));
  R("accept on a regular file", accept(f, NULL, NULL));
  struct epoll_event ev = {.events = EPOLLIN};
  R("epoll_ctl of O_PATH", epoll_ctl(ep, EPOLL_CTL_ADD, op, &ev));
  R("epoll_ctl on an O_PATH epoll", epoll_ctl(op, EPOLL_CTL_ADD, p[0], &ev));
  R("epoll_ctl of a regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
  const char *devs[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};
  for (int i = 0; i < 5; i++) {
    int fd = open(devs[i], O_RDONLY);
    char n[64];
    snprintf(n, sizeof n, "epoll_ctl of %s", devs[i]);
    R(n, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
    close(fd);
  }

  printf("-- F_CREATED_QUERY and F_DUPFD_QUERY\n");
  int c = open("new", O_CREAT | O_RDWR, 0600);
  R("F_CREATED_QUERY, created", fcntl(c, F_CREATED_QUERY, 0));
  int c2 = open("new", O_CREAT | O_RDWR, 0600);
  R("F_CREATED_QUERY, O_CREAT of an existing file", fcntl(c2, F_CREATED_QUERY, 0));
  R("F_CREATED_QUERY, /dev/null", fcntl(dn, F_CREATED_QUERY, 0));
  R("F_CREATED_QUERY, O_PATH", fcntl(op, F_CREATED_QUERY, 0));
  int dup_c = dup(c);
  R("F_CREATED_QUERY, a dup", fcntl(dup_c, F_CREATED_QUERY, 0));
  R("F_DUPFD_QUERY, a dup", fcntl(c, F_DUPFD_QUERY, dup_c));
  R("F_DUPFD_QUERY, another open", fcntl(c, F_DUPFD_QUERY, c2));
  R("F_DUPFD_QUERY, itself", fcntl(c, F_DUPFD_QUERY, c));
  R("F_DUPFD_QUERY, a closed descriptor", fcntl(c, F_DUPFD_QUERY, 999));
  R("F_DUPFD_QUERY, O_PATH", fcntl(op, F_DUPFD_QUERY, op));

  printf("-- privileged ports\n");
  R("root: bind TCP 463", bind_port(SOCK_STREAM, 463));
  pid_t k = fork();
  if (k == 0) {
    setresgid(65534, 65534, 65534);
    setresuid(65534, 65534, 65534);
    R("nobody: bind TCP 463", bind_port(SOCK_STREAM, 463));
    R("nobody: bind UDP 1023", bind_port(SOCK_DGRAM, 1023));
    R("nobody: bind TCP 1024", bind_port(SOCK_STREAM, 1024) == 0);
    R("nobody: bind TCP 0", bind_port(SOCK_STREAM, 0));
    _exit(0);
  }
  waitpid(k, NULL, 0);

  unlink("file");
  unlink("new");
  unlink("fifo");
  chdir("/");
  rmdir(dir);
  (void)fr;
  return 0;
}
