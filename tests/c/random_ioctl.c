/* random(4)'s ioctls on /dev/urandom and /dev/random: RNDGETENTCNT agrees with
 * /proc/sys/kernel/random/entropy_avail (both printed as whether they agree, not the count),
 * the writers need CAP_SYS_ADMIN (EPERM after dropping it from the effective set) and check
 * their counts (EINVAL for a negative one, EFAULT for a bad buffer), an unknown command is
 * EINVAL and /dev/null has no ioctls (ENOTTY). Output: the same natively and in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/random.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "_check.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open("/dev/urandom", O_RDONLY), rfd = open("/dev/random", O_RDONLY), nfd = open("/dev/null", O_RDONLY);
  int cnt = -1, pcnt = -2;
  R("RNDGETENTCNT", ioctl(fd, RNDGETENTCNT, &cnt));
  FILE *f = fopen("/proc/sys/kernel/random/entropy_avail", "r");
  if (f != NULL && fscanf(f, "%d", &pcnt) != 1) pcnt = -2;
  printf("agrees with entropy_avail: %d\n", abs(cnt - pcnt) <= 2);
  R("RNDGETENTCNT on /dev/random", ioctl(rfd, RNDGETENTCNT, &cnt));
  R("RNDGETENTCNT to NULL", ioctl(fd, RNDGETENTCNT, NULL));
  int n = -1;
  R("RNDADDTOENTCNT -1", ioctl(fd, RNDADDTOENTCNT, &n));
  n = 0;
  R("RNDADDTOENTCNT 0", ioctl(fd, RNDADDTOENTCNT, &n));
  struct {
    int count, size;
    char buf[8];
  } e = {0, 8, "abcdefg"};
  R("RNDADDENTROPY", ioctl(fd, RNDADDENTROPY, &e));
  e.size = -1;
  R("RNDADDENTROPY size -1", ioctl(fd, RNDADDENTROPY, &e));
  e.count = -1;
  R("RNDADDENTROPY count -1", ioctl(fd, RNDADDENTROPY, &e));
  R("RNDZAPENTCNT", ioctl(fd, RNDZAPENTCNT));
  R("RNDCLEARPOOL", ioctl(fd, RNDCLEARPOOL));
  R("unknown command", ioctl(fd, _IO('R', 0x42)));
  R("FIONREAD", ioctl(fd, FIONREAD, &n));
  R("RNDGETENTCNT on /dev/null", ioctl(nfd, RNDGETENTCNT, &cnt));
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  d[0].effective &= ~(1u << CAP_SYS_ADMIN);
  R("capset without CAP_SYS_ADMIN", syscall(SYS_capset, &h, d));
  n = 0;
  R("RNDADDTOENTCNT", ioctl(fd, RNDADDTOENTCNT, &n));
  R("RNDZAPENTCNT", ioctl(fd, RNDZAPENTCNT));
  R("RNDGETENTCNT", ioctl(fd, RNDGETENTCNT, &cnt));
  return 0;
}
