/* /proc/sys/fs/pipe-max-size: root writes it, the value is rounded up to a power of two of at
 * least a page (0 gives a page, above 2^31 or a non-number is EINVAL), and without
 * CAP_SYS_RESOURCE a new pipe is no larger and F_SETPIPE_SZ may not grow one beyond it (EPERM). The value is put back at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#define PATH "/proc/sys/fs/pipe-max-size"

static char saved[64];

static void put(const char *v) {
  int fd = open(PATH, O_WRONLY);
  errno = 0;
  long r = write(fd, v, strlen(v));
  close(fd);
  char buf[64] = "";
  fd = open(PATH, O_RDONLY);
  long n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0) buf[n] = 0;
  printf("write \"%s\": %s, reads %s", v, r < 0 ? strerrorname_np(errno) : "ok", buf);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open(PATH, O_RDONLY);
  long n = read(fd, saved, sizeof saved - 1);
  close(fd);
  if (n <= 0) return 1;
  saved[n] = 0;
  put("65536");
  put("5000");
  put("0");
  put("4097\n");
  put("2147483648");
  put("2147483649");
  put("-1");
  put("abc");
  put("8192");
  pid_t p = fork();
  if (p == 0) {
    int pp[2];
    pipe(pp);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    /* (A container's root may lack CAP_SYS_RESOURCE.) */
    int has = (d[0].effective >> CAP_SYS_RESOURCE) & 1;
    printf("new pipe with the caller's capabilities as expected: %d\n", fcntl(pp[0], F_GETPIPE_SZ) == (has ? 65536 : 8192));
    d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
    syscall(SYS_capset, &h, d);
    pipe(pp);
    printf("new pipe without CAP_SYS_RESOURCE: %d\n", fcntl(pp[0], F_GETPIPE_SZ));
    _exit(0);
  }
  waitpid(p, NULL, 0);
  put("131072");
  p = fork();
  if (p == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
    syscall(SYS_capset, &h, d);
    int pp[2];
    pipe(pp);
    errno = 0;
    printf("F_SETPIPE_SZ 131072: %d\n", fcntl(pp[1], F_SETPIPE_SZ, 131072));
    int r = fcntl(pp[1], F_SETPIPE_SZ, 262144);
    printf("F_SETPIPE_SZ 262144: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "ok");
    _exit(0);
  }
  waitpid(p, NULL, 0);
  fd = open(PATH, O_WRONLY);
  write(fd, saved, strlen(saved));
  close(fd);
  return 0;
}
