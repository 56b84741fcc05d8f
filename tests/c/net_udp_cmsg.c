/*
 * UDP control messages, compared with Linux (tests/net_test.ts): what IP_PKTINFO, IP_RECVTTL,
 * IP_RECVTOS, IP_RECVORIGDSTADDR, IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT and IPV6_RECVTCLASS
 * report for datagrams sent with IP_TTL/IP_TOS, IPV6_UNICAST_HOPS/IPV6_TCLASS, or with those
 * values as control messages of the send; IPv4 on IPv6 and a dual-stack socket; SO_TIMESTAMP's
 * control message and SIOCGSTAMP (ENOENT before a read, not kept while SO_TIMESTAMP is on).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int on = 1;

static int server(int family, const char *addr, int *port) {
  int s = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
    s4->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &s4->sin_addr);
    len = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
    s6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, addr, &s6->sin6_addr);
    len = sizeof *s6;
  }
  bind(s, (struct sockaddr *)&a, len);
  getsockname(s, (struct sockaddr *)&a, &len);
  *port = ntohs(((struct sockaddr_in *)&a)->sin_port);
  return s;
}

static int client(int family, const char *addr, int port) {
  int c = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    inet_pton(AF_INET, addr, &s4->sin_addr);
    len = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    inet_pton(AF_INET6, addr, &s6->sin6_addr);
    len = sizeof *s6;
  }
  connect(c, (struct sockaddr *)&a, len);
  return c;
}

/* Sends "hi" with one int control message (level, type, value), or none when level < 0. */
static void send_with(int c, int level, int type, int value) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {"hi", 2};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  if (level >= 0) {
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = level;
    cm->cmsg_type = type;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &value, sizeof value);
  }
  if (sendmsg(c, &m, 0) != 2) perror("sendmsg");
}

static void show(const char *what, int s) {
  char buf[16], cbuf[512];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  long n = recvmsg(s, &m, 0);
  printf("%s: %ld bytes, flags %#x\n", what, n, m.msg_flags);
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm)) {
    unsigned char *d = CMSG_DATA(cm);
    int dlen = (int)(cm->cmsg_len - CMSG_LEN(0));
    char text[INET6_ADDRSTRLEN] = "";
    printf("  level %d type %d len %d:", cm->cmsg_level, cm->cmsg_type, dlen);
    if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo p;
      memcpy(&p, d, sizeof p);
      char spec[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &p.ipi_spec_dst, spec, sizeof spec);
      inet_ntop(AF_INET, &p.ipi_addr, text, sizeof text);
      printf(" ifindex %d spec_dst %s addr %s\n", p.ipi_ifindex, spec, text);
    } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo p;
      memcpy(&p, d, sizeof p);
      inet_ntop(AF_INET6, &p.ipi6_addr, text, sizeof text);
      printf(" ifindex %d addr %s\n", p.ipi6_ifindex, text);
    } else if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_ORIGDSTADDR) {
      struct sockaddr_in a;
      memcpy(&a, d, sizeof a);
      inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
      printf(" %s (port kept: %s)\n", text, a.sin_port != 0 ? "yes" : "no");
    } else if (dlen == 1) {
      printf(" %d\n", d[0]);
    } else {
      int v;
      memcpy(&v, d, sizeof v);
      printf(" %d\n", v);
    }
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int port;
  int s = server(AF_INET, "127.0.0.1", &port);
  int c = client(AF_INET, "127.0.0.1", port);
  send_with(c, -1, 0, 0);
  show("IPv4, nothing asked", s);
  setsockopt(s, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
  setsockopt(s, IPPROTO_IP, IP_RECVTTL, &on, sizeof on);
  setsockopt(s, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
  setsockopt(s, IPPROTO_IP, IP_RECVORIGDSTADDR, &on, sizeof on);
  send_with(c, -1, 0, 0);
  show("IPv4, defaults", s);
  int ttl = 21, tos = 0x10;
  setsockopt(c, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  setsockopt(c, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  send_with(c, -1, 0, 0);
  show("IPv4, IP_TTL 21 and IP_TOS 0x10", s);
  send_with(c, IPPROTO_IP, IP_TTL, 7);
  show("IPv4, an IP_TTL 7 control message", s);
  send_with(c, IPPROTO_IP, IP_TOS, 0x04);
  show("IPv4, an IP_TOS 4 control message", s);

  int s6 = server(AF_INET6, "::1", &port);
  int c6 = client(AF_INET6, "::1", port);
  setsockopt(s6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
  setsockopt(s6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
  setsockopt(s6, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on);
  send_with(c6, -1, 0, 0);
  show("IPv6, defaults", s6);
  int hops = 42, tclass = 0x08;
  setsockopt(c6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
  setsockopt(c6, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass);
  setsockopt(c6, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  send_with(c6, -1, 0, 0);
  show("IPv6, IPV6_UNICAST_HOPS 42, IPV6_TCLASS 8 (IP_TTL 21 does not apply)", s6);
  send_with(c6, IPPROTO_IPV6, IPV6_HOPLIMIT, 9);
  show("IPv6, an IPV6_HOPLIMIT 9 control message", s6);

  int d = server(AF_INET6, "::ffff:127.0.0.1", &port);
  int c4 = client(AF_INET, "127.0.0.1", port);
  setsockopt(d, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
  setsockopt(d, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
  setsockopt(d, IPPROTO_IP, IP_RECVTTL, &on, sizeof on);
  send_with(c4, -1, 0, 0);
  show("IPv4 to a dual-stack socket", d);

  int ts = server(AF_INET, "127.0.0.1", &port);
  int tc = client(AF_INET, "127.0.0.1", port);
  struct timeval tv, now;
  errno = 0;
  int r0 = ioctl(ts, SIOCGSTAMP, &tv);
  printf("SIOCGSTAMP before a read: %d %s\n", r0, strerror(errno));
  send_with(tc, -1, 0, 0);
  char b[4];
  recv(ts, b, sizeof b, 0);
  gettimeofday(&now, NULL);
  int r = ioctl(ts, SIOCGSTAMP, &tv);
  printf("SIOCGSTAMP after one: %d, within 10 s of now: %s\n", r, labs(tv.tv_sec - now.tv_sec) <= 10 ? "yes" : "no");
  int ts2 = server(AF_INET, "127.0.0.1", &port);
  int tc2 = client(AF_INET, "127.0.0.1", port);
  setsockopt(ts2, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof on);
  send_with(tc2, -1, 0, 0);
  char cbuf[64];
  struct iovec iov = {b, sizeof b};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  recvmsg(ts2, &m, 0);
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  if (cm != NULL) memcpy(&tv, CMSG_DATA(cm), sizeof tv);
  printf("SO_TIMESTAMP: level %d type %d len %d, within 10 s of now: %s\n", cm ? cm->cmsg_level : -1, cm ? cm->cmsg_type : -1,
         cm ? (int)(cm->cmsg_len - CMSG_LEN(0)) : -1, cm && labs(tv.tv_sec - now.tv_sec) <= 10 ? "yes" : "no");
  errno = 0;
  r0 = ioctl(ts2, SIOCGSTAMP, &tv);
  printf("SIOCGSTAMP with SO_TIMESTAMP on: %d %s\n", r0, strerror(errno));
  return 0;
}
