/* SIOCSIFMTU on lo in a new network namespace (as LTP's setsockopt05 sets it up), as natively:
 * the MTU set reads back; a negative one is EINVAL, an unknown link ENODEV, a bad
 * pointer EFAULT. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-36s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static int mtu_of(int s, const char *name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, name);
  if (ioctl(s, SIOCGIFMTU, &ifr) < 0) return -errno;
  return ifr.ifr_mtu;
}

static long set_mtu(int s, const char *name, int mtu) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, name);
  ifr.ifr_mtu = mtu;
  return ioctl(s, SIOCSIFMTU, &ifr);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) { perror("unshare"); return 1; }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  printf("lo mtu: %d\n", mtu_of(s, "lo"));
  R("set lo 1500", set_mtu(s, "lo", 1500));
  printf("lo mtu: %d\n", mtu_of(s, "lo"));
  R("set lo 1500 again", set_mtu(s, "lo", 1500));
  R("set lo -1", set_mtu(s, "lo", -1));
  R("set nosuch 1500", set_mtu(s, "nosuch0", 1500));
  R("set lo 70000", set_mtu(s, "lo", 70000));
  printf("lo mtu: %d\n", mtu_of(s, "lo"));
  R("set lo 65536", set_mtu(s, "lo", 65536));
  printf("lo mtu: %d\n", mtu_of(s, "lo"));
  R("set lo bad pointer", ioctl(s, SIOCSIFMTU, (void *)8));
  printf("lo mtu: %d\n", mtu_of(s, "lo"));
  return 0;
}
