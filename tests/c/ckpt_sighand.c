/*
 * Checkpoint and restore of a process sharing its signal handlers with its parent without
 * being one process with it (clone with CLONE_VM | CLONE_SIGHAND, not CLONE_THREAD), and of a
 * POSIX timer whose SIGEV_THREAD_ID thread exited. Before the checkpoint (while main waits for it on stdin):
 * the child sleeps in read(2); the timer's thread was joined. After it: a handler the parent
 * installs runs in the child, a disposition the child changes is the parent's too, and the
 * timer reads back and is deleted.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

static volatile int handled_by;
static int p[2];
static char stack[65536] __attribute__((aligned(16)));

static void on_usr1(int s) {
  (void)s;
  handled_by = (int)syscall(SYS_getpid);
}

static int child(void *arg) {
  (void)arg;
  char c;
  if (syscall(SYS_read, p[0], &c, 1) != 1) return 3;
  syscall(SYS_kill, syscall(SYS_getpid), SIGUSR1);
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  syscall(SYS_rt_sigaction, SIGUSR2, &ign, NULL, 8);
  return handled_by == (int)syscall(SYS_getpid) ? 0 : 4;
}

static timer_t tm;
static int created = -1;

/* Makes a timer that signals this thread (SIGEV_THREAD_ID), then exits. */
static void *short_lived(void *arg) {
  (void)arg;
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGUSR2;
  ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  created = timer_create(CLOCK_MONOTONIC, &ev, &tm);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (pipe(p)) return 2;
  pid_t c = clone(child, stack + sizeof stack, CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
  if (c < 0) return 2;
  pthread_t th;
  pthread_create(&th, NULL, short_lived, NULL);
  pthread_join(th, NULL);
  printf("armed\n");
  await_checkpoint(); /* the checkpoint comes here */

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  write(p[1], "x", 1);
  int st;
  waitpid(c, &st, 0);
  struct sigaction now;
  sigaction(SIGUSR2, NULL, &now);
  printf("child exit %d, handler ran in the child %d, SIGUSR2 ignored for the parent too %d\n", WEXITSTATUS(st),
         handled_by == c, now.sa_handler == SIG_IGN);
  struct itimerspec its = {{7, 0}, {7, 0}};
  int got = created == 0 ? timer_gettime(tm, &its) : -1;
  printf("timer of an exited thread: created %d, gettime %d value %ld, delete %d\n", created, got, (long)its.it_value.tv_sec,
         created == 0 ? timer_delete(tm) : -1);
  return 0;
}
