/* 8 threads contending on a mutex and a condition variable for 10^5 iterations each. */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter, turns;
static int ready;

static void *work(void *arg) {
  long id = (long)arg;
  pthread_mutex_lock(&mu);
  while (!ready) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < 100000; i++) {
    pthread_mutex_lock(&mu);
    counter += id;
    if (i % 1000 == 0) {
      turns++;
      pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
  }
  return (void *)id;
}

int main(void) {
  pthread_t t[8];
  for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, work, (void *)(i + 1));
  pthread_mutex_lock(&mu);
  ready = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  long sum = 0;
  for (int i = 0; i < 8; i++) {
    void *r;
    pthread_join(t[i], &r);
    sum += (long)r;
  }
  printf("counter=%ld turns=%ld sum=%ld\n", counter, turns, sum);
  return 0;
}
