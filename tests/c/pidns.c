/* PID namespaces: unshare/clone(CLONE_NEWPID), setns, each process's ids per namespace, the
 * namespace's init (signals, orphans, its exit), wait, kill, pidfds, SO_PEERCRED,
 * SCM_CREDENTIALS, F_GETLK, si_pid, /proc mounted inside, ns_last_pid and the nesting limit.
 * It prints only what is the same wherever it runs: ids inside the namespaces it makes, and
 * comparisons with the outer ones. Needs CAP_SYS_ADMIN (root); run natively by the test as root. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

static int wait_status(pid_t pid) {
  int st = 0;
  pid_t r;
  while ((r = waitpid(pid, &st, __WALL)) < 0 && errno == EINTR) {}
  if (r != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile int got_usr1, usr1_pid;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)uc;
  got_usr1++;
  usr1_pid = si->si_pid;
}

/* The tab-separated fields of /proc/PID/status line `key`, as a count and the last one. */
static int status_ids(const char *path, const char *key, long *first, long *last) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[512];
  int n = -1;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, kl) != 0 || line[kl] != ':') continue;
    n = 0;
    char *p = line + kl + 1, *end;
    for (;;) {
      long v = strtol(p, &end, 10);
      if (end == p) break;
      if (n == 0) *first = v;
      *last = v;
      n++;
      p = end;
    }
  }
  fclose(f);
  return n;
}

/* The numeric entries of /proc, space-separated, ascending (few). */
static void list_proc(char *out, size_t size) {
  int ids[64], n = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < 64) {
    char *end;
    long v = strtol(e->d_name, &end, 10);
    if (*end == 0 && end != e->d_name) ids[n++] = (int)v;
  }
  if (d) closedir(d);
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (ids[j] < ids[i]) { int x = ids[i]; ids[i] = ids[j]; ids[j] = x; }
  out[0] = 0;
  for (int i = 0; i < n; i++) snprintf(out + strlen(out), size - strlen(out), "%s%d", i ? " " : "", ids[i]);
}

/* Part 1, run as the new namespace's init. */
static int init_main(int sock, const char *lockfile) {
  say("init: getpid %d getppid %d gettid %ld\n", getpid(), getppid(), syscall(SYS_gettid));
  say("init: getpgrp %d getsid %d\n", getpgrp(), getsid(0));
  /* Signals to itself that it has no handler for are dropped; it survives them. */
  R("init: kill(1, SIGTERM)", kill(1, SIGTERM));
  R("init: kill(1, SIGKILL)", kill(1, SIGKILL));
  R("init: raise(SIGINT)", raise(SIGINT));
  say("init: still alive\n");
  /* A child sees init as 1, and itself as 2. */
  int p[2];
  if (pipe(p) != 0) return 1;
  pid_t c = fork();
  if (c == 0) {
    say("child: getpid %d getppid %d\n", getpid(), getppid());
    R("child: kill(1, SIGTERM)", kill(1, SIGTERM));
    R("child: kill(1, 0)", kill(1, 0));
    R("child: kill(99, 0)", kill(99, 0));
    _exit(7);
  }
  say("init: fork = %d, wait = %d\n", c, wait_status(c));
  /* A handled signal from inside the namespace arrives, with the sender's pid in it. */
  struct sigaction sa = {0};
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  c = fork();
  if (c == 0) {
    kill(1, SIGUSR1);
    _exit(0);
  }
  wait_status(c);
  say("init: SIGUSR1 %d from si_pid %d (child %d)\n", got_usr1, usr1_pid, c);
  /* Orphans are reparented to init, which reaps them. */
  c = fork();
  if (c == 0) {
    pid_t g = fork();
    if (g == 0) {
      char b;
      read(p[0], &b, 1); /* until the middle process is gone */
      say("orphan: getppid %d\n", getppid());
      _exit(3);
    }
    _exit(0);
  }
  wait_status(c);
  write(p[1], "x", 1);
  int st;
  pid_t w = wait(&st);
  say("init: reaped orphan %d with %d\n", w, WEXITSTATUS(st));
  R("init: wait (none left)", wait(NULL));
  /* Credentials across the namespace: the peer outside it shows as pid 0. */
  struct ucred uc;
  socklen_t ul = sizeof uc;
  getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &ul);
  say("init: SO_PEERCRED pid of the outer peer %d\n", uc.pid);
  int on = 1;
  setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  /* Send our credentials, as our own namespace numbers us (1). */
  char data = 'c';
  struct iovec iov = {&data, 1};
  union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_CREDENTIALS;
  cm->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  struct ucred mine = {getpid(), getuid(), getgid()};
  memcpy(CMSG_DATA(cm), &mine, sizeof mine);
  ssize_t sent = sendmsg(sock, &m, 0); /* printed once the outer process answered */
  /* The outer process's credentials arrive with pid 0. */
  memset(&u, 0, sizeof u);
  m.msg_controllen = sizeof u.buf;
  if (recvmsg(sock, &m, 0) == 1 && (cm = CMSG_FIRSTHDR(&m)) && cm->cmsg_type == SCM_CREDENTIALS) {
    memcpy(&uc, CMSG_DATA(cm), sizeof uc);
    say("init: sendmsg SCM_CREDENTIALS pid 1 = %zd\n", sent);
    say("init: SCM_CREDENTIALS pid of the outer sender %d\n", uc.pid);
  }
  /* A lock the outer process holds: its owner is outside, l_pid 0. */
  int fd = open(lockfile, O_RDWR);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  R("init: F_GETLK", fcntl(fd, F_GETLK, &fl));
  say("init: F_GETLK l_type %s l_pid %d\n", fl.l_type == F_WRLCK ? "F_WRLCK" : "other", fl.l_pid);
  /* Our own lock, for the outer process to see. */
  struct flock mine_lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 1};
  R("init: F_SETLK", fcntl(fd, F_SETLK, &mine_lock));
  /* /proc mounted here (in a mount namespace of our own) shows this namespace. */
  R("init: unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
  R("init: make / private", mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
  R("init: mount proc", mount("proc", "/proc", "proc", 0, NULL));
  char link[64] = "";
  readlink("/proc/self", link, sizeof link - 1);
  say("init: /proc/self -> %s\n", link);
  char list[256];
  list_proc(list, sizeof list);
  say("init: /proc lists %s\n", list);
  long first = -1, last = -1;
  int n = status_ids("/proc/self/status", "NSpid", &first, &last);
  say("init: NSpid has %d field(s): %ld\n", n, first);
  /* ns_last_pid: the next child gets the number after it. */
  int ns = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
  R("init: write ns_last_pid 99", write(ns, "99", 2));
  close(ns);
  c = fork();
  if (c == 0) _exit(0);
  say("init: fork after ns_last_pid 99 = %d\n", c);
  wait_status(c);
  char buf[32] = "";
  ns = open("/proc/sys/kernel/ns_last_pid", O_RDONLY);
  read(ns, buf, sizeof buf - 1);
  close(ns);
  say("init: ns_last_pid reads %s", buf);
  /* A pidfd of a process of the namespace, by its number here. */
  c = fork();
  if (c == 0) {
    pause();
    _exit(0);
  }
  int pfd = syscall(SYS_pidfd_open, c, 0);
  say("init: pidfd_open(%d) %s\n", c, pfd >= 0 ? "ok" : en(errno));
  R("init: pidfd_send_signal SIGKILL", syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0));
  say("init: pidfd child status %d\n", wait_status(c));
  /* Tell the outer process we are ready, then wait with one child running: our exit kills it. */
  c = fork();
  if (c == 0) {
    /* It holds `sock` too: the outer side sees EOF once it is dead. */
    for (;;) pause();
  }
  write(sock, "r", 1);
  char b;
  read(sock, &b, 1); /* the outer process has seen the lock and our pids */
  return 5;
}

/* Part 2: a chain of nested namespaces until ENOSPC; prints how deep the last one is. */
static int nest(int depth) {
  if (unshare(CLONE_NEWPID) != 0) return errno == ENOSPC ? 100 : 101;
  pid_t c = fork();
  if (c < 0) return 102;
  if (c == 0) {
    if (getpid() != 1) _exit(103);
    _exit(nest(depth + 1));
  }
  return wait_status(c);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char lockfile[] = "/tmp/pidns-lock-XXXXXX";
  int lfd = mkstemp(lockfile);
  if (lfd < 0) return 1;
  ftruncate(lfd, 100);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  R("outer: F_SETLK", fcntl(lfd, F_SETLK, &fl));
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  int on = 1;
  setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);

  /* The namespace files before and after unshare. */
  struct stat pid_before, kids_before, pid_after, kids_after;
  stat("/proc/self/ns/pid", &pid_before);
  stat("/proc/self/ns/pid_for_children", &kids_before);
  say("outer: pid and pid_for_children the same namespace: %d\n", pid_before.st_ino == kids_before.st_ino);
  pid_t me = getpid();
  R("outer: unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID));
  say("outer: getpid unchanged: %d\n", getpid() == me);
  stat("/proc/self/ns/pid", &pid_after);
  stat("/proc/self/ns/pid_for_children", &kids_after);
  say("outer: pid the same: %d, pid_for_children new: %d\n", pid_after.st_ino == pid_before.st_ino,
      kids_after.st_ino != kids_before.st_ino);
  R("outer: unshare(CLONE_NEWPID) again", unshare(CLONE_NEWPID));
  pid_t init = fork();
  if (init == 0) {
    close(sv[0]);
    _exit(init_main(sv[1], lockfile));
  }
  close(sv[1]);
  /* init's credentials arrive with its pid as we number it. */
  char data, b;
  struct iovec iov = {&data, 1};
  union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  struct cmsghdr *cm;
  struct ucred uc;
  if (recvmsg(sv[0], &m, 0) == 1 && (cm = CMSG_FIRSTHDR(&m)) && cm->cmsg_type == SCM_CREDENTIALS) {
    memcpy(&uc, CMSG_DATA(cm), sizeof uc);
    say("outer: SCM_CREDENTIALS pid is init's: %d\n", uc.pid == init);
  }
  say("outer: fork returned a pid of ours: %d\n", init > 0 && init != 1);
  write(sv[0], "o", 1); /* with our credentials: init has SO_PASSCRED */
  /* The outer /proc shows init's ids at both levels. */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", init);
  read(sv[0], &b, 1); /* init is ready */
  socklen_t ul = sizeof uc;
  getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &ul);
  /* A socketpair's peer credentials are its maker's: ours. */
  say("outer: SO_PEERCRED pid is ours: %d\n", uc.pid == me);
  long first = -1, last = -1;
  int n = status_ids(path, "NSpid", &first, &last);
  say("outer: init's NSpid has %d fields, %s, then %ld\n", n, first == init ? "ours" : "other", last);
  n = status_ids(path, "NStgid", &first, &last);
  say("outer: init's NStgid has %d fields, then %ld\n", n, last);
  fl.l_start = 10;
  fl.l_type = F_WRLCK;
  R("outer: F_GETLK", fcntl(lfd, F_GETLK, &fl));
  say("outer: F_GETLK l_pid is init's: %d\n", fl.l_pid == init);
  /* A signal from outside to init: it has no handler for SIGTERM, and ancestors get no pass for it. */
  R("outer: kill(init, SIGTERM)", kill(init, SIGTERM));
  R("outer: kill(init, 0)", kill(init, 0));
  /* Let init go: it exits, and its namespace's last process dies with it. */
  write(sv[0], "g", 1);
  say("outer: init status %d\n", wait_status(init));
  /* init's other child is dead too: nobody holds the socket's other end. */
  ssize_t r;
  do r = read(sv[0], &b, 1); while (r > 0);
  say("outer: socket at EOF (init's child was killed): %d\n", r == 0);
  /* Our children's namespace has lost its init: no more forks into it. */
  pid_t x = fork();
  if (x == 0) _exit(0);
  say("outer: fork after init's exit = %d %s\n", x < 0 ? -1 : 1, x < 0 ? en(errno) : "");
  if (x > 0) wait_status(x);
  unlink(lockfile);

  /* setns back to our own namespace for our children: forks work again. */
  int self = open("/proc/self/ns/pid", O_RDONLY);
  R("outer: setns(own pid namespace)", setns(self, CLONE_NEWPID));
  /* setns into another's namespace by /proc/PID/ns/pid: our children go there. */
  int hold[2], tell[2];
  if (pipe(hold) != 0 || pipe(tell) != 0) return 1;
  x = fork();
  if (x == 0) {
    unshare(CLONE_NEWPID);
    pid_t i = fork();
    if (i == 0) {
      close(hold[1]);
      read(hold[0], &b, 1);
      _exit(0);
    }
    close(hold[1]);
    write(tell[1], &i, sizeof i);
    _exit(wait_status(i));
  }
  pid_t i;
  read(tell[0], &i, sizeof i);
  char nspath[64];
  snprintf(nspath, sizeof nspath, "/proc/%d/ns/pid", i);
  int fd = open(nspath, O_RDONLY);
  R("outer: setns(CLONE_NEWUTS) with a pid namespace file", setns(fd, CLONE_NEWUTS));
  R("outer: setns(another's pid namespace)", setns(fd, CLONE_NEWPID));
  R("outer: unshare(CLONE_NEWPID) after setns", unshare(CLONE_NEWPID));
  pid_t k = fork();
  if (k == 0) {
    say("joined: getpid %d getppid %d\n", getpid(), getppid());
    _exit(0);
  }
  say("outer: fork into the joined namespace, status %d\n", wait_status(k));
  close(hold[1]);
  say("outer: its init status %d\n", wait_status(x));
  R("outer: setns(own pid namespace)", setns(self, CLONE_NEWPID));

  /* The nesting limit: 32 levels below the first; a deeper unshare is ENOSPC. */
  x = fork();
  if (x == 0) _exit(nest(0));
  say("nest: %s\n", wait_status(x) == 100 ? "ENOSPC at the end" : "other");

  /* clone(CLONE_NEWPID) directly, and CLONE_THREAD with a namespace for the children. */
  x = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
  if (x == 0) {
    say("clone child: getpid %d getppid %d\n", getpid(), getppid());
    _exit(0);
  }
  say("clone(CLONE_NEWPID) status %d\n", wait_status(x));
  errno = 0;
  long t = syscall(SYS_clone, CLONE_NEWPID | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0);
  say("clone(CLONE_NEWPID|CLONE_THREAD) = %ld %s\n", t, en(errno));
  return 0;
}
