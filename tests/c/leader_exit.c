/*
 * A process whose threads all end with exit(2), never exit_group: the leader first (status 3),
 * the last thread after it (status 5). wait(2) reports the last thread's status on this host's
 * Linux (6.x), not the leader's.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_t leader;

static void *last(void *arg) {
  (void)arg;
  /* Returns once the leader's exit cleared its tid (CLONE_CHILD_CLEARTID from glibc's start). */
  pthread_join(leader, NULL);
  syscall(SYS_exit, 5);
  return NULL;
}

int main(void) {
  pid_t c = fork();
  if (c == 0) {
    leader = pthread_self();
    pthread_t t;
    if (pthread_create(&t, NULL, last, NULL) != 0) _exit(99);
    syscall(SYS_exit, 3);
  }
  int st;
  if (waitpid(c, &st, 0) != c) return 1;
  printf("exited %d status %d\n", WIFEXITED(st), WEXITSTATUS(st));
  return 0;
}
