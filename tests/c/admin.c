/* Administration calls that are safe to make natively: error cases of sethostname and
 * setdomainname as root (nothing is changed), and the clock setters as nobody (no CAP_SYS_TIME:
 * EPERM after the argument checks). The successful cases run only in the sentry (tests/soak_test.ts). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-36s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char longname[80];
  memset(longname, 'x', sizeof longname);
  R("sethostname 65 bytes", sethostname(longname, 65));
  R("sethostname negative length", syscall(SYS_sethostname, longname, -1));
  R("sethostname bad pointer", syscall(SYS_sethostname, 8, 4));
  R("setdomainname 65 bytes", setdomainname(longname, 65));
  R("setdomainname bad pointer", syscall(SYS_setdomainname, 8, 4));
  if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) return 1;
  R("sethostname as nobody", sethostname("x", 1));
  R("sethostname 65 bytes as nobody", sethostname(longname, 65));
  R("setdomainname as nobody", setdomainname("x", 1));
  struct timeval tv = {1000, 0};
  R("settimeofday", settimeofday(&tv, NULL));
  R("settimeofday NULL, NULL", syscall(SYS_settimeofday, 0, 0));
  R("settimeofday bad pointer", syscall(SYS_settimeofday, 8, 0));
  R("settimeofday bad timezone pointer", syscall(SYS_settimeofday, &tv, 8));
  tv.tv_usec = 1000000;
  R("settimeofday usec 10^6", settimeofday(&tv, NULL));
  tv.tv_usec = -1;
  R("settimeofday negative usec", settimeofday(&tv, NULL));
  tv.tv_usec = 0;
  tv.tv_sec = -5;
  R("settimeofday negative seconds", settimeofday(&tv, NULL));
  struct timespec ts = {1000, 0};
  R("clock_settime REALTIME", clock_settime(CLOCK_REALTIME, &ts));
  R("clock_settime MONOTONIC", clock_settime(CLOCK_MONOTONIC, &ts));
  R("clock_settime bad clock", clock_settime(99, &ts));
  R("clock_settime bad pointer", syscall(SYS_clock_settime, CLOCK_REALTIME, 8));
  ts.tv_nsec = 1000000000;
  R("clock_settime nsec 10^9", clock_settime(CLOCK_REALTIME, &ts));
  return 0;
}
