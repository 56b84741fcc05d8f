/* CPUID faulting (arch_prctl ARCH_GET_CPUID/ARCH_SET_CPUID) agrees with /proc/cpuinfo: where
 * the flags list cpuid_fault, ARCH_SET_CPUID works and ARCH_GET_CPUID reports what was set;
 * where they do not, ARCH_SET_CPUID is ENODEV (either way) and ARCH_GET_CPUID is 1. The
 * output is the same on both kinds of CPU. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012

int main(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[8192];
  int listed = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "flags", 5) == 0 && (strstr(line, " cpuid_fault ") || strstr(line, " cpuid_fault\n"))) listed = 1;
  }
  printf("ARCH_GET_CPUID first = %ld\n", syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0));
  for (int v = 1; v >= 0; v--) {
    errno = 0;
    long r = syscall(SYS_arch_prctl, ARCH_SET_CPUID, v);
    int e = errno;
    long g = syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0);
    int agrees = listed ? r == 0 && g == v : r == -1 && e == ENODEV && g == 1;
    printf("ARCH_SET_CPUID %d agrees with cpuinfo: %s\n", v, agrees ? "yes" : "no");
    /* Back on before any libc code could run cpuid. */
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
  }
  errno = 0;
  printf("ARCH_GET_CPUID with an argument = %ld\n", syscall(SYS_arch_prctl, ARCH_GET_CPUID, 5));
  return 0;
}
