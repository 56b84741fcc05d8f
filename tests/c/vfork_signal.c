/* A signal that comes while vfork waits for its child does not interrupt the wait (Linux's
 * wait_for_vfork_done is killable only): vfork returns the child's pid, never EINTR (nor a
 * second child, as a restart would make), and the handler runs once vfork has returned. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void on_chld(int s) { (void)s; handled++; }
static void nap(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa = {0};
  sa.sa_handler = on_chld; /* no SA_RESTART */
  sigaction(SIGCHLD, &sa, NULL);
  pid_t first = fork();
  if (first == 0) {
    nap(100);
    _exit(3);
  }
  pid_t child = vfork();
  if (child == 0) {
    nap(500);
    _exit(4);
  }
  int in_vfork = handled;
  printf("vfork returned a pid: %d\n", child > 0);
  printf("the first child's SIGCHLD was handled by then: %d\n", in_vfork >= 1);
  int st, children = 0;
  while (wait(&st) > 0) children++;
  printf("children reaped: %d\n", children);
  return 0;
}
