/*
 * Hands bad user pointers to syscalls and prints each result and errno name. Raw syscall(2)
 * calls, so that libc neither checks the pointers nor takes a vDSO shortcut. Every line must be
 * the same natively and in the sentry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) {
    printf("%s = -1 %s\n", what, strerrorname_np(errno));
  } else {
    printf("%s = %ld\n", what, r);
  }
}

#define T(call)                 \
  do {                          \
    errno = 0;                  \
    show(#call, (long)(call));  \
  } while (0)

#define BAD ((void *)1)
#define KERNEL ((void *)0xffff800000000000UL)
#define NONCANONICAL ((void *)0x0000800000000000UL)

int main(void) {
  int p[2];
  char buf[64];
  struct stat st;
  struct iovec badiov = {BAD, 10};

  setvbuf(stdout, NULL, _IOLBF, 0);
  if (pipe(p) != 0) return 1;
  T(syscall(SYS_write, p[1], "hello", 5));
  T(syscall(SYS_read, p[0], BAD, 10));
  T(syscall(SYS_read, p[0], KERNEL, 10));
  T(syscall(SYS_read, p[0], NONCANONICAL, 10));
  T(syscall(SYS_read, p[0], BAD, 0));
  /* A read that faulted consumed nothing. */
  T(syscall(SYS_read, p[0], buf, sizeof buf));
  T(syscall(SYS_write, 1, BAD, 10));
  T(syscall(SYS_write, p[1], BAD, 10));
  T(syscall(SYS_write, p[1], BAD, 0));
  /* The pipe must hold data, or the reads would block before touching the buffer. */
  T(syscall(SYS_write, p[1], "again", 5));
  T(syscall(SYS_readv, p[0], BAD, 1));
  T(syscall(SYS_readv, p[0], &badiov, 1));
  T(syscall(SYS_writev, p[1], &badiov, 1));
  T(syscall(SYS_read, p[0], buf, sizeof buf));
  T(syscall(SYS_stat, "/", BAD));
  T(syscall(SYS_stat, BAD, &st));
  T(syscall(SYS_lstat, BAD, &st));
  T(syscall(SYS_fstat, 0, BAD));
  T(syscall(SYS_newfstatat, AT_FDCWD, "/", BAD, 0));
  T(syscall(SYS_open, BAD, O_RDONLY));
  T(syscall(SYS_openat, AT_FDCWD, BAD, O_RDONLY));
  T(syscall(SYS_openat, AT_FDCWD, KERNEL, O_RDONLY));
  T(syscall(SYS_access, BAD, F_OK));
  T(syscall(SYS_readlink, BAD, buf, sizeof buf));
  T(syscall(SYS_readlink, "/proc/self/cwd", BAD, sizeof buf));
  T(syscall(SYS_chdir, BAD));
  T(syscall(SYS_getcwd, BAD, 4096));
  T(syscall(SYS_uname, BAD));
  T(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BAD));
  T(syscall(SYS_gettimeofday, BAD, NULL));
  T(syscall(SYS_pipe, BAD));
  T(syscall(SYS_pipe2, BAD, 0));
  T(syscall(SYS_rt_sigaction, SIGUSR1, BAD, NULL, 8));
  T(syscall(SYS_rt_sigprocmask, SIG_BLOCK, BAD, NULL, 8));
  /* wait4 looks for children before it touches the status pointer. */
  T(syscall(SYS_wait4, -1, BAD, 0, NULL));
  T(syscall(SYS_execve, BAD, NULL, NULL));

  /* A buffer whose second half is unmapped: the transfer stops at the hole. */
  char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (two == MAP_FAILED) return 1;
  munmap(two + 4096, 4096);
  memset(two, 'x', 4096);
  int zero = open("/dev/zero", O_RDONLY);
  T(syscall(SYS_read, zero, two + 4096 - 5, 10));
  T(syscall(SYS_write, p[1], two + 4096 - 5, 10));
  /* Did the faulting pipe write leave anything? Non-blocking, so an empty pipe says EAGAIN. */
  T(fcntl(p[0], F_SETFL, O_NONBLOCK));
  T(syscall(SYS_read, p[0], buf, sizeof buf));
  return 0;
}
