/* A 64-bit program's `int 0x80` is i386's syscall ABI (number in eax, arguments in ebx, ecx,
 * edx, ...), not x86-64's call of the same number: write, getpid, exit_group by their i386
 * numbers, and a seccomp filter sees AUDIT_ARCH_I386 and the i386 number. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static long int80(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return ret;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* i386's pointers are 32 bits: a buffer below 4 GiB. */
  char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  strcpy(low, "written by int 0x80\n");
  long n = int80(4 /* write */, 1, (long)low, (long)strlen(low));
  printf("write returned %ld\n", n);
  printf("getpid (20) is getpid(): %d\n", int80(20, 0, 0, 0) == getpid());
  printf("write to a bad descriptor: %ld\n", int80(4, 99, (long)low, 1));
  /* x86-64's 39 is getpid; i386's 39 is mkdir: the i386 one must not run as getpid. */
  printf("i386 39 (mkdir of a bad path) is not getpid: %d\n", int80(39, 0, 0755, 0) != getpid());
  pid_t c = fork();
  if (c == 0) {
    int80(252 /* exit_group */, 42, 0, 0);
    _exit(1);
  }
  int st;
  waitpid(c, &st, 0);
  printf("exit_group(42) by int 0x80: exited %d with %d\n", WIFEXITED(st), WEXITSTATUS(st));
  c = fork();
  if (c == 0) {
    /* A filter answering EPERM for every call that is not x86-64's, and ENOTTY for i386's getpid. */
    struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 3, 0),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 20, 0, 2),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) { printf("seccomp: %s\n", strerror(errno)); _exit(1); }
    /* The rule for i386's getpid is reached only with i386's arch, which the first jump skips. */
    printf("under a filter: i386 getpid %ld, i386 write %ld\n", int80(20, 0, 0, 0), int80(4, 1, (long)low, 1));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
