/*
 * execve from a thread other than the leader: the new image runs as the process's only thread,
 * with the process id as its thread id (Linux's de_thread), and its parent waits for that pid.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char *self;

static void *run(void *arg) {
  (void)arg;
  execl(self, self, "after", (char *)0);
  return NULL;
}

static int tasks(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", getpid());
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    n++;
    char want[16];
    snprintf(want, sizeof want, "%d", getpid());
    if (strcmp(e->d_name, want) != 0) n += 100; /* a task that is not the process id */
  }
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  if (argc > 1) {
    printf("after exec: tid is pid %d, tasks %d\n", getpid() == (pid_t)syscall(SYS_gettid), tasks());
    return 7;
  }
  self = argv[0];
  pid_t c = fork();
  if (c == 0) {
    pthread_t t;
    pthread_create(&t, NULL, run, NULL);
    pause();
    return 1;
  }
  int st;
  pid_t w = waitpid(c, &st, 0);
  printf("waited for the child: %d, status %d\n", w == c, WEXITSTATUS(st));
  return 0;
}
