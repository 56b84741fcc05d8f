/* Advice and probes that programs make about I/O and memory, with their error cases:
 * posix_fadvise (cp, sort, git), readahead, ioprio_get/ioprio_set (ionice), set_mempolicy and
 * get_mempolicy (numa-aware runtimes; libnuma probes them when ps starts), mlock/munlock/mlock2/mlockall/munlockall, mincore and msync.
 * Prints each result and errno by name, so that the output is the same on any Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%-34s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)
/* posix_fadvise returns the error number instead of setting errno. */
#define F(name, expr) do { int e_ = (expr); \
  printf("%-34s = %s\n", name, e_ ? strerrorname_np(e_) : "0"); } while (0)

#define IOPRIO(class, level) (((class) << 13) | (level))

static void fadvise(void) {
  char path[] = "/tmp/advice-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, "data", 4) != 4) { perror("mkstemp"); exit(1); }
  for (int adv = 0; adv <= 5; adv++) {
    char name[40];
    snprintf(name, sizeof name, "fadvise file advice %d", adv);
    F(name, posix_fadvise(fd, 0, 0, adv));
  }
  F("fadvise bad advice", posix_fadvise(fd, 0, 0, 6));
  F("fadvise negative len", posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL));
  F("fadvise negative offset", posix_fadvise(fd, -1, 10, POSIX_FADV_NORMAL));
  F("fadvise closed fd", posix_fadvise(999, 0, 0, POSIX_FADV_NORMAL));
  int opath = open(path, O_PATH);
  F("fadvise O_PATH fd", posix_fadvise(opath, 0, 0, POSIX_FADV_NORMAL));
  int p[2];
  if (pipe(p) < 0) exit(1);
  F("fadvise pipe", posix_fadvise(p[0], 0, 0, POSIX_FADV_SEQUENTIAL));
  F("fadvise pipe bad advice", posix_fadvise(p[0], 0, 0, 77));
  int s[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0) exit(1);
  F("fadvise socket", posix_fadvise(s[0], 0, 0, POSIX_FADV_NORMAL));
  int dn = open("/dev/null", O_RDONLY);
  F("fadvise /dev/null", posix_fadvise(dn, 0, 0, POSIX_FADV_DONTNEED));
  int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
  F("fadvise directory", posix_fadvise(dir, 0, 0, POSIX_FADV_WILLNEED));

  R("readahead file", readahead(fd, 0, 4096));
  R("readahead closed fd", readahead(999, 0, 10));
  R("readahead pipe", readahead(p[0], 0, 10));
  R("readahead directory", readahead(dir, 0, 10));
  int wo = open(path, O_WRONLY);
  R("readahead write-only fd", readahead(wo, 0, 10));
  unlink(path);
}

static void ioprio(void) {
  R("ioprio_get self", syscall(SYS_ioprio_get, 1, 0));
  R("ioprio_get own pid", syscall(SYS_ioprio_get, 1, getpid()));
  R("ioprio_get own pgrp", syscall(SYS_ioprio_get, 2, 0));
  R("ioprio_get bad which", syscall(SYS_ioprio_get, 9, 0));
  R("ioprio_get no such pid", syscall(SYS_ioprio_get, 1, 99999999));
  R("ioprio_set best-effort 7", syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 7)));
  R("ioprio_set idle", syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
  R("ioprio_get self after idle", syscall(SYS_ioprio_get, 1, 0));
  pid_t k = fork();
  if (k == 0) {
    R("child: ioprio_get self (inherited)", syscall(SYS_ioprio_get, 1, 0));
    _exit(0);
  }
  waitpid(k, NULL, 0);
  R("ioprio_set none", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 0)));
  R("ioprio_get self after none", syscall(SYS_ioprio_get, 1, 0));
  R("ioprio_set none with a level", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 1)));
  R("ioprio_set class 4", syscall(SYS_ioprio_set, 1, 0, IOPRIO(4, 0)));
  R("ioprio_set class 7", syscall(SYS_ioprio_set, 1, 0, IOPRIO(7, 0)));
  R("ioprio_set bad which", syscall(SYS_ioprio_set, 0, 0, IOPRIO(2, 4)));
  R("ioprio_set no such pid", syscall(SYS_ioprio_set, 1, 99999999, IOPRIO(2, 4)));
  R("ioprio_set own pgrp", syscall(SYS_ioprio_set, 2, 0, IOPRIO(0, 0)));
  R("ioprio_set realtime as root", syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 0)));
  R("ioprio_set none again", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 0)));
  /* An unprivileged user may not take the realtime class, nor touch another user's process. */
  pid_t c = fork();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    R("ioprio_set realtime as nobody", syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 0)));
    R("ioprio_set idle as nobody", syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
    R("ioprio_set root's process", syscall(SYS_ioprio_set, 1, getppid(), IOPRIO(2, 4)));
    R("ioprio_get root's process", syscall(SYS_ioprio_get, 1, getppid()));
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

static void mempolicy(void) {
  int mode = -1;
  unsigned long mask[4] = {7, 7, 7, 7};
  R("get_mempolicy", syscall(SYS_get_mempolicy, &mode, mask, 256, 0, 0));
  printf("  mode %d mask %lx %lx %lx %lx\n", mode, mask[0], mask[1], mask[2], mask[3]);
  R("get_mempolicy no pointers", syscall(SYS_get_mempolicy, 0, 0, 0, 0, 0));
  R("get_mempolicy bad flags", syscall(SYS_get_mempolicy, &mode, 0, 0, 0, 64));
  R("get_mempolicy addr without flag", syscall(SYS_get_mempolicy, &mode, 0, 0, (long)&mode, 0));
  R("get_mempolicy F_ADDR", syscall(SYS_get_mempolicy, &mode, 0, 0, (long)&mode, 2));
  printf("  mode %d\n", mode);
  R("get_mempolicy F_ADDR unmapped", syscall(SYS_get_mempolicy, &mode, 0, 0, 4096, 2));
  R("get_mempolicy F_NODE alone", syscall(SYS_get_mempolicy, &mode, 0, 0, 0, 1));
  R("get_mempolicy F_NODE|F_ADDR", syscall(SYS_get_mempolicy, &mode, 0, 0, (long)&mode, 3));
  printf("  node %d\n", mode);
  mask[0] = 0;
  R("get_mempolicy MEMS_ALLOWED", syscall(SYS_get_mempolicy, &mode, mask, 64, 0, 4));
  printf("  mode %d mask %lx\n", mode, mask[0]);
  R("get_mempolicy MEMS_ALLOWED|F_NODE", syscall(SYS_get_mempolicy, &mode, mask, 64, 0, 5));
  R("get_mempolicy bad mode pointer", syscall(SYS_get_mempolicy, 8, 0, 0, 0, 0));
  R("get_mempolicy bad mask pointer", syscall(SYS_get_mempolicy, 0, 8, 64, 0, 0));
  R("get_mempolicy maxnode 0", syscall(SYS_get_mempolicy, 0, mask, 0, 0, 0));
}

/* Sets a policy, then prints get_mempolicy's mode and first mask word. */
static void set_policy(const char *name, int mode, unsigned long mask, unsigned long maxnode) {
  errno = 0;
  long r = syscall(SYS_set_mempolicy, mode, mask == ~0UL ? NULL : &mask, maxnode);
  int e = errno;
  int got = -1;
  unsigned long m[2] = {7, 7};
  syscall(SYS_get_mempolicy, &got, m, 128, 0, 0);
  printf("%-34s = %ld %s -> mode %#x mask %lx %lx\n", name, r, r < 0 ? strerrorname_np(e) : "", got, m[0], m[1]);
}

static void set_mempolicy_calls(void) {
  const int BIND = 2, INTERLEAVE = 3, PREFERRED = 1, LOCAL = 4, MANY = 5, WEIGHTED = 6;
  const int STATIC = 1 << 15, RELATIVE = 1 << 14, BALANCING = 1 << 13;
  const unsigned long NONE = ~0UL; /* a NULL mask */
  set_policy("set default", 0, NONE, 0);
  set_policy("set default, node 0", 0, 1, 64);
  set_policy("set mode 7", 7, 1, 64);
  set_policy("set mode -1", -1, 1, 64);
  set_policy("set bind, empty", BIND, 0, 64);
  set_policy("set bind, NULL", BIND, NONE, 64);
  set_policy("set bind, node 0", BIND, 1, 64);
  set_policy("set bind, node 1 only", BIND, 2, 64);
  set_policy("set bind, nodes 0 and 1", BIND, 3, 64);
  set_policy("set bind, maxnode 1", BIND, 1, 1);
  set_policy("set bind, maxnode 2", BIND, 1, 2);
  set_policy("set bind, maxnode 0", BIND, 1, 0);
  set_policy("set bind, maxnode 40000", BIND, 1, 40000);
  set_policy("set bind|static|relative", BIND | STATIC | RELATIVE, 1, 64);
  set_policy("set bind|static, nodes 0 and 1", BIND | STATIC, 3, 64);
  set_policy("set bind|relative, node 1", BIND | RELATIVE, 2, 64);
  set_policy("set bind|balancing", BIND | BALANCING, 1, 64);
  set_policy("set preferred|balancing", PREFERRED | BALANCING, 1, 64);
  set_policy("set interleave, node 0", INTERLEAVE, 1, 64);
  errno = 0;
  int node = -1;
  long r = syscall(SYS_get_mempolicy, &node, NULL, 0, NULL, 1);
  printf("%-34s = %ld %s node %d\n", "get F_NODE under interleave", r, r < 0 ? strerrorname_np(errno) : "", node);
  errno = 0;
  node = -1;
  r = syscall(SYS_get_mempolicy, &node, NULL, 0, &node, 2);
  printf("%-34s = %ld %s mode %d\n", "get F_ADDR under interleave", r, r < 0 ? strerrorname_np(errno) : "", node);
  set_policy("set weighted interleave", WEIGHTED, 1, 64);
  set_policy("set preferred, empty", PREFERRED, 0, 64);
  set_policy("set preferred|static, empty", PREFERRED | STATIC, 0, 64);
  set_policy("set preferred, node 0", PREFERRED, 1, 64);
  set_policy("set local, node 0", LOCAL, 1, 64);
  set_policy("set local|static", LOCAL | STATIC, NONE, 64);
  set_policy("set local", LOCAL, NONE, 0);
  set_policy("set preferred many, node 0", MANY, 1, 64);
  set_policy("set preferred many, maxnode 7", MANY, 1, 7);
  errno = 0;
  r = syscall(SYS_set_mempolicy, BIND, (void *)8, 64);
  printf("%-34s = %ld %s\n", "set bind, bad mask pointer", r, r < 0 ? strerrorname_np(errno) : "");
  set_policy("set interleave|static, node 0", INTERLEAVE | STATIC, 1, 64);
  pid_t c = fork();
  if (c == 0) {
    int mode = -1;
    unsigned long m = 0;
    syscall(SYS_get_mempolicy, &mode, &m, 64, 0, 0);
    printf("  child inherits mode %#x mask %lx\n", mode, m);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  set_policy("set default again", 0, NONE, 0);
}

static void memory(void) {
  long pg = sysconf(_SC_PAGESIZE);
  char *m = mmap(0, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) exit(1);
  memset(m, 1, 4 * pg);
  R("mlock", mlock(m, 2 * pg));
  R("mlock unaligned start", mlock(m + 10, pg));
  R("munlock", munlock(m, 2 * pg));
  R("mlock2 ONFAULT", syscall(SYS_mlock2, m, pg, 1));
  R("mlock2 bad flags", syscall(SYS_mlock2, m, pg, 2));
  R("mlock zero length", mlock(m, 0));
  munmap(m + 2 * pg, pg);
  R("mlock over a hole", mlock(m, 4 * pg));
  R("munlock over a hole", munlock(m, 4 * pg));
  R("mlockall current", mlockall(MCL_CURRENT));
  R("mlockall no flags", mlockall(0));
  R("mlockall bad flags", mlockall(8));
  R("mlockall ONFAULT alone", mlockall(MCL_ONFAULT));
  R("munlockall", munlockall());

  unsigned char vec[4] = {9, 9, 9, 9};
  R("mincore", mincore(m, 2 * pg, vec));
  printf("  vec %d %d\n", vec[0] & 1, vec[1] & 1);
  R("mincore unaligned", mincore(m + 1, pg, vec));
  R("mincore over a hole", mincore(m, 4 * pg, vec));
  R("mincore bad vector", mincore(m, pg, (unsigned char *)8));
  R("mincore zero length", mincore(m, 0, vec));

  R("msync", msync(m, pg, MS_SYNC));
  R("msync async", msync(m, pg, MS_ASYNC | MS_INVALIDATE));
  R("msync sync and async", msync(m, pg, MS_SYNC | MS_ASYNC));
  R("msync bad flags", msync(m, pg, 8));
  R("msync unaligned", msync(m + 1, pg, MS_SYNC));
  R("msync over a hole", msync(m, 4 * pg, MS_SYNC));
  R("msync zero length", msync(m, 0, MS_SYNC));

  /* A shared file mapping written through memory reaches the file after msync. */
  char path[] = "/tmp/advice-map-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, pg) < 0) exit(1);
  char *f = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (f == MAP_FAILED) exit(1);
  memcpy(f, "synced", 6);
  R("msync shared file", msync(f, pg, MS_SYNC));
  char buf[7] = {0};
  R("pread after msync", pread(fd, buf, 6, 0));
  printf("  read %s\n", buf);
  unlink(path);

  /* Without CAP_IPC_LOCK, RLIMIT_MEMLOCK bounds what may be locked. */
  pid_t c = fork();
  if (c == 0) {
    struct rlimit rl = {pg, pg};
    if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0 || setresuid(65534, 65534, 65534) < 0) _exit(1);
    R("mlock within RLIMIT_MEMLOCK", mlock(m, pg));
    R("mlock beyond RLIMIT_MEMLOCK", mlock(m, 2 * pg));
    R("mlockall beyond RLIMIT_MEMLOCK", mlockall(MCL_CURRENT));
    rl.rlim_cur = rl.rlim_max = 0;
    if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0) _exit(1);
    R("mlock with RLIMIT_MEMLOCK 0", mlock(m, pg));
    R("mlockall with RLIMIT_MEMLOCK 0", mlockall(MCL_FUTURE));
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

/* MADV_DONTFORK: the child lacks the marked page (msync says ENOMEM), keeps the others with
 * their contents; MADV_DOFORK undoes it; a shared page the child writes is seen by the parent. */
static void dontfork(void) {
  long pg = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 3 * pg, pg);
  char *s = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < 3; i++) memset(m + i * pg, 1 + i, pg);
  memset(s, 7, 2 * pg);
  R("madvise DONTFORK middle", madvise(m + pg, pg, MADV_DONTFORK));
  R("madvise DONTFORK shared tail", madvise(s + pg, pg, MADV_DONTFORK));
  R("madvise DONTFORK unmapped", madvise(m + 3 * pg, pg, MADV_DONTFORK));
  pid_t c = fork();
  if (c == 0) {
    R("child msync first", msync(m, pg, MS_ASYNC));
    R("child msync middle", msync(m + pg, pg, MS_ASYNC));
    R("child msync last", msync(m + 2 * pg, pg, MS_ASYNC));
    R("child reads first and last", m[0] * 10 + m[2 * pg]);
    R("child msync shared tail", msync(s + pg, pg, MS_ASYNC));
    s[0] = 9;
    _exit(0);
  }
  waitpid(c, NULL, 0);
  R("parent sees the child's shared write", s[0]);
  R("parent keeps the middle", m[pg]);
  R("madvise DOFORK", madvise(m, 3 * pg, MADV_DOFORK));
  c = fork();
  if (c == 0) {
    R("child after DOFORK reads the middle", m[pg]);
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  dontfork();
  fadvise();
  ioprio();
  mempolicy();
  set_mempolicy_calls();
  memory();
  return 0;
}
