/*
 * UDP's IP_RECVERR / IPV6_RECVERR error queue, compared with Linux (tests/net_test.ts): a
 * datagram to a closed port comes back by recvmsg(MSG_ERRQUEUE) with its destination as the
 * name, MSG_ERRQUEUE, and a sock_extended_err naming ICMP's port unreachable and the offender;
 * SO_ERROR is ECONNREFUSED until the error is read, 0 after; an empty queue is EAGAIN at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int blocked_fd;
static char blocked_result[64];

static void *blocked_recv(void *arg) {
  (void)arg;
  char b[16];
  errno = 0;
  long n = recv(blocked_fd, b, sizeof b, 0);
  snprintf(blocked_result, sizeof blocked_result, "%ld %s", n, strerrorname_np(errno));
  return NULL;
}

static void run(int family, int connected) {
  int on = 1;
  int closed = socket(family, SOCK_DGRAM, 0); /* bound, then closed: its port is unreachable */
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (family == AF_INET) {
    ((struct sockaddr_in *)&a)->sin_family = AF_INET;
    ((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    ((struct sockaddr_in6 *)&a)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
  }
  bind(closed, (struct sockaddr *)&a, len);
  getsockname(closed, (struct sockaddr *)&a, &len);
  close(closed);

  int s = socket(family, SOCK_DGRAM, 0);
  if (family == AF_INET) setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  else setsockopt(s, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
  char payload[300];
  for (int i = 0; i < 300; i++) payload[i] = (char)i;
  if (connected) {
    connect(s, (struct sockaddr *)&a, len);
    send(s, payload, sizeof payload, 0);
  } else {
    sendto(s, payload, sizeof payload, 0, (struct sockaddr *)&a, len);
  }
  struct pollfd p = {s, POLLIN, 0};
  int ready = poll(&p, 1, 2000);
  printf("%s %s: poll %d revents %#x (POLLERR, and POLLIN only with data)\n", family == AF_INET ? "IPv4" : "IPv6",
         connected ? "connected" : "unconnected", ready, p.revents);
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("  SO_ERROR %s\n", strerrorname_np(err) ? strerrorname_np(err) : "0");
  /* SO_ERROR took the error: send it again so the queue and the error are there. */
  if (connected) send(s, payload, sizeof payload, 0);
  else sendto(s, payload, sizeof payload, 0, (struct sockaddr *)&a, len);
  poll(&p, 1, 2000);
  char got[400], cbuf[256];
  struct sockaddr_storage name;
  struct iovec iov = {got, sizeof got};
  struct msghdr m = {.msg_name = &name, .msg_namelen = sizeof name, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                     .msg_controllen = sizeof cbuf};
  long n = recvmsg(s, &m, MSG_ERRQUEUE);
  printf("  MSG_ERRQUEUE: %ld bytes, same: %s, flags has MSG_ERRQUEUE: %s, name is the destination: %s\n", n,
         n == 300 && memcmp(got, payload, 300) == 0 ? "yes" : "no", m.msg_flags & MSG_ERRQUEUE ? "yes" : "no",
         m.msg_namelen == len && memcmp(&name, &a, len) == 0 ? "yes" : "no");
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    struct sock_extended_err e;
    memcpy(&e, CMSG_DATA(c), sizeof e);
    struct sockaddr *off = SO_EE_OFFENDER((struct sock_extended_err *)CMSG_DATA(c));
    printf("  cmsg level %d type %d: errno %s origin %d type %d code %d offender family %d\n", c->cmsg_level, c->cmsg_type,
           strerrorname_np(e.ee_errno), e.ee_origin, e.ee_type, e.ee_code, off->sa_family);
  }
  el = sizeof err;
  getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("  SO_ERROR after it: %d\n", err);
  errno = 0;
  n = recvmsg(s, &m, MSG_ERRQUEUE);
  printf("  an empty queue: %ld %s\n", n, strerrorname_np(errno));
  /* A recv blocked before the error comes ends with it (SO_RCVTIMEO bounds a hang). */
  if (connected) {
    blocked_fd = socket(family, SOCK_DGRAM, 0);
    setsockopt(blocked_fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){5, 0}, sizeof(struct timeval));
    connect(blocked_fd, (struct sockaddr *)&a, len);
    pthread_t t;
    pthread_create(&t, NULL, blocked_recv, NULL);
    usleep(100 * 1000); /* most likely blocked by now; if not, it finds the error at once */
    send(blocked_fd, payload, 10, 0);
    pthread_join(t, NULL);
    printf("  a blocked recv: %s\n", blocked_result);
    close(blocked_fd);
  }
  close(s);
}

/* A datagram too large: EMSGSIZE, and with IPV6_RECVERR a local error on the queue (IPv4: none). */
static void too_large(int family) {
  int on = 1;
  int s = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (family == AF_INET) {
    setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    ((struct sockaddr_in *)&a)->sin_family = AF_INET;
    ((struct sockaddr_in *)&a)->sin_port = htons(9);
    ((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    setsockopt(s, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    ((struct sockaddr_in6 *)&a)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&a)->sin6_port = htons(9);
    ((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
  }
  connect(s, (struct sockaddr *)&a, len);
  static char big[65536];
  errno = 0;
  long n = send(s, big, sizeof big, 0);
  printf("%s send of 65536 bytes: %ld %s\n", family == AF_INET ? "IPv4" : "IPv6", n, strerrorname_np(errno));
  char got[16], cbuf[256];
  struct iovec iov = {got, sizeof got};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  errno = 0;
  n = recvmsg(s, &m, MSG_ERRQUEUE);
  printf("  MSG_ERRQUEUE: %ld %s", n, n < 0 ? strerrorname_np(errno) : "");
  struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
  if (c) {
    struct sock_extended_err e;
    memcpy(&e, CMSG_DATA(c), sizeof e);
    printf(" errno %s origin %d type %d code %d info %u", strerrorname_np(e.ee_errno), e.ee_origin, e.ee_type, e.ee_code, e.ee_info);
  }
  int err = -1;
  socklen_t el = sizeof err;
  getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
  printf(", SO_ERROR %d\n", err);
  close(s);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  too_large(AF_INET);
  too_large(AF_INET6);
  run(AF_INET, 1);
  run(AF_INET, 0);
  run(AF_INET6, 1);
  return 0;
}
