/* Shared by the fixtures a test checkpoints: wait for the checkpoint without a timer. The tests
 * run such a fixture with stdin a pipe they hold open until they have checkpointed it, or seen
 * the checkpoint refused, once it printed the line that says it is ready
 * (tests/_checkpoint.ts); a restore's stdin, like a native run's, is /dev/null, so the read
 * ends there at once. A sleep instead had to outlast the checkpoint on a loaded host, and every
 * run paid for it. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static inline void await_checkpoint(void) {
  fflush(stdout); /* what it printed is how the test knows it is ready */
  char c;
  for (;;) {
    ssize_t r = read(0, &c, 1);
    if (r == 0 || (r < 0 && errno != EINTR)) return;
  }
}
