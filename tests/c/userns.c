/* User namespaces as Linux makes them (user_namespaces(7)): unshare(2) and clone(2) with
 * CLONE_NEWUSER, the caller's ids seen as 65534 until /proc/PID/uid_map and gid_map are
 * written (once, with Linux's permission rules and parse errors), /proc/PID/setgroups, the
 * capabilities held in the new namespace and not outside it, file access by unmapped owners,
 * /proc/PID/ns/user and setns(2). Each case runs in a forked child. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? strerrorname_np(errno) : ""); fflush(stdout); } while (0)

/* Writes s (len bytes) to a fresh descriptor of path; prints the result. */
static void put(const char *name, const char *path, const char *s, size_t len) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) {
    printf("%s: open %s\n", name, strerrorname_np(errno));
    return;
  }
  R(name, write(fd, s, len));
  close(fd);
}
#define PUT(name, path, s) put(name, path, s, strlen(s))

static void show(const char *name, const char *path) {
  char buf[512] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("%s: open %s\n", name, strerrorname_np(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s: %zd [%s]\n", name, n, n > 0 ? buf : "");
}

/* The Uid: and Gid: lines of /proc/self/status. */
static void status_ids(const char *name) {
  char buf[4096] = {0};
  int fd = open("/proc/self/status", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
    if (!strncmp(l, "Uid:", 4) || !strncmp(l, "Gid:", 4)) printf("%s %s\n", name, l);
  }
}

static unsigned long effective(void) {
  struct { unsigned version; int pid; } h = {0x20080522, 0};
  struct { unsigned effective, permitted, inheritable; } d[2];
  if (syscall(SYS_capget, &h, d) < 0) return 0;
  return d[0].effective | ((unsigned long)d[1].effective << 32);
}

static void ids(const char *name) {
  if (!strcmp(name, "before")) {
    printf("%s: uid %u euid %u\n", name, getuid(), geteuid());
    return;
  }
  struct stat st;
  stat("/", &st);
  printf("%s: uid %u euid %u gid %u egid %u; / owned by %u:%u; caps %s\n", name, getuid(), geteuid(), getgid(), getegid(),
         st.st_uid, st.st_gid, (effective() & 0x1ffffffffffUL) == 0x1ffffffffffUL ? "full" : effective() ? "some" : "none");
}

static int run(const char *name, void (*fn)(void)) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  printf("-- %s: status %d\n", name, st);
  return st;
}

static void fresh(void) {
  ids("before");
  R("unshare(NEWUSER)", unshare(CLONE_NEWUSER));
  ids("after");
  status_ids("status");
  show("uid_map", "/proc/self/uid_map");
  show("gid_map", "/proc/self/gid_map");
  show("setgroups", "/proc/self/setgroups");
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int big = 1 << 20;
  R("SO_RCVBUFFORCE", setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big));
  R("sethostname", sethostname("x", 1));
  R("setuid(0)", setuid(0));
  R("setgroups(0)", setgroups(0, NULL));
  R("chown(/tmp)", chown("/tmp", 0, 0));
  R("prctl(CAPBSET_DROP)", prctl(PR_CAPBSET_DROP, 13, 0, 0, 0));
  R("unshare(NEWUTS)", unshare(CLONE_NEWUTS));
  R("sethostname in own UTS", sethostname("inner", 5));
}

static void bad_maps(void) {
  R("unshare(NEWUSER)", unshare(CLONE_NEWUSER));
  PUT("two fields", "/proc/self/uid_map", "0 0");
  PUT("count 0", "/proc/self/uid_map", "0 0 0");
  PUT("id -1", "/proc/self/uid_map", "4294967295 0 1");
  PUT("wraps", "/proc/self/uid_map", "4294967294 0 2");
  PUT("junk", "/proc/self/uid_map", "0 0 1x");
  PUT("blank line", "/proc/self/uid_map", "0 0 1\n\n");
  PUT("overlap", "/proc/self/uid_map", "0 0 1\n0 5 1");
  PUT("lower overlap", "/proc/self/uid_map", "0 0 1\n5 0 1");
  PUT("other uid", "/proc/self/uid_map", "0 1 1");
  PUT("empty", "/proc/self/uid_map", "");
  int fd = open("/proc/self/uid_map", O_WRONLY);
  R("pwrite at 1", pwrite(fd, "0 0 1", 5, 1));
  close(fd);
  PUT("gid before deny", "/proc/self/gid_map", "0 0 1");
  PUT("setgroups maybe", "/proc/self/setgroups", "maybe");
  PUT("setgroups too long", "/proc/self/setgroups", "deny    ");
  put("setgroups deny NUL", "/proc/self/setgroups", "deny", 5);
  PUT("setgroups allow", "/proc/self/setgroups", "allow");
  show("setgroups", "/proc/self/setgroups");
  R("setgroups(0)", setgroups(0, NULL));
  PUT("gid after deny", "/proc/self/gid_map", "0 0 1\n");
  put("uid own, tabs, NUL", "/proc/self/uid_map", "0\t0 1\n\0 4 3", 12);
  PUT("uid again", "/proc/self/uid_map", "0 0 1");
  PUT("deny after gid map", "/proc/self/setgroups", "deny");
  show("uid_map", "/proc/self/uid_map");
  show("gid_map", "/proc/self/gid_map");
  ids("mapped");
  status_ids("status");
  R("setuid(0)", setuid(0));
  R("setuid(1)", setuid(1));
  R("setgroups(0)", setgroups(0, NULL));
  R("unshare(NEWUSER) again", unshare(CLONE_NEWUSER));
  show("nested setgroups", "/proc/self/setgroups");
  ids("nested");
}

/* Files owned by an id the namespace does not map: no override of their permissions. */
static void files(void) {
  const char *f = "/tmp/userns-owned-by-1234";
  int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  close(fd);
  chown(f, 1234, 1234);
  const char *g = "/tmp/userns-owned-by-root";
  fd = open(g, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  close(fd);
  /* A directory of the unmapped owner, and one of root's the namespace maps (uid and gid). */
  const char *d = "/tmp/userns-dir-of-1234";
  mkdir(d, 0700);
  chown(d, 1234, 1234);
  R("unshare(NEWUSER)", unshare(CLONE_NEWUSER));
  PUT("uid_map", "/proc/self/uid_map", "0 0 1");
  struct stat st;
  stat(f, &st);
  printf("owner as seen: %u:%u\n", st.st_uid, st.st_gid);
  R("open unmapped owner's file", open(f, O_RDONLY));
  R("chown unmapped owner's file", chown(f, 0, -1));
  R("chmod unmapped owner's file", chmod(f, 0644));
  /* CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER stop at an unmapped owner too. */
  R("open unmapped owner's file for writing", open(f, O_WRONLY));
  R("create in unmapped owner's directory", open("/tmp/userns-dir-of-1234/new", O_CREAT | O_WRONLY, 0600));
  R("list unmapped owner's directory", open(d, O_RDONLY | O_DIRECTORY));
  struct timespec times[2] = {{1, 0}, {1, 0}};
  R("utimensat explicit times on unmapped owner's file", utimensat(AT_FDCWD, f, times, 0));
  R("open root's file (gid unmapped)", open(g, O_RDONLY));
  R("chown to an unmapped uid", chown(g, 5, -1));
  PUT("gid_map before deny", "/proc/self/gid_map", "0 0 1");
  PUT("deny", "/proc/self/setgroups", "deny");
  PUT("gid_map", "/proc/self/gid_map", "0 0 1");
  R("open root's file (mapped)", open(g, O_RDONLY));
  R("chown to uid 0", chown(g, 0, 0));
  R("mknod", mknod("/tmp/userns-node", S_IFCHR | 0600, makedev(1, 3)));
  unlink(f);
  unlink(g);
  rmdir(d);
}

static void chrooted(void) {
  R("chroot", chroot("/proc"));
  R("unshare(NEWUSER) chrooted", unshare(CLONE_NEWUSER));
}

static int child_fn(void *arg) {
  (void)arg;
  ids("clone child");
  return 0;
}

static void clones(void) {
  static char stack[65536];
  int p = clone(child_fn, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, NULL);
  int st = -1;
  if (p > 0) waitpid(p, &st, 0);
  printf("clone(NEWUSER) status %d\n", st);
  R("clone(NEWUSER|FS)", clone(child_fn, stack + sizeof stack, CLONE_NEWUSER | CLONE_FS | SIGCHLD, NULL));
  R("clone(NEWUSER|THREAD)", clone(child_fn, stack + sizeof stack,
                                   CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, NULL));
  p = clone(child_fn, stack + sizeof stack, CLONE_NEWUSER | CLONE_NEWUTS | SIGCHLD, NULL);
  if (p > 0) waitpid(p, &st, 0);
  printf("clone(NEWUSER|NEWUTS) %s, status %d\n", p > 0 ? "ok" : strerrorname_np(errno), st);
}

/* A process in a child namespace, joined by others with setns. */
static void joins(void) {
  int pfd[2];
  pipe(pfd);
  pid_t a = fork();
  if (a == 0) {
    close(pfd[0]);
    unshare(CLONE_NEWUSER);
    write(pfd[1], "R", 1);
    pause();
    _exit(0);
  }
  close(pfd[1]);
  char c;
  read(pfd[0], &c, 1);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/user", a);
  int nsfd = open(path, O_RDONLY);
  int self = open("/proc/self/ns/user", O_RDONLY);
  struct stat s1, s2;
  fstat(nsfd, &s1);
  fstat(self, &s2);
  printf("child's namespace %s\n", s1.st_ino != s2.st_ino ? "differs" : "is the same");
  char l1[64] = {0}, l2[64] = {0};
  readlink(path, l1, sizeof l1 - 1);
  readlink("/proc/self/ns/user", l2, sizeof l2 - 1);
  printf("links %s\n", strcmp(l1, l2) ? "differ" : "are the same");
  R("setns(own namespace)", setns(self, CLONE_NEWUSER));
  R("setns(wrong type)", setns(nsfd, CLONE_NEWUTS));
  pid_t b = fork();
  if (b == 0) {
    R("setns(child's)", setns(nsfd, CLONE_NEWUSER));
    ids("joined");
    fstat(self, &s2);
    struct stat s3;
    stat("/proc/self/ns/user", &s3);
    printf("now in the child's: %s\n", s3.st_ino == s1.st_ino ? "yes" : "no");
    R("setns(back to the first)", setns(self, 0));
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(b, &st, 0);
  snprintf(path, sizeof path, "/proc/%d/uid_map", a);
  PUT("parent maps child's uids", path, "0 1000 10\n20 20 1");
  show("child's uid_map from the parent", path);
  snprintf(path, sizeof path, "/proc/%d/gid_map", a);
  PUT("parent maps child's gids", path, "0 0 4294967295");
  show("child's gid_map from the parent", path);
  kill(a, SIGKILL);
  waitpid(a, &st, 0);
}

/* An unprivileged user (uid 1000) makes a namespace and maps only its own ids. */
static void unprivileged(void) {
  int init = open("/proc/self/ns/user", O_RDONLY);
  setgid(1000);
  setuid(1000);
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* else /proc/self belongs to root */
  ids("user");
  R("unshare(NEWUSER)", unshare(CLONE_NEWUSER));
  ids("user in ns");
  PUT("map root to 0", "/proc/self/uid_map", "0 0 1");
  PUT("map 0 to own uid", "/proc/self/uid_map", "0 1000 1");
  PUT("gid without deny", "/proc/self/gid_map", "0 1000 1");
  PUT("deny", "/proc/self/setgroups", "deny");
  PUT("gid after deny", "/proc/self/gid_map", "0 1000 1");
  ids("user mapped");
  R("setns to the first", setns(init, CLONE_NEWUSER));
  R("kill the parent", kill(getppid(), 0));
}

static volatile sig_atomic_t got_uid = -2;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)uc;
  got_uid = si->si_uid;
}

/* Ids that cross between namespaces: peer and message credentials, siginfo, waitid, ipc_perm. */
static void crossings(void) {
  int sv[2], ready[2], go[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  pipe(ready);
  pipe(go);
  int one = 1;
  setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  int shm = shmget(IPC_PRIVATE, 4096, 0600);
  pid_t p = fork();
  if (p == 0) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    R("unshare(NEWUSER)", unshare(CLONE_NEWUSER));
    struct ucred uc;
    socklen_t l = sizeof uc;
    getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &uc, &l);
    printf("peer as seen inside: uid %d gid %d\n", (int)uc.uid, (int)uc.gid);
    struct shmid_ds ds;
    shmctl(shm, IPC_STAT, &ds);
    printf("shm owner inside: %u:%u creator %u:%u\n", ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.cuid, ds.shm_perm.cgid);
    R("IPC_SET to unmapped ids", shmctl(shm, IPC_SET, &ds));
    kill(getpid(), SIGUSR1);
    printf("si_uid of its own kill, unmapped: %d\n", (int)got_uid);
    got_uid = -2;
    char cbuf[CMSG_SPACE(sizeof(struct ucred))] = {0};
    struct iovec iov = {"x", 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred mine = {getpid(), 0, 0};
    memcpy(CMSG_DATA(cm), &mine, sizeof mine);
    R("send SCM_CREDENTIALS of unmapped uid 0", sendmsg(sv[1], &mh, 0));
    PUT("uid_map", "/proc/self/uid_map", "0 0 1");
    PUT("deny", "/proc/self/setgroups", "deny");
    PUT("gid_map", "/proc/self/gid_map", "0 0 1");
    R("send SCM_CREDENTIALS of mapped uid 0", sendmsg(sv[1], &mh, 0));
    shmctl(shm, IPC_STAT, &ds);
    printf("shm owner mapped: %u:%u\n", ds.shm_perm.uid, ds.shm_perm.gid);
    write(ready[1], "r", 1);
    char c;
    read(go[0], &c, 1);
    while (got_uid == -2) usleep(1000);
    printf("si_uid of the parent's kill: %d\n", (int)got_uid);
    fflush(stdout);
    _exit(3);
  }
  char c;
  read(ready[0], &c, 1);
  char data[8];
  char cbuf[CMSG_SPACE(sizeof(struct ucred))];
  struct iovec iov = {data, sizeof data};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  R("recvmsg", recvmsg(sv[0], &mh, 0));
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  if (cm && cm->cmsg_type == SCM_CREDENTIALS) {
    struct ucred uc;
    memcpy(&uc, CMSG_DATA(cm), sizeof uc);
    printf("credentials received outside: uid %d gid %d\n", (int)uc.uid, (int)uc.gid);
  }
  kill(p, SIGUSR1);
  write(go[1], "g", 1);
  siginfo_t si = {0};
  waitid(P_PID, p, &si, WEXITED);
  printf("waitid: status %d uid %d\n", si.si_status, (int)si.si_uid);
  shmctl(shm, IPC_RMID, NULL);
}

/* Reaching another process from a child namespace: its capabilities are not the caller's. */
static void reach(void) {
  pid_t target = fork();
  if (target == 0) {
    pause();
    _exit(0);
  }
  int pidfd = syscall(SYS_pidfd_open, target, 0);
  R("pidfd_getfd from outside", syscall(SYS_pidfd_getfd, pidfd, 0, 0) >= 0 ? 0 : -1);
  pid_t p = fork();
  if (p == 0) {
    R("unshare(NEWUSER)", unshare(CLONE_NEWUSER));
    R("pidfd_getfd", syscall(SYS_pidfd_getfd, pidfd, 0, 0));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", target);
    R("open environ", open(path, O_RDONLY));
    R("PTRACE_ATTACH", ptrace(PTRACE_ATTACH, target, 0, 0));
    R("process_vm_readv", syscall(SYS_process_vm_readv, target, NULL, 0, NULL, 0, 0));
    R("kill (same uid)", kill(target, 0));
    void *head;
    size_t hlen;
    R("get_robust_list", syscall(SYS_get_robust_list, target, &head, &hlen));
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  pid_t q = fork();
  if (q == 0) {
    struct { unsigned version; int pid; } h = {0x20080522, 0};
    struct { unsigned effective, permitted, inheritable; } d[2] = {{0, 0, 0}, {0, 0, 0}};
    R("drop every capability", syscall(SYS_capset, &h, d));
    R("pidfd_getfd with fewer capabilities", syscall(SYS_pidfd_getfd, pidfd, 0, 0));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", target);
    R("open environ with fewer capabilities", open(path, O_RDONLY));
    fflush(stdout);
    _exit(0);
  }
  waitpid(q, &st, 0);
  kill(target, SIGKILL);
  waitpid(target, &st, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  run("fresh", fresh);
  run("bad maps", bad_maps);
  run("files", files);
  run("chrooted", chrooted);
  run("clones", clones);
  run("joins", joins);
  run("unprivileged", unprivileged);
  run("crossings", crossings);
  run("reach", reach);
  return 0;
}
