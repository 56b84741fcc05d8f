/* Priority-inheritance futexes (FUTEX_LOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI): ownership in
 * the word, EDEADLK/EPERM/ESRCH/EAGAIN, a waiter that gets the lock from the unlock with
 * FUTEX_WAITERS, a timeout, an owner that dies holding it (FUTEX_OWNER_DIED), and many threads
 * taking turns, for private and shared ops alike. Prints only what is the same on any run. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static int priv;
static atomic_int word;

static long fx(int op, const struct timespec *ts) {
  return syscall(SYS_futex, &word, op | (priv ? FUTEX_PRIVATE_FLAG : 0), 0, ts, NULL, 0);
}

static int tid(void) { return (int)syscall(SYS_gettid); }

static void *trylock_thread(void *arg) {
  (void)arg;
  R("  trylock from another thread", fx(FUTEX_TRYLOCK_PI, NULL));
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 100 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  R("  lock with a 100 ms timeout", fx(FUTEX_LOCK_PI, &ts));
  return NULL;
}

static void *waiter_thread(void *arg) {
  (void)arg;
  R("  waiter lock", fx(FUTEX_LOCK_PI, NULL));
  int w = atomic_load(&word);
  printf("  waiter owns it: %d, waiters bit %d\n", (w & FUTEX_TID_MASK) == tid(), (w & FUTEX_WAITERS) != 0);
  R("  waiter unlock", fx(FUTEX_UNLOCK_PI, NULL));
  printf("  word after the waiter's unlock: %d\n", atomic_load(&word));
  return NULL;
}

static atomic_int taken;

static void *dying_owner(void *arg) {
  (void)arg;
  fx(FUTEX_LOCK_PI, NULL);
  atomic_store(&taken, 1);
  usleep(100 * 1000);
  return NULL; /* exits holding the lock */
}

static atomic_int inside;
static atomic_int bad;

static void *turns(void *arg) {
  (void)arg;
  for (int i = 0; i < 10; i++) {
    if (fx(FUTEX_LOCK_PI, NULL) != 0) atomic_fetch_add(&bad, 1);
    if (atomic_fetch_add(&inside, 1) != 0) atomic_fetch_add(&bad, 1);
    if ((atomic_load(&word) & FUTEX_TID_MASK) != tid()) atomic_fetch_add(&bad, 1);
    usleep(1000);
    atomic_fetch_sub(&inside, 1);
    if (fx(FUTEX_UNLOCK_PI, NULL) != 0) atomic_fetch_add(&bad, 1);
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (priv = 1; priv >= 0; priv--) {
    printf("%s futexes:\n", priv ? "private" : "shared");
    atomic_store(&word, 0);
    R("  lock a free word", fx(FUTEX_LOCK_PI, NULL));
    printf("  word is my tid: %d\n", atomic_load(&word) == tid());
    R("  lock it again", fx(FUTEX_LOCK_PI, NULL));
    R("  trylock it again", fx(FUTEX_TRYLOCK_PI, NULL));
    pthread_t th;
    pthread_create(&th, NULL, trylock_thread, NULL);
    pthread_join(th, NULL);
    R("  unlock", fx(FUTEX_UNLOCK_PI, NULL));
    printf("  word after unlock: %d\n", atomic_load(&word));
    R("  unlock when not the owner", fx(FUTEX_UNLOCK_PI, NULL));

    atomic_store(&word, 0x3ffffff0);
    R("  lock a word owned by no task", fx(FUTEX_LOCK_PI, NULL));

    atomic_store(&word, 0);
    fx(FUTEX_LOCK_PI, NULL);
    pthread_create(&th, NULL, waiter_thread, NULL);
    for (int i = 0; i < 500 && atomic_load(&word) != (tid() | FUTEX_WAITERS); i++) usleep(10 * 1000);
    printf("  the waiter set the waiters bit: %d\n", atomic_load(&word) == (tid() | FUTEX_WAITERS));
    /* Printed after the join: the waiter's lines come first on any run. */
    errno = 0;
    long r = fx(FUTEX_UNLOCK_PI, NULL);
    int e = errno;
    pthread_join(th, NULL);
    printf("  unlock to the waiter = %ld %s\n", r, r < 0 ? en(e) : "");

    atomic_store(&word, 0);
    atomic_store(&taken, 0);
    pthread_create(&th, NULL, dying_owner, NULL);
    while (!atomic_load(&taken)) usleep(1000);
    R("  lock held by a thread that exits", fx(FUTEX_LOCK_PI, NULL));
    int w = atomic_load(&word);
    printf("  owner died bit %d, mine %d\n", (w & FUTEX_OWNER_DIED) != 0, (w & FUTEX_TID_MASK) == tid());
    R("  unlock", fx(FUTEX_UNLOCK_PI, NULL));
    pthread_join(th, NULL);

    atomic_store(&word, 0);
    pthread_t many[10];
    for (int i = 0; i < 10; i++) pthread_create(&many[i], NULL, turns, NULL);
    for (int i = 0; i < 10; i++) pthread_join(many[i], NULL);
    printf("  10 threads x 10 turns: %d errors, word %d\n", atomic_load(&bad), atomic_load(&word));
  }
  return 0;
}
