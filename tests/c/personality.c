/* personality(2): PER_LINUX at first, 0xffffffff queries, the old persona comes back on a set,
 * children inherit it and do not change their parent's, exec keeps ADDR_NO_RANDOMIZE and drops
 * READ_IMPLIES_EXEC. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    printf("after exec: %#x\n", personality(0xffffffff));
    return 0;
  }
  printf("at start: %#x\n", personality(0xffffffff));
  printf("set PER_BSD returns: %#x\n", personality(PER_BSD));
  printf("now: %#x\n", personality(0xffffffff));
  pid_t c = fork();
  if (c == 0) {
    printf("child inherits: %#x\n", personality(0xffffffff));
    personality(PER_HPUX);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  printf("parent keeps: %#x\n", personality(0xffffffff));
  personality(PER_LINUX | ADDR_NO_RANDOMIZE | READ_IMPLIES_EXEC);
  fflush(stdout);
  execl("/proc/self/exe", argv[0], "again", (char *)NULL);
  return 1;
}
