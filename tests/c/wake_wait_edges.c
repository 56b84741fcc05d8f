/* Edges that used to hang: FUTEX_WAKE with a count of 0 or a negative count wakes one waiter
 * (Linux checks the count only after the first wake), FUTEX_WAKE_BITSET and FUTEX_WAKE_OP
 * likewise, FUTEX_REQUEUE with a negative count is EINVAL; waitid without WEXITED when the
 * only child has exited is ECHILD (with and without WNOHANG), not a wait for ever. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x)                                                        \
  do {                                                                  \
    if (!(x)) {                                                         \
      printf("FAILED %s at line %d: %s\n", #x, __LINE__, strerror(errno)); \
      exit(1);                                                          \
    }                                                                   \
  } while (0)

static long futex(atomic_int *uaddr, int op, int val, long val2, atomic_int *uaddr2, int val3) {
  return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}

static atomic_int word;
static atomic_int waiting;

static void *waiter(void *arg) {
  (void)arg;
  atomic_store(&waiting, 1);
  /* Returns 0 when woken, EAGAIN if the word changed first (the main thread then retries). */
  while (futex(&word, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0) != 0 && errno == EINTR) {}
  return NULL;
}

/* One thread waits on word; wake with op/count until it is woken; prints the first result. */
static void wake_one(const char *name, int op, int count) {
  atomic_store(&word, 0);
  atomic_store(&waiting, 0);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, waiter, NULL) == 0);
  while (!atomic_load(&waiting)) usleep(1000);
  /* The thread may not be in FUTEX_WAIT yet: retry until someone is woken. */
  long r;
  for (int i = 0; i < 2000; i++) {
    usleep(1000);
    if (op == FUTEX_WAKE_OP_PRIVATE) {
      atomic_int other = 0;
      r = futex(&word, op, count, count, &other, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0));
    } else {
      r = futex(&word, op, count, 0, NULL, op == FUTEX_WAKE_BITSET_PRIVATE ? -1 : 0);
    }
    if (r != 0) break;
  }
  printf("%s count %d: %ld\n", name, count, r);
  atomic_store(&word, 1);
  futex(&word, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
  CHECK(pthread_join(th, NULL) == 0);
}

static void waitid_without_wexited(void) {
  pid_t c = fork();
  CHECK(c >= 0);
  if (c == 0) _exit(3);
  /* Let the child die first: a zombie waitid cannot report under these options. */
  siginfo_t si;
  CHECK(waitid(P_PID, c, &si, WEXITED | WNOWAIT) == 0);
  errno = 0;
  int r = waitid(P_ALL, 0, &si, WSTOPPED);
  printf("waitid(WSTOPPED), only a dead child: %d %s\n", r, strerror(errno));
  errno = 0;
  r = waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG);
  printf("waitid(WSTOPPED|WNOHANG): %d %s\n", r, strerror(errno));
  errno = 0;
  r = waitid(P_PID, c, &si, WCONTINUED);
  printf("waitid(P_PID, WCONTINUED): %d %s\n", r, strerror(errno));
  memset(&si, 0, sizeof si);
  r = waitid(P_ALL, 0, &si, WEXITED);
  printf("waitid(WEXITED): %d status %d same pid %d\n", r, si.si_status, si.si_pid == c);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  wake_one("FUTEX_WAKE", FUTEX_WAKE_PRIVATE, 0);
  wake_one("FUTEX_WAKE", FUTEX_WAKE_PRIVATE, -1);
  wake_one("FUTEX_WAKE_BITSET", FUTEX_WAKE_BITSET_PRIVATE, 0);
  wake_one("FUTEX_WAKE_OP", FUTEX_WAKE_OP_PRIVATE, 0);
  atomic_int w = 0, w2 = 0;
  errno = 0;
  long r = futex(&w, FUTEX_REQUEUE_PRIVATE, 1, -1, &w2, 0);
  printf("FUTEX_REQUEUE, negative requeue count: %ld %s\n", r, strerror(errno));
  errno = 0;
  r = futex(&w, FUTEX_REQUEUE_PRIVATE, -1, 1, &w2, 0);
  printf("FUTEX_REQUEUE, negative wake count: %ld %s\n", r, strerror(errno));
  /* FUTEX_OP_OPARG_SHIFT (bit 31 of the encoding): the operand is 1 << oparg. */
  w2 = 1;
  r = futex(&w, FUTEX_WAKE_OP_PRIVATE, 1, 0, &w2, FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 4, FUTEX_OP_CMP_EQ, 1));
  printf("FUTEX_WAKE_OP with OPARG_SHIFT: %ld, word %d\n", r, (int)w2);
  waitid_without_wexited();
  return 0;
}
