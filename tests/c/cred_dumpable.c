/* Who is dumpable after set*id and exec (commit_creds, begin_new_exec), and the parent-death
 * signal, which follows the parent thread, not the process. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;
static int ready[2];

static void *forker(void *arg) {
  (void)arg;
  child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    write(ready[1], "r", 1);
    for (;;) pause();
  }
  char c;
  read(ready[0], &c, 1);
  return NULL; /* this thread ends: the child's parent thread is gone */
}

/* Copies this program to path with mode. */
static void copy_self(const char *path, mode_t mode) {
  int in = open("/proc/self/exe", O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
  close(in);
  close(out);
  chmod(path, mode);
}

static void run(const char *what, const char *path, int uid) {
  pid_t p = fork();
  if (p == 0) {
    if (uid >= 0 && setresuid(uid, uid, uid) != 0) _exit(9);
    printf("%s: before exec dumpable %d\n", what, prctl(PR_GET_DUMPABLE));
    fflush(stdout);
    execl(path, path, "report", what, (char *)NULL);
    _exit(8);
  }
  int st;
  waitpid(p, &st, 0);
}

/* A set-user-ID exec by a process that shares its filesystem context (CLONE_FS) with another
 * raises no ids (LSM_UNSAFE_SHARE). */
static char clone_stack[65536] __attribute__((aligned(16)));
static const char *clone_path;
static int clonefs_child(void *arg) {
  (void)arg;
  if (setresuid(12345, 12345, 12345) != 0) _exit(9);
  execl(clone_path, clone_path, "report", "set-user-ID root under CLONE_FS", (char *)NULL);
  _exit(8);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 3 && strcmp(argv[1], "report") == 0) {
    printf("%s: after exec euid %d dumpable %d\n", argv[2], geteuid(), prctl(PR_GET_DUMPABLE));
    return 0;
  }
  pipe(ready);
  pthread_t th;
  pthread_create(&th, NULL, forker, NULL);
  pthread_join(th, NULL);
  int st;
  waitpid(child, &st, 0);
  printf("child of an ended thread: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));

  printf("dumpable %d\n", prctl(PR_GET_DUMPABLE));
  pid_t p = fork();
  if (p == 0) {
    setresuid(0, 12345, 0);
    printf("after an euid change: %d\n", prctl(PR_GET_DUMPABLE));
    prctl(PR_SET_DUMPABLE, 1);
    setresuid(0, 12345, 12345);
    printf("after a saved-uid change only: %d\n", prctl(PR_GET_DUMPABLE));
    _exit(0);
  }
  waitpid(p, &st, 0);

  char dir[] = "/tmp/dumpXXXXXX";
  mkdtemp(dir);
  chmod(dir, 0755);
  char plain[64], suid[64], noread[64];
  snprintf(plain, sizeof plain, "%s/plain", dir);
  snprintf(suid, sizeof suid, "%s/suid", dir);
  snprintf(noread, sizeof noread, "%s/noread", dir);
  copy_self(plain, 0755);
  copy_self(suid, 04755);
  copy_self(noread, 0711);
  run("plain as 12345", plain, 12345);
  run("set-user-ID root as 12345", suid, 12345);
  run("unreadable as 12345", noread, 12345);
  run("unreadable as root", noread, -1);
  clone_path = suid;
  pid_t cf = clone(clonefs_child, clone_stack + sizeof clone_stack, CLONE_FS | SIGCHLD, NULL);
  waitpid(cf, &st, 0);
  unlink(plain);
  unlink(suid);
  unlink(noread);
  rmdir(dir);
  return 0;
}
