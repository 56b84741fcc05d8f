/* Locked memory as Linux keeps it per mapping: mlock, mlock2(MLOCK_ONFAULT), MAP_LOCKED and
 * mlockall(MCL_CURRENT/MCL_FUTURE) mark mappings locked, munlock/munlockall clear them, fork
 * does not inherit them; msync(MS_INVALIDATE) is EBUSY and MADV_DONTNEED EINVAL on locked
 * pages; RLIMIT_MEMLOCK counts what is locked already (without CAP_IPC_LOCK): mlock ENOMEM or
 * EPERM, MAP_LOCKED and mremap growth EAGAIN or EPERM. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

#define PG 4096
static int locked(void *p) {
  return msync(p, PG, MS_ASYNC | MS_INVALIDATE) < 0 && errno == EBUSY;
}

/* VmLck of /proc/self/status, in kB, less what was locked at the start. */
static long vmlck0 = -1;
static long vmlck(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f)) if (sscanf(line, "VmLck: %ld", &kb) == 1) break;
  if (f) fclose(f);
  return vmlck0 < 0 ? kb : kb - vmlck0;
}

static void *anon(size_t len, int prot, int flags) {
  return mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

struct hdr { unsigned version; int pid; };
struct data { unsigned effective, permitted, inheritable; };

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *a = anon(3 * PG, PROT_READ | PROT_WRITE, 0);
  R("locked before mlock", locked(a));
  vmlck0 = vmlck();
  R("mlock middle page", mlock(a + PG, PG));
  R("  VmLck kB", vmlck());
  R("  first page locked", locked(a));
  R("  middle page locked", locked(a + PG));
  R("msync MS_SYNC|MS_INVALIDATE over it", msync(a, 3 * PG, MS_SYNC | MS_INVALIDATE));
  R("msync MS_SYNC without invalidate", msync(a, 3 * PG, MS_SYNC));
  R("madvise DONTNEED over it", madvise(a, 3 * PG, MADV_DONTNEED));
  R("madvise DONTNEED first page", madvise(a, PG, MADV_DONTNEED));
  pid_t c = fork();
  if (c == 0) {
    R("child: middle page locked", locked(a + PG));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  R("munlock all three", munlock(a, 3 * PG));
  R("  VmLck kB", vmlck());
  R("  middle page locked", locked(a + PG));
  char *n = anon(PG, PROT_NONE, 0);
  R("mlock PROT_NONE", mlock(n, PG));
  R("  locked anyway", locked(n));
  char *o = anon(PG, PROT_NONE, 0);
  R("mlock2 MLOCK_ONFAULT PROT_NONE", syscall(SYS_mlock2, o, PG, MLOCK_ONFAULT));
  R("  locked", locked(o));
  R("  VmLck kB (both PROT_NONE pages)", vmlck());
  char *m = anon(PG, PROT_READ | PROT_WRITE, MAP_LOCKED);
  R("MAP_LOCKED locked", locked(m));
  R("mlockall(MCL_FUTURE)", mlockall(MCL_FUTURE));
  char *f = anon(PG, PROT_READ | PROT_WRITE, 0);
  R("  new mapping locked", locked(f));
  R("  old mapping locked", locked(a));
  R("munlockall", munlockall());
  char *g = anon(PG, PROT_READ | PROT_WRITE, 0);
  R("  newer mapping locked", locked(g));
  R("  MAP_LOCKED one locked", locked(m));
  R("mlockall(MCL_CURRENT)", mlockall(MCL_CURRENT));
  R("  old mapping locked", locked(a));
  R("  VmLck covers the mapping", vmlck() >= 3 * PG / 1024);
  munlockall();
  R("  VmLck after munlockall", vmlck() + vmlck0);
  munmap(n, PG);
  munmap(o, PG);

  c = fork();
  if (c == 0) {
    struct hdr h = {0x20080522, 0};
    struct data d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << 14); /* CAP_IPC_LOCK */
    R("child: drop IPC_LOCK", syscall(SYS_capset, &h, d));
    struct rlimit rl = {PG, PG};
    R("child: RLIMIT_MEMLOCK one page", setrlimit(RLIMIT_MEMLOCK, &rl));
    R("child: mlock two pages", mlock(a, 2 * PG));
    R("child: mlock one page", mlock(a, PG));
    R("child: mlock it again", mlock(a, PG));
    R("child: mlock another page", mlock(a + PG, PG));
    R("child: MAP_LOCKED a page", anon(PG, PROT_READ, MAP_LOCKED) == MAP_FAILED);
    munlock(a, PG);
    char *l = anon(PG, PROT_READ | PROT_WRITE, MAP_LOCKED);
    R("child: MAP_LOCKED a page when none is locked", l == MAP_FAILED);
    R("child: mremap the locked page to two", mremap(l, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED);
    rl.rlim_cur = 0;
    R("child: RLIMIT_MEMLOCK 0", setrlimit(RLIMIT_MEMLOCK, &rl));
    R("child: mlock", mlock(a + 2 * PG, PG));
    R("child: MAP_LOCKED", anon(PG, PROT_READ, MAP_LOCKED) == MAP_FAILED);
    R("child: munlock", munlock(a, 3 * PG));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
