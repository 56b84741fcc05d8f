/*
 * Packet sockets (AF_PACKET), compared with Linux (tests/net_test.ts): socket(2)'s errnos,
 * getsockname before and after bind to lo, bind's errnos, what SOCK_RAW (lo's 14-byte zero
 * Ethernet header) and SOCK_DGRAM (the IP packet) read of a UDP datagram sent on lo, with
 * sockaddr_ll's ifindex, protocol, hatype and pkttype (ETH_P_ALL sees the frame leave,
 * PACKET_OUTGOING, and arrive, PACKET_HOST; ETH_P_IP only arriving), a SOCK_DGRAM send of a
 * whole IPv4/UDP packet through lo (seen by the other sockets), sendto's ENXIO without an
 * interface, and option errnos.
 *
 * Natively a packet socket on lo sees all of the host's loopback traffic, so frames are
 * picked by their UDP ports (the test's own, on 127.0.0.77).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 47123
#ifndef DST
#define DST "127.0.0.77"
#endif

static int lo;

static void show(const char *what, int r) {
  if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
  else printf("%s: %d\n", what, r);
}

static int udp_socket(void) {
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
  inet_pton(AF_INET, DST, &a.sin_addr);
  if (bind(u, (struct sockaddr *)&a, sizeof a) < 0) perror("bind udp");
  return u;
}

static void send_udp(int u, const char *msg) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
  inet_pton(AF_INET, DST, &a.sin_addr);
  sendto(u, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a);
  char b[64];
  struct pollfd p = {u, POLLIN, 0};
  poll(&p, 1, 2000);
  recv(u, b, sizeof b, MSG_DONTWAIT);
}

/* Reads frames until one of ours (UDP to PORT) or none for wait_ms; prints it. */
static int read_ours(int s, int raw, const char *what, int wait_ms) {
  for (int i = 0; i < 10000; i++) {
    struct pollfd p = {s, POLLIN, 0};
    if (poll(&p, 1, wait_ms) != 1) break;
    unsigned char b[2048];
    struct sockaddr_ll from;
    socklen_t fl = sizeof from;
    memset(&from, 0xee, sizeof from);
    ssize_t n = recvfrom(s, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n < 0) break;
    int off = raw ? 14 : 0;
    if (n < off + 28 || b[off + 9] != IPPROTO_UDP) continue;
    struct udphdr *uh = (struct udphdr *)(b + off + (b[off] & 15) * 4);
    if (ntohs(uh->dest) != PORT) continue;
    int zero = 1;
    for (int k = 0; raw && k < 12; k++) zero &= b[k] == 0;
    printf("%s: %zd bytes namelen %u family %d proto 0x%04x ifindex_lo %d hatype %d pkttype %d halen %d",
           what, n, fl, from.sll_family, ntohs(from.sll_protocol), from.sll_ifindex == lo, from.sll_hatype,
           from.sll_pkttype, from.sll_halen);
    if (raw) printf(" eth zero %d type 0x%02x%02x", zero, b[12], b[13]);
    printf(" payload \"%.*s\"\n", (int)(n - off - 28), (char *)b + off + 28);
    return 1;
  }
  printf("%s: none\n", what);
  return 0;
}

int main(void) {
  lo = if_nametoindex("lo");
  show("socket SOCK_STREAM", socket(AF_PACKET, SOCK_STREAM, htons(ETH_P_ALL)));
  show("socket SOCK_SEQPACKET", socket(AF_PACKET, SOCK_SEQPACKET, 0));

  int s = socket(AF_PACKET, SOCK_RAW, 0);
  struct sockaddr_ll a;
  socklen_t al = sizeof a;
  memset(&a, 0xee, sizeof a);
  getsockname(s, (struct sockaddr *)&a, &al);
  printf("unbound: len %u family %d proto %d ifindex %d hatype %d halen %d\n", al, a.sll_family,
         ntohs(a.sll_protocol), a.sll_ifindex, a.sll_hatype, a.sll_halen);
  struct sockaddr_ll b = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = lo};
  show("bind short", bind(s, (struct sockaddr *)&b, 8));
  struct sockaddr_ll bad = b;
  bad.sll_family = AF_INET;
  show("bind family", bind(s, (struct sockaddr *)&bad, sizeof bad));
  bad = b;
  bad.sll_ifindex = 0xffff;
  show("bind no such interface", bind(s, (struct sockaddr *)&bad, sizeof bad));
  show("bind lo ETH_P_IP", bind(s, (struct sockaddr *)&b, sizeof b));
  al = sizeof a;
  memset(&a, 0xee, sizeof a);
  getsockname(s, (struct sockaddr *)&a, &al);
  printf("bound: len %u family %d proto 0x%04x ifindex_lo %d hatype %d halen %d addr %02x%02x%02x%02x%02x%02x\n", al,
         a.sll_family, ntohs(a.sll_protocol), a.sll_ifindex == lo, a.sll_hatype, a.sll_halen, a.sll_addr[0],
         a.sll_addr[1], a.sll_addr[2], a.sll_addr[3], a.sll_addr[4], a.sll_addr[5]);

  int all = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
  struct sockaddr_ll ball = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = lo};
  show("bind dgram lo ETH_P_ALL", bind(all, (struct sockaddr *)&ball, sizeof ball));

  int u = udp_socket();
  send_udp(u, "hello");
  read_ours(s, 1, "raw ETH_P_IP", 10000);
  read_ours(s, 1, "raw ETH_P_IP again", 300);
  read_ours(all, 0, "dgram ETH_P_ALL first", 10000);
  read_ours(all, 0, "dgram ETH_P_ALL second", 10000);

  /* A SOCK_DGRAM send of a whole IPv4/UDP packet through lo (the UDP checksum left 0). */
  unsigned char pkt[20 + 8 + 4];
  memset(pkt, 0, sizeof pkt);
  struct iphdr *ip = (struct iphdr *)pkt;
  ip->ihl = 5;
  ip->version = 4;
  ip->tot_len = htons(sizeof pkt);
  ip->ttl = 64;
  ip->frag_off = htons(IP_DF);
  ip->protocol = IPPROTO_UDP;
  inet_pton(AF_INET, DST, &ip->saddr);
  inet_pton(AF_INET, DST, &ip->daddr);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (pkt[i] << 8) | pkt[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip->check = htons(~sum & 0xffff);
  struct udphdr *uh = (struct udphdr *)(pkt + 20);
  uh->source = htons(PORT);
  uh->dest = htons(PORT);
  uh->len = htons(12);
  memcpy(pkt + 28, "sent", 4);
  sum = 0; /* the UDP checksum: pseudo-header, then header and data */
  for (int i = 12; i < 20; i += 2) sum += (pkt[i] << 8) | pkt[i + 1];
  sum += IPPROTO_UDP + 12;
  for (int i = 20; i < 32; i += 2) sum += (pkt[i] << 8) | pkt[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uh->check = htons(~sum & 0xffff);
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = lo, .sll_halen = 6};
  int snd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
  /* Natively `all` sees the host's own loopback traffic too: empty its queue first, so that
   * the frame below finds room in its receive buffer whatever the host sent meanwhile. */
  unsigned char junk[2048];
  while (recv(all, junk, sizeof junk, MSG_DONTWAIT) >= 0) {}
  show("dgram sendto lo", sendto(snd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to));
  read_ours(s, 1, "raw sees the sent packet", 10000);
  read_ours(all, 0, "another ETH_P_ALL socket", 10000);
  to.sll_ifindex = 0;
  show("sendto ifindex 0", sendto(all, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to));
  show("send unbound", send(socket(AF_PACKET, SOCK_DGRAM, 0), pkt, sizeof pkt, 0));
  to.sll_ifindex = lo;
  show("raw send shorter than a header", sendto(s, pkt, 10, 0, (struct sockaddr *)&to, sizeof to));

  int v = 0;
  socklen_t vl = sizeof v;
  show("getsockopt SO_TYPE", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl));
  printf("type %d\n", v);
  show("getsockopt SO_DOMAIN", getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &vl));
  printf("domain %d\n", v);
  show("setsockopt SO_DETACH_FILTER", setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &v, sizeof v));
  show("getsockopt SOL_IP", getsockopt(s, SOL_IP, IP_TTL, &v, &vl));
  show("connect", connect(s, (struct sockaddr *)&b, sizeof b));
  show("listen", listen(s, 1));
  return 0;
}
