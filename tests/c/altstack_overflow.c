/*
 * A SIGSEGV handler on an alternate stack (SA_ONSTACK | SA_NODEFER) that raises SIGSEGV again
 * nests frame under frame; once the next frame would reach below the alternate stack's bottom,
 * Linux does not write it and kills the process with SIGSEGV (get_sigframe's overflow check).
 * The memory below the alternate stack is valid here, so only that check stops the descent.
 * A child does it; the parent prints how it ended and whether any handler ran below the stack.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ALT (64 * 1024)

static volatile uintptr_t *lowest; /* shared with the parent */
static volatile int *depth;
static char *alt_bottom;

static void handler(int sig) {
  char here;
  if ((uintptr_t)&here < *lowest) *lowest = (uintptr_t)&here;
  (*depth)++;
  if (*depth > 100000) _exit(3); /* never natively: the kernel stops the descent first */
  raise(sig);
}

int main(void) {
  void *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 1;
  lowest = shared;
  depth = (volatile int *)((char *)shared + 64);
  *lowest = UINTPTR_MAX;
  /* The lower half is ordinary memory the descent could run on if nothing stopped it. */
  char *mem = mmap(NULL, 2 * ALT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 1;
  alt_bottom = mem + ALT;
  pid_t c = fork();
  if (c == 0) {
    stack_t ss = {.ss_sp = alt_bottom, .ss_size = ALT};
    struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_ONSTACK | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSEGV, &sa, NULL) != 0) _exit(2);
    raise(SIGSEGV);
    _exit(0);
  }
  int st;
  if (waitpid(c, &st, 0) != c) return 1;
  if (WIFSIGNALED(st)) printf("child killed by signal %d\n", WTERMSIG(st));
  else printf("child exited %d\n", WEXITSTATUS(st));
  printf("handlers nested: %s\n", *depth > 1 ? "more than one" : "one or none");
  printf("a handler ran below the alternate stack: %s\n", *lowest < (uintptr_t)alt_bottom ? "yes" : "no");
  return 0;
}
