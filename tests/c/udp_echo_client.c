/* Sends argv[3] as one UDP datagram to argv[1]:argv[2] and prints the reply (5 s at most):
 * tests/net_host_device_test.ts's UDP both ways through a device of config.json's network
 * namespace (busybox's nc here has no -u). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (s < 0 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  struct timeval tv = {.tv_sec = 5};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (sendto(s, argv[3], strlen(argv[3]), 0, (struct sockaddr *)&to, sizeof to) < 0) {
    perror("sendto");
    return 1;
  }
  char buf[512];
  ssize_t n = recv(s, buf, sizeof buf - 1, 0);
  if (n < 0) {
    perror("recv");
    return 1;
  }
  buf[n] = 0;
  printf("udp reply: %s\n", buf);
  return 0;
}
