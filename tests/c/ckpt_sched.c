/*
 * Checkpoint and restore of a thread's placement policies and of chroot. Before the checkpoint
 * (while main waits for it on stdin): main's CPU affinity is CPU 0 and its NUMA policy MPOL_BIND to node 0 with
 * MPOL_F_STATIC_NODES; a forked child inherits both and chroots into a directory of /tmp, and
 * sleeps in read(2). After it: both still report their affinity and policy, and the child still
 * sees its directory as / (its file there, nothing of the sandbox's / beside it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_ckpt.h"

#define MPOL_BIND 2
#define MPOL_F_STATIC_NODES (1 << 15)

static void report(const char *who) {
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  int mode = -1;
  unsigned long nodes = 0;
  syscall(SYS_get_mempolicy, &mode, &nodes, 64, 0, 0);
  printf("%s: cpus %d cpu0 %d, mempolicy mode %d flags %#x nodes %lu\n", who, CPU_COUNT(&s), CPU_ISSET(0, &s),
         mode & 0xff, mode & ~0xff, nodes);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/ckpt-chroot-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  char path[128];
  snprintf(path, sizeof path, "%s/marker", dir);
  FILE *f = fopen(path, "w");
  if (!f) return 2;
  fputs("inside the chroot\n", f);
  fclose(f);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  if (sched_setaffinity(0, sizeof one, &one)) return 2;
  unsigned long node0 = 1;
  if (syscall(SYS_set_mempolicy, MPOL_BIND | MPOL_F_STATIC_NODES, &node0, 64)) return 3;
  int p[2], chrooted[2];
  if (pipe(p) || pipe(chrooted)) return 2;
  pid_t child = fork();
  if (child == 0) {
    close(p[1]);
    close(chrooted[0]);
    if (chdir(dir) || chroot(".")) _exit(4);
    /* "armed" waits for this: a checkpoint must find the child chrooted (a loaded host ran it later). */
    if (write(chrooted[1], "c", 1) != 1) _exit(6);
    close(chrooted[1]);
    char c;
    if (read(p[0], &c, 1) != 1) _exit(5);
    report("child");
    char buf[64] = {0};
    int fd = open("/marker", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    char cwd[64] = {0};
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "?");
    int tmp = open(dir, O_RDONLY);
    printf("child: /marker %zd '%.17s', cwd %s, the sandbox's directory seen %d\n", n, buf, cwd, tmp >= 0);
    _exit(0);
  }
  close(p[0]);
  close(chrooted[1]);
  char c;
  if (read(chrooted[0], &c, 1) != 1) return 7;
  close(chrooted[0]);
  printf("armed\n");
  await_checkpoint(); /* the checkpoint comes here */
  report("main");
  write(p[1], "x", 1);
  int st;
  waitpid(child, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));
  unlink(path);
  rmdir(dir);
  return 0;
}
