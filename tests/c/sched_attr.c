/* sched_getattr and sched_setattr (chrt asks sched_getattr first): the sizes and versions of
 * struct sched_attr, E2BIG with the kernel's size written back, flags, policies and priorities,
 * SCHED_FLAG_KEEP_POLICY and KEEP_PARAMS, SCHED_FLAG_RESET_ON_FORK across fork, the nice value
 * shared with getpriority, and what an unprivileged caller may not do. SCHED_DEADLINE is only
 * checked for bad parameters (EINVAL) and real-time policies only as root. Prints results and
 * errno names. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t prio;
  uint64_t runtime, deadline, period;
  uint32_t util_min, util_max;
  uint8_t tail[64];
};

/* Prints "what: result errno". */
static void result(const char *what, long r) {
  int e = errno;
  printf("%s: %ld %s\n", what, r, r < 0 ? strerrorname_np(e) : "");
}

static long getattr(pid_t pid, struct attr *a, unsigned size, unsigned flags) {
  memset(a, 0xaa, sizeof *a);
  errno = 0;
  return syscall(SYS_sched_getattr, pid, a, size, flags);
}

static long setattr(pid_t pid, struct attr *a, unsigned flags) {
  errno = 0;
  return syscall(SYS_sched_setattr, pid, a, flags);
}

/* The fields a size of 56 covers, and whether the bytes after them were touched. A fair task's
 * sched_runtime is its slice, which depends on the kernel's version and CPUs: only "set". */
static void show(const char *what, pid_t pid, unsigned size) {
  struct attr a;
  long r = getattr(pid, &a, size, 0);
  result(what, r);
  if (r < 0) return;
  printf("  size=%u policy=%u flags=%lu nice=%d prio=%u runtime=%s deadline=%lu period=%lu",
         a.size, a.policy, (unsigned long)a.flags, a.nice, a.prio,
         a.runtime == 0 ? "0" : a.runtime == 0xaaaaaaaaaaaaaaaaUL ? "untouched" : "set",
         (unsigned long)a.deadline, (unsigned long)a.period);
  /* The utilization clamps are 0/1024 or 0/0, as the kernel has CONFIG_UCLAMP_TASK or not. */
  printf(" util %s", a.util_min == 0xaaaaaaaa ? "untouched" : "written");
  if (size > 56) printf(" tail=%02x", a.tail[0]);
  printf("\n");
}

static void fair(struct attr *a, uint32_t policy, int nice) {
  memset(a, 0, sizeof *a);
  a->size = 48;
  a->policy = policy;
  a->nice = nice;
}

static void sizes(void) {
  struct attr a;
  show("getattr v0 (48)", 0, 48);
  show("getattr v1 (56)", 0, 56);
  show("getattr 120", 0, 120);
  result("getattr 40", getattr(0, &a, 40, 0));
  result("getattr page+1", getattr(0, &a, 4097, 0));
  result("getattr flags 1", getattr(0, &a, 56, 1));
  result("getattr pid -1", getattr(-1, &a, 56, 0));
  result("getattr no such pid", getattr(999999, &a, 56, 0));
  result("getattr no such pid, flags 1", getattr(999999, &a, 56, 1));
  errno = 0;
  result("getattr NULL", syscall(SYS_sched_getattr, 0, NULL, 56, 0));
  errno = 0;
  result("getattr bad pointer", syscall(SYS_sched_getattr, 0, (void *)8, 56, 0));

  fair(&a, SCHED_OTHER, 0);
  a.size = 40;
  result("setattr size 40", setattr(0, &a, 0));
  printf("  size written back: %u\n", a.size);
  a.size = 100;
  a.tail[0] = 1;
  result("setattr size 100, non-zero tail", setattr(0, &a, 0));
  printf("  size written back: %u\n", a.size);
  a.size = 5000;
  result("setattr size 5000", setattr(0, &a, 0));
  printf("  size written back: %u\n", a.size);
  a.size = 100;
  a.tail[0] = 0;
  result("setattr size 100, zero tail", setattr(0, &a, 0));
  printf("  size kept: %u\n", a.size);
  a.size = 0;
  result("setattr size 0 (v0)", setattr(0, &a, 0));
  printf("  size kept: %u\n", a.size);
  errno = 0;
  result("setattr NULL", syscall(SYS_sched_setattr, 0, NULL, 0));
  errno = 0;
  result("setattr bad pointer", syscall(SYS_sched_setattr, 0, (void *)8, 0));
  fair(&a, SCHED_OTHER, 0);
  result("setattr flags 1", setattr(0, &a, 1));
  result("setattr pid -1", setattr(-1, &a, 0));
  result("setattr no such pid", setattr(999999, &a, 0));
}

static void policies(void) {
  struct attr a;
  fair(&a, SCHED_OTHER, 5);
  result("nice 5", setattr(0, &a, 0));
  printf("  getpriority: %d\n", getpriority(PRIO_PROCESS, 0));
  show("after nice 5", 0, 56);
  fair(&a, SCHED_OTHER, 100);
  result("nice 100 (clamped)", setattr(0, &a, 0));
  printf("  getpriority: %d\n", getpriority(PRIO_PROCESS, 0));
  fair(&a, SCHED_BATCH, -3);
  result("batch, nice -3", setattr(0, &a, 0));
  show("batch", 0, 56);
  printf("  sched_getscheduler: %d\n", sched_getscheduler(0));
  fair(&a, SCHED_OTHER, 7);
  a.flags = 8; /* SCHED_FLAG_KEEP_POLICY */
  result("keep policy, nice 7", setattr(0, &a, 0));
  show("kept batch", 0, 56);
  fair(&a, SCHED_RR, 0);
  a.prio = 5;
  a.flags = 16; /* SCHED_FLAG_KEEP_PARAMS */
  result("RR 5 keeping params", setattr(0, &a, 0));
  show("params kept", 0, 56);
  fair(&a, SCHED_OTHER, 0);
  a.prio = 5;
  result("other with priority 5", setattr(0, &a, 0));
  fair(&a, 4, 0);
  result("policy 4", setattr(0, &a, 0));
  fair(&a, 7, 0);
  result("policy 7", setattr(0, &a, 0));
  fair(&a, (uint32_t)-1, 0);
  result("policy -1", setattr(0, &a, 0));
  fair(&a, SCHED_OTHER, 0);
  a.flags = 0x1000;
  result("unknown flag", setattr(0, &a, 0));
  a.flags = 0x20; /* SCHED_FLAG_UTIL_CLAMP_MIN with a v0 size */
  result("util clamp, size 48", setattr(0, &a, 0));
  fair(&a, SCHED_FIFO, 0);
  a.prio = 100;
  result("FIFO 100", setattr(0, &a, 0));
  a.prio = 0;
  result("FIFO 0", setattr(0, &a, 0));
  fair(&a, SCHED_DEADLINE, 0);
  a.runtime = 100;
  a.deadline = 30000000;
  result("deadline, runtime below 1024 ns", setattr(0, &a, 0));
  a.runtime = 40000000;
  result("deadline, runtime over deadline", setattr(0, &a, 0));
  a.runtime = 10000000;
  a.deadline = 0;
  result("deadline 0", setattr(0, &a, 0));
  a.deadline = 30000000;
  a.period = 20000000;
  result("period under deadline", setattr(0, &a, 0));
  a.period = 10000000000UL;
  result("period over the maximum", setattr(0, &a, 0));
  fair(&a, SCHED_OTHER, 0);
  result("back to other, nice 0", setattr(0, &a, 0));
  show("other", 0, 56);
}

static void root_only(void) {
  struct attr a;
  fair(&a, SCHED_FIFO, 0);
  a.prio = 10;
  a.flags = 1; /* SCHED_FLAG_RESET_ON_FORK */
  result("FIFO 10, reset on fork", setattr(0, &a, 0));
  show("fifo", 0, 56);
  printf("  sched_getscheduler: %#x\n", sched_getscheduler(0));
  pid_t c = fork();
  if (c == 0) {
    show("child after reset on fork", 0, 56);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  fair(&a, SCHED_OTHER, -4);
  result("other, nice -4", setattr(0, &a, 0));
  show("other again", 0, 56);
  c = fork();
  if (c == 0) {
    show("child inherits", 0, 56);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  fair(&a, SCHED_OTHER, 0);
  setattr(0, &a, 0);
}

static void unprivileged(void) {
  pid_t parent = getpid();
  pid_t c = fork();
  if (c == 0) {
    if (setgid(65534) < 0 || setuid(65534) < 0) _exit(1);
    struct attr a;
    fair(&a, SCHED_OTHER, 3);
    result("nobody: nice 3", setattr(0, &a, 0));
    fair(&a, SCHED_OTHER, 1);
    result("nobody: nice back to 1", setattr(0, &a, 0));
    fair(&a, SCHED_FIFO, 0);
    a.prio = 1;
    result("nobody: FIFO 1", setattr(0, &a, 0));
    fair(&a, SCHED_DEADLINE, 0);
    a.runtime = 10000000;
    a.deadline = 30000000;
    result("nobody: deadline", setattr(0, &a, 0));
    fair(&a, SCHED_IDLE, 0);
    result("nobody: idle", setattr(0, &a, 0));
    fair(&a, SCHED_OTHER, 3);
    result("nobody: idle back to other", setattr(0, &a, 0));
    fair(&a, SCHED_OTHER, 0);
    result("nobody: root's process", setattr(parent, &a, 0));
    show("nobody reads root's process", parent, 56);
    show("nobody's own", 0, 56);
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  sizes();
  policies();
  root_only();
  unprivileged();
  return 0;
}
