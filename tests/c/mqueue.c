/*
 * POSIX message queues, in an IPC namespace of their own (natively too, so nothing reaches the
 * host's): mq_open's errors (names, attributes, access, O_EXCL), messages by priority then
 * arrival, EMSGSIZE, O_NONBLOCK's EAGAIN, a timed receive that times out and a blocked one that
 * a sender in another process wakes, mq_notify's signal (SI_MESGQ, the value, used up once),
 * mq_getsetattr, poll, the status line read(2) gives, a mount of the mqueue filesystem that shows
 * the queues, and a new IPC namespace without them. Prints what each step returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

static volatile sig_atomic_t got_code, got_value, got_signals;

static void on_usr1(int sig, siginfo_t *si, void *ctx) {
  (void)sig;
  (void)ctx;
  got_signals++;
  got_code = si->si_code;
  got_value = si->si_value.sival_int;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWIPC) != 0) {
    perror("unshare(CLONE_NEWIPC)");
    return 1;
  }
  struct mq_attr attr = {0, 4, 16, 0, {0}};
  show("no slash", mq_open("q", O_RDWR));
  show("two slashes", mq_open("/q/r", O_RDWR));
  show("missing", mq_open("/q", O_RDWR));
  struct mq_attr bad = {0, 0, 16, 0, {0}};
  show("maxmsg 0", mq_open("/q", O_RDWR | O_CREAT, 0600, &bad));
  bad.mq_maxmsg = 100000;
  show("maxmsg 100000", mq_open("/q", O_RDWR | O_CREAT, 0600, &bad));
  mqd_t q = mq_open("/q", O_RDWR | O_CREAT | O_EXCL, 0640, &attr);
  show("create", q < 0 ? -1 : 0);
  show("create again with O_EXCL", mq_open("/q", O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
  int fl = fcntl(q, F_GETFD);
  printf("close-on-exec: %d\n", (fl & FD_CLOEXEC) != 0);

  show("send prio 1 'a'", mq_send(q, "a", 1, 1));
  show("send prio 5 'b'", mq_send(q, "b", 1, 5));
  show("send prio 1 'c'", mq_send(q, "c", 1, 1));
  show("send 17 bytes", mq_send(q, "0123456789abcdefg", 17, 0));
  show("send prio 32768", mq_send(q, "x", 1, 32768));
  struct mq_attr now;
  mq_getattr(q, &now);
  printf("attr: flags %ld maxmsg %ld msgsize %ld curmsgs %ld\n", now.mq_flags, now.mq_maxmsg, now.mq_msgsize, now.mq_curmsgs);
  char status[80] = {0};
  show("read status", read(q, status, sizeof status - 1));
  printf("status: %s", status);
  struct pollfd p = {q, POLLIN | POLLOUT, 0};
  poll(&p, 1, 0);
  printf("poll: in %d out %d\n", (p.revents & POLLIN) != 0, (p.revents & POLLOUT) != 0);
  show("receive into 8 bytes", mq_receive(q, status, 8, NULL));
  unsigned prio;
  for (int i = 0; i < 3; i++) {
    char m[16] = {0};
    ssize_t n = mq_receive(q, m, sizeof m, &prio);
    printf("receive: %zd '%s' prio %u\n", n, m, prio);
  }
  struct mq_attr nb = {O_NONBLOCK, 0, 0, 0, {0}};
  show("set O_NONBLOCK", mq_setattr(q, &nb, NULL));
  char m[16];
  show("receive from empty, nonblocking", mq_receive(q, m, sizeof m, NULL));
  nb.mq_flags = 0;
  mq_setattr(q, &nb, NULL);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 50000000;
  if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
  show("timed receive from empty", mq_timedreceive(q, m, sizeof m, NULL, &ts));
  ts.tv_nsec = 2000000000;
  show("timed receive with a bad timeout", mq_timedreceive(q, m, sizeof m, NULL, &ts));
  for (int i = 0; i < 4; i++) mq_send(q, "f", 1, 0);
  show("send to a full queue, nonblocking", mq_timedsend(q, "f", 1, 0, &(struct timespec){0, 0}));
  for (int i = 0; i < 4; i++) mq_receive(q, m, sizeof m, NULL);

  /* A receiver blocked until another process sends. */
  pid_t pid = fork();
  if (pid == 0) {
    usleep(50000);
    mqd_t w = mq_open("/q", O_WRONLY);
    _exit(mq_send(w, "late", 4, 3) == 0 ? 0 : 1);
  }
  char late[16] = {0};
  ssize_t n = mq_receive(q, late, sizeof late, &prio);
  printf("blocked receive: %zd '%s' prio %u\n", n, late, prio);
  int st;
  waitpid(pid, &st, 0);

  /* Notification. */
  struct sigaction sa = {0};
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  struct sigevent sev = {0};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  sev.sigev_value.sival_int = 42;
  show("notify", mq_notify(q, &sev));
  show("notify again", mq_notify(q, &sev));
  mq_send(q, "n", 1, 0);
  mq_send(q, "n", 1, 0);
  printf("signals %d code SI_MESGQ %d value %d\n", got_signals, got_code == SI_MESGQ, got_value);
  show("notify after use", mq_notify(q, &sev));
  show("remove it", mq_notify(q, NULL));
  mq_receive(q, m, sizeof m, NULL);
  mq_receive(q, m, sizeof m, NULL);

  /* Access. */
  mqd_t ro = mq_open("/q", O_RDONLY);
  show("send on a read-only descriptor", mq_send(ro, "r", 1, 0));
  show("getsetattr of a non-queue", mq_getattr(0, &now));

  /* The mqueue filesystem. */
  char dir[] = "/tmp/mqfs-XXXXXX";
  /* Natively in a mount namespace of its own; a sandbox is one namespace already. */
  if (mkdtemp(dir) != NULL && (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)) {
    show("mount mqueue", mount("none", dir, "mqueue", 0, NULL));
    char path[64];
    snprintf(path, sizeof path, "%s/q", dir);
    struct stat sb;
    show("stat of the queue file", stat(path, &sb));
    printf("mode %o\n", sb.st_mode);
    int fd = open(path, O_RDONLY);
    memset(status, 0, sizeof status);
    show("read it", read(fd, status, 59));
    printf("status: %s|\n", status);
    close(fd);
    snprintf(path, sizeof path, "%s/made", dir);
    fd = open(path, O_CREAT | O_RDWR, 0600);
    show("creat in the mount", fd);
    close(fd);
    mqd_t made = mq_open("/made", O_RDWR);
    struct mq_attr ma;
    mq_getattr(made, &ma);
    printf("made: maxmsg %ld msgsize %ld\n", ma.mq_maxmsg, ma.mq_msgsize);
    show("unlink in the mount", unlink(path));
    show("mq_unlink after", mq_unlink("/made"));
    show("umount", umount2(dir, 0));
    rmdir(dir);
  }
  show("unlink", mq_unlink("/q"));
  show("unlink again", mq_unlink("/q"));
  mqd_t keep = mq_open("/kept", O_RDWR | O_CREAT, 0600, &attr);
  show("unshare CLONE_NEWIPC again", unshare(CLONE_NEWIPC));
  show("the old namespace's queue is not here", mq_open("/kept", O_RDWR));
  show("a descriptor from before still works", mq_send(keep, "k", 1, 0));
  return 0;
}
