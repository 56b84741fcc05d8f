/*
 * The length getsockopt gives int IPPROTO_IP options (IP_TOS, IP_TTL, IP_MULTICAST_TTL,
 * IP_MULTICAST_LOOP, IP_RECVTOS, IP_HDRINCL) for each optlen from 0 to 5 on UDP, TCP and raw
 * sockets, and the bytes written: Linux writes one byte for a short optlen when the value fits
 * one. Compared with Linux (tests/net_test.ts).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int types[3][2] = {{SOCK_DGRAM, 0}, {SOCK_STREAM, 0}, {SOCK_RAW, IPPROTO_RAW}};
  int opts[] = {IP_TOS, IP_TTL, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_RECVTOS, IP_HDRINCL};
  for (int k = 0; k < 3; k++) {
    int s = socket(AF_INET, types[k][0], types[k][1]);
    int tos = 0xc0;
    setsockopt(s, IPPROTO_IP, IP_TOS, &tos, 1);
    for (unsigned o = 0; o < sizeof opts / sizeof *opts; o++) {
      printf("type %d opt %d:", types[k][0], opts[o]);
      for (socklen_t len = 0; len <= 5; len++) {
        unsigned char buf[8];
        memset(buf, 0xee, sizeof buf);
        socklen_t l = len;
        int r = getsockopt(s, IPPROTO_IP, opts[o], buf, &l);
        if (r < 0) printf(" [%u: errno %d]", len, errno);
        else printf(" [%u: len %u %02x%02x%02x%02x%02x]", len, l, buf[0], buf[1], buf[2], buf[3], buf[4]);
      }
      printf("\n");
    }
    close(s);
  }
  return 0;
}
