/* The vsyscall page: /proc/self/maps lists it last as [vsyscall] when the kernel has one (and
 * gVisor's suite gates its vsyscall tests on that line); its time() and gettimeofday() entries
 * answer with the time; a bad pointer given to one kills with SIGSEGV. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char line[512], last[512] = "";
  int found = 0;
  FILE *f = fopen("/proc/self/maps", "r");
  while (fgets(line, sizeof(line), f)) {
    strcpy(last, line);
    if (strstr(line, "[vsyscall]")) found = 1;
  }
  fclose(f);
  if (!found) {
    printf("no vsyscall page\n");
    return 0;
  }
  printf("last line: %s", last);
  time_t (*vtime)(time_t *) = (time_t(*)(time_t *))0xffffffffff600400;
  int (*vgtod)(struct timeval *, void *) = (int (*)(struct timeval *, void *))0xffffffffff600000;
  time_t t1 = time(NULL), t2 = 0;
  time_t t3 = vtime(&t2);
  printf("vsyscall time: same value returned and stored %d, within 5 s %d\n", t3 == t2, t3 >= t1 && t3 <= t1 + 5);
  struct timeval tv = {0, 0};
  int r = vgtod(&tv, NULL);
  printf("vsyscall gettimeofday: %d, within 5 s %d\n", r, tv.tv_sec >= t1 && tv.tv_sec <= t1 + 5);
  for (int i = 0; i < 2; i++) {
    pid_t p = fork();
    if (p == 0) {
      if (i == 0) vtime((time_t *)1);
      else vgtod((struct timeval *)1, (void *)1);
      _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("%s with a bad pointer: killed by SIGSEGV %d\n", i == 0 ? "time" : "gettimeofday", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
  }
  return 0;
}
