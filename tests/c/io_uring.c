/* io_uring: io_uring_setup's checks and what it reports (sizes, offsets), the rings' mmap
 * offsets, NOP (with an injected result), READV/WRITEV/READ/WRITE/FSYNC on a file with
 * positions and the file's own offset (-1), READ_FIXED/WRITE_FIXED on registered buffers, an
 * invalid opcode or flag, a closed descriptor, a read of a pipe that completes when another
 * process writes (io_uring_enter waits; the other process runs), O_NONBLOCK's -EAGAIN, a full
 * CQ ring (the overflow flag, nothing lost), TIMEOUT by time and by count, a link chain cut by a
 * failure, POLL_ADD and ASYNC_CANCEL, the probe, io_uring_register's errors, a signal ending
 * the wait (EINTR), and epoll on the ring. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static int setup(unsigned entries, struct io_uring_params *p) { return syscall(__NR_io_uring_setup, entries, p); }
static int enter(int fd, unsigned n, unsigned min, unsigned flags, void *sig) {
  return syscall(__NR_io_uring_enter, fd, n, min, flags, sig, 8);
}
static int reg(int fd, unsigned op, void *arg, unsigned n) { return syscall(__NR_io_uring_register, fd, op, arg, n); }

struct ring {
  int fd;
  struct io_uring_params p;
  char *sq, *cq;
  struct io_uring_sqe *sqes;
  unsigned *sqtail, *sqhead, *sqarray, *cqhead, *cqtail, *sqflags, mask, cmask;
  struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r, unsigned entries, unsigned flags, unsigned cq) {
  memset(r, 0, sizeof *r);
  r->p.flags = flags;
  r->p.cq_entries = cq;
  r->fd = setup(entries, &r->p);
  if (r->fd < 0) return -1;
  r->sq = mmap(0, r->p.sq_off.array + r->p.sq_entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, IORING_OFF_SQ_RING);
  r->cq = mmap(0, r->p.cq_off.cqes + r->p.cq_entries * 16, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, IORING_OFF_CQ_RING);
  r->sqes = mmap(0, r->p.sq_entries * 64, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, IORING_OFF_SQES);
  if (r->sq == MAP_FAILED || r->cq == MAP_FAILED || r->sqes == MAP_FAILED) return -1;
  r->sqtail = (unsigned *)(r->sq + r->p.sq_off.tail);
  r->sqhead = (unsigned *)(r->sq + r->p.sq_off.head);
  r->sqarray = (unsigned *)(r->sq + r->p.sq_off.array);
  r->sqflags = (unsigned *)(r->sq + r->p.sq_off.flags);
  r->mask = *(unsigned *)(r->sq + r->p.sq_off.ring_mask);
  r->cqhead = (unsigned *)(r->cq + r->p.cq_off.head);
  r->cqtail = (unsigned *)(r->cq + r->p.cq_off.tail);
  r->cmask = *(unsigned *)(r->cq + r->p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(r->cq + r->p.cq_off.cqes);
  return 0;
}

static struct io_uring_sqe *get_sqe(struct ring *r) {
  unsigned t = *r->sqtail, i = t & r->mask;
  struct io_uring_sqe *s = &r->sqes[i];
  memset(s, 0, sizeof *s);
  r->sqarray[i] = i;
  __atomic_store_n(r->sqtail, t + 1, __ATOMIC_RELEASE);
  return s;
}

/* Prints and consumes every CQE there. */
static void reap(struct ring *r, const char *what) {
  unsigned h = *r->cqhead, t = __atomic_load_n(r->cqtail, __ATOMIC_ACQUIRE);
  for (; h != t; h++) {
    struct io_uring_cqe *c = &r->cqes[h & r->cmask];
    if (c->res < 0) printf("%s: cqe %llu = -%s flags %u\n", what, (unsigned long long)c->user_data, strerrorname_np(-c->res), c->flags);
    else printf("%s: cqe %llu = %d flags %u\n", what, (unsigned long long)c->user_data, c->res, c->flags);
  }
  __atomic_store_n(r->cqhead, h, __ATOMIC_RELEASE);
}

static void on_usr1(int s) { (void)s; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct io_uring_params p;

  memset(&p, 0, sizeof p);
  R("setup 0 entries", setup(0, &p));
  memset(&p, 0, sizeof p);
  p.resv[1] = 1;
  R("setup resv set", setup(1, &p));
  memset(&p, 0, sizeof p);
  R("setup 40000 entries", setup(40000, &p));
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE;
  R("setup CQSIZE 0", setup(4, &p));
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = 2;
  R("setup CQSIZE below SQ", setup(4, &p));
  R("setup bad params pointer", setup(4, (void *)8));
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CLAMP;
  int fd = setup(40000, &p);
  printf("CLAMP: sq %u cq %u\n", p.sq_entries, p.cq_entries);
  close(fd);

  struct ring r;
  if (ring_init(&r, 3, 0, 0) != 0) {
    printf("ring: %s\n", strerror(errno));
    return 1;
  }
  printf("entries 3: sq %u cq %u, single mmap %d, nodrop %d, rw_cur_pos %d\n", r.p.sq_entries, r.p.cq_entries,
         !!(r.p.features & IORING_FEAT_SINGLE_MMAP), !!(r.p.features & IORING_FEAT_NODROP), !!(r.p.features & IORING_FEAT_RW_CUR_POS));
  printf("sq_off head %u tail %u mask %u entries %u flags %u dropped %u array %u\n", r.p.sq_off.head, r.p.sq_off.tail,
         r.p.sq_off.ring_mask, r.p.sq_off.ring_entries, r.p.sq_off.flags, r.p.sq_off.dropped, r.p.sq_off.array);
  printf("cq_off head %u tail %u mask %u entries %u overflow %u cqes %u flags %u\n", r.p.cq_off.head, r.p.cq_off.tail,
         r.p.cq_off.ring_mask, r.p.cq_off.ring_entries, r.p.cq_off.overflow, r.p.cq_off.cqes, r.p.cq_off.flags);
  printf("close-on-exec %d\n", (fcntl(r.fd, F_GETFD) & FD_CLOEXEC) != 0);
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[512];
  int named = 0;
  while (fgets(line, sizeof line, maps)) named += strstr(line, " anon_inode:[io_uring]\n") != NULL;
  fclose(maps);
  printf("maps lines named anon_inode:[io_uring]: %d\n", named);
  printf("mmap at 0x1000: %s\n", mmap(0, 4096, PROT_READ, MAP_SHARED, r.fd, 0x1000) == MAP_FAILED ? en(errno) : "mapped");
  printf("mmap SQES too long: %s\n", mmap(0, 1 << 20, PROT_READ, MAP_SHARED, r.fd, IORING_OFF_SQES) == MAP_FAILED ? en(errno) : "mapped");
  R("enter on a pipe", enter(0, 0, 0, 0, NULL));
  R("enter bad flags", enter(r.fd, 0, 0, 1u << 20, NULL));
  R("enter nothing", enter(r.fd, 0, 0, IORING_ENTER_GETEVENTS, NULL));

  /* NOP, NOP with an injected result, a bad opcode (ends the batch), a bad flag. */
  struct io_uring_sqe *s = get_sqe(&r);
  s->opcode = IORING_OP_NOP;
  s->user_data = 1;
  s = get_sqe(&r);
  s->opcode = IORING_OP_NOP;
  s->rw_flags = 1; /* IORING_NOP_INJECT_RESULT */
  s->len = 77;
  s->user_data = 2;
  s = get_sqe(&r);
  s->opcode = 250;
  s->user_data = 3;
  s = get_sqe(&r);
  s->opcode = IORING_OP_NOP;
  s->flags = 0x80;
  s->user_data = 4;
  R("enter 4 (bad opcode third)", enter(r.fd, 4, 0, 0, NULL));
  printf("sq head %u\n", *r.sqhead);
  reap(&r, "nops");
  R("enter the rest", enter(r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "bad flag");

  /* Files: write, read at positions and at the file's offset, fsync. */
  char path[] = "/tmp/io_uring_fixtureXXXXXX";
  int f = mkstemp(path);
  unlink(path);
  char a[] = "hello, ", b[] = "world\n", in1[8] = {0}, in2[16] = {0};
  struct iovec wv[2] = {{a, 7}, {b, 6}};
  s = get_sqe(&r);
  s->opcode = IORING_OP_WRITEV;
  s->fd = f;
  s->addr = (uintptr_t)wv;
  s->len = 2;
  s->off = 0;
  s->user_data = 10;
  s->flags = IOSQE_IO_LINK;
  s = get_sqe(&r);
  s->opcode = IORING_OP_FSYNC;
  s->fd = f;
  s->user_data = 11;
  s->flags = IOSQE_IO_LINK;
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ;
  s->fd = f;
  s->addr = (uintptr_t)in1;
  s->len = 5;
  s->off = 7;
  s->user_data = 12;
  R("enter write, fsync, read", enter(r.fd, 3, 3, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "file");
  printf("read back \"%s\"\n", in1);
  lseek(f, 2, SEEK_SET);
  struct iovec rv[1] = {{in2, 4}};
  s = get_sqe(&r);
  s->opcode = IORING_OP_READV;
  s->fd = f;
  s->addr = (uintptr_t)rv;
  s->len = 1;
  s->off = -1;
  s->user_data = 13;
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ;
  s->fd = f;
  s->addr = (uintptr_t)in2 + 4;
  s->len = 100;
  s->off = 1000;
  s->user_data = 14;
  R("enter readv at the offset, read past the end", enter(r.fd, 2, 2, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "offsets");
  printf("read \"%s\", file offset now %ld\n", in2, (long)lseek(f, 0, SEEK_CUR));
  s = get_sqe(&r);
  s->opcode = IORING_OP_READV;
  s->fd = f;
  s->addr = (uintptr_t)rv;
  s->len = 1;
  s->ioprio = 1;
  s->user_data = 15;
  R("enter readv with a bad ioprio", enter(r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "ioprio");

  /* Registered buffers. */
  static char fixed[8192];
  struct iovec fv[1] = {{fixed, sizeof fixed}};
  R("register no buffers", reg(r.fd, IORING_REGISTER_BUFFERS, fv, 0));
  R("register buffers", reg(r.fd, IORING_REGISTER_BUFFERS, fv, 1));
  R("register buffers again", reg(r.fd, IORING_REGISTER_BUFFERS, fv, 1));
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ_FIXED;
  s->fd = f;
  s->addr = (uintptr_t)fixed + 100;
  s->len = 13;
  s->off = 0;
  s->buf_index = 0;
  s->user_data = 20;
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ_FIXED;
  s->fd = f;
  s->addr = (uintptr_t)fixed + 8190;
  s->len = 13;
  s->user_data = 21;
  R("enter read_fixed in and out of the buffer", enter(r.fd, 2, 2, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "fixed");
  printf("fixed buffer holds \"%.12s\"\n", fixed + 100);
  R("unregister buffers", reg(r.fd, IORING_UNREGISTER_BUFFERS, NULL, 0));
  int ret = reg(r.fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
  printf("unregister buffers again = %d %s\n", ret, strerrorname_np(errno));
  R("register unknown opcode", reg(r.fd, 200, NULL, 0));
  R("register on a pipe", reg(0, IORING_REGISTER_BUFFERS, fv, 1));

  /* A closed descriptor; a link whose first member fails cancels the second. */
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ;
  s->fd = 999;
  s->addr = (uintptr_t)in1;
  s->len = 1;
  s->user_data = 30;
  s->flags = IOSQE_IO_LINK;
  s = get_sqe(&r);
  s->opcode = IORING_OP_NOP;
  s->user_data = 31;
  R("enter bad fd in a link", enter(r.fd, 2, 2, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "link");

  /* A pipe read completes when another process writes; the wait lets it run. */
  int pp[2];
  pipe(pp);
  char pin[8] = {0};
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ;
  s->fd = pp[0];
  s->addr = (uintptr_t)pin;
  s->len = sizeof pin - 1;
  s->user_data = 40;
  R("enter pipe read, no wait", enter(r.fd, 1, 0, 0, NULL));
  reap(&r, "pipe (nothing yet)");
  pid_t c = fork();
  if (c == 0) {
    usleep(50000);
    write(pp[1], "ping", 4);
    _exit(0);
  }
  R("enter wait for the pipe", enter(r.fd, 0, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "pipe");
  printf("pipe gave \"%s\"\n", pin);
  waitpid(c, NULL, 0);
  /* RWF_NOWAIT is -EAGAIN; O_NONBLOCK still waits for the pipe. */
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ;
  s->fd = pp[0];
  s->addr = (uintptr_t)pin;
  s->len = 1;
  s->rw_flags = RWF_NOWAIT;
  s->user_data = 41;
  R("enter RWF_NOWAIT pipe read", enter(r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "nowait");
  fcntl(pp[0], F_SETFL, O_NONBLOCK);
  s = get_sqe(&r);
  s->opcode = IORING_OP_READ;
  s->fd = pp[0];
  s->addr = (uintptr_t)pin;
  s->len = 2;
  s->user_data = 42;
  R("enter O_NONBLOCK pipe read", enter(r.fd, 1, 0, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "nonblock (nothing yet)");
  write(pp[1], "xy", 2);
  R("enter wait", enter(r.fd, 0, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "nonblock");

  /* POLL_ADD waits; ASYNC_CANCEL ends it. */
  fcntl(pp[0], F_SETFL, 0);
  s = get_sqe(&r);
  s->opcode = IORING_OP_POLL_ADD;
  s->fd = pp[0];
  s->poll32_events = POLLIN;
  s->user_data = 50;
  R("enter poll", enter(r.fd, 1, 0, 0, NULL));
  s = get_sqe(&r);
  s->opcode = IORING_OP_ASYNC_CANCEL;
  s->addr = 50;
  s->user_data = 51;
  R("enter cancel", enter(r.fd, 1, 2, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "cancel");
  s = get_sqe(&r);
  s->opcode = IORING_OP_POLL_ADD;
  s->fd = pp[1];
  s->poll32_events = POLLOUT;
  s->user_data = 52;
  R("enter poll writable", enter(r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "poll");

  /* TIMEOUT: by time (-ETIME), by count (0). */
  struct __kernel_timespec ts = {0, 20 * 1000 * 1000};
  s = get_sqe(&r);
  s->opcode = IORING_OP_TIMEOUT;
  s->addr = (uintptr_t)&ts;
  s->len = 1;
  s->user_data = 60;
  R("enter timeout", enter(r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "timeout");
  struct __kernel_timespec longer = {10, 0};
  s = get_sqe(&r);
  s->opcode = IORING_OP_TIMEOUT;
  s->addr = (uintptr_t)&longer;
  s->len = 1;
  s->off = 1;
  s->user_data = 61;
  s = get_sqe(&r);
  s->opcode = IORING_OP_NOP;
  s->user_data = 62;
  R("enter timeout by count", enter(r.fd, 2, 2, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "count");
  s = get_sqe(&r);
  s->opcode = IORING_OP_TIMEOUT;
  s->addr = (uintptr_t)&ts;
  s->len = 2;
  s->user_data = 63;
  R("enter timeout len 2", enter(r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "timeout len");

  /* CLOSE: a descriptor goes; the ring's own descriptor cannot. */
  int victim = dup(0);
  s = get_sqe(&r);
  s->opcode = IORING_OP_CLOSE;
  s->fd = victim;
  s->user_data = 64;
  s = get_sqe(&r);
  s->opcode = IORING_OP_CLOSE;
  s->fd = r.fd;
  s->user_data = 65;
  s = get_sqe(&r);
  s->opcode = IORING_OP_CLOSE;
  s->fd = victim;
  s->len = 1;
  s->user_data = 66;
  R("enter close", enter(r.fd, 3, 3, IORING_ENTER_GETEVENTS, NULL));
  reap(&r, "close");
  R("fcntl on the closed descriptor", fcntl(victim, F_GETFD));

  /* The probe. */
  struct {
    struct io_uring_probe p;
    struct io_uring_probe_op ops[64];
  } probe;
  memset(&probe, 0, sizeof probe);
  R("probe", reg(r.fd, IORING_REGISTER_PROBE, &probe, 64));
  printf("probe: NOP %d READV %d WRITEV %d READ %d WRITE %d SENDMSG %d TIMEOUT %d CLOSE %d\n", probe.ops[0].flags & 1,
         probe.ops[1].flags & 1, probe.ops[2].flags & 1, probe.ops[22].flags & 1, probe.ops[23].flags & 1,
         probe.ops[9].flags & 1, probe.ops[11].flags & 1, probe.ops[19].flags & 1);
  probe.p.resv = 1;
  R("probe not zeroed", reg(r.fd, IORING_REGISTER_PROBE, &probe, 64));

  /* A full CQ ring: the rest wait in the overflow list and nothing is lost. */
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 4; i++) {
      s = get_sqe(&r);
      s->opcode = IORING_OP_NOP;
      s->user_data = 100 + round * 4 + i;
    }
    printf("round %d: enter %d\n", round, enter(r.fd, 4, 0, 0, NULL));
  }
  printf("cq tail - head %u, overflow flag %d, overflow count %u\n", *r.cqtail - *r.cqhead, !!(*r.sqflags & IORING_SQ_CQ_OVERFLOW),
         *(unsigned *)(r.cq + r.p.cq_off.overflow));
  reap(&r, "full");
  R("enter to flush", enter(r.fd, 0, 4, IORING_ENTER_GETEVENTS, NULL));
  printf("overflow flag %d\n", !!(*r.sqflags & IORING_SQ_CQ_OVERFLOW));
  reap(&r, "flushed");

  /* epoll on the ring: readable while CQEs are there. */
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
  epoll_ctl(ep, EPOLL_CTL_ADD, r.fd, &ev);
  printf("epoll, empty ring: %d\n", epoll_wait(ep, &out, 1, 0));
  s = get_sqe(&r);
  s->opcode = IORING_OP_NOP;
  s->user_data = 70;
  enter(r.fd, 1, 0, 0, NULL);
  ret = epoll_wait(ep, &out, 1, 1000);
  printf("epoll, one CQE: %d (data %u)\n", ret, out.data.u32);
  reap(&r, "epoll");

  /* A signal ends the wait: EINTR with nothing submitted, else the count. */
  signal(SIGUSR1, on_usr1);
  c = fork();
  if (c == 0) {
    usleep(50000);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  R("enter wait, signal", enter(r.fd, 0, 1, IORING_ENTER_GETEVENTS, NULL));
  waitpid(c, NULL, 0);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  R("enter with a sigset of the wrong size", syscall(__NR_io_uring_enter, r.fd, 0, 1, IORING_ENTER_GETEVENTS, &block, 128));
  return 0;
}
