/* Edges of Linux's syscall ABI that gVisor's syscall suite found the sentry getting wrong, each
 * printed so that a native run and a sentry run can be compared line by line:
 * getdents into a buffer that ends in unmapped memory and with a count beyond INT_MAX, readv
 * with an iovec outside the address space, lseek(SEEK_END) on /proc and /sys, open(O_DIRECT)
 * of a directory, statx's mount id, brk against RLIMIT_DATA, MAP_32BIT, clone3's argument
 * checks and CLONE_CLEAR_SIGHAND, futex keys of private and shared ops, and SO_PASSCRED turned
 * on after data was sent on a Unix socket. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static char dir[64];

static void getdents_edges(void) {
  strcpy(dir, "/tmp/compat_edges.XXXXXX");
  if (mkdtemp(dir) == NULL) return;
  char path[128];
  for (int i = 0; i < 100; i++) {
    snprintf(path, sizeof(path), "%s/file-%03d", dir, i);
    close(open(path, O_CREAT | O_WRONLY, 0644));
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  /* Two pages, the second PROT_NONE; the buffer is the last 256 bytes of the first, but the
   * count claims a page: every record must still come out, a few per call. */
  char *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(map + 4096, 4096, PROT_NONE);
  char *buf = map + 4096 - 256;
  int entries = 0, calls = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, 4096);
    if (n <= 0) {
      printf("getdents64 partial buffer: last = %ld %s\n", n, n < 0 ? en(errno) : "");
      break;
    }
    calls++;
    for (long off = 0; off < n;) {
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof(reclen));
      entries++;
      off += reclen;
    }
  }
  printf("getdents64 partial buffer: %d entries, more than one call: %d\n", entries, calls > 1);
  /* A first record that cannot be written at all is EFAULT. */
  lseek(fd, 0, SEEK_SET);
  R("getdents64 into the guard page", syscall(SYS_getdents64, fd, map + 4096, 4096));
  lseek(fd, 0, SEEK_SET);
  R("getdents64 count 2^31", syscall(SYS_getdents64, fd, map, 0x80000000u));
  R("getdents64 count 2^32-1", syscall(SYS_getdents64, fd, map, 0xffffffffu));
  R("getdents count 2^31", syscall(SYS_getdents, fd, map, 0x80000000u));
  munmap(map, 8192);
  close(fd);
}

static void readv_edges(void) {
  int fd = open("/proc/self/exe", O_RDONLY);
  char a[16], b[16];
  struct iovec iov[2] = {{(void *)~(uintptr_t)0, 0}, {b, sizeof(b)}};
  R("readv first iovec beyond the address space", readv(fd, iov, 2));
  iov[0].iov_base = NULL;
  R("readv NULL first iovec of length 0", readv(fd, iov, 2));
  struct iovec iov2[2] = {{a, sizeof(a)}, {(void *)~(uintptr_t)0, 0}};
  lseek(fd, 0, SEEK_SET);
  R("readv second iovec beyond the address space (array ends there)", readv(fd, iov2, 2));
  close(fd);
}

static void lseek_edges(void) {
  int fd = open("/proc/self", O_RDONLY);
  R("lseek /proc/self SEEK_END", lseek(fd, 0, SEEK_END));
  close(fd);
  fd = open("/proc/meminfo", O_RDONLY);
  R("lseek /proc/meminfo SEEK_CUR", lseek(fd, 0, SEEK_CUR));
  R("lseek /proc/meminfo SEEK_END", lseek(fd, 0, SEEK_END));
  close(fd);
  fd = open("/sys/devices", O_RDONLY);
  R("lseek /sys/devices SEEK_END", lseek(fd, 0, SEEK_END));
  close(fd);
  fd = open(dir, O_RDONLY);
  R("lseek tmp dir SEEK_CUR", lseek(fd, 0, SEEK_CUR));
  close(fd);
}

static void open_statx_edges(void) {
  R("open directory O_DIRECT", open(dir, O_RDONLY | O_DIRECT));
  struct statx a, b;
  char p1[128], p2[128];
  snprintf(p1, sizeof(p1), "%s/file-000", dir);
  snprintf(p2, sizeof(p2), "%s/file-001", dir);
  R("statx file-000", statx(AT_FDCWD, p1, 0, STATX_MNT_ID, &a));
  R("statx file-001", statx(AT_FDCWD, p2, 0, STATX_MNT_ID, &b));
  printf("statx mount id: reported %d, nonzero %d, same in one directory %d\n",
         (a.stx_mask & STATX_MNT_ID) != 0, a.stx_mnt_id != 0, a.stx_mnt_id == b.stx_mnt_id);
  int fd = open(p1, O_RDONLY);
  struct statx c;
  R("statx AT_EMPTY_PATH", statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &c));
  printf("statx AT_EMPTY_PATH mount id same: %d\n", c.stx_mnt_id == a.stx_mnt_id);
  close(fd);
}

static void memory_edges(void) {
  char *cur = sbrk(0);
  struct rlimit old, zero = {0, RLIM_INFINITY};
  getrlimit(RLIMIT_DATA, &old);
  setrlimit(RLIMIT_DATA, &zero);
  R("brk beyond RLIMIT_DATA 0", brk(cur + 8192));
  printf("break unchanged: %d\n", sbrk(0) == cur);
  setrlimit(RLIMIT_DATA, &old);
  R("brk after the limit is lifted", brk(cur + 8192));
  brk(cur);
  void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  printf("MAP_32BIT mapping below 2 GiB: %d\n", p != MAP_FAILED && (uintptr_t)p < 0x80000000u);
  munmap(p, 4096);

  /* mremap shrinking across two VMAs: allowed in place; with MREMAP_FIXED, EFAULT after the
   * tail and the destination were unmapped. msync tells whether a page is mapped. */
  for (int fixed = 0; fixed < 2; fixed++) {
    char *m = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *dst = mmap(NULL, 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(m, 4096, PROT_NONE);
    errno = 0;
    void *r = fixed ? mremap(m, 3 * 4096, 2 * 4096, MREMAP_MAYMOVE | MREMAP_FIXED, dst)
                    : mremap(m, 3 * 4096, 2 * 4096, 0);
    printf("mremap shrink across VMAs%s: %s %s; mapped: %d %d %d, destination %d\n", fixed ? " (MREMAP_FIXED)" : "",
           r == MAP_FAILED ? "failed" : r == m ? "same place" : "moved", r == MAP_FAILED ? en(errno) : "",
           msync(m, 4096, MS_ASYNC) == 0, msync(m + 4096, 4096, MS_ASYNC) == 0,
           msync(m + 8192, 4096, MS_ASYNC) == 0, msync(dst, 4096, MS_ASYNC) == 0);
    munmap(m, 3 * 4096);
    munmap(dst, 2 * 4096);
  }
}

static void handler(int sig) { (void)sig; }

static long clone3_call(struct clone_args *ca) {
  return syscall(SYS_clone3, ca, sizeof(*ca));
}

static void clone3_edges(void) {
  struct clone_args ca;
  memset(&ca, 0, sizeof(ca));
  ca.flags = CLONE_PARENT;
  ca.exit_signal = SIGCHLD;
  R("clone3 CLONE_PARENT with an exit signal", clone3_call(&ca));
  ca.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  R("clone3 CLONE_THREAD with an exit signal", clone3_call(&ca));
  ca.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM;
  ca.exit_signal = 0;
  R("clone3 CLONE_CLEAR_SIGHAND with CLONE_SIGHAND", clone3_call(&ca));
  ca.flags = 1ULL << 40;
  R("clone3 unknown flag", clone3_call(&ca));
  ca.flags = 0x01; /* a CSIGNAL bit, reused by clone3 */
  ca.exit_signal = SIGCHLD;
  R("clone3 CSIGNAL bits in flags", clone3_call(&ca));

  signal(SIGUSR1, handler);
  signal(SIGUSR2, SIG_IGN);
  memset(&ca, 0, sizeof(ca));
  ca.flags = CLONE_CLEAR_SIGHAND;
  ca.exit_signal = SIGCHLD;
  long pid = clone3_call(&ca);
  if (pid == 0) {
    struct sigaction s1, s2;
    sigaction(SIGUSR1, NULL, &s1);
    sigaction(SIGUSR2, NULL, &s2);
    _exit((s1.sa_handler == SIG_DFL ? 0 : 1) | (s2.sa_handler == SIG_IGN ? 0 : 2));
  }
  int status = -1;
  waitpid(pid, &status, 0);
  printf("CLONE_CLEAR_SIGHAND child: exited %d status %d\n", WIFEXITED(status), WEXITSTATUS(status));
  struct sigaction s;
  sigaction(SIGUSR1, NULL, &s);
  printf("parent's SIGUSR1 handler kept: %d\n", s.sa_handler == handler);
  signal(SIGUSR1, SIG_DFL);
  signal(SIGUSR2, SIG_DFL);

  /* CLONE_PIDFD: the parent gets a close-on-exec pidfd at the number written to args.pidfd;
   * a bad pointer fails the clone before any child exists. */
  int pidfd = -1;
  memset(&ca, 0, sizeof(ca));
  ca.flags = CLONE_PIDFD;
  ca.exit_signal = SIGCHLD;
  ca.pidfd = (uintptr_t)&pidfd;
  pid = clone3_call(&ca);
  if (pid == 0) _exit(7);
  printf("CLONE_PIDFD: child %d, pidfd %d, close-on-exec %d\n", pid > 0, pidfd >= 0,
         (fcntl(pidfd, F_GETFD) & FD_CLOEXEC) != 0);
  struct pollfd pp = {pidfd, POLLIN, 0};
  R("  poll the pidfd until the child exits", poll(&pp, 1, 5000));
  waitpid(pid, &status, 0);
  printf("  child exited %d status %d\n", WIFEXITED(status), WEXITSTATUS(status));
  close(pidfd);
  ca.pidfd = 8; /* unmapped */
  R("clone3 CLONE_PIDFD with a bad pointer", clone3_call(&ca));
  R("  no child was made", waitpid(-1, NULL, WNOHANG));
}

static int word = 1;
static int waiter_private;

static void *futex_waiter(void *arg) {
  (void)arg;
  struct timespec ts = {0, 300 * 1000 * 1000};
  int op = FUTEX_WAIT | (waiter_private ? FUTEX_PRIVATE_FLAG : 0);
  errno = 0;
  long r = syscall(SYS_futex, &word, op, 1, &ts, NULL, 0);
  printf("  waiter (%s) = %ld %s\n", waiter_private ? "private" : "shared", r, r < 0 ? en(errno) : "");
  return NULL;
}

static void futex_kinds(void) {
  for (int priv = 0; priv < 2; priv++) {
    waiter_private = priv;
    pthread_t th;
    pthread_create(&th, NULL, futex_waiter, NULL);
    usleep(100 * 1000);
    int op = FUTEX_WAKE | (priv ? 0 : FUTEX_PRIVATE_FLAG);
    printf("futex wake of the other kind (waiter %s):\n", priv ? "private" : "shared");
    R("  wake", syscall(SYS_futex, &word, op, 1, NULL, NULL, 0));
    pthread_join(th, NULL);
  }
}

static void recv_creds(int fd, const char *what) {
  char data[8];
  char control[CMSG_SPACE(sizeof(struct ucred))];
  struct iovec iov = {data, sizeof(data)};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  long n = recvmsg(fd, &m, 0);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  if (n < 0 || c == NULL || c->cmsg_type != SCM_CREDENTIALS) {
    printf("%s: n=%ld, no credentials\n", what, n);
    return;
  }
  struct ucred u;
  memcpy(&u, CMSG_DATA(c), sizeof(u));
  printf("%s: n=%ld pid %s uid %u gid %u\n", what, n, u.pid == 0 ? "0" : u.pid == getpid() ? "self" : "other",
         u.uid, u.gid);
}

static void passcred_order(void) {
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  const char *names[] = {"stream", "dgram", "seqpacket"};
  int one = 1;
  for (int i = 0; i < 3; i++) {
    int sv[2];
    socketpair(AF_UNIX, types[i], 0, sv);
    write(sv[0], "before", 6);
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    char what[64];
    snprintf(what, sizeof(what), "%s written before the receiver's SO_PASSCRED", names[i]);
    recv_creds(sv[1], what);
    write(sv[0], "after", 5);
    snprintf(what, sizeof(what), "%s written after it", names[i]);
    recv_creds(sv[1], what);
    close(sv[0]);
    close(sv[1]);
    /* The sender's own SO_PASSCRED attaches credentials too. */
    socketpair(AF_UNIX, types[i], 0, sv);
    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    write(sv[0], "sender", 6);
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    snprintf(what, sizeof(what), "%s written with the sender's SO_PASSCRED", names[i]);
    recv_creds(sv[1], what);
    close(sv[0]);
    close(sv[1]);
  }
}

static void zero_length_recv_fd(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  char c = 'a';
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof(control));
  struct iovec iov = {&c, 1};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
  R("sendmsg with a descriptor", sendmsg(sv[1], &m, 0));
  char rcontrol[CMSG_SPACE(sizeof(int))];
  struct msghdr r = {0};
  r.msg_control = rcontrol;
  r.msg_controllen = sizeof(rcontrol);
  R("zero-length stream recvmsg", recvmsg(sv[0], &r, 0));
  cm = CMSG_FIRSTHDR(&r);
  printf("descriptor received: %d, truncated: %d\n", cm != NULL && cm->cmsg_type == SCM_RIGHTS,
         (r.msg_flags & MSG_TRUNC) != 0);
  R("the byte is still there", recv(sv[0], &c, 1, MSG_DONTWAIT));
  close(sv[0]);
  close(sv[1]);
}

static void inet_options(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int v = -1, one = 1;
  socklen_t len = sizeof(v);
  R("TCP getsockopt SO_NO_CHECK", getsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &v, &len));
  printf("SO_NO_CHECK initially %d\n", v);
  R("TCP setsockopt SO_NO_CHECK 1", setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)));
  len = sizeof(v);
  getsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &v, &len);
  printf("SO_NO_CHECK then %d\n", v);
  close(fd);
  /* The generic options on a Unix socket: stored and reported as sock_setsockopt does. */
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  len = sizeof(v);
  R("unix getsockopt SO_NO_CHECK", getsockopt(sv[0], SOL_SOCKET, SO_NO_CHECK, &v, &len));
  R("unix setsockopt SO_NO_CHECK 1", setsockopt(sv[0], SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)));
  getsockopt(sv[0], SOL_SOCKET, SO_NO_CHECK, &v, &len);
  printf("unix SO_NO_CHECK then %d\n", v);
  struct linger lg = {1, 5}, got = {-1, -1};
  len = sizeof(got);
  R("unix getsockopt SO_LINGER", getsockopt(sv[0], SOL_SOCKET, SO_LINGER, &got, &len));
  printf("  %d %d len %u\n", got.l_onoff, got.l_linger, len);
  R("unix setsockopt SO_LINGER {1, 5}", setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
  lg.l_onoff = 0;
  lg.l_linger = 9;
  R("unix setsockopt SO_LINGER {0, 9}", setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
  len = sizeof(got);
  getsockopt(sv[0], SOL_SOCKET, SO_LINGER, &got, &len);
  printf("  now %d %d\n", got.l_onoff, got.l_linger);
  R("unix setsockopt SO_LINGER short", setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, 4));
  close(sv[0]);
  close(sv[1]);
}

static void select_timeouts(void) {
  struct timeval tv = {0, 10000};
  R("select with no descriptors", select(0, NULL, NULL, NULL, &tv));
  printf("  time left %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
  int p[2];
  pipe(p);
  write(p[1], "x", 1);
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  tv.tv_sec = 5;
  tv.tv_usec = 0;
  R("select on a readable pipe", select(p[0] + 1, &rd, NULL, NULL, &tv));
  printf("  time left is most of 5 s: %d\n", tv.tv_sec == 4 || (tv.tv_sec == 5 && tv.tv_usec == 0));
  struct timespec ts = {0, 10 * 1000 * 1000};
  R("raw pselect6 with no descriptors", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, NULL));
  printf("  time left %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
  ts.tv_sec = 0;
  ts.tv_nsec = 10 * 1000 * 1000;
  R("raw ppoll with no descriptors", syscall(SYS_ppoll, NULL, 0, &ts, NULL, 8));
  printf("  time left %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
  close(p[0]);
  close(p[1]);
  /* A failing ppoll or pselect6 puts the caller's signal mask back. */
  sigset_t usr1, cur;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ts.tv_nsec = 1000;
  R("ppoll of a bad array with a mask", syscall(SYS_ppoll, (void *)8, 1, &ts, &usr1, 8));
  sigprocmask(SIG_SETMASK, NULL, &cur);
  printf("  SIGUSR1 blocked after: %d\n", sigismember(&cur, SIGUSR1));
  struct { const sigset_t *set; size_t size; } psig = {&usr1, 8};
  R("pselect6 of a bad set with a mask", syscall(SYS_pselect6, 1, (void *)8, NULL, NULL, &ts, &psig));
  sigprocmask(SIG_SETMASK, NULL, &cur);
  printf("  SIGUSR1 blocked after: %d\n", sigismember(&cur, SIGUSR1));
}

/* Ranges whose end passes 2^63: sync_file_range is EINVAL (ksys_sync_file_range's checks),
 * fallocate EFBIG ("wrap through zero"), whatever the file system; summed as doubles, 8912 +
 * (2^63 - 4097) rounds to 2^63 and hid the wrap. */
static void range_wraps(void) {
  char path[128];
  snprintf(path, sizeof(path), "%s/wraps", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  long long big = INT64_MAX - 4096;
  int r = sync_file_range(fd, 8912, big, 0);
  printf("sync_file_range(8912, 2^63 - 4097) = %d %s\n", r, r ? en(errno) : "");
  r = sync_file_range(fd, 1, INT64_MAX, 0);
  printf("sync_file_range(1, 2^63 - 1) = %d %s\n", r, r ? en(errno) : "");
  r = sync_file_range(fd, 0, INT64_MAX, 0);
  printf("sync_file_range(0, 2^63 - 1) = %d %s\n", r, r ? en(errno) : "");
  /* Only regular files, block devices, directories and symlinks: a character device or a pipe is ESPIPE. */
  int null = open("/dev/null", O_RDWR), p[2];
  r = sync_file_range(null, 0, 1, SYNC_FILE_RANGE_WAIT_AFTER);
  printf("sync_file_range(/dev/null) = %d %s\n", r, r ? en(errno) : "");
  pipe(p);
  r = sync_file_range(p[1], 0, 1, SYNC_FILE_RANGE_WRITE);
  printf("sync_file_range(pipe) = %d %s\n", r, r ? en(errno) : "");
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  r = sync_file_range(d, 0, 1, SYNC_FILE_RANGE_WRITE);
  printf("sync_file_range(directory) = %d %s\n", r, r ? en(errno) : "");
  close(null); close(p[0]); close(p[1]); close(d);
  r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 8912, big);
  printf("fallocate(KEEP_SIZE, 8912, 2^63 - 4097) = %d %s\n", r, r ? en(errno) : "");
  r = fallocate(fd, 0, 1, INT64_MAX);
  printf("fallocate(0, 1, 2^63 - 1) = %d %s\n", r, r ? en(errno) : "");
  /* rw_verify_area: a transfer whose end passes 2^63 - 1 is EINVAL, before any size limit. */
  char b[1024] = {0};
  long n = pwrite(fd, b, sizeof(b), INT64_MAX);
  printf("pwrite at 2^63 - 1 = %ld %s\n", n, n < 0 ? en(errno) : "");
  n = pread(fd, b, sizeof(b), INT64_MAX - 1000);
  printf("pread at 2^63 - 1001 = %ld %s\n", n, n < 0 ? en(errno) : "");
  struct iovec v = {b, sizeof(b)};
  n = pwritev(fd, &v, 1, INT64_MAX - 100);
  printf("pwritev at 2^63 - 101 = %ld %s\n", n, n < 0 ? en(errno) : "");
  n = pread(fd, b, sizeof(b), INT64_MAX - 8192);
  printf("pread at 2^63 - 8193 = %ld %s\n", n, n < 0 ? en(errno) : "");
  close(fd);
  unlink(path);
}

/* SO_MARK on TCP and UDP sockets: set with CAP_NET_ADMIN or CAP_NET_RAW, EPERM without both
 * (in a child that dropped them from its effective set), read back either way. */
static void socket_mark(void) {
  pid_t pid = fork();
  if (pid != 0) {
    waitpid(pid, NULL, 0);
    return;
  }
  int types[2] = {SOCK_STREAM, SOCK_DGRAM};
  int socks[2];
  for (int i = 0; i < 2; i++) {
    socks[i] = socket(AF_INET, types[i], 0);
    int mark = 1234 + i, got = 0;
    socklen_t len = sizeof(got);
    int r = setsockopt(socks[i], SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
    printf("SO_MARK set %d = %d %s\n", mark, r, r ? en(errno) : "");
    short shortv = 1;
    r = setsockopt(socks[i], SOL_SOCKET, SO_MARK, &shortv, sizeof(shortv));
    printf("SO_MARK set with 2 bytes = %d %s\n", r, r ? en(errno) : "");
    r = getsockopt(socks[i], SOL_SOCKET, SO_MARK, &got, &len);
    printf("SO_MARK get = %d %s: %d\n", r, r ? en(errno) : "", got);
  }
  /* struct __user_cap_header_struct {version 3, pid 0}; 2 x {effective, permitted, inheritable} */
  unsigned int hdr[2] = {0x20080522, 0}, data[6];
  syscall(SYS_capget, hdr, data);
  data[0] &= ~((1u << 12) | (1u << 13)); /* CAP_NET_ADMIN, CAP_NET_RAW */
  syscall(SYS_capset, hdr, data);
  for (int i = 0; i < 2; i++) {
    int mark = 99, got = 0;
    socklen_t len = sizeof(got);
    int r = setsockopt(socks[i], SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
    printf("SO_MARK set without the capabilities = %d %s\n", r, r ? en(errno) : "");
    r = getsockopt(socks[i], SOL_SOCKET, SO_MARK, &got, &len);
    printf("SO_MARK get = %d %s: %d\n", r, r ? en(errno) : "", got);
  }
  _exit(0);
}

/* A dual-stack UDP socket connected to a v4-mapped peer has an IPv4 source: sendto an IPv6
 * address is EAFNOSUPPORT (EINVAL before Linux 5.x); connected to ::1, sendto a v4-mapped
 * address is sent. */
static void udp_mapped_sendto(void) {
  struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(5000)};
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(5001)};
  inet_pton(AF_INET6, "::1", &v6.sin6_addr);
  char buf[20] = {0};
  int s = socket(AF_INET6, SOCK_DGRAM, 0);
  int r = connect(s, (struct sockaddr *)&mapped, sizeof(mapped));
  printf("connect to ::ffff:127.0.0.1 = %d\n", r);
  long n = sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&v6, sizeof(v6));
  printf("then sendto ::1 = %ld %s\n", n, n < 0 ? (errno == EINVAL || errno == EAFNOSUPPORT ? "EINVAL or EAFNOSUPPORT" : en(errno)) : "");
  close(s);
  s = socket(AF_INET6, SOCK_DGRAM, 0);
  r = connect(s, (struct sockaddr *)&v6, sizeof(v6));
  printf("connect to ::1 = %d\n", r);
  n = sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&mapped, sizeof(mapped));
  printf("then sendto ::ffff:127.0.0.1 = %ld %s\n", n, n < 0 ? en(errno) : "");
  close(s);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  getdents_edges();
  readv_edges();
  lseek_edges();
  open_statx_edges();
  memory_edges();
  clone3_edges();
  futex_kinds();
  passcred_order();
  zero_length_recv_fd();
  inet_options();
  select_timeouts();
  range_wraps();
  socket_mark();
  udp_mapped_sendto();
  char path[128];
  for (int i = 0; i < 100; i++) {
    snprintf(path, sizeof(path), "%s/file-%03d", dir, i);
    unlink(path);
  }
  rmdir(dir);
  return 0;
}
