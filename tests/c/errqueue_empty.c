/*
 * recvmsg(MSG_ERRQUEUE) on a blocking UDP or TCP socket with an empty error queue returns
 * EAGAIN at once (Linux's sock_recv_errqueue), even with data waiting in the ordinary queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int types[] = {SOCK_DGRAM, SOCK_STREAM};
  for (int i = 0; i < 2; i++) {
    int s = socket(AF_INET, types[i], 0);
    int on = 1;
    setsockopt(s, SOL_IP, IP_RECVERR, &on, sizeof on);
    if (types[i] == SOCK_DGRAM) {
      struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
      socklen_t len = sizeof a;
      bind(s, (struct sockaddr *)&a, len);
      getsockname(s, (struct sockaddr *)&a, &len);
      sendto(s, "x", 1, 0, (struct sockaddr *)&a, len);
    }
    char buf[16];
    struct iovec iov = {buf, sizeof buf};
    char ctl[256];
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    errno = 0;
    ssize_t r = recvmsg(s, &m, MSG_ERRQUEUE);
    printf("%s: recvmsg(MSG_ERRQUEUE) = %zd %s\n", types[i] == SOCK_DGRAM ? "udp" : "tcp", r, r < 0 ? strerror(errno) : "");
    close(s);
  }
  return 0;
}
