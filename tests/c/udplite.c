/* UDP-Lite (RFC 3828, IPPROTO_UDPLITE) over loopback, IPv4 and IPv6: sockets of its own port
 * space beside UDP's, datagrams between them, SOL_UDPLITE's UDPLITE_SEND_CSCOV and
 * UDPLITE_RECV_CSCOV (clamped as Linux's udp_lib_setsockopt, ENOPROTOOPT on UDP sockets), the
 * coverage field and checksum on the wire as a raw socket sees them, the receiver's minimum
 * coverage dropping what covers less, a connected socket's ECONNREFUSED from an ICMP port
 * unreachable, and /proc/net/udplite (not /proc/net/udp) listing its sockets. CPython's
 * test_socket runs its datagram tests over UDP-Lite too. With "wait", holds a bound UDP-Lite
 * socket until stdin ends (a checkpoint refuses it). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "_ckpt.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define SOL_UDPLITE 136
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11

static int ERR(long r) { return r < 0 ? -errno : (int)r; }

static int lite(int family) { return socket(family, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDPLITE); }

static int port_of(int s) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  getsockname(s, (struct sockaddr *)&ss, &l);
  return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static struct sockaddr_in lo4(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int getopt_int(int s, int level, int name) {
  int v = -1;
  socklen_t l = sizeof v;
  int r = getsockopt(s, level, name, &v, &l);
  return r < 0 ? -errno : v;
}

static int setopt_int(int s, int level, int name, int v) {
  return ERR(setsockopt(s, level, name, &v, sizeof v));
}

/* Waits a little for a datagram, then reads it: its length, or -errno. */
static int recv_wait(int s, char *buf, int len) {
  struct pollfd p = {.fd = s, .events = POLLIN};
  poll(&p, 1, 200);
  return ERR(recv(s, buf, len, 0));
}

static unsigned short csum(const unsigned char *b, int len, unsigned long sum) {
  for (int i = 0; i + 1 < len; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (len & 1) sum += b[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (unsigned short)~sum;
}

/* What a raw IPPROTO_UDPLITE socket saw of the last datagram: coverage and checksum validity. */
static void show_raw(int raw, const char *what) {
  unsigned char pkt[2048];
  struct pollfd p = {.fd = raw, .events = POLLIN};
  poll(&p, 1, 200);
  int n = recv(raw, pkt, sizeof pkt, MSG_DONTWAIT);
  if (n < 0) {
    printf("%s: raw: %d\n", what, -errno);
    return;
  }
  int ihl = (pkt[0] & 0xf) * 4;
  unsigned char *u = pkt + ihl;
  int ulen = n - ihl;
  int cov = (u[4] << 8) | u[5];
  int covered = cov == 0 ? ulen : cov;
  /* Pseudo-header: addresses, protocol, the whole UDP-Lite length (RFC 3828 3.2). */
  unsigned long sum = 0;
  for (int i = 12; i < 20; i += 2) sum += (pkt[i] << 8) | pkt[i + 1];
  sum += IPPROTO_UDPLITE + ulen;
  int ok = covered <= ulen && csum(u, covered, sum) == 0;
  printf("%s: raw: proto %d udplite length %d coverage field %d checksum ok %d nonzero %d\n", what, pkt[9], ulen, cov, ok,
         ((u[6] << 8) | u[7]) != 0);
}

/* Whether /proc/net file `path` has a line for socket `s` (by its inode); -1 if it cannot be read. */
static int listed(const char *path, int s) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  struct stat st;
  char want[32] = "-";
  if (s >= 0 && fstat(s, &st) == 0) snprintf(want, sizeof want, " %lu ", (unsigned long)st.st_ino);
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, want)) found = 1;
  fclose(f);
  return found;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    int w = lite(AF_INET);
    struct sockaddr_in a = lo4(0);
    printf("bound: %d\n", ERR(bind(w, (struct sockaddr *)&a, sizeof a)));
    await_checkpoint();
    return 0;
  }
  printf("stream: %d\n", ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDPLITE)));
  int a = lite(AF_INET), b = lite(AF_INET);
  printf("dgram: %d\n", a >= 0 && b >= 0);
  printf("SO_PROTOCOL %d SO_TYPE %d\n", getopt_int(a, SOL_SOCKET, SO_PROTOCOL), getopt_int(a, SOL_SOCKET, SO_TYPE));
  int raw = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_UDPLITE);
  printf("raw: %d\n", raw >= 0);

  /* Ports: UDP and UDP-Lite each have their own. */
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in any = lo4(0);
  bind(u, (struct sockaddr *)&any, sizeof any);
  int port = port_of(u);
  struct sockaddr_in at = lo4(port);
  printf("UDP-Lite bind on a UDP socket's port: %d\n", ERR(bind(a, (struct sockaddr *)&at, sizeof at)));
  int c = lite(AF_INET);
  printf("second UDP-Lite bind there: %d\n", ERR(bind(c, (struct sockaddr *)&at, sizeof at)));
  close(c);
  bind(b, (struct sockaddr *)&any, sizeof any);

  printf("/proc/net/udplite lists it %d, the UDP socket %d; /proc/net/udp lists it %d; udplite6 opens %d\n",
         listed("/proc/net/udplite", a), listed("/proc/net/udplite", u), listed("/proc/net/udp", a), listed("/proc/net/udplite6", -1) >= 0);

  char buf[256];
  int us = socket(AF_INET, SOCK_DGRAM, 0);
  printf("UDP to the port: %d\n", ERR(sendto(us, "udp", 3, 0, (struct sockaddr *)&at, sizeof at)));
  close(us);
  printf("  UDP socket got %d, UDP-Lite socket got %d\n", recv_wait(u, buf, sizeof buf), recv_wait(a, buf, sizeof buf));

  /* A datagram, full coverage. */
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  printf("sendto: %d\n", ERR(sendto(b, "hello lite", 10, 0, (struct sockaddr *)&at, sizeof at)));
  struct pollfd p = {.fd = a, .events = POLLIN};
  poll(&p, 1, 200);
  int n = ERR(recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
  printf("recvfrom: %d %.*s from the sender's port %d\n", n, n > 0 ? n : 0, buf, ntohs(from.sin_port) == port_of(b));
  show_raw(raw, "full");

  /* Options. */
  int v4 = socket(AF_INET, SOCK_DGRAM, 0);
  printf("UDP socket: set SEND_CSCOV %d RECV_CSCOV %d, get SEND_CSCOV %d\n", setopt_int(v4, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 20),
         setopt_int(v4, SOL_UDPLITE, UDPLITE_RECV_CSCOV, 20), getopt_int(v4, SOL_UDPLITE, UDPLITE_SEND_CSCOV));
  close(v4);
  int vals[] = {0, 3, 8, 20, -5, 70000};
  for (int i = 0; i < 6; i++) {
    int s = lite(AF_INET);
    setopt_int(s, SOL_UDPLITE, UDPLITE_SEND_CSCOV, vals[i]);
    setopt_int(s, SOL_UDPLITE, UDPLITE_RECV_CSCOV, vals[i]);
    printf("set %d: SEND_CSCOV %d RECV_CSCOV %d\n", vals[i], getopt_int(s, SOL_UDPLITE, UDPLITE_SEND_CSCOV),
           getopt_int(s, SOL_UDPLITE, UDPLITE_RECV_CSCOV));
    close(s);
  }
  printf("defaults: %d %d; at SOL_UDP: %d\n", getopt_int(a, SOL_UDPLITE, UDPLITE_SEND_CSCOV), getopt_int(a, SOL_UDPLITE, UDPLITE_RECV_CSCOV),
         getopt_int(a, IPPROTO_UDP, UDPLITE_SEND_CSCOV));
  char one = 1;
  printf("short optlen: %d\n", ERR(setsockopt(a, SOL_UDPLITE, UDPLITE_SEND_CSCOV, &one, 1)));

  /* Partial coverage from the sender: the coverage field, and the receiver's minimum. */
  setopt_int(b, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 20);
  const char msg[] = "0123456789abcdefghijklmnopqrstuvwxyz"; /* 36 bytes: 44 with the header */
  sendto(b, msg, 36, 0, (struct sockaddr *)&at, sizeof at);
  printf("coverage 20, no minimum: %d\n", recv_wait(a, buf, sizeof buf));
  show_raw(raw, "partial");
  setopt_int(a, SOL_UDPLITE, UDPLITE_RECV_CSCOV, 30);
  sendto(b, msg, 36, 0, (struct sockaddr *)&at, sizeof at);
  printf("coverage 20, minimum 30: %d\n", recv_wait(a, buf, sizeof buf));
  show_raw(raw, "dropped");
  setopt_int(a, SOL_UDPLITE, UDPLITE_RECV_CSCOV, 12);
  sendto(b, msg, 36, 0, (struct sockaddr *)&at, sizeof at);
  printf("coverage 20, minimum 12: %d\n", recv_wait(a, buf, sizeof buf));
  show_raw(raw, "kept");
  setopt_int(a, SOL_UDPLITE, UDPLITE_RECV_CSCOV, 0); /* full coverage wanted */
  sendto(b, msg, 36, 0, (struct sockaddr *)&at, sizeof at);
  printf("coverage 20, full wanted: %d\n", recv_wait(a, buf, sizeof buf));
  show_raw(raw, "partial refused");
  setopt_int(b, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 100); /* more than the datagram: full */
  sendto(b, msg, 36, 0, (struct sockaddr *)&at, sizeof at);
  printf("coverage 100 (full), full wanted: %d\n", recv_wait(a, buf, sizeof buf));
  show_raw(raw, "too long");
  setopt_int(b, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 0); /* full, said as 0 */
  sendto(b, msg, 36, 0, (struct sockaddr *)&at, sizeof at);
  printf("coverage 0 (full): %d\n", recv_wait(a, buf, sizeof buf));
  show_raw(raw, "zero");

  /* A connected socket to a port nobody holds: ECONNREFUSED. */
  int d = lite(AF_INET);
  int spare = lite(AF_INET);
  bind(spare, (struct sockaddr *)&any, sizeof any);
  struct sockaddr_in gone = lo4(port_of(spare));
  close(spare);
  printf("connect: %d\n", ERR(connect(d, (struct sockaddr *)&gone, sizeof gone)));
  printf("send: %d\n", ERR(send(d, "x", 1, 0)));
  usleep(100000);
  printf("recv after the unreachable: %d\n", recv_wait(d, buf, sizeof buf));
  close(d);

  /* IPv6. */
  int s6 = lite(AF_INET6), t6 = lite(AF_INET6);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  bind(s6, (struct sockaddr *)&a6, sizeof a6);
  a6.sin6_port = htons(port_of(s6));
  printf("v6 sendto: %d\n", ERR(sendto(t6, "six", 3, 0, (struct sockaddr *)&a6, sizeof a6)));
  n = recv_wait(s6, buf, sizeof buf);
  printf("v6 recv: %d %.*s\n", n, n > 0 ? n : 0, buf);
  setopt_int(t6, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 9);
  setopt_int(s6, SOL_UDPLITE, UDPLITE_RECV_CSCOV, 10);
  sendto(t6, "sixsixsix", 9, 0, (struct sockaddr *)&a6, sizeof a6);
  printf("v6 coverage 9, minimum 10: %d\n", recv_wait(s6, buf, sizeof buf));
  return 0;
}
