/*
 * PACKET_RX_RING (TPACKET_V1) on lo, compared with Linux in a network namespace of its own
 * (tests/net_test.ts runs it under `unshare -n` natively, after bringing lo up): the request's
 * checks, mmap of the whole ring only, EBUSY for a version change with a ring, a frame written
 * into the first slot (tpacket_hdr, sockaddr_ll, data at tp_net), no copy in the receive queue,
 * the ring filling up (one frame dropped, PACKET_STATISTICS), a slot given back taking the next
 * frame, and the ring cleared after munmap. With an argument: the same on SOCK_RAW.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int type = argc > 1 ? SOCK_RAW : SOCK_DGRAM;
  int s = socket(AF_PACKET, type, 0);
  int v = TPACKET_V1;
  printf("version: %d\n", setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof v));
  struct tpacket_req bad = {100, 1, 64, 1};
  int r = setsockopt(s, SOL_PACKET, PACKET_RX_RING, &bad, sizeof bad);
  printf("bad: %d errno %d\n", r, r < 0 ? errno : 0);
  unsigned fs = 65536 + 128, bs = fs * 32;
  struct tpacket_req req = {bs, 2, fs, 64};
  printf("ring: %d\n", setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req, sizeof req));
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = if_nametoindex("lo"), .sll_halen = 6};
  printf("bind: %d\n", bind(s, (void *)&ll, sizeof ll));
  void *bad_map = mmap(0, bs, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
  printf("short map: %s errno %d\n", bad_map == MAP_FAILED ? "failed" : "ok", errno);
  char *ring = mmap(0, bs * 2, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
  printf("map: %s\n", ring == MAP_FAILED ? "failed" : "ok");
  r = setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req, sizeof req);
  printf("ring again: %d errno %d\n", r, r < 0 ? errno : 0);
  v = TPACKET_V2;
  r = setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof v);
  printf("version now: %d errno %d\n", r, r < 0 ? errno : 0);
  /* SOCK_RAW sends a whole frame: its own header (source 11:11:...), which lo passes on. */
  char frame[20] = {0, 0, 0, 0, 0, 0, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x08, 0x00, '1', '2', '3', 'a', 'b', 'c'};
  const char *msg = type == SOCK_RAW ? frame : "123abc";
  size_t mlen = type == SOCK_RAW ? 20 : 6;
  printf("send: %zd\n", sendto(s, msg, mlen, 0, (void *)&ll, sizeof ll));
  struct pollfd p = {s, POLLIN, 0};
  printf("poll: %d revents %x\n", poll(&p, 1, 5000), p.revents);
  struct tpacket_hdr *h = (void *)ring;
  struct sockaddr_ll *sl = (void *)(ring + TPACKET_ALIGN(sizeof *h));
  printf("status %lu len %u snaplen %u mac %u net %u data '%.6s' sll family %u proto %04x ifindex %d hatype %u pkttype %u halen %u\n",
         h->tp_status, h->tp_len, h->tp_snaplen, h->tp_mac, h->tp_net, ring + h->tp_net, sl->sll_family, ntohs(sl->sll_protocol),
         sl->sll_ifindex == (int)if_nametoindex("lo"), sl->sll_hatype, sl->sll_pkttype, sl->sll_halen);
  if (type == SOCK_RAW) printf("mac header as sent %d\n", memcmp(ring + h->tp_mac, frame, 14) == 0);
  struct tpacket_hdr *h2 = (void *)(ring + fs);
  printf("second slot status %lu\n", h2->tp_status);
  char b[64];
  ssize_t n = recv(s, b, sizeof b, MSG_DONTWAIT);
  printf("recv: %zd errno %d\n", n, n < 0 ? errno : 0);
  /* Fill the ring: 64 slots, the first taken; 63 more, then one dropped. */
  for (int i = 0; i < 64; i++) sendto(s, msg, mlen, 0, (void *)&ll, sizeof ll);
  struct tpacket_stats st;
  socklen_t sl2 = sizeof st;
  getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &st, &sl2);
  printf("stats packets %u drops %u\n", st.tp_packets, st.tp_drops);
  h->tp_status = TP_STATUS_KERNEL;
  memcpy(frame + 14, "second", 6);
  sendto(s, type == SOCK_RAW ? frame : "second", mlen, 0, (void *)&ll, sizeof ll);
  printf("after giving back slot 0: status %lu data '%.6s'\n", h->tp_status, ring + h->tp_net);
  munmap(ring, bs * 2);
  struct tpacket_req zero = {0, 0, 0, 0};
  printf("clear after unmap: %d\n", setsockopt(s, SOL_PACKET, PACKET_RX_RING, &zero, sizeof zero));
  return 0;
}
