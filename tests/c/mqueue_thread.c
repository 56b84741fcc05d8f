/* mq_notify(2)'s SIGEV_THREAD: glibc's own (a helper thread reads the kernel's cookie from a
 * netlink socket and calls the function), and the raw interface under it: the 32-byte cookie
 * at sigev_value reaches the netlink socket whose descriptor is sigev_signo, its last byte
 * NOTIFY_WOKENUP (1) when a message arrives or NOTIFY_REMOVED (2) when the registration is
 * removed; EFAULT for the cookie, EBADF, ENOTSOCK, EINVAL for a socket of another family, and
 * EBUSY for a second registration. In an IPC namespace of its own. Output: the same natively
 * and in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/netlink.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "_check.h"

static int done[2];

static void on_message(union sigval sv) {
  char c = (char)sv.sival_int;
  write(done[1], &c, 1);
}

static long raw_notify(mqd_t q, int how, int fd, void *cookie) {
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = how;
  ev.sigev_signo = fd;
  ev.sigev_value.sival_ptr = cookie;
  return syscall(SYS_mq_notify, q, &ev);
}

static void receive(int nl, const char *label) {
  unsigned char buf[64];
  ssize_t n = recv(nl, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) {
    printf("%s: nothing (%s)\n", label, en(errno));
    return;
  }
  printf("%s: %zd bytes, \"%.3s\", last byte %d\n", label, n, buf, n > 0 ? buf[n - 1] : -1);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWIPC) != 0) return 1;
  struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
  mqd_t q = mq_open("/thread-notify", O_CREAT | O_RDWR, 0600, &attr);
  char buf[16];

  pipe(done);
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD;
  ev.sigev_notify_function = on_message;
  ev.sigev_value.sival_int = 42;
  R("mq_notify(SIGEV_THREAD)", mq_notify(q, &ev));
  R("again", mq_notify(q, &ev));
  R("mq_send", mq_send(q, "hello", 5, 0));
  char c;
  R("callback ran", read(done[0], &c, 1));
  printf("  with value %d\n", c);
  R("mq_receive", mq_receive(q, buf, sizeof buf, NULL));

  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int un = socket(AF_UNIX, SOCK_DGRAM, 0);
  unsigned char cookie[32];
  memset(cookie, 'A', sizeof cookie);
  memcpy(cookie, "xyz", 3);
  R("raw: bad cookie", raw_notify(q, SIGEV_THREAD, nl, (void *)8));
  R("raw: closed descriptor", raw_notify(q, SIGEV_THREAD, 999, cookie));
  R("raw: not a socket", raw_notify(q, SIGEV_THREAD, done[0], cookie));
  R("raw: a unix socket", raw_notify(q, SIGEV_THREAD, un, cookie));
  R("raw: a bad queue", raw_notify(999, SIGEV_THREAD, nl, cookie));
  R("raw: register", raw_notify(q, SIGEV_THREAD, nl, cookie));
  receive(nl, "after registering");
  R("raw: remove", syscall(SYS_mq_notify, q, NULL));
  receive(nl, "after removing");
  R("raw: register", raw_notify(q, SIGEV_THREAD, nl, cookie));
  R("mq_send", mq_send(q, "again", 5, 0));
  receive(nl, "after a message");
  R("mq_send to a queue not empty", mq_send(q, "more", 4, 0));
  receive(nl, "after another");
  mq_unlink("/thread-notify");
  return 0;
}
