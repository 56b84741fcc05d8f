/*
 * Inet socket semantics gVisor's suite checks, compared with Linux (tests/net_test.ts):
 * - SO_SNDBUF takes its value as unsigned (-1 is the largest), and a send blocked on a full
 *   send buffer goes on when SO_SNDBUF grows;
 * - a listener shut down for reading refuses accept (EINVAL) and connections (ECONNREFUSED),
 *   keeps its port (EADDRINUSE for another bind) and may listen again;
 * - of several UDP sockets bound with SO_REUSEADDR the last one bound gets the datagrams;
 * - SO_REUSEPORT groups of UDP sockets and of TCP listeners spread senders over every member.
 * Each line is what happened; an alarm ends a hang.
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
#include <sys/socket.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOTCONN: return "ENOTCONN";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
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

static int listener(int port, int reuseport) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  if (reuseport) setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  struct sockaddr_in a = loopback(port);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0) {
    perror("listener");
    exit(1);
  }
  return s;
}

static int connect_to(int port) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  return connect(c, (struct sockaddr *)&a, sizeof a) == 0 ? c : (close(c), -1);
}

static int sndbuf(int fd) {
  int v = 0;
  socklen_t len = sizeof v;
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
  return v;
}

static void *send_one(void *arg) {
  int fd = *(int *)arg;
  char c = 'x';
  long r = send(fd, &c, 1, 0);
  return (void *)r;
}

static void sndbuf_growth(void) {
  int l = listener(0, 0);
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  int big = -1, max = 0x7fffffff;
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  int from_minus_one = sndbuf(c);
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &max, sizeof max);
  printf("SO_SNDBUF -1 is the largest: %s\n", from_minus_one == sndbuf(c) && from_minus_one > 16384 ? "yes" : "no");
  int quarter = from_minus_one >> 2;
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &quarter, sizeof quarter);
  fcntl(c, F_SETFL, O_NONBLOCK);
  char *buf = calloc(1, from_minus_one);
  int sends = 0;
  while (send(c, buf, from_minus_one, 0) > 0) sends++;
  printf("send until full: %s after some sends: %s\n", en(errno), sends > 0 ? "yes" : "no");
  fcntl(c, F_SETFL, 0);
  pthread_t t;
  pthread_create(&t, NULL, send_one, &c);
  usleep(100 * 1000); /* the send is most likely blocked by now; if not it blocks anyway */
  int half = from_minus_one >> 1;
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
  void *r;
  pthread_join(t, &r);
  printf("the blocked send after SO_SNDBUF grew returned %ld\n", (long)r);
  free(buf);
  close(a);
  close(c);
  close(l);
}

/* A port nothing holds: an ephemeral one, given back. */
static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(0);
  bind(s, (struct sockaddr *)&a, sizeof a);
  int port = port_of(s);
  close(s);
  return port;
}

static void listener_shutdown(void) {
  /* Bound to a port it names: Linux gives back at shutdown a port it chose itself. */
  int port = free_port();
  int l = listener(port, 0);
  int c = connect_to(port);
  printf("connect before shutdown: %s\n", c >= 0 ? "ok" : en(errno));
  int a = accept(l, NULL, NULL);
  close(c); /* the client closes first: the TIME-WAIT is on its side */
  close(a);
  c = connect_to(port); /* left in the accept queue: shutdown resets it */
  R("shutdown(SHUT_WR) of a listener", shutdown(l, SHUT_WR));
  R("shutdown(SHUT_RD) of a listener", shutdown(l, SHUT_RD));
  R("accept after shutdown", accept(l, NULL, NULL));
  char ch;
  R("the queued connection reads", read(c, &ch, 1));
  close(c);
  int other = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = loopback(port);
  R("bind another to its port", bind(other, (struct sockaddr *)&addr, sizeof addr));
  close(other);
  errno = 0;
  c = connect_to(port);
  printf("connect after shutdown: %s\n", c >= 0 ? "ok" : en(errno));
  if (c >= 0) close(c);
  R("listen again", listen(l, 4));
  printf("same port: %s\n", port_of(l) == port ? "yes" : "no");
  c = connect_to(port);
  a = accept(l, NULL, NULL);
  printf("connect and accept after listening again: %s\n", c >= 0 && a >= 0 ? "ok" : en(errno));
  close(a);
  close(c);
  close(l);
}

static int tcp_bound(int port, int reuseaddr) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  if (reuseaddr) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in a = loopback(port);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(s);
    errno = e;
    return -1;
  }
  return s;
}

/* Which sockets hold a TCP port against a bind or a listen, as Linux's inet_bind_conflict. */
static void port_reservation(void) {
  int l = listener(0, 0);
  int c = connect_to(port_of(l));
  int a = accept(l, NULL, NULL);
  int s = tcp_bound(port_of(c), 0);
  printf("bind to a connected socket's ephemeral port: %s\n", s >= 0 ? "ok" : en(errno));
  s = tcp_bound(port_of(c), 1);
  printf("the same with SO_REUSEADDR: %s\n", s >= 0 ? "ok" : en(errno));
  close(c);
  close(a);
  close(l);

  int port = free_port();
  int x = tcp_bound(port, 1), y = tcp_bound(port, 1);
  printf("two SO_REUSEADDR binds: %s %s\n", x >= 0 ? "ok" : en(errno), y >= 0 ? "ok" : en(errno));
  R("the first listens", listen(x, 4));
  R("the second listens", listen(y, 4));
  int z = tcp_bound(port, 1);
  printf("a third SO_REUSEADDR bind beside the listener: %s\n", z >= 0 ? "ok" : en(errno));
  close(y);
  /* The server closes first: its side of the connection waits in TIME-WAIT on the port. */
  c = connect_to(port);
  a = accept(x, NULL, NULL);
  close(a);
  char ch;
  read(c, &ch, 1);
  close(c);
  close(x);
  s = tcp_bound(port, 0);
  printf("bind beside a TIME-WAIT connection: %s\n", s >= 0 ? "ok" : en(errno));
  s = tcp_bound(port, 1);
  printf("the same with SO_REUSEADDR (as the listener had): %s\n", s >= 0 ? "ok" : en(errno));
  R("and it listens", listen(s, 4));
  close(s);
}

static int udp_socket(int port, int opt) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int on = 1;
  if (opt) setsockopt(s, SOL_SOCKET, opt, &on, sizeof on);
  struct sockaddr_in a = loopback(port);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("udp bind");
    exit(1);
  }
  return s;
}

static void udp_send(int port) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = loopback(port);
  sendto(s, "m", 1, 0, (struct sockaddr *)&a, sizeof a);
  close(s);
}

/* Datagrams waiting on fd, read. */
static int drain(int fd) {
  char b[16];
  int n = 0;
  while (recv(fd, b, sizeof b, MSG_DONTWAIT) > 0) n++;
  return n;
}

static void udp_reuseaddr(void) {
  int s[4];
  s[0] = udp_socket(0, SO_REUSEADDR);
  int port = port_of(s[0]);
  int ok = 1;
  for (int i = 1; i < 4; i++) {
    s[i] = udp_socket(port, SO_REUSEADDR);
    udp_send(port);
    struct pollfd p = {s[i], POLLIN, 0};
    if (poll(&p, 1, 5000) != 1 || drain(s[i]) != 1) ok = 0;
  }
  for (int i = 0; i < 4; i++) {
    if (drain(s[i]) != 0) ok = 0;
    close(s[i]);
  }
  printf("UDP SO_REUSEADDR: the last bound socket got each datagram: %s\n", ok ? "yes" : "no");
}

static int shut_fd;

static void *blocked_recv(void *arg) {
  (void)arg;
  char b[4];
  return (void *)(long)recv(shut_fd, b, sizeof b, 0);
}

/* shutdown of an unconnected UDP socket: ENOTCONN, yet it wakes a blocked reader with 0. */
static void udp_shutdown(void) {
  shut_fd = udp_socket(0, 0);
  pthread_t t;
  pthread_create(&t, NULL, blocked_recv, NULL);
  usleep(100 * 1000); /* most likely blocked by now; if not, it finds the socket shut down */
  R("shutdown(SHUT_RD) of an unconnected UDP socket", shutdown(shut_fd, SHUT_RD));
  void *r;
  pthread_join(t, &r);
  printf("the blocked recv returned %ld\n", (long)r);
  char b[4];
  R("recv(MSG_DONTWAIT) after it", recv(shut_fd, b, sizeof b, MSG_DONTWAIT));
  R("recv after it", recv(shut_fd, b, sizeof b, 0));
  R("shutdown(SHUT_WR)", shutdown(shut_fd, SHUT_WR));
  struct sockaddr_in a = loopback(port_of(shut_fd));
  R("sendto after it", sendto(shut_fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
  close(shut_fd);
}

enum { MEMBERS = 3, SENDERS = 300 };

static void udp_reuseport(void) {
  int s[MEMBERS];
  s[0] = udp_socket(0, SO_REUSEPORT);
  int port = port_of(s[0]);
  for (int i = 1; i < MEMBERS; i++) s[i] = udp_socket(port, SO_REUSEPORT);
  int got[MEMBERS] = {0}, total = 0;
  for (int n = 0; n < SENDERS; n++) {
    udp_send(port);
    if (n % 50 == 49) /* keep the queues short */
      for (int i = 0; i < MEMBERS; i++) {
        int d = drain(s[i]);
        got[i] += d;
        total += d;
      }
  }
  int spread = 1;
  for (int i = 0; i < MEMBERS; i++) {
    if (got[i] < SENDERS / MEMBERS / 3) spread = 0;
    close(s[i]);
  }
  printf("UDP SO_REUSEPORT: %d datagrams, every member got a share: %s\n", total, spread ? "yes" : "no");
}

static void tcp_reuseport(void) {
  int l[MEMBERS];
  l[0] = listener(0, 1);
  int port = port_of(l[0]);
  for (int i = 1; i < MEMBERS; i++) l[i] = listener(port, 1);
  int got[MEMBERS] = {0}, total = 0;
  for (int n = 0; n < SENDERS; n++) {
    int c = connect_to(port);
    struct pollfd p[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) p[i] = (struct pollfd){l[i], POLLIN, 0};
    if (poll(p, MEMBERS, 5000) < 1) break;
    for (int i = 0; i < MEMBERS; i++)
      if (p[i].revents & POLLIN) {
        close(accept(l[i], NULL, NULL));
        got[i]++;
        total++;
      }
    close(c);
  }
  int spread = 1;
  for (int i = 0; i < MEMBERS; i++) {
    if (got[i] < SENDERS / MEMBERS / 3) spread = 0;
    close(l[i]);
  }
  printf("TCP SO_REUSEPORT: %d connections, every listener got a share: %s\n", total, spread ? "yes" : "no");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  alarm(60);
  sndbuf_growth();
  listener_shutdown();
  port_reservation();
  udp_shutdown();
  udp_reuseaddr();
  udp_reuseport();
  tcp_reuseport();
  return 0;
}
