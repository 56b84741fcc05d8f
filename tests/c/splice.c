/* splice, tee, vmsplice, sendfile and copy_file_range between pipes, a host file and memfds,
 * with offsets, non-blocking and blocking waits, EPIPE/SIGPIPE and the error cases; then
 * close_range and the errors name_to_handle_at reports before its answer. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static void drain(const char *what, int fd) {
  char b[128];
  int n = read(fd, b, sizeof b - 1);
  if (n < 0) n = 0;
  b[n] = 0;
  printf("%s: %d \"%s\"\n", what, n, b);
}

static long cfr(int in, loff_t *oi, int out, loff_t *oo, size_t len, unsigned flags) {
  return syscall(SYS_copy_file_range, in, oi, out, oo, len, flags);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int src = memfd_create("src", 0);
  if (write(src, "0123456789abcdefghij", 20) != 20) return 1;
  lseek(src, 0, SEEK_SET);
  int p[2], q[2];
  if (pipe(p) || pipe(q)) return 1;

  /* File to pipe, with and without an offset pointer. */
  loff_t off = 5;
  R("splice src@5 -> p", splice(src, &off, p[1], NULL, 4, 0));
  printf("off=%ld pos=%ld\n", (long)off, (long)lseek(src, 0, SEEK_CUR));
  drain("p", p[0]);
  R("splice src -> p", splice(src, NULL, p[1], NULL, 3, 0));
  printf("pos=%ld\n", (long)lseek(src, 0, SEEK_CUR));
  drain("p", p[0]);

  /* Pipe to file, pipe to pipe, tee. */
  int dst = memfd_create("dst", 0);
  R("write p", write(p[1], "hello", 5));
  off = 100;
  R("splice p -> dst@100", splice(p[0], NULL, dst, &off, 16, 0));
  char b[16] = {0};
  R("pread dst@100", pread(dst, b, 5, 100));
  printf("dst@100 \"%s\" off=%ld pos=%ld\n", b, (long)off, (long)lseek(dst, 0, SEEK_CUR));
  R("write p", write(p[1], "world", 5));
  R("splice p -> q", splice(p[0], NULL, q[1], NULL, 3, 0));
  drain("q", q[0]);
  R("tee p -> q", tee(p[0], q[1], 16, 0));
  drain("q after tee", q[0]);
  drain("p after tee", p[0]);

  /* vmsplice both ways. */
  struct iovec iov[2] = {{"ab", 2}, {"cde", 3}};
  R("vmsplice into p", vmsplice(p[1], iov, 2, 0));
  char r1[3] = {0}, r2[3] = {0};
  struct iovec out[2] = {{r1, 2}, {r2, 2}};
  R("vmsplice out of p", vmsplice(p[0], out, 2, 0));
  printf("vmspliced \"%s\" \"%s\"\n", r1, r2);
  drain("p rest", p[0]);

  /* Errors. */
  R("splice len 0 ignores fds", splice(99, NULL, 98, NULL, 0, 0));
  R("splice bad flags", splice(src, NULL, p[1], NULL, 1, 0x100));
  R("splice file to file", splice(src, NULL, dst, NULL, 1, 0));
  R("splice pipe with offset", splice(p[0], &off, dst, NULL, 1, 0));
  R("splice into pipe with offset", splice(src, NULL, p[1], &off, 1, 0));
  R("splice same pipe", splice(p[0], NULL, p[1], NULL, 1, 0));
  R("splice from write end", splice(p[1], NULL, q[1], NULL, 1, 0));
  R("splice bad fd", splice(999, NULL, p[1], NULL, 1, 0));
  int app = memfd_create("app", 0);
  fcntl(app, F_SETFL, O_APPEND);
  R("write p", write(p[1], "x", 1));
  R("splice into O_APPEND", splice(p[0], NULL, app, NULL, 1, 0));
  R("tee file", tee(src, p[1], 1, 0));
  R("tee same pipe", tee(p[0], p[1], 1, 0));
  R("vmsplice file", vmsplice(src, iov, 1, 0));
  R("vmsplice no segments", vmsplice(src, iov, 0, 0));
  R("vmsplice bad flags", vmsplice(p[1], iov, 1, 0x100));
  drain("p", p[0]);

  /* Non-blocking and end of file. */
  R("splice empty NONBLOCK", splice(p[0], NULL, dst, NULL, 1, SPLICE_F_NONBLOCK));
  char big[4096];
  memset(big, 'z', sizeof big);
  fcntl(q[1], F_SETFL, O_NONBLOCK);
  while (write(q[1], big, sizeof big) > 0) {}
  printf("q full: %s\n", en(errno));
  fcntl(q[1], F_SETFL, 0);
  R("splice into full NONBLOCK", splice(src, NULL, q[1], NULL, 1, SPLICE_F_NONBLOCK));
  R("tee into full NONBLOCK", tee(p[0], q[1], 1, SPLICE_F_NONBLOCK));
  close(q[1]);
  while (splice(q[0], NULL, dst, NULL, 65536, 0) > 0) {}
  R("splice q at EOF", splice(q[0], NULL, dst, NULL, 1, 0));
  close(q[0]);

  /* A blocking splice woken by a writer. */
  pid_t c = fork();
  if (c == 0) {
    usleep(30000);
    if (write(p[1], "late", 4) != 4) _exit(1);
    _exit(0);
  }
  off = 0;
  R("blocking splice", splice(p[0], NULL, dst, &off, 16, 0));
  waitpid(c, NULL, 0);

  /* EPIPE, with SIGPIPE ignored and with it fatal. */
  int d[2];
  if (pipe(d)) return 1;
  close(d[0]);
  signal(SIGPIPE, SIG_IGN);
  R("splice into readerless pipe", splice(src, NULL, d[1], NULL, 1, 0));
  R("vmsplice into readerless pipe", vmsplice(d[1], iov, 1, 0));
  signal(SIGPIPE, SIG_DFL);
  c = fork();
  if (c == 0) {
    splice(src, NULL, d[1], NULL, 1, 0);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);

  /* sendfile. */
  off = 2;
  R("sendfile src@2 -> p", sendfile(p[1], src, &off, 5));
  printf("off=%ld\n", (long)off);
  drain("p", p[0]);
  lseek(src, 0, SEEK_SET);
  R("sendfile src -> dst", sendfile(dst, src, NULL, 6));
  printf("src pos=%ld\n", (long)lseek(src, 0, SEEK_CUR));
  int pw = open("/etc/passwd", O_RDONLY);
  R("sendfile host file -> memfd", sendfile(dst, pw, NULL, 10));
  R("sendfile from pipe", sendfile(dst, p[0], NULL, 1));
  R("sendfile from pipe with offset", sendfile(dst, p[0], &off, 1));
  R("sendfile to O_APPEND", sendfile(app, src, NULL, 1));
  R("sendfile to read-only", sendfile(pw, src, NULL, 1));
  R("sendfile count 0", sendfile(dst, src, NULL, 0));

  /* copy_file_range. */
  loff_t oi = 0, oo = 50;
  R("cfr src@0 -> dst@50", cfr(src, &oi, dst, &oo, 10, 0));
  R("pread dst@50", pread(dst, b, 10, 50));
  printf("dst@50 \"%.10s\" oi=%ld oo=%ld\n", b, (long)oi, (long)oo);
  lseek(src, 15, SEEK_SET);
  lseek(dst, 0, SEEK_SET);
  R("cfr without offsets, past EOF", cfr(src, NULL, dst, NULL, 100, 0));
  printf("positions %ld %ld\n", (long)lseek(src, 0, SEEK_CUR), (long)lseek(dst, 0, SEEK_CUR));
  oi = 0, oo = 5;
  R("cfr overlapping", cfr(src, &oi, src, &oo, 10, 0));
  oo = 30;
  R("cfr same file apart", cfr(src, &oi, src, &oo, 10, 0));
  R("cfr flags", cfr(src, NULL, dst, NULL, 1, 1));
  R("cfr pipe", cfr(p[0], NULL, dst, NULL, 1, 0));
  R("cfr directory", cfr(open("/", O_RDONLY), NULL, dst, NULL, 1, 0));
  R("cfr across filesystems", cfr(pw, NULL, dst, NULL, 1, 0));
  R("cfr to O_APPEND", cfr(src, NULL, app, NULL, 1, 0));
  R("cfr len 0", cfr(src, NULL, dst, NULL, 0, 0));

  /* close_range. */
  int nul = open("/dev/null", O_RDONLY);
  for (int fd = 40; fd <= 45; fd++) dup2(nul, fd);
  R("close_range 41..43", syscall(SYS_close_range, 41, 43, 0));
  R("close_range cloexec 44..45", syscall(SYS_close_range, 44, 45, CLOSE_RANGE_CLOEXEC));
  for (int fd = 40; fd <= 45; fd++) printf("fd %d: %d\n", fd, fcntl(fd, F_GETFD));
  R("close_range first > last", syscall(SYS_close_range, 5, 4, 0));
  R("close_range bad flags", syscall(SYS_close_range, 40, 45, 8));
  R("close_range unshare", syscall(SYS_close_range, 40, 40, CLOSE_RANGE_UNSHARE));
  R("fd 40 closed", fcntl(40, F_GETFD));
  R("close_range to the end", syscall(SYS_close_range, 44, ~0U, 0));
  R("fd 45 closed", fcntl(45, F_GETFD));

  /* name_to_handle_at: errors that come before the handle. */
  char h[128];
  R("name_to_handle_at missing", syscall(SYS_name_to_handle_at, AT_FDCWD, "/nonexistent", h, h, 0));
  R("name_to_handle_at bad flags", syscall(SYS_name_to_handle_at, AT_FDCWD, "/", h, h, 0x8000));
  return 0;
}
