/*
 * A server for --publish across a checkpoint: it listens on 127.0.0.1:8080 and greets each
 * connection with "hi N". At the second connection it writes to the first and prints what
 * happened: a checkpoint between the two resets the first (its host end was the checkpointed
 * sentry's relay), while the listener, restored with --publish again, takes the second.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(8080);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 8) != 0) return 1;
  dprintf(1, "listening\n");
  int first = -1;
  for (int n = 1; n <= 2; n++) {
    int c = accept(l, NULL, NULL);
    if (c < 0) return 1;
    char hi[16];
    int len = snprintf(hi, sizeof hi, "hi %d\n", n);
    if (write(c, hi, len) != len) return 1;
    dprintf(1, "greeted %d\n", n);
    if (n == 1) {
      first = c;
      continue;
    }
    ssize_t r = send(first, "again\n", 6, MSG_NOSIGNAL);
    dprintf(1, "the first connection: %s\n", r < 0 ? strerror(errno) : "still open");
    // Time for the relay to carry the greeting to the host before the sandbox ends.
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
  }
  return 0;
}
