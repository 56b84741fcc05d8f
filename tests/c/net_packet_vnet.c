/*
 * PACKET_VNET_HDR and PACKET_VNET_HDR_SZ on lo, compared with Linux in a network namespace of its
 * own (tests/net_test.ts runs it under `unshare -n` natively): the options' checks (SOCK_RAW only,
 * the sizes, EBUSY with a ring), a UDP frame sent with a virtio_net_hdr asking for its checksum
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM: Linux's lo leaves it to an offload the stack trusts and shows
 * the header again on receive, the sentry computes it and shows none, so that copy's contents are
 * not printed), frames received with a header (all zero), a buffer
 * too small for the header (EINVAL, the frame gone), the header's size in recv's count and
 * MSG_TRUNC, bad headers (hdr_len past the frame, an unknown GSO type: EINVAL), and a ring whose
 * reserve puts the frame past 64 KiB with the header (dropped, counted: LTP sendto03).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ 24
#endif

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-46s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static int seti(int s, int opt, int v) { return setsockopt(s, SOL_PACKET, opt, &v, sizeof v); }
static int geti(int s, int opt) {
  int v = -1;
  socklen_t l = sizeof v;
  getsockopt(s, SOL_PACKET, opt, &v, &l);
  return v;
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  int d = socket(AF_PACKET, SOCK_DGRAM, 0);
  R("SOCK_DGRAM: PACKET_VNET_HDR", seti(d, PACKET_VNET_HDR, 1));
  int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  short two = 1;
  R("short option", setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &two, sizeof two));
  R("PACKET_VNET_HDR_SZ 11", seti(s, PACKET_VNET_HDR_SZ, 11));
  R("PACKET_VNET_HDR_SZ 12", seti(s, PACKET_VNET_HDR_SZ, 12));
  printf("get: hdr %d sz %d\n", geti(s, PACKET_VNET_HDR), geti(s, PACKET_VNET_HDR_SZ));
  R("PACKET_VNET_HDR 5", seti(s, PACKET_VNET_HDR, 5));
  printf("get: hdr %d sz %d\n", geti(s, PACKET_VNET_HDR), geti(s, PACKET_VNET_HDR_SZ));
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = if_nametoindex("lo"), .sll_halen = 6};
  R("bind", bind(s, (void *)&ll, sizeof ll));

  /* A UDP-like frame: Ethernet, a 20-byte IPv4 header, 8 bytes of UDP, payload; the UDP checksum
   * field holds the pseudo-header's sum, as an offloading sender leaves it. */
  unsigned char buf[10 + 14 + 20 + 8 + 6];
  memset(buf, 0, sizeof buf);
  struct virtio_net_hdr *vh = (void *)buf;
  unsigned char *f = buf + 10;
  f[12] = 0x08;
  unsigned char *ip = f + 14;
  ip[0] = 0x45; ip[3] = 34; ip[8] = 64; ip[9] = 17;
  ip[12] = 127; ip[15] = 1; ip[16] = 127; ip[19] = 1;
  unsigned ipsum = 0;
  for (int i = 0; i < 20; i += 2) ipsum += (ip[i] << 8) | ip[i + 1];
  while (ipsum > 0xffff) ipsum = (ipsum & 0xffff) + (ipsum >> 16);
  ip[10] = ~ipsum >> 8;
  ip[11] = ~ipsum & 0xff;
  unsigned char *udp = ip + 20;
  udp[0] = 0x30; udp[1] = 0x39; udp[2] = 0x30; udp[3] = 0x3a; udp[5] = 14;
  udp[6] = 0x12; udp[7] = 0x34;
  memcpy(udp + 8, "vnet!!", 6);
  vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh->csum_start = 14 + 20;
  vh->csum_offset = 6;
  /* The pseudo-header's sum: addresses, protocol, UDP length. */
  unsigned ps = 0x7f00 + 0x0001 + 0x7f00 + 0x0001 + 17 + 14;
  udp[6] = ps >> 8;
  udp[7] = ps & 0xff;
  R("send with NEEDS_CSUM", send(s, buf, sizeof buf, 0));
  unsigned char in[128];
  R("its copy (header and checksum not compared)", recv(s, in, sizeof in, MSG_DONTWAIT));
  vh->flags = 0;
  udp[6] = udp[7] = 0;
  long n;
  R("send plain", send(s, buf, sizeof buf, 0));
  memset(in, 0xee, sizeof in);
  n = recv(s, in, sizeof in, MSG_DONTWAIT);
  printf("recv: %ld, header %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x, data '%.6s'\n", n, in[0], in[1], in[2],
         in[3], in[4], in[5], in[6], in[7], in[8], in[9], in + 10 + 14 + 28);
  R("send plain", send(s, buf, sizeof buf, 0));
  R("recv into 9 bytes", recv(s, in, 9, MSG_DONTWAIT));
  R("recv after (nothing left)", recv(s, in, sizeof in, MSG_DONTWAIT));
  R("send plain", send(s, buf, sizeof buf, 0));
  R("recv into 20 bytes, MSG_TRUNC", recv(s, in, 20, MSG_TRUNC | MSG_DONTWAIT));
  R("send plain", send(s, buf, sizeof buf, 0));
  R("recv into 20 bytes", recv(s, in, 20, MSG_DONTWAIT));
  vh->hdr_len = 200;
  R("hdr_len past the frame", send(s, buf, sizeof buf, 0));
  vh->hdr_len = 0;
  vh->gso_type = 7;
  R("unknown GSO type", send(s, buf, sizeof buf, 0));
  vh->gso_type = 0;
  R("shorter than the header", send(s, buf, 8, 0));
  R("PACKET_VNET_HDR_SZ 12", seti(s, PACKET_VNET_HDR_SZ, 12));
  unsigned char b12[sizeof buf + 2];
  memset(b12, 0, sizeof b12);
  memcpy(b12 + 12, buf + 10, sizeof buf - 10);
  R("send with a 12-byte header", send(s, b12, sizeof b12, 0));
  memset(in, 0xee, sizeof in);
  n = recv(s, in, sizeof in, MSG_DONTWAIT);
  printf("recv: %ld, bytes 10-11 %02x %02x, ethertype at 24 %02x%02x\n", n, in[10], in[11], in[24], in[25]);

  /* sendto03's ring: V2, the header, a reserve that puts the frame past 64 KiB. */
  int r = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  seti(r, PACKET_VERSION, TPACKET_V2);
  R("ring socket: PACKET_VNET_HDR", seti(r, PACKET_VNET_HDR, 1));
  R("PACKET_RESERVE", seti(r, PACKET_RESERVE, 0xffff - 75));
  struct tpacket_req req = {0x800000, 1, 0x11000, 0x800000 / 0x11000};
  R("PACKET_RX_RING", setsockopt(r, SOL_PACKET, PACKET_RX_RING, &req, sizeof req));
  R("PACKET_VNET_HDR with a ring", seti(r, PACKET_VNET_HDR, 0));
  struct sockaddr_ll all = ll;
  all.sll_protocol = htons(ETH_P_ALL);
  R("bind", bind(r, (void *)&all, sizeof all));
  vh->flags = 0;
  R("send", send(s, b12, sizeof b12, 0));
  struct tpacket_stats st;
  socklen_t sl = sizeof st;
  getsockopt(r, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
  printf("ring stats: packets %u drops %u\n", st.tp_packets, st.tp_drops);
  return 0;
}
