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
 * Prints its progress ("worker I: start", "worker I: reaping") and "fuzz: seed S workers W calls N" at the end: N is the calls made (counted in memory
 * shared with the workers, so a worker's last call before it was killed counts). */
#define _GNU_SOURCE
#include <errno.h>
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

static uint64_t state;

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

static void worker(uint64_t seed, int verbose) {
  state = seed;
  int null = open("/dev/null", O_RDWR);
  int log = verbose ? dup(2) : -1;
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  setpgid(0, 0);
  pid_t self = getpid(), parent = getppid();
  for (;;) {
    long nr;
    uint64_t r = next() % 100;
    if (r < 97) nr = (long)(next() % 460);
    else if (r < 99) nr = (long)(next() % 100000);
    else nr = (long)next();
    uint64_t a[6];
    for (int i = 0; i < 6; i++) a[i] = argument();
    /* Never init or the process that watches this one (a SIGSTOP there would hang the run). */
    if (nr == SYS_ptrace && ((int32_t)a[1] <= 1 || (int32_t)a[1] == parent)) a[1] = (uint64_t)self;
    if (aims_at_process(nr) && ((int32_t)a[0] <= 1 || (int32_t)a[0] == parent)) a[0] = (uint64_t)self;
    if (nr == SYS_tgkill && ((int32_t)a[1] <= 1 || (int32_t)a[1] == parent)) a[1] = (uint64_t)self;
    /* Plain exits end the worker: rarely worth it. */
    if ((nr == SYS_exit || nr == SYS_exit_group) && next() % 8) continue;
    if (log >= 0) {
      dprintf(log, "%ld(%#llx, %#llx, %#llx, %#llx, %#llx, %#llx)\n", nr, (unsigned long long)a[0],
              (unsigned long long)a[1], (unsigned long long)a[2], (unsigned long long)a[3], (unsigned long long)a[4],
              (unsigned long long)a[5]);
    }
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
    syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
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
