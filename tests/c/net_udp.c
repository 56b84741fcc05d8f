/* UDP echo over 127.0.0.1 and ::1 (MSG_PEEK, MSG_TRUNC, connect and getsockname), then
 * getaddrinfo("localhost") and getifaddrs() of the loopback interface. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void show(const struct sockaddr *sa) {
  char host[64];
  int port = 0;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
    port = ntohs(((struct sockaddr_in *)sa)->sin_port);
  } else {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
    port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
  }
  printf("%s port %s", host, port ? "set" : "0");
}

static void echo(int family) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  int srv = socket(family, SOCK_DGRAM, 0), cli = socket(family, SOCK_DGRAM, 0);
  bind(srv, (struct sockaddr *)&ss, len);
  socklen_t sl = sizeof ss;
  getsockname(srv, (struct sockaddr *)&ss, &sl);
  char buf[100];
  ssize_t n = recv(cli, buf, sizeof buf, MSG_DONTWAIT);
  printf("empty recv: %zd %s\n", n, strerror(errno));
  for (int i = 0; i < 3; i++) {
    char msg[32];
    int m = snprintf(msg, sizeof msg, "datagram %d", i);
    sendto(cli, msg, m, 0, (struct sockaddr *)&ss, len);
  }
  n = recv(srv, buf, 4, MSG_PEEK | MSG_TRUNC);
  printf("peek with MSG_TRUNC: %zd\n", n);
  struct sockaddr_storage from;
  for (int i = 0; i < 3; i++) {
    socklen_t fl = sizeof from;
    n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("server got %zd '%.*s' from ", n, (int)n, buf);
    show((struct sockaddr *)&from);
    printf("\n");
    sendto(srv, buf, n, 0, (struct sockaddr *)&from, fl);
  }
  for (int i = 0; i < 3; i++) {
    n = recv(cli, buf, 5, 0);
    printf("client got %zd '%.*s'\n", n, (int)n, buf);
  }
  connect(cli, (struct sockaddr *)&ss, len);
  sl = sizeof from;
  getsockname(cli, (struct sockaddr *)&from, &sl);
  printf("connected client is ");
  show((struct sockaddr *)&from);
  printf("\n");
  close(srv);
  send(cli, "x", 1, 0);
  n = recv(cli, buf, 1, MSG_DONTWAIT);
  printf("after the server closed: %zd %s\n", n, strerror(errno));
  close(cli);
}

int main(void) {
  echo(AF_INET);
  echo(AF_INET6);
  struct addrinfo hints = {0}, *res;
  hints.ai_socktype = SOCK_STREAM;
  int r = getaddrinfo("localhost", "80", &hints, &res);
  printf("getaddrinfo localhost: %d\n", r);
  for (struct addrinfo *p = res; r == 0 && p; p = p->ai_next) {
    printf("  ");
    show(p->ai_addr);
    printf("\n");
  }
  if (r == 0) freeaddrinfo(res);
  struct ifaddrs *ifa;
  if (getifaddrs(&ifa) != 0) {
    perror("getifaddrs");
    return 1;
  }
  for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
    if (strcmp(p->ifa_name, "lo") != 0 || p->ifa_addr == NULL || p->ifa_addr->sa_family == AF_PACKET) continue;
    printf("lo %s up %d loopback %d: ", p->ifa_addr->sa_family == AF_INET ? "inet" : "inet6",
           (p->ifa_flags & IFF_UP) != 0, (p->ifa_flags & IFF_LOOPBACK) != 0);
    show(p->ifa_addr);
    printf("\n");
  }
  freeifaddrs(ifa);
  return 0;
}
