/* Runaway and hostile workloads for tests/hostile_limits_test.ts, one per mode. Every mode first
 * tries to leave a mark on the host (argv[2]: a path to create, argv[3]: a host pid to kill), so
 * the test can check that nothing outside the sandbox was written or signalled.
 *   bomb       a fork bomb: every process forks for ever; init, after 100 of its forks failed,
 *              kills everyone and prints the errno it saw
 *   hog        1 MiB mallocs, each written, in two processes, until malloc fails: exit 3
 *   fds        raises RLIMIT_NOFILE to its hard limit, then opens descriptors until it cannot
 *   huge       a 100 GiB anonymous mapping, a page written in every GiB of it
 *   flood      writes to stdout and stderr for ever, in big and small writes
 *   spin       a loop without system calls, for ever
 *   setuid P   drops to nobody, then executes P (a set-user-ID-root copy of this program) with
 *              mode "setuid-child"
 *   reserved   maps, unmaps, protects and jumps into the stub's pages, the vsyscall page and the
 *              top of the address space, each in a child; prints how each ended */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void mark_host(const char *path, const char *pid) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    if (write(fd, "escaped\n", 8) != 8) _exit(9);
    close(fd);
  }
  pid_t victim = (pid_t)atol(pid);
  if (victim > 1) kill(victim, SIGKILL); /* never 0, -1 or 1 (a group, everyone, init) */
}

static void bomb(void) {
  int failures = 0, err = 0;
  /* It ends with kill(-1, SIGKILL): only as init of a sandbox, never on a host. */
  if (getpid() != 1) {
    printf("bomb: must run as pid 1 inside the sentry\n");
    return;
  }
  for (;;) {
    pid_t c = fork();
    if (c == 0) {
      for (;;) fork();
    }
    if (c < 0) {
      err = errno;
      failures++;
    }
    if (failures >= 100) break;
  }
  kill(-1, SIGKILL);
  while (wait(0) > 0) {
  }
  printf("bomb: forks failed with %s\n", strerrorname_np(err));
}

static void hog(void) {
  pid_t c = fork(); /* two hogs */
  for (;;) {
    char *p = malloc(1 << 20);
    if (!p) break;
    memset(p, 1, 1 << 20);
  }
  if (c == 0) _exit(3);
  int st;
  waitpid(c, &st, 0);
  printf("hog: malloc failed; the other hog %s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "exited");
  exit(3);
}

static void fds(void) {
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &r) != 0) printf("setrlimit: %s\n", strerrorname_np(errno));
  long n = 0, top = 0;
  int err = 0;
  for (;;) {
    int fd = (n & 1) ? open("/dev/null", O_RDONLY) : dup(0);
    if (fd < 0) {
      err = errno;
      break;
    }
    if (fd > top) top = fd;
    n++;
  }
  int p[2];
  int pe = pipe(p) < 0 ? errno : 0;
  printf("fds: %s after %s, pipe %s\n", strerrorname_np(err), top + 1 == (long)r.rlim_cur ? "the limit" : "fewer",
         pe ? strerrorname_np(pe) : "ok");
  for (long fd = 3; fd <= top; fd++) close((int)fd);
  int fd = open("/dev/null", O_RDONLY);
  printf("after closing: open %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
}

static void huge(void) {
  size_t gib = 1UL << 30, len = 100 * gib;
  char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    printf("huge: mmap %s\n", strerrorname_np(errno));
    return;
  }
  for (size_t off = 0; off < len; off += gib) p[off + 4096 * (off / gib)] = 1;
  long sum = 0;
  for (size_t off = 0; off < len; off += gib) sum += p[off + 4096 * (off / gib)];
  printf("huge: mapped, %ld pages written\n", sum);
  printf("huge: munmap %s\n", munmap(p, len) == 0 ? "ok" : strerrorname_np(errno));
  void *q = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("huge: without MAP_NORESERVE %s\n", q == MAP_FAILED ? strerrorname_np(errno) : "mapped");
}

static void flood(void) {
  static char big[1 << 16];
  memset(big, 'x', sizeof big);
  for (long i = 0;; i++) {
    if (write(i % 3 == 2 ? 2 : 1, i & 1 ? big : "y\n", i & 1 ? sizeof big : 2) < 0) {
      /* A closed pipe or a limit: keep trying anyway. */
    }
  }
}

static void setuid_child(void) {
  uid_t r, e, s;
  getresuid(&r, &e, &s);
  printf("setuid child: uid %u euid %u\n", r, e);
}

/* Runs fn in a child; prints how it ended. */
static void in_child(const char *what, void (*fn)(void)) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    fn();
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
  else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

#define STUB_BASE 0x7ffa00000000UL
#define VSYSCALL 0xffffffffff600000UL
#define TOP 0x7ffffffff000UL

static void show_map(const char *what, void *want, void *got) {
  if (got == MAP_FAILED) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %s\n", what, got == want ? "mapped there" : "mapped elsewhere");
}

static void map_stub_fixed(void) {
  void *p = mmap((void *)STUB_BASE, 0x2000, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  show_map("  mmap MAP_FIXED at the stub", (void *)STUB_BASE, p);
  if (p != MAP_FAILED) memset(p, 0xcc, 0x2000); /* int3 over whatever was there */
  printf("  getpid after: %s\n", getpid() > 0 ? "ok" : "failed");
  fflush(stdout);
}

static void map_stub_hint(void) {
  void *p = mmap((void *)STUB_BASE, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show_map("  mmap hint at the stub", (void *)STUB_BASE, p);
  p = mmap((void *)STUB_BASE, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  show_map("  mmap MAP_FIXED_NOREPLACE at the stub", (void *)STUB_BASE, p);
  fflush(stdout);
}

static void unmap_stub(void) {
  printf("  munmap the stub: %s\n", munmap((void *)STUB_BASE, 0x2000) == 0 ? "0" : strerrorname_np(errno));
  printf("  mprotect the stub: %s\n",
         mprotect((void *)STUB_BASE, 0x2000, PROT_READ | PROT_WRITE) == 0 ? "0" : strerrorname_np(errno));
  printf("  madvise(DONTNEED) the stub: %s\n",
         madvise((void *)STUB_BASE, 0x2000, MADV_DONTNEED) == 0 ? "0" : strerrorname_np(errno));
  printf("  getpid after: %s\n", getpid() > 0 ? "ok" : "failed");
  fflush(stdout);
}

static void write_stub(void) {
  *(volatile char *)(STUB_BASE + 0x1000) = 1;
}

static void jump_stub(void) {
  /* The stub's first syscall instruction (after three 5-byte moves at the start of its code),
   * with exit_group(42) in the registers: the sentry must treat it as the application's call. */
  register long rax asm("rax") = SYS_exit_group;
  register long rdi asm("rdi") = 42;
  asm volatile("jmp *%2" : : "r"(rax), "r"(rdi), "r"(STUB_BASE + 64 + 2 * 56 + 15) : "memory");
}

static void map_vsyscall(void) {
  void *p = mmap((void *)VSYSCALL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  show_map("  mmap MAP_FIXED at the vsyscall page", (void *)VSYSCALL, p);
  printf("  munmap the vsyscall page: %s\n", munmap((void *)VSYSCALL, 4096) == 0 ? "0" : strerrorname_np(errno));
  fflush(stdout);
}

static void call_vsyscall(void) {
  struct timeval tv = {0, 0};
  long (*gtod)(struct timeval *, void *) = (void *)VSYSCALL;
  long r = gtod(&tv, 0);
  printf("  vsyscall gettimeofday: %s\n", r == 0 && tv.tv_sec > 0 ? "a time" : "no time");
  fflush(stdout);
}

static void map_top(void) {
  void *p = mmap((void *)TOP, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  show_map("  mmap MAP_FIXED at 0x7ffffffff000", (void *)TOP, p);
  p = mmap((void *)(TOP - 4096), 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  show_map("  mmap MAP_FIXED across the top", (void *)(TOP - 4096), p);
  /* The last page may hold the stack (the sentry places it there): then EEXIST. */
  char *q = mmap((void *)(TOP - 4096), 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (q == MAP_FAILED && errno == EEXIST) {
    /* Then the highest free page below the stack. */
    q = mmap((void *)(TOP - 4096), 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  if (q == MAP_FAILED) {
    printf("  mmap near the top: %s\n", strerrorname_np(errno));
  } else {
    /* A system call as the last instructions of the page: mov eax, 39 (getpid); syscall; ret */
    static const unsigned char code[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};
    memcpy(q + 4096 - sizeof code, code, sizeof code);
    long (*f)(void) = (void *)(q + 4096 - sizeof code);
    printf("  getpid from code near the top: %s\n", f() == getpid() ? "ok" : "wrong");
  }
  fflush(stdout);
}

static void reserved(void) {
  in_child("map at the stub", map_stub_fixed);
  in_child("hint at the stub", map_stub_hint);
  in_child("unmap the stub", unmap_stub);
  in_child("write the stub's data page", write_stub);
  in_child("jump into the stub", jump_stub);
  in_child("map the vsyscall page", map_vsyscall);
  in_child("call the vsyscall page", call_vsyscall);
  in_child("map the top", map_top);
  printf("reserved: getpid %s\n", getpid() == 1 ? "1" : "not 1");
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *mode = argv[1];
  if (strcmp(mode, "setuid-child") == 0) {
    setuid_child();
    return 0;
  }
  if (argc < 4) return 2;
  mark_host(argv[2], argv[3]);
  if (strcmp(mode, "bomb") == 0) bomb();
  else if (strcmp(mode, "hog") == 0) hog();
  else if (strcmp(mode, "fds") == 0) fds();
  else if (strcmp(mode, "huge") == 0) huge();
  else if (strcmp(mode, "flood") == 0) flood();
  else if (strcmp(mode, "spin") == 0)
    for (volatile unsigned long i = 0;; i++) {
    }
  else if (strcmp(mode, "setuid") == 0 && argc > 4) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) return 3;
    setuid_child();
    fflush(stdout);
    execl(argv[4], argv[4], "setuid-child", (char *)0);
    printf("exec: %s\n", strerrorname_np(errno));
  } else if (strcmp(mode, "reserved") == 0) reserved();
  else return 2;
  return 0;
}
