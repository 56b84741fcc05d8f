/* userfaultfd(2) (kernel/userfaultfd.ts): UFFDIO_API's checks and the features a program needs
 * here, UFFDIO_REGISTER's errors and answer, missing-page faults resolved from another thread
 * by UFFDIO_COPY, ZEROPAGE and MOVE (with DONTWAKE then WAKE), EEXIST on a present page,
 * MADV_DONTNEED making a page missing again, a signal delivered to a thread asleep in a fault,
 * write protection (UFFDIO_WRITEPROTECT), UFFDIO_POISON (SIGBUS), UFFD_FEATURE_SIGBUS,
 * THREAD_ID and EXACT_ADDRESS, unregistering, closing with a thread asleep, a fork's child
 * (no registration), read and poll rules, and /dev/userfaultfd's USERFAULTFD_IOC_NEW. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#define F_POISON (1ULL << 14)
#define F_MOVE (1ULL << 16)
struct move_s { uint64_t dst, src, len, mode; int64_t move; };
struct poison_s { struct uffdio_range range; uint64_t mode; int64_t updated; };
#define IOC_MOVE _IOWR(0xAA, 0x05, struct move_s)
#define IOC_POISON _IOWR(0xAA, 0x08, struct poison_s)

static long pg;

/* The result of a call, then its errno when it failed (evaluated in that order). */
#define SHOW(label, expr)                                                                        \
  do {                                                                                           \
    errno = 0;                                                                                   \
    long r_ = (long)(expr);                                                                      \
    int e_ = errno;                                                                              \
    printf("  %s: %ld%s%s\n", label, r_, r_ < 0 ? " " : "", r_ < 0 ? strerror(e_) : "");        \
  } while (0)

static int uffd_new(int flags) { return syscall(SYS_userfaultfd, flags); }

static int api(int fd, uint64_t features) {
  struct uffdio_api a = {.api = UFFD_API, .features = features};
  return ioctl(fd, UFFDIO_API, &a);
}

static int reg(int fd, void *p, long len, uint64_t mode, uint64_t *ioctls) {
  struct uffdio_register r = {.range = {(uintptr_t)p, len}, .mode = mode};
  int rc = ioctl(fd, UFFDIO_REGISTER, &r);
  if (ioctls) *ioctls = r.ioctls;
  return rc;
}

static char *anon(int pages) {
  return mmap(NULL, pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static struct uffd_msg wait_msg(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  struct uffd_msg m;
  memset(&m, 0, sizeof m);
  if (poll(&p, 1, 5000) != 1) printf("  poll: nothing\n");
  if (read(fd, &m, sizeof m) != sizeof m) printf("  read: %s\n", strerror(errno));
  return m;
}

/* The resolver thread: what to do with the first fault message. */
static int rfd;
static char *rpage;
static int rkind; /* 0 copy, 1 zeropage, 2 copy DONTWAKE then WAKE, 3 move, 4 signal then copy, 5 unprotect, 6 close, 7 poison, 8 continue */
static int rmemfd;
static char *evbase, *tgtbase;

static pthread_t faulter;
static char srcbuf[65536] __attribute__((aligned(4096)));
static volatile int got_usr1;
static struct uffd_msg last;

/* What the resolver says, printed by the main thread once it joined it (a fixed order). */
static char rlog[1024];
static size_t rlen;
#define rprintf(...) (rlen += snprintf(rlog + rlen, sizeof rlog - rlen, __VA_ARGS__))

/* Offsets of an event's address from the registered range or the mremap target. */
static void rwhere(uint64_t a) {
  if (a >= (uintptr_t)evbase && a <= (uintptr_t)evbase + 4 * pg) rprintf(" ev+%ld", (long)(a - (uintptr_t)evbase));
  else rprintf(" tgt+%ld", (long)(a - (uintptr_t)tgtbase));
}

static void on_usr1(int s) {
  (void)s;
  got_usr1 = 1;
}

static void *resolver(void *arg) {
  (void)arg;
  if (rkind == 9) {
    for (int i = 0; i < 4; i++) {
      struct uffd_msg m = wait_msg(rfd);
      rprintf("  event 0x%x", m.event);
      if (m.event == UFFD_EVENT_REMAP) {
        rwhere(m.arg.remap.from);
        rwhere(m.arg.remap.to);
        rprintf(" len %llu\n", (unsigned long long)m.arg.remap.len);
      } else {
        rwhere(m.arg.remove.start);
        rwhere(m.arg.remove.end);
        rprintf("\n");
      }
    }
    return NULL;
  }
  last = wait_msg(rfd);
  uintptr_t at = last.arg.pagefault.address & ~(uintptr_t)(pg - 1);
  if (rkind == 4) {
    pthread_kill(faulter, SIGUSR1);
    usleep(100000);
  }
  if (rkind == 0 || rkind == 4) {
    struct uffdio_copy c = {.dst = at, .src = (uintptr_t)srcbuf, .len = pg};
    if (ioctl(rfd, UFFDIO_COPY, &c)) rprintf("  copy: %s\n", strerror(errno));
    rprintf("  copy.copy %lld\n", (long long)c.copy);
  } else if (rkind == 1) {
    struct uffdio_zeropage z = {.range = {at, pg}};
    if (ioctl(rfd, UFFDIO_ZEROPAGE, &z)) rprintf("  zeropage: %s\n", strerror(errno));
    rprintf("  zeropage.zeropage %lld\n", (long long)z.zeropage);
  } else if (rkind == 2) {
    struct uffdio_copy c = {.dst = at, .src = (uintptr_t)srcbuf, .len = pg, .mode = UFFDIO_COPY_MODE_DONTWAKE};
    if (ioctl(rfd, UFFDIO_COPY, &c)) rprintf("  copy: %s\n", strerror(errno));
    usleep(50000);
    struct uffdio_range w = {at, pg};
    if (ioctl(rfd, UFFDIO_WAKE, &w)) rprintf("  wake: %s\n", strerror(errno));
  } else if (rkind == 3) {
    char *src = anon(1);
    memset(src, 'M', pg);
    struct move_s mv = {.dst = at, .src = (uintptr_t)src, .len = pg};
    if (ioctl(rfd, IOC_MOVE, &mv)) rprintf("  move: %s\n", strerror(errno));
    rprintf("  move.move %lld, source now %d\n", (long long)mv.move, src[0]);
    munmap(src, pg);
  } else if (rkind == 5) {
    struct uffdio_writeprotect w = {.range = {at, pg}, .mode = 0};
    if (ioctl(rfd, UFFDIO_WRITEPROTECT, &w)) rprintf("  unprotect: %s\n", strerror(errno));
  } else if (rkind == 6) {
    close(rfd);
  } else if (rkind == 8) {
    pwrite(rmemfd, "Z", 1, at - (uintptr_t)rpage);
    struct uffdio_continue c = {.range = {at, pg}};
    if (ioctl(rfd, UFFDIO_CONTINUE, &c)) rprintf("  continue: %s\n", strerror(errno));
    rprintf("  continue.mapped %lld\n", (long long)c.mapped);
  } else if (rkind == 7) {
    struct poison_s p = {.range = {at, pg}};
    if (ioctl(rfd, IOC_POISON, &p)) rprintf("  poison: %s\n", strerror(errno));
    rprintf("  poison.updated %lld\n", (long long)p.updated);
    close(rfd);
  }
  return NULL;
}

static pthread_t rth;

static void start(int fd, char *page, int kind) {
  rfd = fd;
  rpage = page;
  rkind = kind;
  faulter = pthread_self();
  rlen = 0;
  rlog[0] = 0;
  pthread_create(&rth, NULL, resolver, NULL);
}

static void finish(void) {
  pthread_join(rth, NULL);
  fputs(rlog, stdout);
}

static void show_msg(char *page) {
  printf("  msg event 0x%x flags %llu at page+%ld\n", last.event, (unsigned long long)last.arg.pagefault.flags,
         (long)((char *)(uintptr_t)last.arg.pagefault.address - page));
}

static sigjmp_buf jb;
static volatile int sig_code;
static void on_bus(int s, siginfo_t *si, void *uc) {
  (void)s;
  (void)uc;
  sig_code = si->si_code;
  siglongjmp(jb, 1);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pg = sysconf(_SC_PAGESIZE);
  for (int i = 0; i < (int)sizeof srcbuf; i++) srcbuf[i] = 'A' + i % 26;
  struct sigaction sa = {.sa_handler = on_usr1};
  sigaction(SIGUSR1, &sa, NULL);

  printf("flags:\n");
  SHOW("bad flag", uffd_new(0x40));
  int fd = uffd_new(O_CLOEXEC | O_NONBLOCK);
  int cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
  printf("  fd ok %d, cloexec %d, access mode %d\n", fd >= 0, cloexec, fcntl(fd, F_GETFL) & O_ACCMODE);
  char buf[64];
  SHOW("read before API", read(fd, buf, sizeof buf));
  struct pollfd pf = {.fd = fd, .events = POLLIN};
  int n = poll(&pf, 1, 0);
  printf("  poll before API: %d revents 0x%x\n", n, pf.revents);
  uint64_t ioctls = 0;
  char *page = anon(4);
  SHOW("register before API", reg(fd, page, pg, UFFDIO_REGISTER_MODE_MISSING, NULL));

  printf("UFFDIO_API:\n");
  struct uffdio_api a = {.api = 0xab, .features = 0, .ioctls = 7};
  SHOW("bad api", ioctl(fd, UFFDIO_API, &a));
  printf("    zeroed %d\n", a.api == 0 && a.ioctls == 0);
  a.api = UFFD_API;
  a.features = 1ULL << 40;
  SHOW("unknown feature", ioctl(fd, UFFDIO_API, &a));
  a.api = UFFD_API;
  a.features = 0;
  n = ioctl(fd, UFFDIO_API, &a);
  printf("  ok: %d ioctls 0x%llx\n", n, (unsigned long long)a.ioctls);
  uint64_t want = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_SIGBUS | UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EXACT_ADDRESS | F_POISON | F_MOVE;
  printf("  offers WP, SIGBUS, THREAD_ID, EXACT_ADDRESS, POISON, MOVE: %d\n", (a.features & want) == want);
  a.api = UFFD_API;
  a.features = 0;
  SHOW("again", ioctl(fd, UFFDIO_API, &a));
  n = poll(&pf, 1, 0);
  printf("  poll, nothing pending: %d revents 0x%x\n", n, pf.revents);
  SHOW("short read", read(fd, buf, 16));
  SHOW("read, nothing pending", read(fd, buf, sizeof buf));

  printf("UFFDIO_REGISTER:\n");
  SHOW("mode 0", reg(fd, page, pg, 0, NULL));
  SHOW("mode 8", reg(fd, page, pg, 8, NULL));
  SHOW("unaligned", reg(fd, page + 1, pg, 1, NULL));
  SHOW("length 0", reg(fd, page, 0, 1, NULL));
  SHOW("below mmap_min_addr", reg(fd, (void *)4096, pg, 1, NULL));
  char *hole = anon(1);
  munmap(hole, pg);
  SHOW("nothing mapped", reg(fd, hole, pg, 1, NULL));
  int tmp = open("/proc/self/exe", O_RDONLY);
  char *fmap = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, tmp, 0);
  close(tmp);
  SHOW("file mapping", reg(fd, fmap, pg, 1, NULL));
  n = reg(fd, page, 4 * pg, UFFDIO_REGISTER_MODE_MISSING, &ioctls);
  printf("  missing: %d ioctls 0x%llx\n", n, (unsigned long long)ioctls);
  int other = uffd_new(O_CLOEXEC);
  api(other, 0);
  SHOW("already another's", reg(other, page, pg, 1, NULL));
  close(other);

  printf("a missing page, UFFDIO_COPY:\n");
  start(fd, page, 0);
  char c0 = page[0];
  printf("  read %c%c\n", c0, page[1]);
  finish();
  show_msg(page);
  struct uffdio_copy c = {.dst = (uintptr_t)page, .src = (uintptr_t)srcbuf, .len = pg};
  SHOW("copy again", ioctl(fd, UFFDIO_COPY, &c));
  printf("    copy %lld\n", (long long)c.copy);
  c.dst = (uintptr_t)page + 1;
  SHOW("unaligned copy", ioctl(fd, UFFDIO_COPY, &c));
  c.dst = (uintptr_t)page + 3 * pg;
  c.mode = 4;
  SHOW("bad mode", ioctl(fd, UFFDIO_COPY, &c));
  c.mode = UFFDIO_COPY_MODE_WP;
  SHOW("WP copy without WP mode", ioctl(fd, UFFDIO_COPY, &c));
  printf("    copy %lld\n", (long long)c.copy);
  c.dst = (uintptr_t)fmap;
  c.mode = 0;
  SHOW("copy outside registration", ioctl(fd, UFFDIO_COPY, &c));
  printf("    copy %lld\n", (long long)c.copy);
  c.dst = (uintptr_t)page;
  c.len = 2 * pg;
  SHOW("copy over a present page", ioctl(fd, UFFDIO_COPY, &c));
  printf("    copy %lld\n", (long long)c.copy);

  printf("UFFDIO_ZEROPAGE:\n");
  start(fd, page, 1);
  page[pg + 5] = 'z';
  finish();
  show_msg(page);
  printf("  page 1: %c %d\n", page[pg + 5], page[pg + 6]);

  printf("DONTWAKE then UFFDIO_WAKE:\n");
  start(fd, page, 2);
  c0 = page[2 * pg + 2];
  finish();
  printf("  read %c\n", c0);

  printf("MADV_DONTNEED makes page 0 missing again, UFFDIO_MOVE:\n");
  madvise(page, pg, MADV_DONTNEED);
  start(fd, page, 3);
  c0 = page[0];
  finish();
  printf("  read %c\n", c0);
  show_msg(page);

  printf("a signal for a thread asleep in a fault:\n");
  got_usr1 = 0;
  start(fd, page, 4);
  c0 = page[3 * pg + 1];
  finish();
  printf("  read %c, handler ran %d\n", c0, got_usr1);

  printf("UFFDIO_UNREGISTER:\n");
  madvise(page, 4 * pg, MADV_DONTNEED);
  SHOW("file mapping in range", ioctl(fd, UFFDIO_UNREGISTER, &(struct uffdio_range){(uintptr_t)fmap, pg}));
  printf("  ok: %d\n", ioctl(fd, UFFDIO_UNREGISTER, &(struct uffdio_range){(uintptr_t)page, 4 * pg}));
  printf("  read after: %d %d\n", page[0], page[3 * pg]);
  c.dst = (uintptr_t)page;
  c.len = pg;
  SHOW("copy after", ioctl(fd, UFFDIO_COPY, &c));
  printf("    copy %lld\n", (long long)c.copy);

  printf("write protection:\n");
  char *wp = anon(1);
  memset(wp, 'w', pg);
  n = reg(fd, wp, pg, UFFDIO_REGISTER_MODE_WP, &ioctls);
  printf("  register: %d ioctls 0x%llx\n", n, (unsigned long long)ioctls);
  struct uffdio_writeprotect w = {.range = {(uintptr_t)wp, pg}, .mode = UFFDIO_WRITEPROTECT_MODE_WP | UFFDIO_WRITEPROTECT_MODE_DONTWAKE};
  SHOW("WP with DONTWAKE", ioctl(fd, UFFDIO_WRITEPROTECT, &w));
  w.mode = UFFDIO_WRITEPROTECT_MODE_WP;
  w.range.start = (uintptr_t)page;
  SHOW("not WP-registered", ioctl(fd, UFFDIO_WRITEPROTECT, &w));
  w.range.start = (uintptr_t)wp;
  printf("  protect: %d\n", ioctl(fd, UFFDIO_WRITEPROTECT, &w));
  printf("  read %c\n", wp[3]);
  start(fd, wp, 5);
  wp[3] = 'W';
  finish();
  show_msg(wp);
  printf("  wrote %c\n", wp[3]);
  ioctl(fd, UFFDIO_UNREGISTER, &(struct uffdio_range){(uintptr_t)wp, pg});

  printf("fork: the child has no registration:\n");
  char *fk = anon(1);
  reg(fd, fk, pg, UFFDIO_REGISTER_MODE_MISSING, NULL);
  pid_t pid = fork();
  if (pid == 0) {
    printf("  child reads %d\n", fk[9]);
    fk[9] = 1;
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("  child status %d\n", st);
  struct uffdio_zeropage z = {.range = {(uintptr_t)fk, pg}};
  printf("  parent's page still missing: zeropage %d\n", ioctl(fd, UFFDIO_ZEROPAGE, &z));

  printf("closing with a thread asleep:\n");
  char *cl = anon(1);
  reg(fd, cl, pg, UFFDIO_REGISTER_MODE_MISSING, NULL);
  start(fd, cl, 6);
  c0 = cl[0];
  finish();
  printf("  read %d\n", c0);

  printf("UFFDIO_POISON:\n");
  fd = uffd_new(O_CLOEXEC | O_NONBLOCK);
  api(fd, 0);
  char *po = anon(1);
  reg(fd, po, pg, UFFDIO_REGISTER_MODE_MISSING, NULL);
  struct sigaction sb = {.sa_sigaction = on_bus, .sa_flags = SA_SIGINFO};
  sigaction(SIGBUS, &sb, NULL);
  start(fd, po, 7);
  if (sigsetjmp(jb, 1) == 0) {
    c0 = po[0];
    finish();
    printf("  read %d\n", c0);
  } else {
    finish();
    printf("  SIGBUS code %d\n", sig_code);
  }
  if (sigsetjmp(jb, 1) == 0) printf("  read %d\n", po[0]);
  else printf("  again SIGBUS code %d\n", sig_code);
  madvise(po, pg, MADV_DONTNEED);
  printf("  after MADV_DONTNEED read %d\n", po[0]);

  printf("UFFD_FEATURE_SIGBUS:\n");
  fd = uffd_new(O_CLOEXEC);
  printf("  api: %d\n", api(fd, UFFD_FEATURE_SIGBUS));
  char *sbp = anon(1);
  reg(fd, sbp, pg, UFFDIO_REGISTER_MODE_MISSING, NULL);
  if (sigsetjmp(jb, 1) == 0) printf("  read %d\n", sbp[0]);
  else printf("  SIGBUS code %d\n", sig_code);
  close(fd);

  printf("THREAD_ID, EXACT_ADDRESS, a blocking descriptor:\n");
  fd = uffd_new(O_CLOEXEC);
  printf("  api: %d\n", api(fd, UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EXACT_ADDRESS));
  struct pollfd pb = {.fd = fd, .events = POLLIN};
  n = poll(&pb, 1, 0);
  printf("  poll: %d revents 0x%x\n", n, pb.revents);
  char *ex = anon(1);
  reg(fd, ex, pg, UFFDIO_REGISTER_MODE_MISSING, NULL);
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  start(fd, ex, 0);
  c0 = ex[123];
  finish();
  printf("  read %c\n", c0);
  show_msg(ex);
  printf("  ptid is the faulting thread: %d\n", last.arg.pagefault.feat.ptid == (uint32_t)gettid());
  close(fd);

  printf("minor faults of a memfd mapping:\n");
  fd = uffd_new(O_CLOEXEC | O_NONBLOCK);
  printf("  api: %d\n", api(fd, UFFD_FEATURE_MINOR_SHMEM));
  rmemfd = memfd_create("uffd-minor", 0);
  ftruncate(rmemfd, 3 * pg);
  pwrite(rmemfd, "a", 1, 0);
  char *mi = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, rmemfd, 0);
  SHOW("minor on anonymous memory", reg(fd, ex, pg, UFFDIO_REGISTER_MODE_MINOR, NULL));
  n = reg(fd, mi, 3 * pg, UFFDIO_REGISTER_MODE_MINOR, &ioctls);
  printf("  register: %d ioctls 0x%llx\n", n, (unsigned long long)ioctls);
  start(fd, mi, 8);
  c0 = mi[0];
  finish();
  printf("  read %c\n", c0);
  show_msg(mi);
  struct uffdio_continue cont = {.range = {(uintptr_t)mi, pg}};
  SHOW("continue a mapped page", ioctl(fd, UFFDIO_CONTINUE, &cont));
  printf("    mapped %lld\n", (long long)cont.mapped);
  cont.range.start = (uintptr_t)mi + 2 * pg;
  SHOW("continue a page the file lacks", ioctl(fd, UFFDIO_CONTINUE, &cont));
  printf("    mapped %lld\n", (long long)cont.mapped);
  printf("  page 1 (a hole) reads %d\n", mi[pg]);
  madvise(mi, pg, MADV_DONTNEED);
  start(fd, mi, 8);
  mi[5] = 'w';
  finish();
  show_msg(mi);
  printf("  page 0 holds %c%c\n", mi[0], mi[5]);
  close(fd);
  printf("  after close, page 0 after MADV_DONTNEED reads %c\n", (madvise(mi, pg, MADV_DONTNEED), mi[0]));

  printf("events:\n");
  fd = uffd_new(O_CLOEXEC | O_NONBLOCK);
  printf("  api: %d\n", api(fd, UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP));
  evbase = anon(4);
  tgtbase = anon(4);
  memset(evbase, 'e', 4 * pg);
  reg(fd, evbase, 4 * pg, UFFDIO_REGISTER_MODE_MISSING, NULL);
  start(fd, evbase, 9);
  printf("  madvise: %d\n", madvise(evbase + pg, pg, MADV_DONTNEED));
  char *moved = mremap(evbase, 4 * pg, 4 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, tgtbase);
  printf("  mremap to the target: %d\n", moved == tgtbase);
  printf("  munmap: %d\n", munmap(tgtbase + 3 * pg, pg));
  finish();
  struct uffdio_zeropage zp = {.range = {(uintptr_t)tgtbase + pg, pg}};
  SHOW("the moved mapping is still registered: zeropage", ioctl(fd, UFFDIO_ZEROPAGE, &zp));
  printf("  moved page 0 holds %c\n", tgtbase[0]);
  close(fd);

  printf("/dev/userfaultfd:\n");
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  printf("  open %d\n", dev >= 0);
  SHOW("bad flags", ioctl(dev, USERFAULTFD_IOC_NEW, 0x40));
  fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | UFFD_USER_MODE_ONLY);
  n = api(fd, 0);
  printf("  new %d, api %d\n", fd >= 0, n);
  close(fd);
  close(dev);
  return 0;
}
