/* Many processes: 1000 fork/exit cycles; RLIMIT_NPROC for a non-root user (a fork bomb that
 * ends, threads counted too) and not for root. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Forks until fork fails; every child does the same. Returns whether EAGAIN was seen. */
static int bomb(void) {
  int saw_eagain = 0;
  for (int n = 0; n < 1000; n++) {
    pid_t c = fork();
    if (c == 0) {
      saw_eagain = 0;
      continue; /* the child goes on forking */
    }
    if (c < 0) {
      saw_eagain = errno == EAGAIN;
      break;
    }
  }
  while (wait(NULL) > 0) {}
  return saw_eagain;
}

static void *idle(void *arg) {
  (void)arg;
  pause();
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long sum = 0;
  for (int i = 0; i < 1000; i++) {
    pid_t c = fork();
    if (c == 0) _exit(i & 0x7f);
    int st;
    if (waitpid(c, &st, 0) != c) { printf("waitpid failed at %d\n", i); return 1; }
    sum += WEXITSTATUS(st);
  }
  printf("1000 fork/exit cycles: status sum=%ld\n", sum);

  struct rlimit one = {1, 1};
  setrlimit(RLIMIT_NPROC, &one);
  pid_t c = fork();
  if (c == 0) _exit(0);
  printf("root ignores RLIMIT_NPROC=1: fork ok=%d\n", c > 0);
  waitpid(c, NULL, 0);

  c = fork();
  if (c == 0) {
    struct rlimit lim = {20, 20};
    setrlimit(RLIMIT_NPROC, &lim);
    if (setgid(65534) != 0 || setuid(65534) != 0) { printf("setuid failed\n"); _exit(1); }
    /* A thread counts against the limit too: with 20 allowed, 25 threads cannot all start. */
    int started = 0, err = 0;
    pthread_t th[25];
    for (int i = 0; i < 25; i++) {
      err = pthread_create(&th[i], NULL, idle, NULL);
      if (err != 0) break;
      started++;
    }
    printf("as uid 65534: threads stopped by the limit=%d err=EAGAIN:%d\n", started < 25, err == EAGAIN);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  c = fork();
  if (c == 0) {
    struct rlimit lim = {30, 30};
    setrlimit(RLIMIT_NPROC, &lim);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(1);
    pid_t me = getpid();
    int r = bomb();
    if (getpid() != me) _exit(0); /* the bomb's children end quietly */
    printf("fork bomb ended, EAGAIN seen=%d\n", r);
    _exit(0);
  }
  waitpid(c, &st, 0);
  printf("bomb process exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));
  c = fork();
  if (c == 0) _exit(0);
  printf("forks work after the bomb: %d\n", c > 0);
  waitpid(c, NULL, 0);
  return 0;
}
