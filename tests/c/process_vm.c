/* process_vm_readv and process_vm_writev: same process, a child (read and written through a
 * pipe handshake), partial copies and faults on either side, and the errors: flags, too many
 * iovecs, NULL vectors, no such pid, a zombie, a process of another user. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static char shared_buf[64] = "child's original";

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char a[16] = "abcdefgh", b[16] = {0}, c[16] = {0};
  struct iovec la[2] = {{b, 3}, {c, 5}}, ra[1] = {{a, 8}};
  R("readv self", process_vm_readv(getpid(), la, 2, ra, 1, 0));
  printf("  got %s|%s\n", b, c);
  struct iovec lw[1] = {{(char *)"XYZ", 3}}, rw[1] = {{a + 2, 3}};
  R("writev self", process_vm_writev(getpid(), lw, 1, rw, 1, 0));
  printf("  now %s\n", a);
  struct iovec bad[2] = {{b, 4}, {(void *)0xdeadbeef, 8}};
  R("readv into a partly bad local vector", process_vm_readv(getpid(), bad, 2, ra, 1, 0));
  R("readv from a partly bad remote vector", process_vm_readv(getpid(), la, 2, bad, 2, 0));
  char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct iovec nv[1] = {{none, 16}};
  R("writev to PROT_NONE", process_vm_writev(getpid(), la, 1, nv, 1, 0));
  R("readv from PROT_NONE", process_vm_readv(getpid(), la, 1, nv, 1, 0));
  R("flags 1", process_vm_readv(getpid(), la, 1, ra, 1, 1));
  R("1025 local iovecs", process_vm_readv(getpid(), la, 1025, ra, 1, 0));
  R("NULL local vector", process_vm_readv(getpid(), NULL, 1, ra, 1, 0));
  R("NULL remote vector", process_vm_readv(getpid(), la, 1, NULL, 1, 0));
  R("no local bytes", process_vm_readv(getpid(), la, 0, ra, 1, 0));
  R("pid -1", process_vm_readv(-1, la, 1, ra, 1, 0));
  R("no such pid", process_vm_readv(99999999, la, 1, ra, 1, 0));

  int go[2], done[2];
  pipe(go);
  pipe(done);
  pid_t k = fork();
  if (k == 0) {
    char x;
    write(done[1], "r", 1);
    read(go[0], &x, 1); /* the parent wrote into shared_buf */
    printf("child sees: %s\n", shared_buf);
    _exit(0);
  }
  char x;
  read(done[0], &x, 1);
  char got[64] = {0};
  struct iovec lg[1] = {{got, 16}}, rg[1] = {{shared_buf, 16}};
  R("readv child", process_vm_readv(k, lg, 1, rg, 1, 0));
  printf("  got %s\n", got);
  struct iovec lp[1] = {{(char *)"parent's words!", 16}};
  R("writev child", process_vm_writev(k, lp, 1, rg, 1, 0));
  write(go[1], "g", 1);
  waitpid(k, NULL, 0);

  pid_t z = fork();
  if (z == 0) _exit(0);
  siginfo_t si;
  waitid(P_PID, z, &si, WEXITED | WNOWAIT);
  R("writev zombie", process_vm_writev(z, lp, 1, rg, 1, 0));
  waitpid(z, NULL, 0);

  k = fork();
  if (k == 0) {
    setresuid(65534, 65534, 65534);
    R("nobody: readv root's process", process_vm_readv(getppid(), lg, 1, rg, 1, 0));
    _exit(0);
  }
  waitpid(k, NULL, 0);
  return 0;
}
