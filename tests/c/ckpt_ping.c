/*
 * Checkpoint and restore of a ping socket (SOCK_DGRAM, IPPROTO_ICMP). Before the checkpoint
 * (during the 1.5 s sleep) it sends two echo requests to 127.0.0.1 and reads neither reply;
 * after it, it reads both (their sequence numbers and data), sends a third and reads its
 * reply. A restored run must print what a native run prints. Runs only where the host lets
 * this user make ping sockets (net.ipv4.ping_group_range); the sentry always does.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static void ping(int s, int seq, const char *text) {
  unsigned char b[64] = {0};
  b[0] = ICMP_ECHO;
  b[6] = (unsigned char)(seq >> 8);
  b[7] = (unsigned char)seq;
  size_t n = strlen(text);
  memcpy(b + 8, text, n);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (sendto(s, b, 8 + n, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)(8 + n)) printf("sendto failed\n");
}

static void pong(int s) {
  unsigned char b[64] = {0};
  ssize_t n = recv(s, b, sizeof b - 1, 0);
  if (n < 8) {
    printf("recv failed\n");
    return;
  }
  printf("reply type %d seq %d: %s\n", b[0], (b[6] << 8) | b[7], (char *)b + 8);
}

int main(void) {
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (s < 0) {
    printf("no ping sockets\n");
    return 1;
  }
  ping(s, 1, "first");
  ping(s, 2, "second");
  printf("ready\n");
  fflush(stdout);
  sleep_ms(1500);
  pong(s);
  pong(s);
  ping(s, 3, "third");
  pong(s);
  return 0;
}
