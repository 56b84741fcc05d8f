/* Hostile calls aimed at the host from inside the sandbox (issue #14): signals, ptrace, pidfds
 * and process_vm_* at a host pid (argv[1], a process the test started on the host), host pids in
 * /proc, int 0x80, namespace and mount changes, bpf, perf_event_open, userfaultfd and io_uring (the sandbox's own),
 * keyctl, raw and packet sockets. Prints one line per attempt: the result, and errno's name when
 * it failed. The test decides what must hold. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EBUSY: return "EBUSY";
    case E2BIG: return "E2BIG";
    default: return "other";
  }
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s = -1 %s\n", what, ename(errno));
  else printf("%s = ok\n", what);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t victim = atoi(argv[1]);
  char buf[64], path[64];

  /* The host process, by its host pid. */
  show("kill(host pid, 0)", kill(victim, 0));
  show("kill(host pid, SIGKILL)", kill(victim, SIGKILL));
  show("tgkill(host pid, SIGKILL)", syscall(SYS_tgkill, victim, victim, SIGKILL));
  show("ptrace(PTRACE_ATTACH, host pid)", ptrace(PTRACE_ATTACH, victim, 0, 0));
  show("ptrace(PTRACE_SEIZE, host pid)", ptrace(PTRACE_SEIZE, victim, 0, 0));
  show("pidfd_open(host pid)", syscall(SYS_pidfd_open, victim, 0));
  struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
  show("process_vm_readv(host pid)", process_vm_readv(victim, &local, 1, &remote, 1, 0));
  show("process_vm_writev(host pid)", process_vm_writev(victim, &local, 1, &remote, 1, 0));
  snprintf(path, sizeof path, "/proc/%d/cmdline", victim);
  show("open(/proc/HOSTPID/cmdline)", open(path, O_RDONLY));

  /* No host pid, nor the sentry's command line, in /proc. */
  DIR *d = opendir("/proc");
  int pids = 0, big = 0, leaks = 0;
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    pids++;
    if (pid == victim || pid > 1000) big++;
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int fd = open(path, O_RDONLY);
    char cl[4096];
    ssize_t n = fd < 0 ? 0 : read(fd, cl, sizeof cl - 1);
    if (fd >= 0) close(fd);
    for (ssize_t i = 0; i < n; i++) if (cl[i] == 0) cl[i] = ' ';
    if (n > 0) {
      cl[n] = 0;
      if (strstr(cl, "sentry") || strstr(cl, "deno") || strstr(cl, "main.ts")) leaks++;
    }
  }
  if (d != NULL) closedir(d);
  printf("/proc: %s pids, %d above 1000, %d naming the sentry\n", pids > 0 ? "some" : "no", big, leaks);

  /* The 32-bit system call gate: getpid (20 in the i386 table). */
  /* In a child: a host without IA-32 emulation answers with SIGSEGV. */
  pid_t c = fork();
  if (c == 0) {
    long r32;
    __asm__ volatile("int $0x80" : "=a"(r32) : "a"(20L) : "memory");
    _exit(r32 < 0 ? 1 : 0);
  }
  int st = 0;
  waitpid(c, &st, 0);
  if (WIFEXITED(st)) printf("int 0x80 getpid: %s\n", WEXITSTATUS(st) == 0 ? "a pid" : "an error");
  else printf("int 0x80 getpid: killed by signal %d\n", WTERMSIG(st));

  /* Namespaces and mounts. */
  /* In a child: what follows runs in the sandbox's first namespaces. */
  fflush(stdout);
  pid_t ns_child = fork();
  if (ns_child == 0) {
    show("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET)", unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET));
    fflush(stdout);
    _exit(0);
  }
  waitpid(ns_child, NULL, 0);
  int nsfd = open("/proc/self/ns/net", O_RDONLY);
  show("setns(/proc/self/ns/net)", nsfd < 0 ? nsfd : setns(nsfd, 0));
  show("pivot_root(/tmp, /tmp)", syscall(SYS_pivot_root, "/tmp", "/tmp"));

  /* io_uring (the sandbox's own ring), then kernel interfaces the sandbox does not offer. */
  char params[120] = {0};
  show("io_uring_setup", syscall(SYS_io_uring_setup, 8, params));
  char attr[128] = {0};
  show("bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, 5, attr, sizeof attr));
  show("perf_event_open", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
  show("userfaultfd", syscall(SYS_userfaultfd, 0));
  show("keyctl(KEYCTL_GET_KEYRING_ID)", syscall(SYS_keyctl, 0, -3, 0));
  show("add_key", syscall(SYS_add_key, "user", "sentry-hostile-host-key", "v", 1, -3));

  /* Raw and packet sockets. */
  show("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
  show("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)", socket(AF_INET, SOCK_RAW, IPPROTO_RAW));
  show("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)", socket(AF_NETLINK, SOCK_RAW, 0));

  /* A tracer aims at the platform's stub in its tracee's address space (its code and data at
   * 0x7ffa00000000 in the sentry's layout): a forced write there would change what the stub
   * runs for the sentry. Every peek and poke is refused, and the tracee goes on. */
  pid_t tracee = fork();
  if (tracee == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) _exit(3);
    memset(m, 7, 1 << 20);
    _exit(munmap(m, 1 << 20) == 0 ? 0 : 4);
  }
  int tst;
  waitpid(tracee, &tst, 0);
  int refused = 0, tries = 0;
  for (unsigned long a = 0x7ffa00000000UL; a < 0x7ffa00004000UL; a += 0x800, tries += 2) {
    errno = 0;
    if (ptrace(PTRACE_PEEKDATA, tracee, (void *)a, 0) == -1 && errno == EIO) refused++;
    if (ptrace(PTRACE_POKEDATA, tracee, (void *)a, (void *)0x050fcccccccccccaL) == -1 && errno == EIO) refused++;
  }
  printf("ptrace peeks and pokes at the stub: %d of %d refused with EIO\n", refused, tries);
  ptrace(PTRACE_CONT, tracee, 0, 0);
  waitpid(tracee, &tst, 0);
  printf("the tracee after them: %s\n", WIFEXITED(tst) && WEXITSTATUS(tst) == 0 ? "exited 0" : "failed");
  return 0;
}
