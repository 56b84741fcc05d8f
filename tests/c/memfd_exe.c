/* A program run from a memfd (copied from /proc/self/exe, sealed, fexecve'd, as crun re-executes
 * itself): its /proc/self/exe reads as the memfd's name and opens to the memfd (its seals), as
 * natively. Prints what each step gave. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    char link[256];
    ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
    link[n < 0 ? 0 : n] = 0;
    printf("run from the memfd: /proc/self/exe -> %s\n", n < 0 ? strerrorname_np(errno) : link);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    printf("open /proc/self/exe: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
    if (fd >= 0) printf("its seals: %#x\n", fcntl(fd, F_GET_SEALS));
    return 0;
  }
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int m = memfd_create("copy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  struct stat st;
  fstat(src, &st);
  off_t off = 0;
  while (off < st.st_size && sendfile(m, src, &off, st.st_size - off) > 0) {
  }
  printf("seal: %d\n", fcntl(m, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
  char *args[] = {argv[0], "child", NULL};
  fexecve(m, args, environ);
  printf("fexecve: %s\n", strerrorname_np(errno));
  return 1;
}
