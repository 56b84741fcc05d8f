/* The syscall fuzzer's program (tools/fuzz.ts runs it inside the sentry, never natively).
 *
 *   fuzz_syscalls SEED WORKERS CALLS [verbose]
 *
 * Init (this process) forks WORKERS workers one after the other. Worker i seeds its generator
 * from SEED and i, points its stdio at /dev/null, and makes CALLS random system calls: numbers
 * from the whole table plus a few beyond it, each argument drawn from sets that tend to find
 * bugs (bad and partly valid pointers, huge lengths, negative and real descriptors, flags with
 * high bits, random words). A worker that is still running after a second is killed; after
 * each worker init kills whatever it left (kill(-1, SIGKILL)) and reaps it. The calls that
 * would reach init itself (signals, ptrace, process_vm_*, prlimit and the like aimed at pid 1,
 * 0 or -1) are pointed at the worker instead: a worker ending the run early finds nothing.
 * With "verbose", each call is printed to stderr before it is made (for reproducing a crash).
 *
 * Beyond plain calls, each worker draws a scene from its seed (what single random calls never
 * reach): descriptors of many kinds at low numbers (pipes, Unix sockets, eventfd, epoll, timerfd,
 * signalfd, inotify, memfd, a pidfd, an O_PATH descriptor, a pty), so that descriptor arguments
 * hit them; more threads making calls beside it; a sibling process sending it signals while it
 * sleeps in blocking calls (with handlers, some SA_RESTART); a child of its own that calls may
 * aim at and that it may ptrace; and, among the calls, pseudo-calls: descriptors of those kinds
 * passed over a Unix socket with SCM_RIGHTS and received again, blocking calls that a signal or
 * a timer ends, forks whose child exits at once, threads that start and exit at once, a
 * thread's exit_group or execve while the others are in calls, and the traced child's debug
 * registers; handlers may run on an alternate stack in memory the calls may unmap.
 *
 * Prints its progress ("worker I: start", "worker I: reaping") and "fuzz: seed S workers W calls N" at the end: N is the calls made (counted in memory
 * shared with the workers, so a worker's last call before it was killed counts). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <pty.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <stddef.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT_PRIVATE_ 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */

static __thread uint64_t state;

static uint64_t next(void) {
  /* splitmix64 */
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static char *buf;      /* 2 pages: read-write, then one unmapped page after it */
static char *ro;       /* a read-only page */
static const size_t PAGE = 4096;

static uint64_t pointer(void) {
  switch (next() % 10) {
    case 0: return 0;
    case 1: return 1;
    case 2: return (uint64_t)buf;                             /* valid */
    case 3: return (uint64_t)buf + 2 * PAGE - 1 - next() % 16; /* runs into the unmapped page */
    case 4: return (uint64_t)ro;                              /* read-only */
    case 5: return 0xffffffffff600000ULL;                     /* vsyscall */
    case 6: return 0xffff800000000000ULL + (next() & 0xffff); /* kernel */
    case 7: return 0x0000800000000000ULL;                     /* non-canonical */
    case 8: return 0x7ffa00000000ULL + next() % 0x2000;       /* the stub's pages */
    default: return (uint64_t)buf + next() % PAGE;
  }
}

static uint64_t argument(void) {
  switch (next() % 12) {
    case 0: return 0;
    case 1: return next() % 8;
    case 2: return (uint64_t)-1;
    case 3: return (uint64_t)(int64_t)-(int64_t)(next() % 200); /* negative fds, AT_FDCWD */
    case 4: return next() % 16;                                  /* descriptors */
    case 5: return 1ULL << (next() % 64);                        /* one bit, maybe high */
    case 6: return (next() & 0xffffffffULL) | 0x80000000ULL;     /* 32-bit flags, bit 31 set */
    case 7: return 0x7fffffffffffffffULL - next() % 4;           /* huge lengths */
    case 8: return PAGE * (next() % 1024);
    case 9: return next();
    default: return pointer();
  }
}

/* Calls whose first argument names a process: never init (1), a group (0, negative) or all (-1). */
static int aims_at_process(long nr) {
  switch (nr) {
    case SYS_kill: case SYS_tkill: case SYS_tgkill: case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo:
    case SYS_process_vm_readv: case SYS_process_vm_writev: case SYS_prlimit64: case SYS_pidfd_open:
    case SYS_setpgid: case SYS_sched_setscheduler: case SYS_sched_setparam: case SYS_sched_setaffinity:
    case SYS_sched_setattr: case SYS_kcmp: case SYS_migrate_pages: case SYS_move_pages: case SYS_getpgid:
    case SYS_getsid: case SYS_process_madvise:
      return 1;
  }
  return 0;
}

static volatile uint64_t *counter;
static pid_t self, parent, child; /* the worker, its watcher, the worker's own child (0: none) */
static int sock[2] = {-1, -1};    /* a Unix socket pair for SCM_RIGHTS */
static int rpipe[2] = {-1, -1};   /* a pipe nobody writes: reads block */
static int logfd = -1;

/* Descriptors of many kinds at low numbers, where descriptor arguments land. */
static void make_descriptors(void) {
  if (next() % 2) pipe2(rpipe, O_CLOEXEC * (int)(next() % 2));
  socketpair(AF_UNIX, (next() % 2) ? SOCK_STREAM : SOCK_DGRAM, 0, sock);
  if (next() % 2) eventfd((unsigned)next() % 3, (int)(next() % 2) * EFD_NONBLOCK);
  if (next() % 2) {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = 0};
    if (ep >= 0 && sock[0] >= 0) epoll_ctl(ep, EPOLL_CTL_ADD, sock[0], &ev);
    if (ep >= 0 && rpipe[0] >= 0) epoll_ctl(ep, EPOLL_CTL_ADD, rpipe[0], &ev);
  }
  if (next() % 2) {
    int tf = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 1000000}, {0, 1000000}};
    if (tf >= 0) timerfd_settime(tf, 0, &its, 0);
  }
  if (next() % 2) {
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    signalfd(-1, &m, 0);
  }
  if (next() % 2) {
    int in = inotify_init1(0);
    if (in >= 0) inotify_add_watch(in, "/tmp", IN_ALL_EVENTS);
  }
  if (next() % 2) {
    int m = memfd_create("fuzz", MFD_ALLOW_SEALING);
    if (m >= 0) ftruncate(m, (off_t)PAGE);
  }
  if (next() % 2) open("/proc/self/status", O_PATH);
  if (next() % 2) {
    int master, slave;
    openpty(&master, &slave, 0, 0, 0);
  }
  if (child > 0 && next() % 2) syscall(SYS_pidfd_open, child, 0);
}

/* Someone to aim at: the worker or its child, never init nor the watcher. */
static uint64_t target(void) {
  return (child > 0 && next() % 2) ? (uint64_t)child : (uint64_t)self;
}

static void note(const char *what, long v) {
  if (logfd >= 0) dprintf(logfd, "%ld: %s %ld\n", (long)syscall(SYS_gettid), what, v);
}

/* Random descriptors passed over the socket pair, then received with random flags and room. */
static void pass_descriptors(void) {
  int fds[8];
  int n = 1 + (int)(next() % 8);
  for (int i = 0; i < n; i++) fds[i] = (int)(next() % 20);
  char cbuf[CMSG_SPACE(sizeof fds)];
  memset(cbuf, 0, sizeof cbuf);
  char byte = 'x';
  struct iovec iov = {&byte, 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(n * sizeof(int))};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(n * sizeof(int));
  memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  note("sendmsg SCM_RIGHTS", n);
  sendmsg(sock[next() % 2], &mh, MSG_DONTWAIT);
  if (next() % 4 == 0) close((int)(next() % 20)); /* maybe one of them, in flight */
  char rbuf[CMSG_SPACE(sizeof fds)];
  struct msghdr rh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = rbuf, .msg_controllen = next() % sizeof rbuf};
  note("recvmsg", (long)rh.msg_controllen);
  int r = (int)recvmsg(sock[next() % 2], &rh, MSG_DONTWAIT | ((next() % 2) ? MSG_CMSG_CLOEXEC : 0) | ((next() % 4) ? 0 : MSG_PEEK));
  if (r >= 0) {
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&rh); h; h = CMSG_NXTHDR(&rh, h)) {
      if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && next() % 2) {
        int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k; i++) close(((int *)CMSG_DATA(h))[i]);
      }
    }
  }
}

/* A call that sleeps until a signal (the signaller's, or an alarm) or a short timeout ends it. */
static void block_somewhere(void) {
  struct timespec ts = {0, (long)(next() % 20) * 1000000};
  uint32_t word = 0;
  char b[16];
  struct pollfd pfd = {rpipe[0] >= 0 ? rpipe[0] : 0, POLLIN, 0};
  /* A timer ends the sleep when no signaller does (SIGALRM never restarts a call). */
  struct itimerval it = {{0, 0}, {0, 1000 + (long)(next() % 20000)}};
  setitimer(ITIMER_REAL, &it, 0);
  long k = (long)(next() % 8);
  note("block", k);
  switch (k) {
    case 0: if (rpipe[0] >= 0) read(rpipe[0], b, sizeof b); break;
    case 1: nanosleep(&ts, 0); break;
    case 2: syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE_, 0, &ts, 0, 0); break;
    case 3: poll(&pfd, 1, (int)(next() % 20)); break;
    case 4: { sigset_t m; sigemptyset(&m); sigtimedwait(&m, 0, &ts); break; }
    case 5: waitid(P_ALL, 0, 0, WEXITED | ((next() % 2) ? WNOHANG : 0)); break;
    case 6: if (sock[0] >= 0) recv(sock[0], b, sizeof b, 0); break;
    default: { sigset_t m; sigemptyset(&m); if (next() % 2) sigsuspend(&m); else pause(); break; }
  }
}

static void *thread_loop(void *arg);

/* Races of process and thread lifetimes with the calls around them. */
static void churn(void) {
  long k = (long)(next() % 5);
  note("churn", k);
  switch (k) {
    case 4: { /* an exec (this program again, which exits at once: not pid 1) while other threads are in calls */
      if (next() % 4) break;
      char *argv[] = {"fuzz_syscalls", 0};
      execve("/proc/self/exe", argv, environ);
      break;
    }
    case 0: { pid_t p = fork(); if (p == 0) _exit(0); break; }  /* a child gone at once, maybe reaped by a wait */
    case 1: { pid_t p = vfork(); if (p == 0) _exit(3); break; }
    case 2: { pthread_t t; if (pthread_create(&t, 0, thread_loop, (void *)1) == 0) pthread_detach(t); break; }
    default: if (next() % 16 == 0) syscall(SYS_exit_group, 0); break; /* others may be mid-call */
  }
}

/* The traced child's debug registers: random breakpoints and watchpoints (its loop touches
 * buf and calls next()), then the child let go or single-stepped. */
static void debug_registers(void) {
  int n = (int)(next() % 8);
  uint64_t v;
  switch (next() % 4) {
    case 0: v = (uint64_t)(uintptr_t)next; break;          /* code the child runs */
    case 1: v = (uint64_t)buf + (next() % 64);              /* memory it writes */
    case 2: v = (next() & 0xff00ff) | (next() % 16);        /* DR7-like: enables, lengths, types */
    default: v = argument(); break;
  }
  note("debug register", n);
  ptrace(PTRACE_POKEUSER, child, (void *)(offsetof(struct user, u_debugreg) + 8 * (size_t)n), (void *)v);
  long req = (next() % 2) ? PTRACE_CONT : PTRACE_SINGLESTEP;
  ptrace(req, child, 0, (void *)(uintptr_t)((next() % 4) ? 0 : SIGTRAP));
  if (next() % 2) waitpid(child, 0, WNOHANG | __WALL);
}

static void handler(int sig) {
  (void)sig;
}

/* One random call, or now and then one of the pseudo-calls above. */
static void one_call(void) {
  uint64_t r = next() % 1000;
  if (r < 15 && sock[0] >= 0) {
    pass_descriptors();
    return;
  }
  if (r >= 15 && r < 30) {
    block_somewhere();
    return;
  }
  if (r >= 30 && r < 36) {
    churn();
    return;
  }
  if (r >= 36 && r < 86 && child > 0) {
    debug_registers();
    return;
  }
  long nr;
  r = next() % 100;
  if (r < 97) nr = (long)(next() % 460);
  else if (r < 99) nr = (long)(next() % 100000);
  else nr = (long)next();
  uint64_t a[6];
  for (int i = 0; i < 6; i++) a[i] = argument();
  /* Never init or the process that watches this one (a SIGSTOP there would hang the run). */
  if (nr == SYS_ptrace && ((int32_t)a[1] <= 1 || (int32_t)a[1] == parent || next() % 2)) a[1] = target();
  if (aims_at_process(nr) && ((int32_t)a[0] <= 1 || (int32_t)a[0] == parent)) a[0] = target();
  if (nr == SYS_tgkill && ((int32_t)a[1] <= 1 || (int32_t)a[1] == parent)) a[1] = target();
  /* Plain exits end the worker: rarely worth it. */
  if ((nr == SYS_exit || nr == SYS_exit_group) && next() % 8) return;
  if (logfd >= 0) {
    dprintf(logfd, "%ld: %ld(%#llx, %#llx, %#llx, %#llx, %#llx, %#llx)\n", (long)syscall(SYS_gettid), nr, (unsigned long long)a[0],
            (unsigned long long)a[1], (unsigned long long)a[2], (unsigned long long)a[3], (unsigned long long)a[4],
            (unsigned long long)a[5]);
  }
  __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
  syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* A thread of the worker: its own generator, from the worker's and its number. */
static void *thread_loop(void *arg) {
  state = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + (uint64_t)syscall(SYS_gettid);
  long calls = (long)(next() % 64);
  for (long i = 0; arg != (void *)1 || i < calls; i++) one_call();
  return 0;
}

static void worker(uint64_t seed, int verbose) {
  state = seed;
  int null = open("/dev/null", O_RDWR);
  logfd = verbose ? dup(2) : -1;
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  setpgid(0, 0);
  self = getpid();
  parent = getppid();
  uint64_t scene = next();
  note("scene", (long)(scene & 0xff));
  /* A child to aim calls (ptrace among them) at. */
  if (scene & 1) {
    child = fork();
    if (child == 0) {
      for (;;) {
        sched_yield();
        buf[next() % 64]++;
        if (next() % 4 == 0) pause();
      }
    }
    if (child < 0) child = 0;
    if (child > 0 && (scene & 2)) {
      if (scene & 4) ptrace(PTRACE_SEIZE, child, 0, PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT);
      else ptrace(PTRACE_ATTACH, child, 0, 0);
    }
  }
  make_descriptors();
  /* Handlers for what the signaller and the timers send; some interrupted calls restart, some
   * run on an alternate stack (in memory the random calls may unmap or protect). */
  if (scene & 32) {
    static char alt[16384];
    stack_t ss = {.ss_sp = (scene & 64) ? (void *)alt : (void *)buf, .ss_size = (scene & 64) ? sizeof alt : 2 * PAGE, .ss_flags = 0};
    sigaltstack(&ss, 0);
  }
  int sigs[] = {SIGUSR1, SIGALRM, SIGCHLD, SIGWINCH, SIGIO};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa = {.sa_handler = handler, .sa_flags = (sigs[i] != SIGALRM && next() % 2) ? SA_RESTART : 0};
    if (next() % 2) sa.sa_flags |= SA_ONSTACK;
    sigaction(sigs[i], &sa, 0);
  }
  /* A sibling that sends the worker signals while it sleeps in calls. */
  if (scene & 8) {
    pid_t w = self;
    if (fork() == 0) {
      self = getpid();
      struct timespec ts = {0, 0};
      for (;;) {
        int s = sigs[next() % 5];
        if (next() % 16 == 0) s = (next() % 2) ? SIGSTOP : SIGCONT;
        kill(w, s);
        ts.tv_nsec = (long)(next() % 2000) * 1000;
        nanosleep(&ts, 0);
      }
    }
  }
  /* More threads making calls beside this one. */
  if (scene & 16) {
    int n = 1 + (int)((scene >> 8) % 3);
    for (int i = 0; i < n; i++) {
      pthread_t t;
      if (pthread_create(&t, 0, thread_loop, (void *)(uintptr_t)(i + 2)) == 0) pthread_detach(t);
    }
  }
  for (;;) one_call();
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  /* It kills every other process (kill(-1, SIGKILL)): only as init of a sandbox, never on a host. */
  if (getpid() != 1) {
    fprintf(stderr, "fuzz_syscalls: must run as pid 1 inside the sentry\n");
    return 2;
  }
  uint64_t seed = strtoull(argv[1], 0, 0);
  int workers = atoi(argv[2]);
  long calls = atol(argv[3]);
  int verbose = argc > 4 && strcmp(argv[4], "verbose") == 0;
  buf = mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ro = mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  counter = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED || ro == MAP_FAILED || counter == MAP_FAILED) return 3;
  munmap(buf + 2 * PAGE, PAGE);
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, 0, _IOLBF, 0);
  for (int i = 0; i < workers; i++) {
    uint64_t wseed = seed * 1000003ULL + (uint64_t)i;
    uint64_t before = *counter;
    printf("worker %d: start\n", i); /* progress: the last line tells where a hang was */
    pid_t c = fork();
    if (c < 0) continue;
    if (c == 0) {
      /* CALLS calls at most: the generator decides which; the count is checked here. */
      state = wseed;
      memset(buf, 0, 2 * PAGE);
      if (fork() == 0) {
        worker(wseed, verbose);
        _exit(0);
      }
      /* The middle process stops the worker after CALLS calls or a second. */
      struct timespec start, now, ms = {0, 1000000};
      clock_gettime(CLOCK_MONOTONIC, &start);
      for (;;) {
        if (waitpid(-1, 0, WNOHANG) > 0) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((long)(*counter - before) >= calls || now.tv_sec - start.tv_sec >= 1) break;
        nanosleep(&ms, 0);
      }
      _exit(0);
    }
    /* The middle process ends within about a second; if it does not (stopped by something the
     * worker did), it is killed after three: only a hang of the sentry outlasts this. */
    struct timespec start, now, ms = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      if (waitpid(c, 0, WNOHANG) == c) break;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec >= 3) {
        printf("worker %d: killing its watcher\n", i);
        kill(c, SIGKILL);
        while (waitpid(c, 0, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      nanosleep(&ms, 0);
    }
    printf("worker %d: reaping\n", i);
    kill(-1, SIGKILL);
    while (wait(0) > 0 || errno == EINTR) {
    }
  }
  printf("fuzz: seed %llu workers %d calls %llu\n", (unsigned long long)seed, workers, (unsigned long long)*counter);
  return 0;
}
