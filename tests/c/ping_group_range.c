/*
 * net.ipv4.ping_group_range (ping_init_sock): in a network namespace of its own (natively
 * `unshare --net`; the sandbox makes one with unshare(CLONE_NEWNET) too), the range written is
 * read back, a range whose high is below its low becomes "1 0", bad text is EINVAL, and a ping
 * socket (SOCK_DGRAM ICMP, IPv4 and IPv6) needs the effective group or a supplementary one in
 * the range, else EACCES, whatever the capabilities. Run as root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PATH "/proc/sys/net/ipv4/ping_group_range"

static void put(const char *text) {
  int fd = open(PATH, O_WRONLY);
  if (fd < 0) {
    printf("open %s: %s\n", PATH, strerrorname_np(errno));
    return;
  }
  ssize_t n = write(fd, text, strlen(text));
  printf("write \"%s\" = %s\n", text, n < 0 ? strerrorname_np(errno) : "ok");
  close(fd);
}

static void show(void) {
  char buf[64] = {0};
  int fd = open(PATH, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n < 0) {
    printf("read: %s\n", strerrorname_np(errno));
    return;
  }
  for (char *p = buf; *p; p++) if (*p == '\t') *p = ' ';
  printf("range: %s", buf);
}

static void ping(const char *what) {
  int s4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  int e4 = errno;
  int s6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
  int e6 = errno;
  printf("%s: ping4 %s, ping6 %s\n", what, s4 >= 0 ? "ok" : strerrorname_np(e4), s6 >= 0 ? "ok" : strerrorname_np(e6));
  if (s4 >= 0) close(s4);
  if (s6 >= 0) close(s6);
}

int main(void) {
  if (unshare(CLONE_NEWNET) != 0) printf("unshare: %s\n", strerrorname_np(errno));
  show();
  put("0 0");
  show();
  ping("egid 0, range 0-0");
  gid_t five = 5;
  if (setgroups(1, &five) != 0 || setegid(7) != 0) printf("setgroups/setegid: %s\n", strerrorname_np(errno));
  ping("egid 7, groups 5, range 0-0");
  put("5 5");
  ping("egid 7, groups 5, range 5-5");
  put("7 9");
  ping("egid 7, groups 5, range 7-9");
  if (setegid(0) != 0) printf("setegid: %s\n", strerrorname_np(errno));
  put("9 3");
  show();
  ping("egid 0, groups 5, range 1-0");
  put("-1 4");
  put("abc");
  put("4");
  show();
  put("0 2147483647");
  show();
  put("0 4294967294");
  show();
  put("0 4294967295");
  put("3 9 11");
  show();
  put("3,9");
  ping("egid 0, groups 5, range 3-9");
  return 0;
}
