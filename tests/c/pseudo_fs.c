/* The pseudo filesystems behind descriptors that are no file of a mount: fstatfs of a pipe,
 * sockets, eventfd, epoll, timerfd, signalfd, inotify, memfd and pidfd (type, block size, name
 * length), and the mode a unix socket's fchmod gives it, which bind(2) then gives its file
 * (less the umask); a pipe's fchmod and fchown change the inode both its ends share; anonymous
 * inodes take no attribute change. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void fs(const char *what, int fd) {
  struct statfs st;
  memset(&st, 0, sizeof(st));
  errno = 0;
  int r = fstatfs(fd, &st);
  printf("%s: fstatfs %d %s type %#lx bsize %ld namelen %ld\n", what, r, r < 0 ? en(errno) : "",
         (unsigned long)st.f_type, (long)st.f_bsize, (long)st.f_namelen);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  pipe(p);
  fs("pipe", p[0]);
  fs("unix stream socket", socket(AF_UNIX, SOCK_STREAM, 0));
  fs("unix dgram socket", socket(AF_UNIX, SOCK_DGRAM, 0));
  fs("inet stream socket", socket(AF_INET, SOCK_STREAM, 0));
  fs("inet6 dgram socket", socket(AF_INET6, SOCK_DGRAM, 0));
  fs("netlink socket", socket(AF_NETLINK, SOCK_RAW, 0));
  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  fs("socketpair", sp[0]);
  fs("eventfd", eventfd(0, 0));
  fs("epoll", epoll_create1(0));
  fs("timerfd", timerfd_create(CLOCK_MONOTONIC, 0));
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  fs("signalfd", signalfd(-1, &set, 0));
  fs("inotify", inotify_init1(0));
  fs("memfd", (int)syscall(SYS_memfd_create, "x", 0));
  fs("pidfd", (int)syscall(SYS_pidfd_open, getpid(), 0));

  /* A socket's own mode: fstat shows it, fchmod changes it, bind gives it less the umask. */
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct stat sb;
  fstat(s, &sb);
  printf("new socket mode %o\n", sb.st_mode);
  R("fchmod(0765)", fchmod(s, 0765));
  fstat(s, &sb);
  printf("after fchmod mode %o\n", sb.st_mode);
  R("fchmod(S_ISUID|0700)", fchmod(s, S_ISUID | 04700));
  fstat(s, &sb);
  printf("after fchmod setuid mode %o\n", sb.st_mode);
  R("fchmod(0765) again", fchmod(s, 0765));
  umask(0123);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/pseudo_fs_sock_%d", getpid());
  unlink(a.sun_path);
  R("bind", bind(s, (struct sockaddr *)&a, sizeof(a)));
  stat(a.sun_path, &sb);
  printf("bound file mode %o\n", sb.st_mode);
  fstat(s, &sb);
  printf("socket mode after bind %o\n", sb.st_mode);
  unlink(a.sun_path);
  R("fchown(-1, -1)", fchown(s, -1, -1));
  R("fchown(1, 1)", fchown(s, 1, 1));
  fstat(s, &sb);
  printf("owner after fchown %d %d\n", sb.st_uid, sb.st_gid);
  int q[2];
  pipe(q);
  fstat(q[0], &sb);
  printf("new pipe mode %o owner %d %d\n", sb.st_mode, sb.st_uid, sb.st_gid);
  R("fchmod of a pipe's read end", fchmod(q[0], 0640));
  fstat(q[1], &sb);
  printf("its write end's mode %o\n", sb.st_mode);
  R("fchown of a pipe's write end", fchown(q[1], 2, 3));
  fstat(q[0], &sb);
  printf("its read end's owner %d %d\n", sb.st_uid, sb.st_gid);
  int ev = eventfd(0, 0);
  R("fchmod of an eventfd", fchmod(ev, 0600));
  R("fchown of an eventfd", fchown(ev, 0, 0));
  R("futimens of an eventfd", futimens(ev, NULL));
  R("fchmod of an epoll", fchmod(epoll_create1(0), 0600));
  R("fchmodat(AT_EMPTY_PATH) of a socket", fchmodat(s, "", 0700, AT_EMPTY_PATH));
  fstat(s, &sb);
  printf("socket mode after fchmodat %o\n", sb.st_mode);
  pid_t child = fork();
  if (child == 0) {
    setresgid(1000, 1000, 1000);
    setresuid(1000, 1000, 1000);
    R("fchmod of another user's socket", fchmod(s, 0777));
    int mine = socket(AF_UNIX, SOCK_STREAM, 0);
    fstat(mine, &sb);
    printf("own socket owner %d\n", sb.st_uid);
    R("fchmod of one's own socket", fchmod(mine, 0700));
    R("fchown of one's own socket to root", fchown(mine, 0, -1));
    R("fchown of another user's pipe", fchown(q[1], 1000, 1000));
    int mp[2];
    pipe(mp);
    fstat(mp[0], &sb);
    printf("own pipe owner %d %d\n", sb.st_uid, sb.st_gid);
    R("fchmod of one's own pipe", fchmod(mp[0], 0666));
    fstat(mp[1], &sb);
    printf("own pipe mode %o\n", sb.st_mode);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  return 0;
}
