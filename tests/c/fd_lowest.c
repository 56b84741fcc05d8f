/* The lowest free descriptor with thousands open: open(2), dup(2) and F_DUPFD pick the lowest
 * free one after closes far below and above, after dup2 to a high number, and in a forked
 * child; 20,000 descriptors take linear time in the sentry (LTP's fork09), so a quadratic
 * search would time this out rather than pass. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 6000

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int fd = 3; fd < 1024; fd++) close(fd);
  struct rlimit rl = {N + 100, N + 100};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { perror("setrlimit"); return 1; }
  int last = -1;
  for (int i = 0; i < N; i++) {
    last = open("/dev/null", O_RDONLY);
    if (last < 0) { perror("open"); return 1; }
  }
  printf("last %d\n", last);
  close(4000); close(17); close(5000);
  printf("open %d\n", open("/dev/null", O_RDONLY));
  printf("dup %d\n", dup(0));
  printf("F_DUPFD 100 %d\n", fcntl(0, F_DUPFD, 100));
  printf("open %d\n", open("/dev/null", O_RDONLY));
  printf("dup2 %d\n", dup2(0, N + 50));
  printf("open %d\n", open("/dev/null", O_RDONLY));
  close(3); close(2000);
  pid_t p = fork();
  if (p == 0) {
    printf("child open %d\n", open("/dev/null", O_RDONLY));
    printf("child open %d\n", open("/dev/null", O_RDONLY));
    printf("child F_DUPFD 1999 %d\n", fcntl(0, F_DUPFD, 1999));
    _exit(0);
  }
  waitpid(p, NULL, 0);
  printf("F_DUPFD 2500 %d\n", fcntl(0, F_DUPFD, 2500));
  printf("open %d\n", open("/dev/null", O_RDONLY));
  printf("open %d\n", open("/dev/null", O_RDONLY));
  printf("open %d\n", open("/dev/null", O_RDONLY));
  return 0;
}
