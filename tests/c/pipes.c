/* Pipes to Linux's letter: page slots and where small writes merge, PIPE_BUF atomicity with
 * several writers, a 1 MiB write in one write() read by another process, a blocking write cut
 * by a signal or by the reader leaving (count so far, SIGPIPE), F_GETPIPE_SZ/F_SETPIPE_SZ
 * (rounding, EBUSY, EPERM without privilege), O_DIRECT packets, FIONREAD, poll, and a FIFO
 * reader's POLLHUP before and after a writer came. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static char big[1 << 20];

static int nread(int fd) {
  int n = -1;
  ioctl(fd, FIONREAD, &n);
  return n;
}

static int revents(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  poll(&p, 1, 0);
  return p.revents;
}

/* Reads until n bytes came or end of file; returns the count. */
static long drain(int fd, char *dst, long n, int chunk) {
  long got = 0;
  while (got < n) {
    long k = read(fd, dst + got, n - got < chunk ? n - got : chunk);
    if (k <= 0) break;
    got += k;
  }
  return got;
}

static void status(const char *what, int st) {
  if (WIFEXITED(st)) printf("%s: exit %d\n", what, WEXITSTATUS(st));
  else printf("%s: signal %d\n", what, WTERMSIG(st));
}

static volatile int caught;
static void on_sig(int s) { caught = s; }

/* Slots, merging and atomicity, on one non-blocking pipe. */
static void slots(void) {
  int p[2];
  if (pipe2(p, O_NONBLOCK)) exit(1);
  R("F_GETPIPE_SZ", fcntl(p[1], F_GETPIPE_SZ));
  R("write 1", write(p[1], big, 1));
  R("write 64 KiB after 1 byte", write(p[1], big, 65536));
  printf("fionread=%d fionread(write end)=%d\n", nread(p[0]), nread(p[1]));
  R("write 1 into a full pipe", write(p[1], big, 1));
  printf("pollout=%#x\n", revents(p[1], POLLOUT));
  char b[4096];
  R("read 1", read(p[0], b, 1));
  printf("pollout after 1 byte read=%#x\n", revents(p[1], POLLOUT));
  R("write 4096 into the freed slot", write(p[1], big, 4096));
  R("read 1 of a full slot", read(p[0], b, 1));
  printf("pollout after 1 byte of a full slot=%#x\n", revents(p[1], POLLOUT));
  R("read 4095", read(p[0], b, 4095));
  printf("pollout after a slot freed=%#x\n", revents(p[1], POLLOUT));
  drain(p[0], big, 1 << 20, 65536);

  /* 15 full slots and one of 4000 bytes: 96 bytes merge, 200 do not fit whole. */
  R("write 61440", write(p[1], big, 61440));
  R("write 4000", write(p[1], big, 4000));
  R("write 200 (atomic, no room)", write(p[1], big, 200));
  R("write 96 (merges)", write(p[1], big, 96));
  R("write 5000 (no slot)", write(p[1], big, 5000));
  printf("fionread=%d\n", nread(p[0]));
  drain(p[0], big, 1 << 20, 65536);

  /* Small writes merge into one slot: 16 slots hold 64 KiB of 1000-byte writes. */
  int n = 0;
  while (write(p[1], big, 1000) == 1000) n++;
  printf("1000-byte writes that fit=%d fionread=%d\n", n, nread(p[0]));
  drain(p[0], big, 1 << 20, 65536);
  R("write 0 bytes", write(p[1], big, 0));
  close(p[0]);
  close(p[1]);
}

/* A 1 MiB write() in one call, read by another process in odd-sized pieces. */
static void one_mib(void) {
  for (int i = 0; i < (int)sizeof big; i++) big[i] = (char)(i * 7 % 251);
  int p[2];
  if (pipe(p)) exit(1);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    long n = write(p[1], big, sizeof big);
    printf("writer: write(1 MiB) = %ld\n", n);
    _exit(0);
  }
  close(p[1]);
  static char got[1 << 20];
  long n = drain(p[0], got, sizeof got + 1, 3001);
  int st;
  waitpid(c, &st, 0);
  printf("reader: %ld bytes, same=%d\n", n, memcmp(got, big, sizeof big) == 0);
  status("writer", st);
  close(p[0]);
}

/* Four writers of 4096-byte records: no record is ever split or interleaved. */
static void atomic_writers(void) {
  int p[2];
  if (pipe(p)) exit(1);
  for (int w = 0; w < 4; w++) {
    if (fork() == 0) {
      char rec[4096];
      memset(rec, 'a' + w, sizeof rec);
      for (int i = 0; i < 200; i++)
        if (write(p[1], rec, sizeof rec) != sizeof rec) _exit(1);
      _exit(0);
    }
  }
  close(p[1]);
  static char buf[4096 * 800];
  long n = drain(p[0], buf, sizeof buf + 1, 777);
  int whole = 1, count[4] = {0};
  for (long r = 0; r + 4096 <= n; r += 4096) {
    for (int i = 1; i < 4096; i++)
      if (buf[r + i] != buf[r]) whole = 0;
    if (buf[r] >= 'a' && buf[r] < 'e') count[buf[r] - 'a']++;
  }
  int st, ok = 0;
  while (wait(&st) > 0) ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  printf("atomic: %ld bytes, records whole=%d, per writer %d %d %d %d, writers ok=%d\n", n, whole,
         count[0], count[1], count[2], count[3], ok);
  close(p[0]);
}

/* A blocking write that filled the pipe, then a signal: the count so far, with or without
 * SA_RESTART. */
static void interrupted(int flags) {
  int p[2];
  if (pipe(p)) exit(1);
  pid_t c = fork();
  if (c == 0) {
    struct sigaction sa = {.sa_handler = on_sig, .sa_flags = flags};
    sigaction(SIGUSR1, &sa, NULL);
    errno = 0;
    long n = write(p[1], big, 65536 + 10);
    printf("interrupted write (%s) = %ld %s caught=%d\n", flags ? "SA_RESTART" : "no restart", n,
           n < 0 ? en(errno) : "", caught);
    _exit(0);
  }
  while (nread(p[0]) < 65536) usleep(1000);
  kill(c, SIGUSR1);
  int st;
  waitpid(c, &st, 0);
  status("interrupted writer", st);
  printf("left in pipe=%d\n", nread(p[0]));
  close(p[0]);
  close(p[1]);
}

/* The reader leaves while a write waits: SIGPIPE and the count so far; nothing written: EPIPE
 * with SIGPIPE ignored, death by SIGPIPE by default. */
static void broken(void) {
  int p[2];
  if (pipe(p)) exit(1);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    signal(SIGPIPE, on_sig);
    long n = write(p[1], big, 65536 + 10);
    printf("write when the reader left = %ld caught=%d\n", n, caught);
    caught = 0;
    R("write again", write(p[1], big, 1));
    printf("caught=%d\n", caught);
    signal(SIGPIPE, SIG_IGN);
    R("write with SIGPIPE ignored", write(p[1], big, 1));
    signal(SIGPIPE, SIG_DFL);
    write(p[1], big, 1);
    _exit(0);
  }
  close(p[1]);
  while (nread(p[0]) < 65536) usleep(1000);
  close(p[0]);
  int st;
  waitpid(c, &st, 0);
  status("writer without reader", st);
}

static void set_size(void) {
  int p[2];
  if (pipe(p)) exit(1);
  R("F_SETPIPE_SZ 0", fcntl(p[1], F_SETPIPE_SZ, 0));
  R("F_SETPIPE_SZ 1", fcntl(p[1], F_SETPIPE_SZ, 1));
  R("F_SETPIPE_SZ 5000", fcntl(p[0], F_SETPIPE_SZ, 5000));
  R("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
  R("F_SETPIPE_SZ 65537", fcntl(p[1], F_SETPIPE_SZ, 65537));
  R("F_SETPIPE_SZ -1", fcntl(p[1], F_SETPIPE_SZ, -1));
  R("F_SETPIPE_SZ 2^31+1", fcntl(p[1], F_SETPIPE_SZ, (1u << 31) + 1));
  R("write 5000", write(p[1], big, 5000));
  R("shrink to one slot (two in use)", fcntl(p[1], F_SETPIPE_SZ, 4096));
  R("shrink to two slots", fcntl(p[1], F_SETPIPE_SZ, 8192));
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  R("write into the full pipe", write(p[1], big, 1));
  /* (Beyond pipe-max-size needs CAP_SYS_RESOURCE, which a container's root may lack.) */
  R("F_SETPIPE_SZ 1 MiB", fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
  drain(p[0], big, 5001, 5001);
  R("write 1 MiB non-blocking", write(p[1], big, sizeof big));
  R("write 1 MiB non-blocking", write(p[1], big, sizeof big));
  printf("fionread=%d\n", nread(p[0]));
  drain(p[0], big, nread(p[0]), 1 << 20);
  int memfd = open("/proc/self/exe", O_RDONLY);
  R("F_GETPIPE_SZ on a file", fcntl(memfd, F_GETPIPE_SZ));
  R("F_SETPIPE_SZ on a file", fcntl(memfd, F_SETPIPE_SZ, 4096));
  close(memfd);
  pid_t c = fork();
  if (c == 0) {
    if (setuid(65534)) _exit(2);
    int q[2];
    if (pipe(q)) _exit(1);
    R("nobody: F_SETPIPE_SZ 1 MiB", fcntl(q[1], F_SETPIPE_SZ, 1 << 20));
    R("nobody: F_SETPIPE_SZ 2 MiB", fcntl(q[1], F_SETPIPE_SZ, 2 << 20));
    R("nobody: shrink root's 1 MiB pipe", fcntl(p[1], F_SETPIPE_SZ, 65536));
    R("nobody: grow it to 1 MiB", fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
    R("nobody: grow it to 2 MiB", fcntl(p[1], F_SETPIPE_SZ, 2 << 20));
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  status("nobody", st);
  close(p[0]);
  close(p[1]);
}

static void packets(void) {
  int p[2];
  if (pipe2(p, O_DIRECT | O_NONBLOCK)) exit(1);
  printf("O_DIRECT in F_GETFL: read end %d, write end %d\n", (fcntl(p[0], F_GETFL) & O_DIRECT) != 0,
         (fcntl(p[1], F_GETFL) & O_DIRECT) != 0);
  memcpy(big, "hello", 5);
  R("packet abc", write(p[1], "abc", 3));
  R("packet defgh", write(p[1], "defgh", 5));
  R("packet of 5000", write(p[1], big, 5000));
  printf("fionread=%d\n", nread(p[0]));
  char b[8192];
  memset(b, 0, sizeof b);
  R("read 100", read(p[0], b, 100));
  printf("  \"%s\"\n", b);
  memset(b, 0, sizeof b);
  R("read 2 of a 5-byte packet", read(p[0], b, 2));
  printf("  \"%s\"\n", b);
  R("read 100 of a 4096-byte packet", read(p[0], b, 100));
  R("read the 904-byte tail packet", read(p[0], b, sizeof b));
  R("read empty", read(p[0], b, sizeof b));
  R("packet hello", write(p[1], big, 5));
  char x[2], y[10];
  struct iovec iov[2] = {{x, 2}, {y, 10}};
  R("readv of one packet over two iovecs", readv(p[0], iov, 2));
  int n = 0;
  while (write(p[1], "z", 1) == 1) n++;
  printf("one-byte packets that fit=%d fionread=%d\n", n, nread(p[0]));
  R("read of a one-byte packet", read(p[0], b, sizeof b));
  close(p[0]);
  close(p[1]);
}

static void fifo(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/pipes-fifo-%d", getpid());
  if (mkfifo(path, 0600)) {
    perror("mkfifo");
    return;
  }
  int r = open(path, O_RDONLY | O_NONBLOCK);
  printf("fifo reader alone: revents=%#x\n", revents(r, POLLIN));
  int w = open(path, O_WRONLY | O_NONBLOCK);
  printf("fifo with a writer: revents=%#x\n", revents(r, POLLIN));
  R("fifo F_GETPIPE_SZ", fcntl(w, F_GETPIPE_SZ));
  write(w, "x", 1);
  close(w);
  printf("fifo after the writer left: revents=%#x\n", revents(r, POLLIN));
  int rw = open(path, O_RDWR | O_NONBLOCK);
  printf("fifo O_RDWR: revents=%#x\n", revents(rw, POLLIN | POLLOUT));
  close(rw);
  close(r);
  unlink(path);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  slots();
  one_mib();
  atomic_writers();
  interrupted(0);
  interrupted(SA_RESTART);
  broken();
  set_size();
  packets();
  fifo();
  return 0;
}
