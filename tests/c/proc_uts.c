/* Writes of /proc/sys/kernel/hostname and domainname (in a UTS namespace of its own): the name is
 * the bytes up to a newline or NUL, at most 64, the caller's namespace takes it (uname and the
 * file agree), and a user other than root may not open them for writing (EACCES). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *file, const char *v, size_t len) {
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s", file);
  errno = 0;
  int fd = open(path, O_WRONLY);
  long r = fd < 0 ? -1 : write(fd, v, len);
  if (fd >= 0) close(fd);
  const char *err = r < 0 ? strerrorname_np(errno) : "ok";
  char buf[128] = "";
  fd = open(path, O_RDONLY);
  long n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0) buf[n] = 0;
  struct utsname u;
  uname(&u);
  printf("%s <- %zu bytes: %s %ld, reads \"%.*s\", uname \"%s\"\n", file, len, err, r, (int)(n > 0 ? n - 1 : 0), buf,
         strcmp(file, "hostname") == 0 ? u.nodename : u.domainname);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWUTS) != 0) { perror("unshare"); return 1; }
  put("hostname", "alpha", 5);
  put("hostname", "beta\ngamma", 10);
  put("hostname", "de\0lta", 6);
  char longname[80];
  memset(longname, 'x', sizeof longname);
  put("hostname", longname, sizeof longname);
  put("hostname", "\n", 1);
  put("domainname", "LTP_TEST", 8);
  put("domainname", "example.org\n", 12);
  pid_t p = fork();
  if (p == 0) {
    setuid(1000);
    put("hostname", "user", 4);
    _exit(0);
  }
  waitpid(p, NULL, 0);
  return 0;
}
