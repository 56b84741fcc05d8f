/*
 * Sequences of binds to one port with SO_REUSEADDR (a), SO_REUSEPORT (p) or both (ap), for TCP
 * and UDP, each step's result as Linux gives it (tests/net_test.ts). TCP's port bucket has a
 * fast path (inet_csk_get_port: tb->fastreuse, sk_reuseport_match) that admits a, then ap, then
 * p although the p socket shares no option with the first; UDP checks pairwise and refuses it.
 * 'L' after a step listens on that socket (TCP), which passes the same bucket check again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int port_free(int type) {
  int s = socket(AF_INET, type, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  bind(s, (struct sockaddr *)&a, sizeof a);
  getsockname(s, (struct sockaddr *)&a, &l);
  close(s);
  return ntohs(a.sin_port);
}

/* steps: space-separated "a", "p", "ap", "-" (neither), optionally with "L" appended. */
static void run(int type, const char *steps) {
  int port = port_free(type), fds[16], n = 0;
  char buf[128];
  snprintf(buf, sizeof buf, "%s", steps);
  printf("%s [%s]:", type == SOCK_STREAM ? "tcp" : "udp", steps);
  for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
    int s = socket(AF_INET, type, 0), one = 1;
    if (strchr(t, 'a')) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (strchr(t, 'p')) setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = bind(s, (struct sockaddr *)&a, sizeof a);
    printf(" %s=%s", t, r == 0 ? "ok" : errno == EADDRINUSE ? "EADDRINUSE" : "other");
    if (r == 0 && strchr(t, 'L')) {
      r = listen(s, 1);
      printf("/%s", r == 0 ? "listen-ok" : errno == EADDRINUSE ? "listen-EADDRINUSE" : errno == EOPNOTSUPP ? "listen-EOPNOTSUPP" : "listen-other");
    }
    fds[n++] = s;
  }
  printf("\n");
  while (n > 0) close(fds[--n]);
}

int main(void) {
  static const char *seqs[] = {
    "a ap p", "a ap pL", "a ap p a", "a ap p ap", "a p", "a ap ap p", "ap a p", "p ap a", "ap ap p a",
    "ap p a", "p ap p", "aL ap p", "a apL p", "pL ap p", "a - ap", "ap - p", "- a", "a a p ap",
  };
  for (int t = 0; t < 2; t++)
    for (unsigned i = 0; i < sizeof seqs / sizeof *seqs; i++) run(t == 0 ? SOCK_STREAM : SOCK_DGRAM, seqs[i]);
  return 0;
}
