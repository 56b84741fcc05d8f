/* splice(2) with a file that has no splice operations (a directory, eventfd, timerfd, signalfd,
 * epoll, inotify, a POSIX message queue): EINVAL at once in either direction, even when the pipe
 * is empty (no wait); regular files, /dev/zero and sockets still splice. Output: the same
 * natively and in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "_check.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  alarm(20); /* a splice that waits instead of failing ends the run */
  int p[2];
  pipe(p);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  char name[32];
  snprintf(name, sizeof name, "/splice-ops-%d", (int)getpid());
  struct mq_attr ma = {.mq_maxmsg = 4, .mq_msgsize = 16};
  mqd_t mq = mq_open(name, O_CREAT | O_RDWR, 0600, &ma);
  struct {
    const char *name;
    int fd;
  } fds[] = {
    {"directory", open("/", O_RDONLY | O_DIRECTORY)},
    {"eventfd", eventfd(0, 0)},
    {"timerfd", timerfd_create(CLOCK_MONOTONIC, 0)},
    {"signalfd", signalfd(-1, &set, 0)},
    {"epoll", epoll_create1(0)},
    {"inotify", inotify_init1(0)},
    {"mqueue", (int)mq},
  };
  for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++) {
    printf("%s:\n", fds[i].name);
    R("  pipe (empty) -> it", splice(p[0], NULL, fds[i].fd, NULL, 16, 0));
    R("  it -> pipe", splice(fds[i].fd, NULL, p[1], NULL, 16, 0));
  }
  mq_unlink(name);
  int z = open("/dev/zero", O_RDONLY);
  R("/dev/zero -> pipe", splice(z, NULL, p[1], NULL, 16, 0));
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  R("pipe -> socket", splice(p[0], NULL, sv[0], NULL, 16, 0));
  char tmp[] = "/tmp/splice-ops-XXXXXX";
  int f = mkstemp(tmp);
  unlink(tmp);
  write(f, "0123456789", 10);
  lseek(f, 0, SEEK_SET);
  R("file -> pipe", splice(f, NULL, p[1], NULL, 16, 0));
  R("pipe -> file", splice(p[0], NULL, f, NULL, 16, 0));
  return 0;
}
