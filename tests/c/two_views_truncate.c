/* One host file seen through two views (the overlay's path and, because --overlay-upper lies
 * inside the root, the host path of the upper file): truncated through one while read and
 * mapped through the other. Reads see the new size; a mapped page past the end is SIGBUS to the
 * program, never to the sentry. argv[1]: the upper directory's path inside the sandbox. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) return 2;
  static char buf[1 << 20];
  memset(buf, 'x', sizeof(buf));
  mkdir("/two-views", 0755);
  int w = open("/two-views/F", O_CREAT | O_TRUNC | O_RDWR, 0644);
  for (int i = 0; i < 4; i++) write(w, buf, sizeof(buf));
  char other[512];
  snprintf(other, sizeof(other), "%s/two-views/F", argv[1]);
  int r = open(other, O_RDONLY);
  printf("other view opens: %d\n", r >= 0);
  char *m = mmap(NULL, 4 << 20, PROT_READ, MAP_SHARED, r, 0);
  printf("mapped: %d, byte %c\n", m != MAP_FAILED, m != MAP_FAILED ? m[3 << 20] : '?');
  printf("truncate through the overlay: %d\n", ftruncate(w, 0));
  printf("read through the other view: %ld\n", (long)pread(r, buf, sizeof(buf), 2 << 20));
  pid_t pid = fork();
  if (pid == 0) {
    volatile char c = m[3 << 20];
    (void)c;
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("a child touching the mapping past the end: %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS ? "SIGBUS" : "no SIGBUS");
  printf("the sentry is still here: %d\n", getpid() > 0);
  return 0;
}
