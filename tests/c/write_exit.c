/* Output that must all reach stdout although the program ends right after writing it: a
 * thousand 1-byte writes, one 1 MiB write, a writev, then exit_group with no stdio flush at
 * exit (the last write is the last thing before the exit). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w <= 0) _exit(3);
    p += w;
    n -= (size_t)w;
  }
}

int main(void) {
  for (int i = 0; i < 1000; i++) write_all(&"0123456789"[i % 10], 1);
  size_t big = 1 << 20;
  char *buf = malloc(big);
  if (!buf) return 2;
  for (size_t i = 0; i < big; i++) buf[i] = (char)('a' + (i * 7) % 26);
  buf[big - 1] = '\n';
  write_all(buf, big);
  struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
  if (writev(1, iov, 3) != 14) _exit(4);
  syscall(SYS_exit_group, 0);
  return 1;
}
