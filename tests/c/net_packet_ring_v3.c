/*
 * PACKET_RX_RING with TPACKET_V3 on lo, compared with Linux in a network namespace of its own
 * (tests/net_test.ts runs it under `unshare -n` natively, after bringing lo up): the request's
 * checks (the private area and a frame must fit a block: LTP setsockopt02; a ring cleared and
 * the version switched: setsockopt09), then blocks filled by sendto: packets one after another
 * (tpacket3_hdr, sockaddr_ll, tp_next_offset chaining them), nothing readable until a block
 * closes, a block closed when the next packet does not fit (then readable, TP_STATUS_USER) and
 * by the retire timer (TP_STATUS_BLK_TMO), sequence numbers, the queue freezing while the
 * program holds every block (drops, tp_freeze_q_cnt), a block given back taking packets again.
 * With an argument: the same on SOCK_RAW.
 */
#define _GNU_SOURCE
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

#define PAGE 4096

static int ring_v3(int s, unsigned bs, unsigned bn, unsigned fs, unsigned tov, unsigned priv) {
  struct tpacket_req3 r = {bs, bn, fs, bs / fs * bn, tov, priv, 0};
  errno = 0;
  return setsockopt(s, SOL_PACKET, PACKET_RX_RING, &r, sizeof r);
}

static void block(const char *what, char *ring, unsigned bs, int i) {
  struct tpacket_block_desc *b = (void *)(ring + (size_t)i * bs);
  struct tpacket_hdr_v1 *h = &b->hdr.bh1;
  printf("%s: block %d version %u priv at %u status %#x pkts %u first at %u len %u seq %llu\n", what, i, b->version,
         b->offset_to_priv, h->block_status, h->num_pkts, h->offset_to_first_pkt, h->blk_len, (unsigned long long)h->seq_num);
}

static void packets(char *ring, unsigned bs, int i, unsigned max) {
  struct tpacket_block_desc *b = (void *)(ring + (size_t)i * bs);
  struct tpacket3_hdr *p = (void *)((char *)b + b->hdr.bh1.offset_to_first_pkt);
  for (unsigned n = 0; n < b->hdr.bh1.num_pkts && n < max; n++) {
    struct sockaddr_ll *sl = (void *)((char *)p + TPACKET_ALIGN(sizeof *p));
    printf("  pkt %u: next %u snaplen %u len %u status %#x mac %u net %u data '%.6s' sll family %u proto %04x hatype %u rxhash-set %d\n", n,
           p->tp_next_offset, p->tp_snaplen, p->tp_len, p->tp_status, p->tp_mac, p->tp_net, (char *)p + p->tp_net, sl->sll_family,
           ntohs(sl->sll_protocol), sl->sll_hatype, 0);
    if (!p->tp_next_offset) break;
    p = (void *)((char *)p + p->tp_next_offset);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IONBF, 0);
  int type = argc > 1 ? SOCK_RAW : SOCK_DGRAM;
  int s = socket(AF_PACKET, type, 0);
  for (int q = 0; q < 4; q++) {
    int val = q;
    socklen_t vl = sizeof val;
    errno = 0;
    int r0 = getsockopt(s, SOL_PACKET, PACKET_HDRLEN, &val, &vl);
    printf("PACKET_HDRLEN %d: %d errno %d val %d len %u\n", q, r0, errno, val, vl);
  }
  int small = 1;
  socklen_t sl0 = 2;
  errno = 0;
  int r1 = getsockopt(s, SOL_PACKET, PACKET_HDRLEN, &small, &sl0);
  printf("PACKET_HDRLEN with 2 bytes: %d errno %d\n", r1, errno);
  int v = TPACKET_V3;
  printf("version: %d\n", setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof v));
  struct tpacket_req short_req = {PAGE, 1, PAGE, 1};
  errno = 0;
  int r = setsockopt(s, SOL_PACKET, PACKET_RX_RING, &short_req, sizeof short_req);
  printf("a V1 request: %d errno %d\n", r, errno);
  r = ring_v3(s, PAGE, 2, PAGE, 100, 3U << 30);
  printf("huge private area: %d errno %d\n", r, errno);
  r = ring_v3(s, PAGE, 2, PAGE, 100, PAGE - 100);
  printf("private area leaving no frame: %d errno %d\n", r, errno);
  r = ring_v3(s, PAGE + 16, 2, PAGE + 16, 100, 0);
  printf("block not page aligned: %d errno %d\n", r, errno);
  printf("good, 512 private: %d\n", ring_v3(s, PAGE, 2, PAGE, 100, 512));
  r = ring_v3(s, PAGE, 2, PAGE, 100, 512);
  printf("again: %d errno %d\n", r, errno);
  struct tpacket_req3 zero = {PAGE, 0, 2048, 0, 64, 0, 0};
  printf("cleared: %d\n", setsockopt(s, SOL_PACKET, PACKET_RX_RING, &zero, sizeof zero));
  v = TPACKET_V2;
  printf("to V2: %d\n", setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof v));
  printf("V2 cleared: %d\n", setsockopt(s, SOL_PACKET, PACKET_RX_RING, &zero, sizeof zero));
  v = TPACKET_V3;
  printf("to V3: %d\n", setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof v));

  /* Four 2-page blocks, 64 bytes private, a long retire timer (5 s) for the fill part. */
  unsigned bs = 2 * PAGE, bn = 4;
  printf("ring: %d\n", ring_v3(s, bs, bn, 2048, 5000, 64));
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = if_nametoindex("lo"), .sll_halen = 6};
  printf("bind: %d\n", bind(s, (void *)&ll, sizeof ll));
  char *ring = mmap(0, bs * bn, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
  printf("map: %s\n", ring == MAP_FAILED ? "failed" : "ok");
  block("opened", ring, bs, 0);
  char frame[1014];
  memset(frame, 'x', sizeof frame);
  memcpy(frame, (char[]){0, 0, 0, 0, 0, 0, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x08, 0x00}, 14);
  char *payload = type == SOCK_RAW ? frame + 14 : frame;
  size_t mlen = type == SOCK_RAW ? sizeof frame : 1000;
  memcpy(payload, "pkt-00", 6);
  printf("send: %zd\n", sendto(s, frame, mlen, 0, (void *)&ll, sizeof ll));
  struct pollfd p = {s, POLLIN, 0};
  printf("poll after one packet: %d\n", poll(&p, 1, 100));
  block("one packet", ring, bs, 0);
  /* A 2-page block takes 7 of these; the 8th closes it. */
  for (int i = 1; i < 8; i++) {
    payload[4] = '0' + i / 10;
    payload[5] = '0' + i % 10;
    sendto(s, frame, mlen, 0, (void *)&ll, sizeof ll);
  }
  r = poll(&p, 1, 100);
  printf("poll after eight: %d revents %x\n", r, p.revents);
  block("closed", ring, bs, 0);
  packets(ring, bs, 0, 8);
  block("current", ring, bs, 1);
  /* Fill the other three blocks and more: the queue freezes, packets are dropped. */
  for (int i = 8; i < 40; i++) {
    payload[4] = '0' + i / 10;
    payload[5] = '0' + i % 10;
    sendto(s, frame, mlen, 0, (void *)&ll, sizeof ll);
  }
  for (int i = 0; i < 4; i++) block("full", ring, bs, i);
  struct tpacket_stats_v3 st;
  socklen_t sl = sizeof st;
  getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
  printf("stats len %u packets %u drops %u freezes %u\n", sl, st.tp_packets, st.tp_drops, st.tp_freeze_q_cnt);
  /* Block 0 given back: the next packet opens it (the queue thaws), the timer retires it. */
  ((struct tpacket_block_desc *)ring)->hdr.bh1.block_status = TP_STATUS_KERNEL;
  memcpy(payload, "again!", 6);
  sendto(s, frame, mlen, 0, (void *)&ll, sizeof ll);
  block("given back, one packet", ring, bs, 0);
  packets(ring, bs, 0, 1);

  /* The retire timer (50 ms) closes a block holding one packet: poll wakes, TP_STATUS_BLK_TMO. */
  int t = socket(AF_PACKET, type, 0);
  setsockopt(t, SOL_PACKET, PACKET_VERSION, &v, sizeof v);
  printf("timed ring: %d\n", ring_v3(t, bs, 2, 2048, 50, 0));
  bind(t, (void *)&ll, sizeof ll);
  char *tr = mmap(0, bs * 2, PROT_READ | PROT_WRITE, MAP_SHARED, t, 0);
  memcpy(payload, "timer!", 6);
  sendto(t, frame, mlen, 0, (void *)&ll, sizeof ll);
  struct pollfd q = {t, POLLIN, 0};
  r = poll(&q, 1, 5000);
  printf("poll: %d revents %x\n", r, q.revents);
  block("retired", tr, bs, 0);
  packets(tr, bs, 0, 1);
  block("next", tr, bs, 1);
  return 0;
}
