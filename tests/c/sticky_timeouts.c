/* personality(STICKY_TIMEOUTS): select, pselect6 and ppoll leave their timeout as given instead
 * of writing the time left back (Linux's poll_select_finish; LTP personality02). */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/personality.h>
#include <sys/select.h>
#include <time.h>

static void run(const char *when) {
  struct timeval tv = {0, 10};
  fd_set r;
  FD_ZERO(&r);
  FD_SET(1, &r);
  select(2, &r, NULL, NULL, &tv);
  struct timespec ts = {0, 10000};
  FD_ZERO(&r);
  FD_SET(1, &r);
  pselect(2, &r, NULL, NULL, &ts, NULL);
  struct pollfd p = {.fd = 1, .events = POLLIN};
  struct timespec ts2 = {0, 20000};
  ppoll(&p, 1, &ts2, NULL);
  /* Printed as "kept" or "changed": how much time was left natively varies. */
  printf("%s: select %s, pselect %s, ppoll %s\n", when, tv.tv_usec == 10 ? "kept" : "changed",
         ts.tv_nsec == 10000 ? "kept" : "changed", ts2.tv_nsec == 20000 ? "kept" : "changed");
}

int main(void) {
  personality(PER_LINUX | STICKY_TIMEOUTS);
  run("sticky");
  personality(PER_LINUX);
  return 0;
}
