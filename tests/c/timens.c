/* Time namespaces: unshare(CLONE_NEWTIME) makes a namespace for the caller's children (its
 * /proc/self/ns/time_for_children changes, ns/time does not), whose offsets
 * /proc/self/timens_offsets shows and takes (Linux's parser: errnos for a bad clock, nanoseconds
 * of a second or more, an offset out of range, a position other than 0, pwrite) until a task
 * enters it (EACCES after; always EACCES for the first namespace). A forked child is in it: its
 * CLOCK_MONOTONIC (RAW, COARSE) and CLOCK_BOOTTIME are shifted through glibc's clock_gettime
 * (the vDSO) and the system call alike, CLOCK_REALTIME is not; sysinfo's and /proc/uptime's
 * uptime carry the boottime offset; clock_nanosleep and timerfd take absolute times on the
 * shifted clock. setns back to the first namespace undoes the offsets in the caller (its vDSO
 * too); setns with a second thread is EUSERS; clone3(CLONE_NEWTIME) gives the child a copy of
 * the offsets; NS_GET_NSTYPE says CLONE_NEWTIME; and the caller itself enters the namespace at
 * its next execve. Times are printed as checks against the parent's readings, never as values.
 * Needs root (natively too). Output: the same natively and in the sentry.
 * `timens loop N`: a child in a shifted namespace reads CLOCK_MONOTONIC through glibc N times
 * (the vDSO, no system call once calibrated) and counts reads without the offset.
 * `timens hold`: a child in a shifted namespace waits through a checkpoint, then checks its
 * clocks (vDSO and system call) and namespace; the parent its own and the offsets' freeze. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"
#include "_ckpt.h"

#define NS_GET_NSTYPE 0xb703
#define NS_GET_PARENT 0xb702
#define DAY 86400LL
#define SEC 1000000000LL

static int64_t vdso_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * SEC + ts.tv_nsec;
}

static int64_t sys_ns(clockid_t c) {
  struct timespec ts;
  syscall(SYS_clock_gettime, c, &ts);
  return ts.tv_sec * SEC + ts.tv_nsec;
}

static unsigned long ino_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static void show_offsets(const char *label) {
  char buf[256] = {0};
  int fd = open("/proc/self/timens_offsets", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s (%zd bytes):\n%s", label, n, buf);
}

static long write_offsets(const char *text);

/* A write of timens_offsets, printed with its result. */
static void wr(const char *label, const char *text) {
  long r = write_offsets(text);
  printf("%s: %ld %s\n", label, r, r < 0 ? en(errno) : "");
}

static long write_offsets(const char *text) {
  int fd = open("/proc/self/timens_offsets", O_WRONLY);
  errno = 0;
  long r = write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

/* Whether `got` - `base` lies in [off, off + 3 s): the offset plus the time between the reads. */
static int shifted(int64_t got, int64_t base, int64_t off) {
  int64_t d = got - base - off;
  return d >= 0 && d < 3 * SEC;
}

static long uptime_proc(void) {
  char buf[64] = {0};
  int fd = open("/proc/uptime", O_RDONLY);
  read(fd, buf, sizeof buf - 1);
  close(fd);
  return atol(buf);
}

static void *idle(void *a) {
  pause();
  return a;
}

/* The program again after execve: it is in the namespace its children were to start in. */
static int after_exec(char **argv) {
  int64_t mono = atoll(argv[2]), boot = atoll(argv[3]), real = atoll(argv[4]);
  printf("exec: in the children's namespace: %d\n", ino_of("/proc/self/ns/time") == strtoul(argv[5], 0, 10));
  printf("exec: ns/time and time_for_children the same again: %d\n",
         ino_of("/proc/self/ns/time") == ino_of("/proc/self/ns/time_for_children"));
  printf("exec: monotonic shifted by a day (vDSO, syscall): %d %d\n", shifted(vdso_ns(CLOCK_MONOTONIC), mono, DAY * SEC),
         shifted(sys_ns(CLOCK_MONOTONIC), mono, DAY * SEC));
  printf("exec: boottime shifted by -10 s: %d, realtime not: %d\n", shifted(vdso_ns(CLOCK_BOOTTIME), boot, -10 * SEC),
         shifted(vdso_ns(CLOCK_REALTIME), real, 0));
  wr("exec: offsets fixed", "monotonic 1 0");
  return 0;
}

/* Whether `got` - `base` lies in [off, off + 10 min): across a checkpoint and restore. */
static int later(int64_t got, int64_t base, int64_t off) {
  int64_t d = got - base - off;
  return d >= 0 && d < 600 * SEC;
}

static int shift_children(void) {
  if (unshare(CLONE_NEWTIME) != 0 || write_offsets("monotonic 86400 0\nboottime -10 0") < 0) {
    printf("cannot make a shifted namespace: %s\n", en(errno));
    return -1;
  }
  return 0;
}

static int loop(long n) {
  if (shift_children() != 0) return 1;
  int64_t mono = vdso_ns(CLOCK_MONOTONIC);
  pid_t pid = fork();
  if (pid == 0) {
    long bad = 0;
    for (long i = 0; i < n; i++) bad += !later(vdso_ns(CLOCK_MONOTONIC), mono, DAY * SEC);
    printf("reads without the offset: %ld\n", bad);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  return 0;
}

static int hold(void) {
  if (shift_children() != 0) return 1;
  int64_t mono = vdso_ns(CLOCK_MONOTONIC), boot = vdso_ns(CLOCK_BOOTTIME);
  int go[2];
  if (pipe(go) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    read(go[0], &c, 1);
    printf("child monotonic a day on (vDSO, syscall): %d %d\n", later(vdso_ns(CLOCK_MONOTONIC), mono, DAY * SEC),
           later(sys_ns(CLOCK_MONOTONIC), mono, DAY * SEC));
    printf("child boottime -10 s (vDSO, syscall): %d %d\n", later(vdso_ns(CLOCK_BOOTTIME), boot, -10 * SEC),
           later(sys_ns(CLOCK_BOOTTIME), boot, -10 * SEC));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/time_for_children", (int)getppid());
    printf("child in its parent's time_for_children: %d\n", ino_of("/proc/self/ns/time") == ino_of(path));
    _exit(0);
  }
  printf("ready\n");
  await_checkpoint();
  write(go[1], "x", 1);
  waitpid(pid, NULL, 0);
  printf("parent unshifted: %d\n", later(vdso_ns(CLOCK_MONOTONIC), mono, 0));
  wr("parent writes its children's offsets", "monotonic 1 0");
  show_offsets("children's");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "exec") == 0) return after_exec(argv);
  if (argc > 2 && strcmp(argv[1], "loop") == 0) return loop(atol(argv[2]));
  if (argc > 1 && strcmp(argv[1], "hold") == 0) return hold();
  int first = open("/proc/self/ns/time", O_RDONLY);
  printf("time and time_for_children the same: %d\n", ino_of("/proc/self/ns/time") == ino_of("/proc/self/ns/time_for_children"));
  R("NS_GET_NSTYPE", ioctl(first, NS_GET_NSTYPE));
  R("NS_GET_PARENT", ioctl(first, NS_GET_PARENT));
  wr("first namespace's offsets", "monotonic 1 0");
  char tpath[64];
  snprintf(tpath, sizeof tpath, "/proc/self/task/%d/timens_offsets", (int)gettid());
  R("/proc/self/task/TID/timens_offsets", open(tpath, O_RDONLY));
  snprintf(tpath, sizeof tpath, "/proc/self/task/%d/comm", (int)gettid());
  printf("/proc/self/task/TID/comm there: %d\n", access(tpath, R_OK) == 0);
  show_offsets("first namespace");

  R("unshare(CLONE_NEWTIME)", unshare(CLONE_NEWTIME));
  unsigned long own = ino_of("/proc/self/ns/time"), kids = ino_of("/proc/self/ns/time_for_children");
  printf("ns/time unchanged: %d, time_for_children new: %d\n", own == ino_of("/proc/self/ns/time"), own != kids);
  show_offsets("new namespace");
  wr("nanoseconds of a second", "monotonic 1 1000000000");
  wr("unknown clock", "realtime 1 0");
  wr("two fields", "monotonic 1");
  wr("below zero", "boottime -99999999999 0");
  wr("past KTIME_SEC_MAX", "1 99999999999999 0");
  int fd = open("/proc/self/timens_offsets", O_WRONLY);
  R("pwrite", pwrite(fd, "1 5 0", 5, 0));
  lseek(fd, 1, SEEK_SET);
  R("write at 1", write(fd, "1 5 0", 5));
  close(fd);
  wr("three lines", "1 5 0\n7 6 0\nmonotonic 7 0\n");
  show_offsets("after three lines");
  wr("set", "monotonic 86400 0\nboottime -10 500");
  show_offsets("set");
  wr("by number", "1 86400 0\n");

  int64_t mono = vdso_ns(CLOCK_MONOTONIC), raw = vdso_ns(CLOCK_MONOTONIC_RAW), coarse = vdso_ns(CLOCK_MONOTONIC_COARSE);
  int64_t boot = vdso_ns(CLOCK_BOOTTIME), real = vdso_ns(CLOCK_REALTIME);
  struct sysinfo si;
  sysinfo(&si);
  long up = si.uptime;
  printf("parent unshifted: %d\n", shifted(sys_ns(CLOCK_MONOTONIC), mono, 0));
  pid_t pid = fork();
  if (pid == 0) {
    printf("child in time_for_children: %d\n", ino_of("/proc/self/ns/time") == kids);
    printf("child monotonic (vDSO, syscall): %d %d\n", shifted(vdso_ns(CLOCK_MONOTONIC), mono, DAY * SEC),
           shifted(sys_ns(CLOCK_MONOTONIC), mono, DAY * SEC));
    printf("child monotonic_raw, coarse: %d %d\n", shifted(vdso_ns(CLOCK_MONOTONIC_RAW), raw, DAY * SEC),
           shifted(vdso_ns(CLOCK_MONOTONIC_COARSE), coarse, DAY * SEC - SEC / 100));
    printf("child boottime (vDSO, syscall): %d %d\n", shifted(vdso_ns(CLOCK_BOOTTIME), boot, -10 * SEC + 500),
           shifted(sys_ns(CLOCK_BOOTTIME), boot, -10 * SEC + 500));
    printf("child boottime_alarm: %d\n", shifted(sys_ns(CLOCK_BOOTTIME_ALARM), boot, -10 * SEC + 500));
    printf("child realtime: %d\n", shifted(vdso_ns(CLOCK_REALTIME), real, 0));
    struct sysinfo s2;
    sysinfo(&s2);
    long d = s2.uptime - up;
    printf("child sysinfo uptime -10 s: %d, /proc/uptime agrees: %d\n", d >= -10 && d <= -8,
           s2.uptime - uptime_proc() >= 0 && s2.uptime - uptime_proc() <= 1);
    wr("child writes the offsets", "monotonic 1 0");
    // Absolute sleeps on the shifted clock: 200 ms from now.
    int64_t start = sys_ns(CLOCK_MONOTONIC);
    struct timespec until = {.tv_sec = (start + SEC / 5) / SEC, .tv_nsec = (start + SEC / 5) % SEC};
    R("clock_nanosleep(TIMER_ABSTIME)", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL));
    int64_t slept = sys_ns(CLOCK_MONOTONIC) - start;
    printf("slept 200 ms to 3 s: %d\n", slept >= SEC / 5 && slept < 3 * SEC);
    int tfd = timerfd_create(CLOCK_BOOTTIME, 0);
    start = sys_ns(CLOCK_BOOTTIME);
    struct itimerspec its = {.it_value = {.tv_sec = (start + SEC / 5) / SEC, .tv_nsec = (start + SEC / 5) % SEC}};
    R("timerfd_settime(ABSTIME)", timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL));
    uint64_t ticks = 0;
    R("read timerfd", read(tfd, &ticks, 8));
    slept = sys_ns(CLOCK_BOOTTIME) - start;
    printf("timerfd: %llu tick after 200 ms to 3 s: %d\n", (unsigned long long)ticks, slept >= SEC / 5 && slept < 3 * SEC);
    // An absolute time before the offset is already past.
    struct timespec past = {.tv_sec = 1, .tv_nsec = 0};
    R("clock_nanosleep(TIMER_ABSTIME, 1 s)", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
    R("setns(first)", setns(first, CLONE_NEWTIME));
    printf("back: ns/time first: %d, time_for_children first: %d\n", ino_of("/proc/self/ns/time") == own,
           ino_of("/proc/self/ns/time_for_children") == own);
    printf("back: monotonic unshifted (vDSO, syscall): %d %d\n", shifted(vdso_ns(CLOCK_MONOTONIC), mono, 0),
           shifted(sys_ns(CLOCK_MONOTONIC), mono, 0));
    printf("back: boottime unshifted: %d\n", shifted(vdso_ns(CLOCK_BOOTTIME), boot, 0));
    int kfd = open("/proc/self/ns/time", O_RDONLY);
    pthread_t th;
    pthread_create(&th, NULL, idle, NULL);
    R("setns with two threads", setns(kfd, CLONE_NEWTIME));
    _exit(0);
  }
  waitpid(pid, NULL, 0);

  // clone3 with CLONE_NEWTIME: a namespace of the child's own, a copy of the offsets.
  struct clone_args ca = {.flags = CLONE_NEWTIME, .exit_signal = SIGCHLD};
  pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0) {
    unsigned long mine = ino_of("/proc/self/ns/time");
    printf("clone3 child: a namespace of its own: %d\n", mine != own && mine != kids);
    printf("clone3 child: monotonic a day on: %d, boottime -10 s: %d\n", shifted(vdso_ns(CLOCK_MONOTONIC), mono, DAY * SEC),
           shifted(sys_ns(CLOCK_BOOTTIME), boot, -10 * SEC + 500));
    show_offsets("clone3 child's children");
    _exit(0);
  }
  // Printed once the child is done: its lines and this one raced (natively the child ran first).
  int cloned = pid > 0;
  waitpid(pid, NULL, 0);
  R("clone3(CLONE_NEWTIME)", cloned);
  printf("parent still unshifted: %d\n", shifted(vdso_ns(CLOCK_MONOTONIC), mono, 0));
  wr("parent writes the entered namespace's offsets", "monotonic 1 0");

  char a2[32], a3[32], a4[32], a5[32];
  snprintf(a2, sizeof a2, "%lld", (long long)mono);
  snprintf(a3, sizeof a3, "%lld", (long long)boot);
  snprintf(a4, sizeof a4, "%lld", (long long)real);
  snprintf(a5, sizeof a5, "%lu", kids);
  execl("/proc/self/exe", argv[0], "exec", a2, a3, a4, a5, (char *)NULL);
  printf("execl failed\n");
  return 1;
}
