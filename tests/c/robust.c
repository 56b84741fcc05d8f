/* Robust futex lists: a thread (or a process, through shared memory) that dies holding a robust
 * mutex makes the next locker get EOWNERDEAD, whether it was already waiting or locks later;
 * get_robust_list reports what glibc registered. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t *mu;
static int ready[2];

static void *holder(void *arg) {
  pthread_mutex_lock(mu);
  if (write(ready[1], "h", 1) < 0) return NULL;
  if (arg) usleep(20000); /* let the main thread block on the mutex */
  return NULL;            /* exits holding the mutex */
}

static void init_mutex(pthread_mutex_t *m, int pshared) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (pshared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(m, &a);
}

static void relock(const char *what) {
  int r = pthread_mutex_lock(mu);
  printf("%s: lock=%s", what, r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : strerror(r));
  if (r == EOWNERDEAD) printf(" consistent=%d", pthread_mutex_consistent(mu));
  printf(" unlock=%d", pthread_mutex_unlock(mu));
  r = pthread_mutex_lock(mu);
  printf(" again=%d\n", r);
  pthread_mutex_unlock(mu);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  void *head = NULL;
  size_t len = 0;
  long r = syscall(SYS_get_robust_list, 0, &head, &len);
  printf("get_robust_list: r=%ld head set=%d len=%zu\n", r, head != NULL, len);

  if (pipe(ready) < 0) return 1;
  pthread_mutex_t local;
  mu = &local;
  init_mutex(mu, 0);
  pthread_t th;
  char x;
  pthread_create(&th, NULL, holder, NULL);
  if (read(ready[0], &x, 1) != 1) return 1;
  pthread_join(th, NULL);
  relock("thread died, lock after");

  pthread_create(&th, NULL, holder, (void *)1);
  if (read(ready[0], &x, 1) != 1) return 1;
  relock("thread died, lock while waiting");
  pthread_join(th, NULL);

  mu = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  init_mutex(mu, 1);
  pid_t c = fork();
  if (c == 0) {
    pthread_mutex_lock(mu);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  relock("process died");
  return 0;
}
