/* The per-user resource limits Linux charges through its ucounts (kernel/ucount.c), each tried
 * by a non-root uid that nothing else on the machine uses (derived from the pid, never printed):
 *   nproc     RLIMIT_NPROC: fork counts the user's tasks (zombies until reaped), EAGAIN at the
 *             limit; CAP_SYS_ADMIN exempts; set*uid to a user over its limit makes the next
 *             execve EAGAIN (PF_NPROC_EXCEEDED) unless the user is back under it by then; a user
 *             namespace counts its tasks under its own limit and again for its owner.
 *   sigpending RLIMIT_SIGPENDING: queued signals of the receiving user, standard ones included;
 *             sigqueue of a real-time signal beyond is EAGAIN, kill still delivers (without its
 *             siginfo), as does sigqueue of a standard signal; a POSIX timer holds one.
 *   msgqueue  RLIMIT_MSGQUEUE: the bytes of the user's POSIX message queues (mq_open EMFILE),
 *             given back when an unlinked queue's last descriptor closes.
 *   memlock   RLIMIT_MEMLOCK: SHM_LOCK charges the segment to the user (ENOMEM beyond, EPERM
 *             with a zero limit); mlock counts per process, not per user.
 * No argument runs them all. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uid_t U;

static const char *err(int r) { return r == 0 ? "ok" : strerrorname_np(errno); }

static void lim(int res, rlim_t n) {
  struct rlimit r = {n, n};
  if (setrlimit(res, &r) != 0) { printf("setrlimit %d: %s\n", res, strerrorname_np(errno)); _exit(1); }
}

static void become(uid_t u) {
  if (setgid(u) != 0 || setuid(u) != 0) { printf("setuid: %s\n", strerrorname_np(errno)); _exit(1); }
}

/* A child of uid u that sleeps until killed (it counts for u meanwhile). */
static pid_t sleeper(uid_t u) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    become(u);
    close(p[1]);
    for (;;) pause();
  }
  close(p[1]);
  char b;
  while (read(p[0], &b, 1) > 0) {}
  close(p[0]);
  return c;
}

static void reap(pid_t c) {
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
}

/* Runs fn in a child and waits for it, so that each part starts from the same counts. */
static void part(void (*fn)(void)) {
  pid_t c = fork();
  if (c == 0) { fn(); _exit(0); }
  int st;
  waitpid(c, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("part ended with status 0x%x\n", st);
}

/* Forks children that pause until fork fails; returns how many it made, killing them after. */
static int forks_until_fail(int max, int *errno_out) {
  pid_t kids[64];
  int n = 0;
  *errno_out = 0;
  while (n < max) {
    pid_t c = fork();
    if (c == 0) { for (;;) pause(); }
    if (c < 0) { *errno_out = errno; break; }
    kids[n++] = c;
  }
  for (int i = 0; i < n; i++) reap(kids[i]);
  return n;
}

static void nproc_forks(void) {
  lim(RLIMIT_NPROC, 3);
  become(U);
  int e, n = forks_until_fail(10, &e);
  printf("nproc 3, alone: %d forks, then %s\n", n, strerrorname_np(e));
  /* A zombie counts until it is reaped. */
  pid_t z1 = fork();
  if (z1 == 0) _exit(0);
  pid_t z2 = fork();
  if (z2 == 0) _exit(0);
  usleep(100000);
  pid_t c = fork();
  if (c == 0) _exit(0);
  printf("with two zombies: fork %s\n", c < 0 ? strerrorname_np(errno) : "ok");
  waitpid(z1, NULL, 0);
  c = fork();
  if (c == 0) _exit(0);
  printf("one reaped: fork %s\n", c < 0 ? strerrorname_np(errno) : "ok");
  while (wait(NULL) > 0) {}
}

static void nproc_capable(void) {
  /* A non-root user keeping CAP_SYS_ADMIN is exempt. */
  lim(RLIMIT_NPROC, 1);
  prctl(PR_SET_KEEPCAPS, 1);
  if (setresgid(U, U, U) || setresuid(U, U, U)) { printf("setresuid: %s\n", strerrorname_np(errno)); return; }
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {{0}};
  d[0].effective = d[0].permitted = 1u << CAP_SYS_ADMIN;
  printf("capset CAP_SYS_ADMIN: %s\n", err(syscall(SYS_capset, &h, d)));
  int e, n = forks_until_fail(3, &e);
  printf("nproc 1 with CAP_SYS_ADMIN: %d forks (%s)\n", n, e ? strerrorname_np(e) : "no error");
  d[0].effective = 0;
  syscall(SYS_capset, &h, d);
  n = forks_until_fail(3, &e);
  printf("without it: %d forks, then %s\n", n, strerrorname_np(e));
}

/* setuid to a user with `others` tasks already, under RLIMIT_NPROC `limit`; then execve. */
static void exceeded(int others, int limit, int drop_before_exec) {
  pid_t s[8];
  for (int i = 0; i < others; i++) s[i] = sleeper(U);
  pid_t c = fork();
  if (c == 0) {
    lim(RLIMIT_NPROC, limit);
    int r = setuid(U);
    printf("  %d others, limit %d: setuid %s", others, limit, err(r));
    if (drop_before_exec) {
      /* Root's sleepers cannot be killed by U: the parent is told to reap them. */
      write(13, "x", 1);
      char b;
      read(14, &b, 1);
    }
    char *argv[] = {"/nonexistent/program", NULL};
    execv(argv[0], argv);
    printf(", execve %s", strerrorname_np(errno));
    execv(argv[0], argv);
    printf(", again %s\n", strerrorname_np(errno));
    _exit(0);
  }
  if (drop_before_exec) {
    char b;
    read(15, &b, 1);
    for (int i = 0; i < others; i++) reap(s[i]);
    others = 0;
    write(16, "x", 1);
  }
  waitpid(c, NULL, 0);
  for (int i = 0; i < others; i++) reap(s[i]);
}

static void nproc_exceeded(void) {
  int a[2], b[2];
  pipe(a);
  pipe(b);
  /* The child writes 13 and reads 14; the parent reads 15 and writes 16. */
  dup2(a[1], 13);
  dup2(b[0], 14);
  dup2(a[0], 15);
  dup2(b[1], 16);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
  printf("set*uid then execve:\n");
  exceeded(2, 2, 0);
  exceeded(3, 2, 0);
  exceeded(2, 1, 0);
  exceeded(3, 2, 1);
  pid_t c = fork();
  if (c == 0) {
    lim(RLIMIT_NPROC, 1);
    become(U);
    printf("  a fork as uid U at its limit: %s\n", fork() < 0 ? strerrorname_np(errno) : "ok");
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

static void nproc_userns(void) {
  /* Two tasks of U outside; U's namespace counts its own tasks under the limit set inside,
   * and every one of them again for U outside, under the limit U had when making it. */
  lim(RLIMIT_NPROC, 4);
  become(U);
  pid_t s = fork();
  if (s == 0) { for (;;) pause(); }
  if (unshare(CLONE_NEWUSER) != 0) { printf("unshare: %s\n", strerrorname_np(errno)); reap(s); return; }
  int e, n = forks_until_fail(10, &e);
  printf("userns, limit 4 outside with 2 tasks there: %d forks, then %s\n", n, strerrorname_np(e));
  lim(RLIMIT_NPROC, 2);
  n = forks_until_fail(10, &e);
  printf("limit 2 inside: %d forks, then %s\n", n, strerrorname_np(e));
  reap(s);
}

static volatile sig_atomic_t got_pid = -1, got_code = 99;
static void on_sig(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  got_pid = si->si_pid;
  got_code = si->si_code;
}

static int queue(pid_t to, int sig) {
  union sigval v = {.sival_int = 7};
  return sigqueue(to, sig, v);
}

static int queue_until_fail(pid_t to, int sig, int max) {
  int n = 0;
  while (n < max && queue(to, sig) == 0) n++;
  return n;
}

static void sigpending_part(void) {
  int rt = SIGRTMIN;
  sigset_t all;
  sigemptyset(&all);
  sigaddset(&all, rt);
  sigaddset(&all, rt + 1);
  sigaddset(&all, SIGUSR1);
  sigaddset(&all, SIGUSR2);
  sigprocmask(SIG_BLOCK, &all, NULL);
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO};
  sigaction(rt + 1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  lim(RLIMIT_SIGPENDING, 3);
  become(U);
  pid_t me = getpid();
  int n = queue_until_fail(me, rt, 10);
  printf("sigpending 3: %d queued, then %s\n", n, strerrorname_np(errno));
  /* kill's real-time signal still goes, without its siginfo */
  printf("kill rt+1 at the limit: %s\n", err(kill(me, rt + 1)));
  /* a standard signal by sigqueue too */
  printf("sigqueue SIGUSR2 at the limit: %s\n", err(queue(me, SIGUSR2)));
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, rt + 1);
  sigprocmask(SIG_UNBLOCK, &one, NULL);
  printf("rt+1 delivered: si_code %d, si_pid is 0: %d\n", got_code, got_pid == 0);
  got_code = 99;
  sigemptyset(&one);
  sigaddset(&one, SIGUSR2);
  sigprocmask(SIG_UNBLOCK, &one, NULL);
  printf("SIGUSR2 delivered: si_code %d, si_pid is 0: %d\n", got_code, got_pid == 0);
  /* Taking the queued ones gives the places back. */
  siginfo_t si;
  struct timespec zero = {0, 0};
  int taken = 0;
  while (sigtimedwait(&all, &si, &zero) > 0) taken++;
  printf("taken %d; queued again: %d\n", taken, queue_until_fail(me, rt, 10));
  while (sigtimedwait(&all, &si, &zero) > 0) {}
  /* kill's standard signal, pending, holds a place */
  kill(me, SIGUSR1);
  printf("with SIGUSR1 pending by kill: %d queued\n", queue_until_fail(me, rt, 10));
  while (sigtimedwait(&all, &si, &zero) > 0) {}
  /* Signals queued to another process of the same user count too. */
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    close(p[1]);
    for (;;) pause();
  }
  close(p[1]);
  char b;
  read(p[0], &b, 1);
  int to_child = queue_until_fail(c, rt, 2);
  printf("to the child: %d queued; then to me: %d\n", to_child, queue_until_fail(me, rt, 10));
  reap(c);
  while (sigtimedwait(&all, &si, &zero) > 0) {}
  /* A POSIX timer holds one from its creation. */
  timer_t t1, t2, t3, t4;
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = rt};
  int r1 = timer_create(CLOCK_MONOTONIC, &ev, &t1);
  int r2 = timer_create(CLOCK_MONOTONIC, &ev, &t2);
  printf("two timers: %s %s; then %d queued\n", err(r1), err(r2), queue_until_fail(me, rt, 10));
  int r3 = timer_create(CLOCK_MONOTONIC, &ev, &t3);
  printf("a third timer: %s\n", err(r3));
  while (sigtimedwait(&all, &si, &zero) > 0) {}
  r3 = timer_create(CLOCK_MONOTONIC, &ev, &t3);
  int r4 = timer_create(CLOCK_MONOTONIC, &ev, &t4);
  printf("with the queue empty: %s, a fourth %s\n", err(r3), err(r4));
  timer_delete(t1);
  printf("one deleted: %d queued\n", queue_until_fail(me, rt, 10));
}

static char qname[64];

static mqd_t mq(int n, int maxmsg, int msgsize) {
  char name[80];
  snprintf(name, sizeof name, "%s-%d", qname, n);
  struct mq_attr a = {.mq_maxmsg = maxmsg, .mq_msgsize = msgsize};
  return mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
}

static void mq_rm(int n) {
  char name[80];
  snprintf(name, sizeof name, "%s-%d", qname, n);
  mq_unlink(name);
}

static void msgqueue_part(void) {
  /* A queue of 10 messages of 1000 bytes costs 10*1000 + 10*48 (messages) + 10*48 (priorities). */
  lim(RLIMIT_MSGQUEUE, 25000);
  become(U);
  mqd_t a = mq(1, 10, 1000), b = mq(2, 10, 1000), c = mq(3, 10, 1000);
  printf("msgqueue 25000: two queues of 10960: %d %d, a third: %s\n", a >= 0, b >= 0, c < 0 ? strerrorname_np(errno) : "ok");
  mqd_t small = mq(4, 1, 2984);
  printf("one of 2984+96 (25000 exactly): %s\n", small < 0 ? strerrorname_np(errno) : "ok");
  mq_rm(4);
  mq_close(small);
  small = mq(4, 1, 2985);
  printf("one byte more: %s\n", small < 0 ? strerrorname_np(errno) : "ok");
  mq_rm(1);
  c = mq(3, 10, 1000);
  printf("first unlinked, still open: %s\n", c < 0 ? strerrorname_np(errno) : "ok");
  mq_close(a);
  c = mq(3, 10, 1000);
  printf("then closed: %s\n", c < 0 ? strerrorname_np(errno) : "ok");
  mq_close(b);
  mq_close(c);
  mq_rm(2);
  mq_rm(3);
  /* a zero limit refuses every queue */
  lim(RLIMIT_MSGQUEUE, 0);
  a = mq(5, 1, 1);
  printf("limit 0: %s\n", a < 0 ? strerrorname_np(errno) : "ok");
  mq_rm(5);
}

static long sysctl_value(const char *path) {
  FILE *f = fopen(path, "r");
  long v = -1;
  if (f) { if (fscanf(f, "%ld", &v) != 1) v = -1; fclose(f); }
  return v;
}

static void msgqueue_mount_part(void) {
  /* creat(2) in an mqueue mount makes a queue of the default attributes, charged as mq_open's. */
  long maxmsg = sysctl_value("/proc/sys/fs/mqueue/msg_default");
  long msgsize = sysctl_value("/proc/sys/fs/mqueue/msgsize_default");
  /* Linux's defaults where the sysctls cannot be read. */
  if (maxmsg <= 0) maxmsg = 10;
  if (msgsize <= 0) msgsize = 8192;
  long one = maxmsg * msgsize + maxmsg * 48 + (maxmsg < 32768 ? maxmsg : 32768) * 48;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/rlimit_ucounts.%d", getpid());
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) { printf("unshare: %s\n", strerrorname_np(errno)); return; }
  mkdir(dir, 0755);
  if (mount("mqueue", dir, "mqueue", 0, NULL) != 0) { printf("mount: %s\n", strerrorname_np(errno)); rmdir(dir); return; }
  pid_t c = fork();
  if (c == 0) {
    lim(RLIMIT_MSGQUEUE, one);
    become(U);
    char p[128];
    snprintf(p, sizeof p, "%s/q1-%d", dir, getpid());
    int a = open(p, O_CREAT | O_RDWR, 0600);
    printf("creat in an mqueue mount, limit one queue: %s", a < 0 ? strerrorname_np(errno) : "ok");
    unlink(p);
    snprintf(p, sizeof p, "%s/q2-%d", dir, getpid());
    int b = open(p, O_CREAT | O_RDWR, 0600);
    printf(", a second while the first is open: %s\n", b < 0 ? strerrorname_np(errno) : "ok");
    unlink(p);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  umount(dir);
  rmdir(dir);
}

static void memlock_part(void) {
  long pg = sysconf(_SC_PAGESIZE);
  int s1 = shmget(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
  int s2 = shmget(IPC_PRIVATE, 3 * pg - 100, IPC_CREAT | 0600);
  int s3 = shmget(IPC_PRIVATE, pg, IPC_CREAT | 0600);
  if (s1 < 0 || s2 < 0 || s3 < 0) { printf("shmget: %s\n", strerrorname_np(errno)); return; }
  pid_t c = fork();
  if (c == 0) {
    lim(RLIMIT_MEMLOCK, 4 * pg + 100);
    /* Root made the segments: giving them to U lets U lock them. */
    struct shmid_ds ds;
    int ids[3] = {s1, s2, s3};
    for (int i = 0; i < 3; i++) {
      shmctl(ids[i], IPC_STAT, &ds);
      ds.shm_perm.uid = U;
      shmctl(ids[i], IPC_SET, &ds);
    }
    become(U);
    printf("memlock 4 pages: lock 3: %s", err(shmctl(s1, SHM_LOCK, NULL)));
    printf(", 3 more: %s", err(shmctl(s2, SHM_LOCK, NULL)));
    printf(", the 3 again: %s", err(shmctl(s1, SHM_LOCK, NULL)));
    printf(", 1 more: %s\n", err(shmctl(s3, SHM_LOCK, NULL)));
    printf("unlock the 3: %s", err(shmctl(s1, SHM_UNLOCK, NULL)));
    printf(", then the other 3: %s\n", err(shmctl(s2, SHM_LOCK, NULL)));
    shmctl(s3, IPC_STAT, &ds);
    printf("SHM_LOCKED on the 1: %d\n", (ds.shm_perm.mode & 01000) != 0 || (ds.shm_perm.mode & 02000) != 0);
    /* mlock counts per process: each of two processes locks 3 pages */
    char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pid_t k = fork();
    if (k == 0) {
      printf("mlock 3 pages in a child: %s\n", err(mlock(m, 3 * pg)));
      _exit(0);
    }
    waitpid(k, NULL, 0);
    printf("mlock 3 pages here too: %s\n", err(mlock(m, 3 * pg)));
    lim(RLIMIT_MEMLOCK, 0);
    printf("limit 0: SHM_LOCK %s", err(shmctl(s1, SHM_LOCK, NULL)));
    printf(", SHM_UNLOCK %s\n", err(shmctl(s3, SHM_UNLOCK, NULL)));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  /* A removed locked segment gives its pages back. */
  shmctl(s1, IPC_RMID, NULL);
  shmctl(s2, IPC_RMID, NULL);
  shmctl(s3, IPC_RMID, NULL);
  int s4 = shmget(IPC_PRIVATE, 4 * pg, IPC_CREAT | 0600);
  c = fork();
  if (c == 0) {
    struct shmid_ds ds;
    lim(RLIMIT_MEMLOCK, 4 * pg);
    shmctl(s4, IPC_STAT, &ds);
    ds.shm_perm.uid = U;
    shmctl(s4, IPC_SET, &ds);
    become(U);
    printf("segments removed, then 4 pages locked: %s\n", err(shmctl(s4, SHM_LOCK, NULL)));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  shmctl(s4, IPC_RMID, NULL);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* A uid of our own: natively other processes of a common one (nobody) would count. */
  U = 200000 + getpid() % 100000;
  snprintf(qname, sizeof qname, "/rlimit_ucounts-%d", getpid());
  const char *only = argc > 1 ? argv[1] : NULL;
  if (!only || !strcmp(only, "nproc")) {
    part(nproc_forks);
    part(nproc_capable);
    part(nproc_exceeded);
    part(nproc_userns);
  }
  if (!only || !strcmp(only, "sigpending")) part(sigpending_part);
  if (!only || !strcmp(only, "msgqueue")) {
    part(msgqueue_part);
    part(msgqueue_mount_part);
  }
  if (!only || !strcmp(only, "memlock")) part(memlock_part);
  return 0;
}
