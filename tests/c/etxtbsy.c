/* ETXTBSY: a running program cannot be opened for writing (open, O_TRUNC, creat, truncate(2))
 * while any process runs it (a fork of it too), and a file open for writing cannot be
 * executed; both end when the last of them goes. The program is a copy of this one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %s\n", name, r_ < 0 ? strerrorname_np(errno) : "ok"); } while (0)

static char prog[64];

/* The copy runs: "hold WFD" tells the parent through WFD that it runs, then waits to be
 * killed; "forkhold WFD" leaves a child of it doing so and exits. */
static int copy_main(int argc, char **argv) {
  if (argc < 3) return 0;
  int wfd = atoi(argv[2]);
  if (strcmp(argv[1], "forkhold") == 0) {
    if (fork() != 0) return 0;
  }
  pid_t me = getpid();
  write(wfd, &me, sizeof me);
  for (;;) pause();
}

static void copy_self(void) {
  int in = open("/proc/self/exe", O_RDONLY);
  int out = open(prog, O_CREAT | O_WRONLY | O_TRUNC, 0755);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
  close(in);
  close(out);
}

/* Starts the copy in `mode`; returns once it runs: the pid of the process that keeps running it
 * (*first: the one started). */
static pid_t start(const char *mode, pid_t *first) {
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    char fd[16];
    snprintf(fd, sizeof fd, "%d", p[1]);
    close(p[0]);
    execl(prog, "copy", mode, fd, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  pid_t runner = -1;
  read(p[0], &runner, sizeof runner);
  close(p[0]);
  if (first) *first = c;
  return runner;
}

static void probe(const char *when) {
  printf("-- %s\n", when);
  int fd;
  R("open O_WRONLY", fd = open(prog, O_WRONLY));
  if (fd >= 0) close(fd);
  R("open O_RDWR", fd = open(prog, O_RDWR));
  if (fd >= 0) close(fd);
  R("open O_RDONLY", fd = open(prog, O_RDONLY));
  if (fd >= 0) close(fd);
  R("open O_RDONLY|O_TRUNC", fd = open(prog, O_RDONLY | O_TRUNC));
  if (fd >= 0) close(fd);
  R("creat", fd = creat(prog, 0755));
  if (fd >= 0) close(fd);
  R("truncate to its size", ({ struct stat st; stat(prog, &st); truncate(prog, st.st_size); }));
}

int main(int argc, char **argv) {
  if (strcmp(argv[0], "copy") == 0) return copy_main(argc, argv);
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/etxtbsyXXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  snprintf(prog, sizeof prog, "%s/prog", dir);
  copy_self();

  pid_t c = start("hold", NULL);
  probe("while a process runs it");
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  copy_self(); /* a creat that worked emptied it */
  probe("after it exited");
  copy_self();

  /* The fork that keeps running it becomes our child when its parent exits. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t first;
  pid_t runner = start("forkhold", &first);
  waitpid(first, NULL, 0);
  printf("-- the program's first process exited, its fork runs it\n");
  int fd;
  R("open O_WRONLY", fd = open(prog, O_WRONLY));
  kill(runner, SIGKILL);
  waitpid(runner, NULL, 0);
  R("open O_WRONLY once the fork is gone", fd = open(prog, O_WRONLY));

  printf("-- exec of a file open for writing\n");
  c = fork();
  if (c == 0) {
    execl(prog, "copy", (char *)NULL);
    _exit(errno);
  }
  int st;
  waitpid(c, &st, 0);
  printf("execve while open O_WRONLY = %s\n", WEXITSTATUS(st) == 0 ? "ok" : strerrorname_np(WEXITSTATUS(st)));
  close(fd);
  fd = open(prog, O_RDONLY);
  c = fork();
  if (c == 0) {
    execl(prog, "copy", (char *)NULL);
    _exit(errno);
  }
  waitpid(c, &st, 0);
  printf("execve while open O_RDONLY = %s\n", WEXITSTATUS(st) == 0 ? "ok" : strerrorname_np(WEXITSTATUS(st)));
  close(fd);
  unlink(prog);
  rmdir(dir);
  return 0;
}
