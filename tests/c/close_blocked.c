/* A read or write blocked in one thread while another thread closes its descriptor: Linux's
 * blocked call keeps its reference to the open file (fdget holds it for the whole syscall), so
 * close neither wakes nor fails it, and it completes when data (or room) comes. A socket's
 * blocked read is woken by shutdown(2), through the file the call still holds.
 * The main thread waits until the other thread sleeps (its /proc state is S) before it closes,
 * so the outcome does not depend on timing. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "_check.h"

static int g_fd;
static pid_t g_tid;
static long g_ret;
static int g_err;
static char g_buf[64];
static size_t g_len;
static int g_write;

static void *worker(void *arg) {
  (void)arg;
  g_tid = (pid_t)syscall(SYS_gettid);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  errno = 0;
  g_ret = g_write ? write(g_fd, g_buf, g_len) : read(g_fd, g_buf, g_len);
  g_err = errno;
  return NULL;
}

/* Waits until thread tid is asleep (state S in /proc/self/task/TID/stat). */
static void wait_sleeping(pid_t tid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  for (;;) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
      ssize_t n = read(fd, line, sizeof line - 1);
      close(fd);
      if (n > 0) {
        line[n] = 0;
        char *p = strrchr(line, ')');
        if (p && p[1] == ' ' && p[2] == 'S') return;
      }
    }
    usleep(1000);
  }
}

static pthread_t start(int fd, int wr, size_t len) {
  pthread_t th;
  g_fd = fd;
  g_write = wr;
  g_len = len;
  g_tid = 0;
  g_ret = -2;
  pthread_create(&th, NULL, worker, NULL);
  while (__atomic_load_n(&g_tid, __ATOMIC_SEQ_CST) == 0) usleep(1000);
  wait_sleeping(g_tid);
  return th;
}

static void report(const char *what) {
  printf("%s: ret=%ld err=%s", what, g_ret, g_ret < 0 ? en(g_err) : "-");
  if (!g_write && g_ret > 0) printf(" data=%.*s", (int)g_ret, g_buf);
  printf("\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  pthread_t th;

  /* A pipe read: close of the read end, then a write: the read returns the data. */
  if (pipe(p) != 0) return 1;
  th = start(p[0], 0, 16);
  R("close(read end)", close(p[0]));
  R("fcntl(closed fd)", fcntl(p[0], F_GETFD));
  R("write", write(p[1], "hello", 5));
  pthread_join(th, NULL);
  report("pipe read");
  close(p[1]);

  /* A pipe read: both ends closed by this thread: the blocked reader's end still counts as a
   * reader, and the write end's close is the last writer: the read returns 0. */
  if (pipe(p) != 0) return 1;
  th = start(p[0], 0, 16);
  R("close(read end)", close(p[0]));
  R("close(write end)", close(p[1]));
  pthread_join(th, NULL);
  report("pipe read, writer gone");

  /* A pipe write that fills the pipe blocks; its end is closed; a reader drains: it finishes. */
  if (pipe(p) != 0) return 1;
  R("F_SETPIPE_SZ", fcntl(p[1], F_SETPIPE_SZ, 4096));
  static char big[4096];
  memset(big, 'x', sizeof big);
  R("fill", write(p[1], big, sizeof big));
  memcpy(g_buf, "world", 5);
  th = start(p[1], 1, 5);
  R("close(write end)", close(p[1]));
  long got = 0;
  for (;;) {
    long n = read(p[0], big, sizeof big);
    if (n <= 0) break;
    got += n;
  }
  pthread_join(th, NULL);
  report("pipe write");
  printf("drained %ld\n", got);
  close(p[0]);

  /* A socket read: close, then the peer sends: the read gets the data. */
  int s[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) return 1;
  th = start(s[0], 0, 16);
  R("close(socket)", close(s[0]));
  R("send", send(s[1], "sock", 4, 0));
  pthread_join(th, NULL);
  report("socket read");
  close(s[1]);

  /* A socket read woken by shutdown(SHUT_RD) of its own socket: it returns 0. */
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) return 1;
  th = start(s[0], 0, 16);
  R("shutdown(SHUT_RD)", shutdown(s[0], SHUT_RD));
  pthread_join(th, NULL);
  report("socket read, shutdown");
  close(s[0]);
  close(s[1]);

  /* A datagram socket read: close, then the peer's close does not wake it; a send does. */
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s) != 0) return 1;
  th = start(s[0], 0, 16);
  R("close(dgram)", close(s[0]));
  R("send", send(s[1], "dgram", 5, 0));
  pthread_join(th, NULL);
  report("dgram read");
  close(s[1]);
  return 0;
}
