/*
 * TCP edges gVisor's suite checks, compared with Linux (tests/net_test.ts):
 * - send on a socket that never connected is EPIPE, never ENOTCONN;
 * - a refused non-blocking connect: POLLERR, SO_ERROR ECONNREFUSED, then reads return 0,
 *   the next connect reports ECONNABORTED and the one after that starts anew;
 * - a non-blocking connect that succeeded: the next connect returns 0, then EISCONN;
 * - a send blocked on full buffers fails with EPIPE when another thread shuts the socket
 *   down for writing;
 * - recv with MSG_TRUNC consumes and counts without copying (with MSG_PEEK: neither);
 * - shutdown of a socket in TIME-WAIT is ENOTCONN;
 * - SO_SNDBUF grows past tcp_wmem's 16384 once connected;
 * - FIONREAD and TIOCOUTQ of TCP (EINVAL on a listener) and UDP (the next datagram), and
 *   TCP_INQ's control message;
 * - a connect to port 0 is refused; shutdown of a connecting socket ends it with ECONNRESET.
 * An alarm ends a hang.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EPIPE: return "EPIPE";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case EALREADY: return "EALREADY";
    case EINPROGRESS: return "EINPROGRESS";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNABORTED: return "ECONNABORTED";
    default: return strerror(e);
  }
}

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s: %ld %s\n", name, r_, r_ < 0 ? en(errno) : ""); } while (0)

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin_port);
}

static int listener(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(0);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 8) != 0) exit(1);
  return s;
}

static int connect_to(int port) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  return connect(c, (struct sockaddr *)&a, sizeof a) == 0 ? c : -1;
}

/* A port nothing listens on: bound, never listening. */
static int closed_port(int *holder) {
  *holder = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(0);
  bind(*holder, (struct sockaddr *)&a, sizeof a);
  return port_of(*holder);
}

static void unconnected_send(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  R("send on a socket never connected", send(s, "x", 1, MSG_NOSIGNAL));
  struct sockaddr_in a = loopback(9);
  R("sendto with an address on it", sendto(s, "x", 1, MSG_NOSIGNAL, (struct sockaddr *)&a, sizeof a));
  close(s);
}

static void refused(void) {
  int holder;
  int port = closed_port(&holder);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = loopback(port);
  R("non-blocking connect to a closed port", connect(s, (struct sockaddr *)&a, sizeof a));
  struct pollfd p = {s, POLLERR, 0};
  R("poll for POLLERR", poll(&p, 1, 5000));
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
  printf("SO_ERROR %s\n", en(err));
  char c;
  R("read after the error was taken", read(s, &c, 1));
  R("send after it", send(s, "x", 1, MSG_NOSIGNAL));
  R("connect again", connect(s, (struct sockaddr *)&a, sizeof a));
  R("and again (a new attempt)", connect(s, (struct sockaddr *)&a, sizeof a));
  close(s);

  s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  connect(s, (struct sockaddr *)&a, sizeof a);
  p = (struct pollfd){s, POLLERR, 0};
  poll(&p, 1, 5000);
  R("read takes the error", read(s, &c, 1));
  R("then reads 0", read(s, &c, 1));
  R("connect again", connect(s, (struct sockaddr *)&a, sizeof a));
  close(s);
  close(holder);
}

static void nonblocking_success(void) {
  int l = listener();
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = loopback(port_of(l));
  R("non-blocking connect", connect(s, (struct sockaddr *)&a, sizeof a));
  struct pollfd p = {s, POLLOUT, 0};
  R("poll for POLLOUT", poll(&p, 1, 5000));
  R("connect again", connect(s, (struct sockaddr *)&a, sizeof a));
  R("and again", connect(s, (struct sockaddr *)&a, sizeof a));
  close(s);
  close(l);
}

static int shut_fd;

static void *shut_writer(void *arg) {
  (void)arg;
  usleep(100 * 1000); /* the send below is most likely blocked by now */
  shutdown(shut_fd, SHUT_WR);
  return NULL;
}

static void blocked_send_shutdown(void) {
  int l = listener();
  shut_fd = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  size_t size = 64 << 20;
  char *buf = calloc(1, size);
  pthread_t t;
  pthread_create(&t, NULL, shut_writer, NULL);
  size_t sent = 0;
  ssize_t n;
  errno = 0;
  while (sent < size && (n = send(shut_fd, buf + sent, size - sent, MSG_NOSIGNAL)) > 0) sent += n;
  pthread_join(t, NULL);
  printf("a send blocked on full buffers ends with %s when shut down, having sent part: %s\n", en(errno),
         sent > 0 && sent < size ? "yes" : "no");
  struct pollfd p = {shut_fd, POLLOUT, 0};
  poll(&p, 1, 0);
  printf("POLLOUT after shutdown for writing: %s\n", p.revents & POLLOUT ? "yes" : "no");
  free(buf);
  close(a);
  close(shut_fd);
  close(l);
}

static void msg_trunc(void) {
  int l = listener();
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  char data[64];
  for (int i = 0; i < 64; i++) data[i] = 'a' + i % 26;
  send(c, data, sizeof data, 0);
  char got[64] = {0};
  R("recv(MSG_TRUNC|MSG_PEEK) of 16", recv(a, got, 16, MSG_TRUNC | MSG_PEEK));
  printf("copied: %s\n", got[0] ? "yes" : "no");
  R("recv(MSG_TRUNC) of 16", recv(a, got, 16, MSG_TRUNC));
  printf("copied: %s\n", got[0] ? "yes" : "no");
  R("recv of 64", recv(a, got, sizeof got, 0));
  printf("it starts at byte 16: %s\n", got[0] == 'a' + 16 ? "yes" : "no");
  close(a);
  close(c);
  close(l);
}

static void time_wait_shutdown(void) {
  int l = listener();
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  printf("SO_SNDBUF once connected is above 16384: ");
  int v = 0;
  socklen_t len = sizeof v;
  getsockopt(c, SOL_SOCKET, SO_SNDBUF, &v, &len);
  printf("%s\n", v > 16384 ? "yes" : "no");
  R("shutdown(SHUT_WR) of the accepted end", shutdown(a, SHUT_WR));
  R("shutdown(SHUT_RDWR) of the other", shutdown(c, SHUT_RDWR));
  /* The accepted end sent the first FIN: it is in TIME-WAIT once the other's FIN came. */
  char ch;
  struct pollfd p = {a, POLLIN, 0};
  poll(&p, 1, 5000);
  R("read at the accepted end", read(a, &ch, 1));
  usleep(200 * 1000);
  R("shutdown(SHUT_WR) of the end in TIME-WAIT", shutdown(a, SHUT_WR));
  close(a);
  close(c);
  close(l);
}

static void connecting_shutdown(void) {
  struct sockaddr_in any = {.sin_family = AF_INET};
  int s = socket(AF_INET, SOCK_STREAM, 0);
  R("connect to 0.0.0.0 port 0", connect(s, (struct sockaddr *)&any, sizeof any));
  close(s);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(0);
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 0);
  int c = connect_to(port_of(l)); /* fills the accept queue: later SYNs get no answer */
  for (int how = SHUT_RD; how <= SHUT_RDWR; how++) {
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a = loopback(port_of(l));
    R("a connect the full listener leaves pending", connect(s, (struct sockaddr *)&a, sizeof a));
    R("its shutdown", shutdown(s, how));
    struct pollfd p = {s, 0, 0};
    poll(&p, 1, 0);
    printf("revents %#x\n", p.revents);
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("SO_ERROR %s\n", strerror(err));
    close(s);
  }
  close(c);
  close(l);
}

/* Data for a closed socket whose FIN is out draws a RST: the sender's next send is EPIPE,
 * and its reads end at the FIN with 0 all the same. */
static void reset_after_close(void) {
  int l = listener();
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  close(c);
  int data = 1234;
  R("send to the closed end", send(a, &data, sizeof data, MSG_NOSIGNAL));
  struct pollfd p = {a, 0, 0};
  for (int i = 0; i < 50; i++) { /* until the RST is in: POLLERR or POLLHUP */
    poll(&p, 1, 100);
    if (p.revents & (POLLERR | POLLHUP)) break;
  }
  printf("revents %#x\n", p.revents);
  R("send again", send(a, &data, sizeof data, MSG_NOSIGNAL));
  R("recv", recv(a, &data, sizeof data, 0));
  R("recv", recv(a, &data, sizeof data, 0));
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(a, SOL_SOCKET, SO_ERROR, &err, &len);
  printf("SO_ERROR %s\n", en(err));
  close(a);
  close(l);
}

/* TCP_DEFER_ACCEPT: rounded to SYN-ACK retransmissions; a connection is accepted once data comes. */
static void defer_accept(void) {
  int l = listener();
  int vals[] = {-1, 3, 10};
  for (int i = 0; i < 3; i++) {
    int v = vals[i], got = -1;
    socklen_t len = sizeof got;
    setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, sizeof v);
    getsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &got, &len);
    printf("TCP_DEFER_ACCEPT %d reads %d\n", v, got);
  }
  int c = connect_to(port_of(l));
  fcntl(l, F_SETFL, O_NONBLOCK);
  R("accept before data", accept(l, NULL, NULL));
  int data = 42;
  send(c, &data, sizeof data, 0);
  fcntl(l, F_SETFL, 0);
  int a = accept(l, NULL, NULL);
  data = 0;
  R("accept after data, then recv", recv(a, &data, sizeof data, 0));
  printf("= %d\n", data);
  close(a);
  close(c);
  close(l);
}

/* A connection reset before accept is accepted all the same, with its peer's address. */
static void accept_after_reset(void) {
  int l = listener();
  int c = connect_to(port_of(l));
  struct linger lg = {1, 0};
  setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(c);
  struct sockaddr_in peer;
  socklen_t len = sizeof peer;
  int a = accept(l, (struct sockaddr *)&peer, &len);
  printf("accept of a reset connection: %s, peer 127.0.0.1: %s\n", a >= 0 ? "ok" : en(errno),
         a >= 0 && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? "yes" : "no");
  struct pollfd p = {a, POLLIN, 0};
  poll(&p, 1, 2000);
  printf("revents %#x\n", p.revents);
  int err = 0;
  len = sizeof err;
  getsockopt(a, SOL_SOCKET, SO_ERROR, &err, &len);
  printf("SO_ERROR %s\n", strerror(err));
  len = sizeof peer;
  R("getpeername", getpeername(a, (struct sockaddr *)&peer, &len));
  close(a);
  close(l);
}

/* What an accepted socket takes from its listener. */
static void inherited(void) {
  int l = listener();
  int ut = 120001, idle = 77, intvl = 11, cnt = 4, on = 1, l2 = 30;
  setsockopt(l, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
  setsockopt(l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(l, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(l, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(l, IPPROTO_TCP, TCP_LINGER2, &l2, sizeof l2);
  setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  int opts[][2] = {{IPPROTO_TCP, TCP_USER_TIMEOUT}, {IPPROTO_TCP, TCP_KEEPIDLE}, {IPPROTO_TCP, TCP_KEEPINTVL},
                   {IPPROTO_TCP, TCP_KEEPCNT}, {IPPROTO_TCP, TCP_LINGER2}, {SOL_SOCKET, SO_KEEPALIVE}};
  const char *names[] = {"TCP_USER_TIMEOUT", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_LINGER2", "SO_KEEPALIVE"};
  for (int i = 0; i < 6; i++) {
    int v = -1;
    socklen_t len = sizeof v;
    getsockopt(a, opts[i][0], opts[i][1], &v, &len);
    printf("accepted %s: %d\n", names[i], v);
  }
  close(a);
  close(c);
  close(l);
}

/* TCP_LINGER2 and TCP_WINDOW_CLAMP as Linux rounds them. */
static void tcp_opts(void) {
  int vals[] = {-1234, 0, 30, 121};
  for (int i = 0; i < 4; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0), v = vals[i], g = 99;
    socklen_t l = sizeof g;
    int r = setsockopt(s, IPPROTO_TCP, TCP_LINGER2, &v, sizeof v);
    getsockopt(s, IPPROTO_TCP, TCP_LINGER2, &g, &l);
    printf("TCP_LINGER2 %d: set %d, reads %d\n", v, r, g);
    close(s);
  }
  int cv[] = {0, 1151, -5, 5000};
  for (int i = 0; i < 4; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0), v = cv[i], g = 99;
    socklen_t l = sizeof g;
    int r = setsockopt(s, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, sizeof v);
    getsockopt(s, IPPROTO_TCP, TCP_WINDOW_CLAMP, &g, &l);
    printf("TCP_WINDOW_CLAMP %d unconnected: set %d, reads %d\n", v, r, g);
    close(s);
  }
  int l = listener();
  int c = connect_to(port_of(l));
  int zero = 0;
  R("TCP_WINDOW_CLAMP 0 connected", setsockopt(c, IPPROTO_TCP, TCP_WINDOW_CLAMP, &zero, sizeof zero));
  close(c);
  close(l);
}

/* TCP_CORK holds a short write until uncorked. */
static void cork(void) {
  int l = listener();
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  int on = 1, off = 0;
  setsockopt(c, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  send(c, "abc", 3, 0);
  char b[8];
  R("corked: recv", recv(a, b, sizeof b, MSG_DONTWAIT));
  setsockopt(c, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  struct pollfd p = {a, POLLIN, 0};
  poll(&p, 1, 5000);
  R("uncorked: recv", recv(a, b, sizeof b, MSG_DONTWAIT));
  close(a);
  close(c);
  close(l);
}

static void queues(void) {
  int l = listener();
  int v = -1;
  R("FIONREAD of a listener", ioctl(l, FIONREAD, &v));
  R("TIOCOUTQ of a listener", ioctl(l, TIOCOUTQ, &v));
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  char buf[1000] = {0};
  send(c, buf, 300, 0);
  send(c, buf, 700, 0);
  struct pollfd p = {a, POLLIN, 0};
  poll(&p, 1, 5000);
  R("FIONREAD", ioctl(a, FIONREAD, &v));
  printf("= %d\n", v);
  R("TIOCOUTQ of the sender", ioctl(c, TIOCOUTQ, &v));
  /* What is not acknowledged yet: a delayed ACK may hold the last segment's for a while. */
  for (int i = 0; i < 500 && v > 0; i++) {
    usleep(10 * 1000);
    ioctl(c, TIOCOUTQ, &v);
  }
  printf("it drains to 0: %s\n", v == 0 ? "yes" : "no");
  int on = 1;
  R("TCP_INQ on", setsockopt(a, IPPROTO_TCP, TCP_INQ, &on, sizeof on));
  socklen_t len = sizeof v;
  getsockopt(a, IPPROTO_TCP, TCP_INQ, &v, &len);
  printf("TCP_INQ reads %d\n", v);
  on = 2;
  R("TCP_INQ 2", setsockopt(a, IPPROTO_TCP, TCP_INQ, &on, sizeof on));
  for (int i = 0; i < 2; i++) {
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, 400};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    long n = recvmsg(a, &m, i == 0 ? MSG_PEEK : 0);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    int inq = -1;
    if (cm != NULL) memcpy(&inq, CMSG_DATA(cm), sizeof inq);
    printf("recvmsg%s %ld: cmsg level %d type %d inq %d\n", i == 0 ? "(MSG_PEEK)" : "", n, cm ? cm->cmsg_level : -1,
           cm ? cm->cmsg_type : -1, inq);
  }
  /* (SO_TIMESTAMP's control message on TCP is not compared: Linux gives one only when the data
   * arrived after its timestamps were switched on, which it does in the background.) */
  close(a);
  close(c);
  close(l);

  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in ua = loopback(0);
  bind(u, (struct sockaddr *)&ua, sizeof ua);
  ua = loopback(port_of(u));
  R("FIONREAD of an empty UDP socket", ioctl(u, FIONREAD, &v));
  printf("= %d\n", v);
  sendto(u, buf, 100, 0, (struct sockaddr *)&ua, sizeof ua);
  sendto(u, buf, 200, 0, (struct sockaddr *)&ua, sizeof ua);
  ioctl(u, FIONREAD, &v);
  printf("FIONREAD with two datagrams: %d\n", v);
  recv(u, buf, 10, 0);
  ioctl(u, FIONREAD, &v);
  printf("after one read: %d\n", v);
  R("TIOCOUTQ of UDP", ioctl(u, TIOCOUTQ, &v));
  printf("= %d\n", v);
  close(u);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  alarm(60);
  unconnected_send();
  refused();
  nonblocking_success();
  blocked_send_shutdown();
  msg_trunc();
  time_wait_shutdown();
  queues();
  connecting_shutdown();
  reset_after_close();
  defer_accept();
  accept_after_reset();
  inherited();
  tcp_opts();
  cork();
  return 0;
}
