/* Test helper, run on the host: `interrupt_open PID TID SIGNO FIFO` waits until thread TID of
 * process PID is blocked in openat(2) (its /proc/PID/task/TID/syscall starts with "257 "),
 * sends it signal SIGNO with tgkill, waits 200 ms, then opens FIFO for writing, which lets a
 * reader blocked in its open go on, writes "x" and exits 0. A reader that gave up at the
 * signal (EINTR) is not there: after 10 s of ENXIO it exits 1. Used to check that the sentry's
 * host calls run again when its wake-up alarm interrupts them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: interrupt_open PID TID SIGNO FIFO\n");
    return 2;
  }
  int pid = atoi(argv[1]), tid = atoi(argv[2]), sig = atoi(argv[3]);
  char path[64], buf[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tid);
  for (int i = 0;; i++) {
    if (i == 10000) {
      fprintf(stderr, "interrupt_open: thread %d never blocked in openat\n", tid);
      return 1;
    }
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (strncmp(buf, "257 ", 4) == 0) break;
    sleep_ms(2);
  }
  if (syscall(SYS_tgkill, pid, tid, sig) != 0) {
    perror("tgkill");
    return 1;
  }
  sleep_ms(200);
  for (int i = 0; i < 1000; i++) {
    int fd = open(argv[4], O_WRONLY | O_NONBLOCK);
    if (fd >= 0) {
      if (write(fd, "x", 1) != 1) return 1;
      close(fd);
      return 0;
    }
    sleep_ms(10);
  }
  fprintf(stderr, "interrupt_open: no reader came back after the signal\n");
  return 1;
}
