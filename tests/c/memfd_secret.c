/* memfd_secret(2) as natively (mm/secretmem.c): flags other than O_CLOEXEC EINVAL; the file
 * (/secretmem, a regular file of mode 0600, fstat's size, no read or write: EINVAL, no
 * fallocate), its size set once (a second ftruncate EINVAL), MAP_PRIVATE EINVAL, MAP_SHARED
 * memory that reads and writes, is counted as locked (VmLck) and survives fork, a touch past the
 * end SIGBUS, and no access from another process (process_vm_readv EFAULT, PTRACE_PEEKDATA EIO)
 * while the process's own syscalls may read it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-40s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static long vmlck(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f)) sscanf(line, "VmLck: %ld", &kb);
  fclose(f);
  return kb;
}

static sigjmp_buf jb;
static void onbus(int sig) {
  (void)sig;
  siglongjmp(jb, 1);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  R("flags 0x10", syscall(SYS_memfd_secret, 0x10));
  R("flags O_RDWR", syscall(SYS_memfd_secret, O_RDWR));
  int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
  printf("fd >= 0: %d, cloexec %d\n", fd >= 0, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  struct stat st;
  fstat(fd, &st);
  printf("mode %o nlink %lu size %ld uid %u\n", st.st_mode, (unsigned long)st.st_nlink, (long)st.st_size, st.st_uid);
  char link[64] = {0};
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  readlink(p, link, sizeof link - 1);
  printf("link %s, flags %o\n", link, fcntl(fd, F_GETFL) & O_ACCMODE);
  char b[8] = "abc";
  R("write", write(fd, b, 3));
  R("read", read(fd, b, 3));
  R("pread", pread(fd, b, 3, 0));
  R("lseek", lseek(fd, 0, SEEK_SET));
  R("fallocate", fallocate(fd, 0, 0, 4096));
  R("ftruncate 8192", ftruncate(fd, 8192));
  R("ftruncate again", ftruncate(fd, 4096));
  fstat(fd, &st);
  printf("size %ld\n", (long)st.st_size);
  long before = vmlck();
  R("mmap private", mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
  char *m = mmap(0, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  printf("mmap shared: %s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
  printf("VmLck grew by %ld kB\n", vmlck() - before);
  strcpy(m, "secret");
  strcpy(m + 4096, "second");
  R("write(2) from it", write(1, m, 0) == 0 ? 0 : -1);
  signal(SIGBUS, onbus);
  if (sigsetjmp(jb, 1) == 0) {
    volatile char c = m[8192];
    (void)c;
    printf("past the end: no signal\n");
  } else {
    printf("past the end: SIGBUS\n");
  }
  pid_t c = fork();
  if (c == 0) {
    printf("child reads '%s'\n", m);
    raise(SIGSTOP);
    _exit(0);
  }
  int ws;
  waitpid(c, &ws, WUNTRACED);
  char out[8] = {0};
  struct iovec l = {out, 6}, r = {m, 6};
  R("process_vm_readv of it", process_vm_readv(c, &l, 1, &r, 1, 0));
  char plain[8] = "plain!";
  struct iovec r2 = {plain, 6};
  R("process_vm_readv of other memory", process_vm_readv(c, &l, 1, &r2, 1, 0));
  ptrace(PTRACE_ATTACH, c, 0, 0);
  waitpid(c, &ws, 0);
  errno = 0;
  long w = ptrace(PTRACE_PEEKDATA, c, m, 0);
  printf("PEEKDATA of it: %s\n", errno ? strerrorname_np(errno) : (w ? "read" : "zero"));
  errno = 0;
  w = ptrace(PTRACE_PEEKDATA, c, plain, 0);
  printf("PEEKDATA of other memory: %s\n", errno ? strerrorname_np(errno) : "read");
  kill(c, SIGKILL);
  waitpid(c, &ws, 0);
  munmap(m, 12288);
  printf("VmLck after munmap back by %ld kB\n", vmlck() - before);
  return 0;
}
