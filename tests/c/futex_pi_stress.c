/* PI futexes under contention: threads take one word in turns with FUTEX_TRYLOCK_PI (gVisor's
 * futex_test PITryLockConcurrency), with FUTEX_LOCK_PI, and with both mixed, while others are
 * interrupted by signals (SA_RESTART and not) in and out of the kernel, each trying user space's
 * cmpxchg first as pthread does; whoever the kernel or its cmpxchg says holds the lock must be
 * named by the word and alone inside. Prints only counts of what went wrong (0 natively), for
 * private and shared ops. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 25

static int priv;
static atomic_int the_word;
/* The word: a global (bss), then in an 8 MiB mapping, as a large stack or arena is. */
static atomic_int *word = &the_word;
static atomic_int inside;
static atomic_int bad_owner, bad_excl, bad_ret, bad_unlock;
static atomic_int stop_signaller;
static atomic_int tids[THREADS];

static int tid(void) { return (int)syscall(SYS_gettid); }

/* As pthread's PI mutexes and gVisor's test helpers: the uncontended cases are a cmpxchg in user
 * space (0 to the caller's tid to lock, the tid to 0 to unlock), the kernel only otherwise. */
static long fx(int op) {
  int expected = op == FUTEX_UNLOCK_PI ? tid() : 0;
  if (atomic_compare_exchange_strong(word, &expected, op == FUTEX_UNLOCK_PI ? 0 : tid())) return 0;
  return syscall(SYS_futex, word, op | (priv ? FUTEX_PRIVATE_FLAG : 0), 0, NULL, NULL, 0);
}

static void crit(int me) {
  if ((atomic_load(word) & FUTEX_TID_MASK) != me) atomic_fetch_add(&bad_owner, 1);
  if (atomic_fetch_add(&inside, 1) != 0) atomic_fetch_add(&bad_excl, 1);
  struct timespec ts = {0, 200 * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  if ((atomic_load(word) & FUTEX_TID_MASK) != me) atomic_fetch_add(&bad_owner, 1);
  atomic_fetch_sub(&inside, 1);
  if (fx(FUTEX_UNLOCK_PI) != 0) atomic_fetch_add(&bad_unlock, 1);
}

/* mode 0: trylock only; 1: lock only; 2: even threads lock, odd ones trylock. */
static int mode;

static void *worker(void *arg) {
  long idx = (long)arg;
  int me = tid();
  atomic_store(&tids[idx], me);
  int use_try = mode == 0 || (mode == 2 && (idx & 1));
  for (int j = 0; j < ROUNDS;) {
    long r = fx(use_try ? FUTEX_TRYLOCK_PI : FUTEX_LOCK_PI);
    if (r == 0) {
      j++;
      crit(me);
    } else if (!(r == -1 && (errno == EAGAIN || errno == EINTR))) {
      atomic_fetch_add(&bad_ret, 1);
      printf("unexpected: %ld errno %d (%s)\n", r, errno, use_try ? "trylock" : "lock");
      return NULL;
    } else if (use_try) {
      sched_yield();
    }
  }
  return NULL;
}

static void on_sig(int s) { (void)s; }

static pthread_t workers[THREADS];

static void *signaller(void *arg) {
  (void)arg;
  int k = 0;
  while (!atomic_load(&stop_signaller)) {
    /* By tid: a worker may have finished (its tid is then ESRCH, never reused meanwhile). */
    int t = atomic_load(&tids[k % THREADS]);
    if (t != 0) syscall(SYS_tgkill, getpid(), t, (k & 1) ? SIGUSR1 : SIGUSR2);
    k++;
    struct timespec ts = {0, 300 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void run(const char *name, int m, int signals) {
  mode = m;
  atomic_store(word, 0);
  atomic_store(&stop_signaller, 0);
  bad_owner = bad_excl = bad_ret = bad_unlock = 0;
  memset(tids, 0, sizeof tids);
  for (long i = 0; i < THREADS; i++) pthread_create(&workers[i], NULL, worker, (void *)i);
  pthread_t sig;
  if (signals) pthread_create(&sig, NULL, signaller, NULL);
  for (int i = 0; i < THREADS; i++) pthread_join(workers[i], NULL);
  atomic_store(&stop_signaller, 1);
  if (signals) pthread_join(sig, NULL);
  printf("%s %s%s: wrong owner %d, two inside %d, bad result %d, bad unlock %d, word %d\n",
         priv ? "private" : "shared", name, signals ? " with signals" : "", atomic_load(&bad_owner),
         atomic_load(&bad_excl), atomic_load(&bad_ret), atomic_load(&bad_unlock), atomic_load(word));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, NULL);
  for (int big = 0; big <= 1; big++) {
    if (big) {
      char *m = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      word = (atomic_int *)(m + (4 << 20));
      printf("in an 8 MiB mapping:\n");
    }
    for (priv = 1; priv >= 0; priv--) {
      for (int signals = 0; signals <= 1; signals++) {
        run("trylock", 0, signals);
        run("lock", 1, signals);
        run("lock and trylock", 2, signals);
      }
    }
  }
  return 0;
}
