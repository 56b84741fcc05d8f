/*
 * Checkpoint and restore of special files in a written filesystem: a listening stream socket
 * bound to /tmp/ckn.sock, a datagram socket bound to /tmp/ckn.dgram with a datagram queued from
 * a socket bound to /tmp/ckn.from, a socket file whose socket was closed, and device nodes made
 * with mknod (/dev/zero's and /dev/null's numbers, and a block device). After the checkpoint
 * (waited for on stdin: tests/c/_ckpt.h) a forked child connects by path and talks to the server, the
 * datagram is read with its sender's path, the closed socket's file refuses connections, and
 * the nodes are stat'ed and used.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

static const char *names[] = {"/tmp/ckn.sock", "/tmp/ckn.dgram", "/tmp/ckn.from", "/tmp/ckn.dead", "/tmp/ckn.zero", "/tmp/ckn.null", "/tmp/ckn.blk"};

static struct sockaddr_un addr(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, path);
  return a;
}

static int bound(int type, const char *path) {
  int s = socket(AF_UNIX, type, 0);
  struct sockaddr_un a = addr(path);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  return s;
}

static void show(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    printf("%s: %s\n", path, strerror(errno));
    return;
  }
  const char *t = S_ISSOCK(st.st_mode) ? "socket" : S_ISCHR(st.st_mode) ? "chr" : S_ISBLK(st.st_mode) ? "blk" : "other";
  printf("%s: %s mode %o rdev %u:%u\n", path, t, st.st_mode & 07777, major(st.st_rdev), minor(st.st_rdev));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) unlink(names[i]);
  umask(022);
  int srv = bound(SOCK_STREAM, "/tmp/ckn.sock");
  int dg = bound(SOCK_DGRAM, "/tmp/ckn.dgram");
  int from = bound(SOCK_DGRAM, "/tmp/ckn.from");
  int dead = bound(SOCK_STREAM, "/tmp/ckn.dead");
  if (srv < 0 || dg < 0 || from < 0 || dead < 0 || listen(srv, 4) != 0) return 2;
  close(dead);
  chmod("/tmp/ckn.sock", 0700);
  struct sockaddr_un to = addr("/tmp/ckn.dgram");
  if (sendto(from, "queued", 6, 0, (struct sockaddr *)&to, sizeof to) != 6) return 3;
  if (mknod("/tmp/ckn.zero", S_IFCHR | 0640, makedev(1, 5)) != 0 || mknod("/tmp/ckn.null", S_IFCHR | 0666, makedev(1, 3)) != 0 ||
      mknod("/tmp/ckn.blk", S_IFBLK | 0600, makedev(7, 200)) != 0) {
    return 4;
  }
  printf("ready\n");
  await_checkpoint();

  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) show(names[i]);
  pid_t c = fork();
  if (c == 0) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = addr("/tmp/ckn.sock");
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) _exit(10);
    write(s, "hello", 5);
    char buf[32];
    ssize_t n = read(s, buf, sizeof buf);
    printf("child read %zd: %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    _exit(0);
  }
  int conn = accept(srv, NULL, NULL);
  char buf[64];
  ssize_t n = read(conn, buf, sizeof buf);
  printf("server read %zd: %.*s\n", n, (int)(n > 0 ? n : 0), buf);
  write(conn, "welcome", 7);
  int st;
  waitpid(c, &st, 0);
  printf("child exited %d\n", WEXITSTATUS(st));

  struct sockaddr_un sender;
  socklen_t len = sizeof sender;
  n = recvfrom(dg, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&sender, &len);
  printf("datagram %zd: %.*s from %s\n", n, (int)(n > 0 ? n : 0), buf, len > sizeof(sa_family_t) ? sender.sun_path : "(unnamed)");
  sendto(dg, "reply", 5, 0, (struct sockaddr *)&sender, len);
  n = recv(from, buf, sizeof buf, MSG_DONTWAIT);
  printf("reply %zd: %.*s\n", n, (int)(n > 0 ? n : 0), buf);

  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = addr("/tmp/ckn.dead");
  int r = connect(s, (struct sockaddr *)&a, sizeof a);
  printf("connect to the closed socket's file: %d %s\n", r, r == 0 ? "" : strerror(errno));
  int z = open("/tmp/ckn.zero", O_RDONLY), nul = open("/tmp/ckn.null", O_WRONLY);
  memset(buf, 1, 4);
  n = read(z, buf, 4);
  ssize_t w = write(nul, "x", 1);
  printf("zero read %zd: %d %d %d %d, null write %zd\n", n, buf[0], buf[1], buf[2], buf[3], w);
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) unlink(names[i]);
  return 0;
}
