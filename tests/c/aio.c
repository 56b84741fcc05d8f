/* Native AIO (io_setup, io_submit, io_getevents, io_pgetevents, io_cancel, io_destroy): the
 * ring a program may read itself, completions of each kind, polls that wait, eventfd
 * notification, the ring moved by mremap, and the errors, printed without addresses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

struct ring { unsigned id, nr, head, tail, magic, compat, incompat, header; struct io_event ev[]; };

static long setup(unsigned nr, aio_context_t *c) { return syscall(SYS_io_setup, nr, c); }
static long submit(aio_context_t c, long n, struct iocb **l) { return syscall(SYS_io_submit, c, n, l); }
static long getev(aio_context_t c, long min, long max, struct io_event *e, struct timespec *t) {
  return syscall(SYS_io_getevents, c, min, max, e, t);
}
static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
static volatile sig_atomic_t sigpipes;
static void onpipe(int s) { (void)s; sigpipes++; }

static struct iocb cb(int op, int fd, const void *buf, size_t n, long long off) {
  struct iocb c;
  memset(&c, 0, sizeof c);
  c.aio_data = 0xabc;
  c.aio_lio_opcode = op;
  c.aio_fildes = fd;
  c.aio_buf = (uintptr_t)buf;
  c.aio_nbytes = n;
  c.aio_offset = off;
  return c;
}

static aio_context_t shared;
static void *submitter(void *arg) {
  usleep(100000);
  struct iocb c = cb(IOCB_CMD_PWRITE, *(int *)arg, "late", 4, 0), *l[1] = {&c};
  return (void *)submit(shared, 1, l);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, onpipe);
  aio_context_t ctx = 0, bad = 1;
  const char *e1 = err(setup(0, &ctx));
  printf("setup nr 0: %s; ctx not zero: %s\n", e1, err(setup(4, &bad)));
  printf("setup huge: %s\n", err(setup(0x7fffffff, &ctx)));
  printf("setup: %s\n", err(setup(8, &ctx)));
  struct ring *r = (struct ring *)ctx;
  printf("ring: id %u nr %u head %u tail %u magic %x compat %u incompat %u header %u\n", r->id, r->nr, r->head,
         r->tail, r->magic, r->compat, r->incompat, r->header);

  char path[] = "/tmp/aioXXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  struct iocb w = cb(IOCB_CMD_PWRITE, fd, "hello world", 11, 5), *l[4] = {&w};
  printf("pwrite: %ld\n", submit(ctx, 1, l));
  printf("tail after one: %u\n", r->tail);
  struct io_event ev[8];
  long n = getev(ctx, 1, 8, ev, NULL);
  printf("events %ld: data %llx obj %d res %lld\n", n, (unsigned long long)ev[0].data, ev[0].obj == (uintptr_t)&w,
         (long long)ev[0].res);
  char a[6] = {0}, b[7] = {0};
  struct iovec iov[2] = {{a, 5}, {b, 6}};
  struct iocb rv = cb(IOCB_CMD_PREADV, fd, iov, 2, 5), rd = cb(IOCB_CMD_PREAD, fd, a, 5, 0);
  struct iocb sync = cb(IOCB_CMD_FSYNC, fd, 0, 0, 0);
  l[0] = &rv, l[1] = &rd, l[2] = &sync;
  printf("preadv, pread, fsync: %ld\n", submit(ctx, 3, l));
  n = getev(ctx, 3, 8, ev, NULL);
  printf("events %ld: %lld %lld %lld, '%s' '%s'\n", n, (long long)ev[0].res, (long long)ev[1].res,
         (long long)ev[2].res, a, b);

  /* The program takes an event from the ring itself, as libaio and fio may. */
  l[0] = &w;
  submit(ctx, 1, l);
  struct io_event own = r->ev[r->head];
  r->head = (r->head + 1) % r->nr;
  struct timespec zero = {0, 0};
  printf("own reap: res %lld; then getevents %ld\n", (long long)own.res, getev(ctx, 1, 1, ev, &zero));

  /* Errors at submission. */
  struct iocb neg = cb(IOCB_CMD_PREAD, fd, a, 5, -1), rsv = cb(IOCB_CMD_PREAD, fd, a, 5, 0);
  rsv.aio_reserved2 = 1;
  struct iovec kiov = {(void *)0xffffffff00000000ul, 1};
  struct iocb kern = cb(IOCB_CMD_PREADV, fd, &kiov, 1, 0), op = cb(42, fd, a, 5, 0), badfd = cb(IOCB_CMD_PREAD, 999, a, 5, 0);
  struct iocb *one[1];
  struct { const char *what; struct iocb *c; } cases[] = {
    {"negative offset", &neg}, {"reserved2", &rsv}, {"kernel iovec", &kern}, {"opcode 42", &op}, {"bad fd", &badfd}};
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    one[0] = cases[i].c;
    printf("%s: %s\n", cases[i].what, err(submit(ctx, 1, one)));
  }
  l[0] = &w, l[1] = &neg;
  printf("good then bad: %ld\n", submit(ctx, 2, l));
  getev(ctx, 1, 8, ev, NULL);
  e1 = err(submit(12345, 1, l));
  printf("bad ctx: %s; min > max: %s\n", e1, err(getev(ctx, 2, 1, ev, NULL)));
  printf("timeout: %ld\n", getev(ctx, 1, 1, ev, &(struct timespec){0, 1000000}));

  /* A broken pipe: the event carries EPIPE, and SIGPIPE is raised. */
  int p[2];
  pipe(p);
  close(p[0]);
  struct iocb pw = cb(IOCB_CMD_PWRITE, p[1], "x", 1, 0);
  l[0] = &pw;
  submit(ctx, 1, l);
  getev(ctx, 1, 1, ev, NULL);
  printf("broken pipe: res %lld, SIGPIPEs %d\n", (long long)ev[0].res, (int)sigpipes);

  /* Polls: ready at once, woken later (with an eventfd told), cancelled. */
  int q[2];
  pipe(q);
  int efd = eventfd(0, 0);
  struct iocb pl = cb(IOCB_CMD_POLL, q[0], (void *)(uintptr_t)POLLIN, 0, 0);
  pl.aio_flags = IOCB_FLAG_RESFD;
  pl.aio_resfd = efd;
  l[0] = &pl;
  long sub = submit(ctx, 1, l);
  printf("poll submitted: %ld; events now %ld\n", sub, getev(ctx, 1, 1, ev, &zero));
  write(q[1], "y", 1);
  uint64_t cnt = 0;
  read(efd, &cnt, 8);
  n = getev(ctx, 1, 1, ev, &zero);
  printf("poll woken: %ld res %llx, eventfd %llu\n", n, (unsigned long long)ev[0].res, (unsigned long long)cnt);
  sub = submit(ctx, 1, l);
  n = getev(ctx, 1, 1, ev, NULL);
  printf("poll ready at once: %ld %ld, res %llx\n", sub, n, (unsigned long long)ev[0].res);
  char c;
  read(q[0], &c, 1);
  pl.aio_flags = 0;
  submit(ctx, 1, l);
  struct io_event dummy;
  e1 = err(syscall(SYS_io_cancel, ctx, &pl, &dummy));
  printf("cancel: %s; again: %s\n", e1, err(syscall(SYS_io_cancel, ctx, &pl, &dummy)));
  /* The iocb's key is read before the context is looked up: EFAULT, then EINVAL. */
  e1 = err(syscall(SYS_io_cancel, 0, NULL, NULL));
  printf("cancel NULL iocb, no context: %s; unkeyed iocb: %s\n", e1, err(syscall(SYS_io_cancel, 0, &dummy, NULL)));
  n = getev(ctx, 1, 1, ev, NULL); /* Linux delivers a cancelled poll's event from a worker */
  printf("cancelled poll: %ld res %lld\n", n, (long long)ev[0].res);

  /* A thread's submission wakes a waiting getevents. */
  shared = ctx;
  pthread_t th;
  pthread_create(&th, NULL, submitter, &fd);
  n = getev(ctx, 1, 1, ev, NULL);
  void *ret;
  pthread_join(th, &ret);
  printf("woken by a thread: %ld res %lld (its submit %ld)\n", n, (long long)ev[0].res, (long)ret);

  /* A child keeps the ring's mapping, not the context. */
  pid_t pid = fork();
  if (pid == 0) {
    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    int seen = 0;
    while (fgets(line, sizeof line, m)) seen += strstr(line, "[aio]") != NULL;
    l[0] = &w;
    printf("child: rings mapped %d, submit %s\n", seen, err(submit(ctx, 1, l)));
    _exit(0);
  }
  waitpid(pid, NULL, 0);

  /* mremap moves the ring: the old id is gone, the new one works; it never grows. */
  size_t size = (sizeof(struct ring) + r->nr * sizeof(struct io_event) + 4095) / 4096 * 4096;
  void *dst = mmap(NULL, size + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("grow: %s\n", mremap((void *)ctx, size, size + 4096, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED
                              ? strerrorname_np(errno) : "moved");
  dst = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *moved = mremap((void *)ctx, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  aio_context_t old = ctx;
  ctx = (aio_context_t)moved;
  l[0] = &w;
  e1 = err(submit(old, 1, l));
  printf("moved: old %s, new %ld\n", e1, submit(ctx, 1, l));
  printf("events at the new place: %ld\n", getev(ctx, 1, 1, ev, NULL));
  mprotect((void *)ctx, 4096, PROT_NONE);
  e1 = err(getev(ctx, 1, 1, ev, &zero));
  printf("ring PROT_NONE: getevents %s, destroy %s\n", e1, err(syscall(SYS_io_destroy, ctx)));
  mprotect((void *)ctx, 4096, PROT_READ | PROT_WRITE);
  e1 = err(syscall(SYS_io_destroy, ctx));
  printf("destroy: %s; again %s\n", e1, err(syscall(SYS_io_destroy, ctx)));
  FILE *m = fopen("/proc/self/maps", "r");
  char line[512];
  int seen = 0;
  while (fgets(line, sizeof line, m)) seen += strstr(line, "[aio]") != NULL;
  printf("rings left: %d\n", seen);
  return 0;
}
