/*
 * Checkpoint of a sandbox with an `exec -t` session, whose terminal's master is the sentry's
 * bridge to an exec client that does not follow a restore. Run as init (no argument) it prints
 * "init up", then waits for the exec'd process's reports in /tmp (20 s at most) and prints
 * them. Run as "exec" (the exec'd process, on the session's terminal) it notes SIGHUP, reports
 * "exec ready" and blocks reading its terminal; when the read returns it reports what it saw.
 * Restored, the session's terminal is hung up as when its client goes away: SIGHUP, then the
 * read returns 0. Run as "pipes" (an exec'd process without a terminal, whose stdin, stdout and
 * stderr are its client's pipe ends and socket) it ignores SIGPIPE, reports "exec ready" and
 * blocks reading stdin; restored, its client's descriptors are gone as when the client exits:
 * the read returns 0, writes fail with EPIPE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READY "/tmp/ckpt-exec-tty-ready"
#define DONE "/tmp/ckpt-exec-tty-done"

static volatile sig_atomic_t hups;

static void on_hup(int sig) {
  (void)sig;
  hups++;
}

static void report(const char *path, const char *text) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  write(fd, text, strlen(text));
  close(fd);
  rename(tmp, path);
}

/* Prints the report at path once it exists; 0 when it came. */
static int await_report(const char *path) {
  for (int i = 0; i < 400; i++) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
      char buf[256];
      ssize_t n = read(fd, buf, sizeof buf);
      close(fd);
      printf("%.*s\n", n > 0 ? (int)n : 0, buf);
      return 0;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  printf("no report at %s\n", path);
  return 1;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "pipes") == 0) {
    signal(SIGPIPE, SIG_IGN);
    report(READY, "exec ready");
    char c;
    ssize_t n = read(0, &c, 1);
    ssize_t w1 = write(1, "x", 1);
    int e1 = w1 < 0 ? errno : 0;
    ssize_t w2 = write(2, "y", 1);
    int e2 = w2 < 0 ? errno : 0;
    char text[160];
    snprintf(text, sizeof text, "exec: read returned %zd, stdout write %zd (%s), stderr write %zd (%s)", n, w1,
             e1 == EPIPE ? "EPIPE" : "other", w2, e2 == EPIPE ? "EPIPE" : "other");
    report(DONE, text);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "exec") == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    report(READY, "exec ready");
    char c;
    ssize_t n = read(0, &c, 1);
    int err = n < 0 ? errno : 0;
    char text[128];
    snprintf(text, sizeof text, "exec: SIGHUP %d, read returned %zd (errno %d), session leader %s", (int)hups, n, err,
             getsid(0) == getpid() ? "yes" : "no");
    report(DONE, text);
    return 0;
  }
  printf("init up\n");
  if (await_report(READY) || await_report(DONE)) return 1;
  return 0;
}
