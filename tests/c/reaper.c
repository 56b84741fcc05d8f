/* Test helper, run on the host: `reaper PROGRAM ARGS...` runs PROGRAM as a child subreaper's
 * child, waits for it, then counts the host processes it left behind (descendants orphaned to
 * the reaper, alive or zombie), kills them, and prints `leftover=N` on stderr. Exits with
 * PROGRAM's status (128+N if a signal killed it). */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Children of this process that are still alive, by scanning /proc/PID/stat for our pid. */
static int kill_children(void) {
  int n = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *rp = strrchr(buf, ')');
    int ppid = 0;
    char state;
    if (rp && sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == getpid()) {
      n++;
      char *lp = strchr(buf, '(');
      fprintf(stderr, "left behind: %d %.*s state %c\n", pid, lp ? (int)(rp - lp + 1) : 0, lp ? lp : "", state);
      kill(pid, SIGKILL);
    }
  }
  if (d) closedir(d);
  return n;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t c = fork();
  if (c == 0) {
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  int left = kill_children();
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
  fprintf(stderr, "leftover=%d\n", left);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
