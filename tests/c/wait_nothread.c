/* __WNOTHREAD: a thread waits only for the children it created; without it, any thread of the
 * process waits for any of the process's children. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static pid_t child;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void *forker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  child = fork();
  if (child == 0) _exit(5);
  stage = 1;
  pthread_cond_broadcast(&cv);
  while (stage != 2) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  int st = 0;
  R("creating thread: waitpid(__WNOTHREAD)", waitpid(child, &st, __WNOTHREAD) == child);
  printf("status %d\n", WEXITSTATUS(st));
  return NULL;
}

static pid_t child2;
static void *fork_and_leave(void *arg) {
  (void)arg;
  child2 = fork();
  if (child2 == 0) _exit(6);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pthread_t th;
  pthread_create(&th, NULL, forker, NULL);
  pthread_mutex_lock(&mu);
  while (stage != 1) pthread_cond_wait(&cv, &mu);
  R("other thread: waitpid(__WNOTHREAD)", waitpid(child, NULL, __WNOTHREAD));
  R("other thread: waitid(__WNOTHREAD, WNOHANG)", waitid(P_PID, child, &(siginfo_t){0}, WEXITED | WNOHANG | WNOWAIT | __WNOTHREAD));
  siginfo_t si = {0};
  R("other thread: waitid(WNOWAIT) without __WNOTHREAD", waitid(P_PID, child, &si, WEXITED | WNOWAIT));
  printf("si_status %d\n", si.si_status);
  stage = 2;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(th, NULL);
  /* The children of a thread that has exited pass to its siblings. */
  pthread_create(&th, NULL, fork_and_leave, NULL);
  pthread_join(th, NULL);
  int st = 0;
  R("after the creator's exit: waitpid(__WNOTHREAD)", waitpid(child2, &st, __WNOTHREAD) == child2);
  printf("status %d\n", WEXITSTATUS(st));
  return 0;
}
