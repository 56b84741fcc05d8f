/* Extended attributes of special files, as LTP's fgetxattr02 meets them: a FIFO, a character
 * device (1:3), a loop block device node (7:3, which opens whether or not the loop device is
 * bound) and a bound unix socket. fgetxattr of a user attribute none of them has is ENODATA,
 * fsetxattr of one is EPERM (xattr_permission: user.* only on regular files and directories).
 * Sockets have sockfs's system.sockprotoname; a pipe has no attribute handler (EOPNOTSUPP).
 * The nodes live on a tmpfs mounted in a mount namespace of the test's own, as LTP's
 * needs_devfs; nothing printed depends on the host's loop devices' state. Runs as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/xattr.h>
#include <unistd.h>

static void res(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

static void probe(const char *name, int fd) {
  char buf[64], what[96];
  snprintf(what, sizeof what, "%s fgetxattr user.testkey", name);
  res(what, fgetxattr(fd, "user.testkey", buf, sizeof buf));
  snprintf(what, sizeof what, "%s fsetxattr user.testkey", name);
  res(what, fsetxattr(fd, "user.testkey", "v", 1, XATTR_CREATE));
  snprintf(what, sizeof what, "%s fremovexattr user.testkey", name);
  res(what, fremovexattr(fd, "user.testkey"));
  snprintf(what, sizeof what, "%s flistxattr", name);
  res(what, flistxattr(fd, buf, sizeof buf));
  struct stat st;
  if (fstat(fd, &st) == 0)
    printf("%s fstat: type %o rdev %u:%u\n", name, st.st_mode & S_IFMT, major(st.st_rdev), minor(st.st_rdev));
}

int main(void) {
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    perror("unshare");
    return 1;
  }
  char dir[] = "/tmp/xattr-special-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  if (mount("tmpfs", dir, "tmpfs", 0, NULL) < 0) {
    perror("mount");
    return 1;
  }
  if (chdir(dir) < 0) return 1;
  res("mknod fifo", mknod("fifo", S_IFIFO | 0777, 0));
  res("mknod chr 1:3", mknod("chr", S_IFCHR | 0777, makedev(1, 3)));
  res("mknod blk 7:3", mknod("blk", S_IFBLK | 0777, makedev(7, 3)));

  int fifo = open("fifo", O_RDONLY | O_NONBLOCK);
  res("open fifo", fifo < 0 ? -1 : 0);
  if (fifo >= 0) probe("fifo", fifo);
  int chr = open("chr", O_RDONLY);
  res("open chr", chr < 0 ? -1 : 0);
  if (chr >= 0) probe("chr", chr);
  int blk = open("blk", O_RDONLY);
  res("open blk", blk < 0 ? -1 : 0);
  if (blk >= 0) {
    probe("blk", blk);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    res("blk epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, blk, &ev));
    close(ep);
  }

  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  strcpy(sun.sun_path, "sock");
  res("bind sock", bind(s, (struct sockaddr *)&sun, sizeof sun));
  probe("sock", s);
  res("open sock", open("sock", O_RDONLY));

  /* A pipe has no xattr handler at all: user.* is refused first (EPERM), the rest EOPNOTSUPP. */
  int p[2];
  if (pipe(p) < 0) return 1;
  res("pipe fsetxattr user.a", fsetxattr(p[0], "user.a", "v", 1, 0));
  res("pipe fsetxattr trusted.a", fsetxattr(p[0], "trusted.a", "v", 1, 0));
  res("pipe fremovexattr user.a", fremovexattr(p[0], "user.a"));
  res("pipe fgetxattr user.a", fgetxattr(p[0], "user.a", NULL, 0));
  res("pipe fgetxattr system.sockprotoname", fgetxattr(p[0], "system.sockprotoname", NULL, 0));
  res("pipe fgetxattr trusted.a", fgetxattr(p[0], "trusted.a", NULL, 0));

  /* sockfs's system.sockprotoname: the protocol's name, NUL included; listed on every socket. */
  static const struct { const char *what; int domain, type, protocol; } socks[] = {
      {"unix stream", AF_UNIX, SOCK_STREAM, 0}, {"unix dgram", AF_UNIX, SOCK_DGRAM, 0},
      {"unix seqpacket", AF_UNIX, SOCK_SEQPACKET, 0}, {"tcp", AF_INET, SOCK_STREAM, 0},
      {"tcp6", AF_INET6, SOCK_STREAM, 0}, {"udp", AF_INET, SOCK_DGRAM, 0}, {"udp6", AF_INET6, SOCK_DGRAM, 0},
      {"raw", AF_INET, SOCK_RAW, IPPROTO_ICMP}, {"raw6", AF_INET6, SOCK_RAW, IPPROTO_ICMPV6},
      {"packet", AF_PACKET, SOCK_RAW, 0}, {"packet dgram", AF_PACKET, SOCK_DGRAM, 0},
      {"netlink", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE},
  };
  for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++) {
    int fd = socket(socks[i].domain, socks[i].type, socks[i].protocol);
    char v[32] = "", l[64] = "";
    ssize_t n = fgetxattr(fd, "system.sockprotoname", v, sizeof v);
    int e = errno;
    ssize_t ln = flistxattr(fd, l, sizeof l);
    printf("%s: sockprotoname %zd \"%s\" list %zd \"%s\"\n", socks[i].what, n, n > 0 ? v : strerrorname_np(e), ln, l);
    close(fd);
  }
  char v[4];
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  res("udp sockprotoname size query", fgetxattr(u, "system.sockprotoname", NULL, 0));
  res("udp sockprotoname 3-byte buffer", fgetxattr(u, "system.sockprotoname", v, 3));
  res("udp fsetxattr system.sockprotoname", fsetxattr(u, "system.sockprotoname", "x", 1, 0));
  res("udp fremovexattr system.sockprotoname", fremovexattr(u, "system.sockprotoname"));
  res("udp fgetxattr system.other", fgetxattr(u, "system.other", v, sizeof v));
  res("udp fgetxattr trusted.a", fgetxattr(u, "trusted.a", v, sizeof v));

  if (chdir("/") < 0) return 1;
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  return 0;
}
