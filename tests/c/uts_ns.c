/* UTS namespaces: unshare(CLONE_NEWUTS) and clone(CLONE_NEWUTS) give a process host and
 * domain names of its own (uname, /proc/sys/kernel/hostname), the parent's stay; unshare's
 * other checks (unknown flags, CLONE_FILES/CLONE_FS, CLONE_THREAD in a multithreaded
 * process). The native run is in a UTS namespace of its own. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void show(const char *who) {
  struct utsname u;
  uname(&u);
  char b[80] = {0};
  int fd = open("/proc/sys/kernel/hostname", O_RDONLY);
  read(fd, b, sizeof(b) - 1);
  close(fd);
  b[strcspn(b, "\n")] = 0;
  printf("%s: uname %s, /proc %s\n", who, u.nodename, b);
}

static void *idle(void *arg) {
  (void)arg;
  usleep(200 * 1000);
  return NULL;
}

static char stack[65536];

static int child_fn(void *arg) {
  (void)arg;
  sethostname("clone-name", 10);
  show("clone(CLONE_NEWUTS) child");
  return 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  sethostname("outer-name", 10);
  show("parent");
  pid_t c = fork();
  if (c == 0) {
    R("unshare(CLONE_NEWUTS)", unshare(CLONE_NEWUTS));
    R("sethostname", sethostname("inner-name", 10));
    show("child");
    _exit(0);
  }
  waitpid(c, NULL, 0);
  show("parent after");
  c = clone(child_fn, stack + sizeof(stack), CLONE_NEWUTS | SIGCHLD, NULL);
  waitpid(c, NULL, 0);
  show("parent after clone");
  R("unshare(unknown flag)", syscall(SYS_unshare, 0x1));
  R("unshare(CLONE_FILES | CLONE_FS)", unshare(CLONE_FILES | CLONE_FS));
  R("unshare(0)", unshare(0));
  pthread_t th;
  pthread_create(&th, NULL, idle, NULL);
  R("unshare(CLONE_THREAD) with two threads", syscall(SYS_unshare, CLONE_THREAD));
  pthread_join(th, NULL);
  R("unshare(CLONE_THREAD) alone", syscall(SYS_unshare, CLONE_THREAD));
  c = fork();
  if (c == 0) {
    setuid(65534);
    R("unshare(CLONE_NEWUTS) without CAP_SYS_ADMIN", unshare(CLONE_NEWUTS));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
