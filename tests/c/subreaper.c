/* Runs a command as a child subreaper (PR_SET_CHILD_SUBREAPER), so that every process the
 * command leaves behind when it exits becomes this program's child. After the command exits it
 * gives the orphans two seconds to die (stubs are killed as their tracer exits), reaping them,
 * then kills and reaps the rest and prints, as its last line on stderr, "subreaper: left N":
 * the number of processes still alive after the grace period. Exits with the command's status
 * (128+N when signal N killed it). tests/hostile_limits_test.ts uses it to check that the
 * sentry leaves no process behind. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Children of this process that are not zombies; kills them when kill_them. */
static int live_children(int kill_them) {
  int n = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char path[300], buf[512];
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *close = strrchr(buf, ')');
    if (!close) continue;
    char state;
    int ppid;
    if (sscanf(close + 2, "%c %d", &state, &ppid) != 2) continue;
    if (ppid != getpid() || state == 'Z') continue;
    n++;
    if (kill_them) kill(atoi(e->d_name), SIGKILL);
  }
  if (d) closedir(d);
  return n;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t c = fork();
  if (c == 0) {
    execvp(argv[1], argv + 1);
    perror("execvp");
    _exit(127);
  }
  int st, code;
  while (waitpid(c, &st, 0) < 0) {
  }
  code = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
  int left = 0;
  for (int i = 0; i < 200; i++) {
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
    left = live_children(0);
    if (left == 0) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, 0);
  }
  if (left > 0) {
    live_children(1);
    while (wait(0) > 0) {
    }
  }
  fprintf(stderr, "subreaper: left %d\n", left);
  return code;
}
