/*
 * Checkpoint and restore of AF_UNIX sockets. Before the checkpoint (which comes during the 3 s
 * conversation below) the program leaves: bytes queued unread on a stream socketpair, datagrams queued
 * on a datagram socketpair (boundaries must survive), a seqpacket pair with one end shut for
 * writing, a listening socket on an abstract name with one connection not yet accepted and
 * data already sent on it, and a forked child that talks to it over a stream socketpair the
 * whole time (request i, reply 2i, 20 ms apart). With argument "rights" a datagram carrying
 * three descriptors (SCM_RIGHTS) is queued as well: a pipe's read end with data whose other
 * end is closed, a stream socket with data queued, both held by nothing but the message, and
 * the receiving socket itself. After the sleep it reads everything and prints what it found;
 * a restored run must print what a native run prints.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path + 1, name);
  return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

/* Sends a datagram carrying n descriptors (SCM_RIGHTS). */
static void send_fds(int sock, const int *fds, int n) {
  char data = 'r';
  struct iovec iov = {&data, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(3 * sizeof(int))];
  } u;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(n * sizeof(int));
  memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  sendmsg(sock, &msg, 0);
}

/* Receives the datagram of send_fds and tries each descriptor. */
static void recv_fds(int sock, int self) {
  char data;
  struct iovec iov = {&data, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(3 * sizeof(int))];
  } u;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (n != 1 || c == NULL || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(3 * sizeof(int))) {
    printf("rights: none (%zd)\n", n);
    return;
  }
  int fds[3];
  memcpy(fds, CMSG_DATA(c), sizeof fds);
  char buf[64];
  ssize_t a = read(fds[0], buf, sizeof buf);
  printf("rights: pipe '%.*s' then %zd;", a > 0 ? (int)a : 0, buf, read(fds[0], buf, sizeof buf));
  a = read(fds[1], buf, sizeof buf);
  write(fds[1], "back", 4);
  printf(" socket '%.*s';", a > 0 ? (int)a : 0, buf);
  struct stat s1, s2;
  fstat(fds[2], &s1);
  fstat(self, &s2);
  printf(" itself %s\n", s1.st_ino == s2.st_ino ? "yes" : "no");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int st[2], dg[2], sq[2], talk[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) ||
      socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) || socketpair(AF_UNIX, SOCK_STREAM, 0, talk)) return 2;
  pid_t child = fork();
  if (child == 0) {
    close(talk[0]);
    long sum = 0;
    for (int i = 1; i <= 150; i++) {
      if (write(talk[1], &i, sizeof i) != sizeof i) return 3;
      int r;
      if (read(talk[1], &r, sizeof r) != sizeof r || r != 2 * i) return 4;
      sum += r;
      sleep_ms(20);
    }
    return sum == 22650 ? 0 : 7; /* 2 * (1 + ... + 150): every reply right */
  }
  close(talk[1]);
  /* Stream: 3 writes, read later in one go (segments merge). */
  for (int i = 0; i < 3; i++) {
    char m[32];
    int n = snprintf(m, sizeof m, "stream-%d;", i);
    write(st[0], m, n);
  }
  /* Datagrams of 1, 10 and 100 bytes. */
  char big[100];
  memset(big, 'd', sizeof big);
  send(dg[0], big, 1, 0);
  send(dg[0], big, 10, 0);
  send(dg[0], big, 100, 0);
  /* "rights": descriptors in flight too, two of them held by nothing else. */
  int rights = argc > 1 && strcmp(argv[1], "rights") == 0, sp[2] = {-1, -1};
  if (rights) {
    int p[2];
    if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sp)) return 2;
    write(p[1], "piped", 5);
    close(p[1]);
    write(sp[0], "via-sp", 6);
    int fds[3] = {p[0], sp[1], dg[1]};
    send_fds(dg[0], fds, 3);
    close(p[0]);
    close(sp[1]);
  }
  /* Seqpacket: two records, then the sender shuts down writing. */
  send(sq[0], "rec-one", 7, 0);
  send(sq[0], "rec-two!", 8, 0);
  shutdown(sq[0], SHUT_WR);
  /* A listener with a connection not yet accepted, which already sent data. */
  struct sockaddr_un a;
  socklen_t alen = abstract_addr(&a, "ckpt-unix-test");
  int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
  if (bind(l, (struct sockaddr *)&a, alen) || listen(l, 4) || connect(c, (struct sockaddr *)&a, alen)) return 5;
  write(c, "early", 5);
  printf("ready\n");

  /* The conversation (3 s at least) goes on through the checkpoint; the rest waits for its end. */
  long served = 0;
  for (int i = 0; i < 150; i++) {
    int v;
    if (read(talk[0], &v, sizeof v) != sizeof v) return 6;
    v *= 2;
    write(talk[0], &v, sizeof v);
    served++;
  }
  char buf[256];
  ssize_t n = read(st[1], buf, sizeof buf);
  printf("stream: %.*s\n", (int)n, buf);
  for (int i = 0; i < 3; i++) {
    n = recv(dg[1], buf, sizeof buf, MSG_DONTWAIT);
    printf("datagram %d: %zd bytes\n", i, n);
  }
  if (rights) {
    recv_fds(dg[1], dg[1]);
    n = read(sp[0], buf, sizeof buf);
    printf("reply: %.*s\n", n > 0 ? (int)n : 0, buf);
  }
  printf("datagram 3: %zd\n", recv(dg[1], buf, sizeof buf, MSG_DONTWAIT));
  for (int i = 0; i < 3; i++) {
    n = recv(sq[1], buf, sizeof buf, 0);
    printf("record %d: %zd %.*s\n", i, n, n > 0 ? (int)n : 0, buf);
  }
  int s = accept(l, NULL, NULL);
  n = read(s, buf, sizeof buf);
  printf("accepted: %.*s\n", (int)n, buf);
  struct sockaddr_un got;
  socklen_t glen = sizeof got;
  getsockname(s, (struct sockaddr *)&got, &glen);
  printf("accepted name: %s (%u bytes)\n", got.sun_path + 1, glen);
  write(s, "late", 4);
  n = read(c, buf, sizeof buf);
  printf("client got: %.*s\n", (int)n, buf);
  close(s);
  printf("after close: %zd\n", read(c, buf, sizeof buf));
  printf("served %ld\n", served);
  int status;
  waitpid(child, &status, 0);
  printf("child status %d\n", WEXITSTATUS(status));
  return 0;
}
