/* File locks between descriptions and processes: flock (conversion, blocking, EINTR), POSIX
 * record locks (F_GETLK reports, splitting, merging, negative lengths, release on any close,
 * F_SETLKW, EDEADLK) and OFD locks. /dev/null is the shared file: every Linux has it, it can be
 * opened for writing, and locks work on it as on any inode. Processes synchronise with pipes,
 * so the output never depends on timing. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static int setlk(int fd, int cmd, int type, int whence, long start, long len) {
  struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

static pid_t parent;

/* Prints what F_GETLK (or F_OFD_GETLK) says about a write lock on [start, start+len). */
static void getlk(const char *what, int fd, int cmd, long start, long len) {
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  errno = 0;
  int r = fcntl(fd, cmd, &fl);
  if (r < 0) {
    printf("%s: %s\n", what, en(errno));
    return;
  }
  if (fl.l_type == F_UNLCK) {
    printf("%s: unlocked\n", what);
    return;
  }
  const char *who = fl.l_pid == -1 ? "ofd" : fl.l_pid == parent ? "parent" : "other";
  printf("%s: %s start=%ld len=%ld whence=%d by %s\n", what, fl.l_type == F_RDLCK ? "RD" : "WR",
         (long)fl.l_start, (long)fl.l_len, fl.l_whence, who);
}

static void wait_byte(int fd) {
  char c;
  if (read(fd, &c, 1) != 1) _exit(9);
}

static void send_byte(int fd) {
  if (write(fd, "x", 1) != 1) _exit(9);
}

static void on_alrm(int s) { (void)s; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  parent = getpid();
  int a = open("/dev/null", O_RDWR), b = open("/dev/null", O_RDWR);
  int ro = open("/dev/null", O_RDONLY), wo = open("/dev/null", O_WRONLY);

  /* ---- flock ---- */
  R("flock a EX", flock(a, LOCK_EX));
  R("flock b EX|NB", flock(b, LOCK_EX | LOCK_NB));
  R("flock b SH|NB", flock(b, LOCK_SH | LOCK_NB));
  R("flock a EX again", flock(a, LOCK_EX));
  R("flock a UN", flock(a, LOCK_UN));
  R("flock b SH|NB", flock(b, LOCK_SH | LOCK_NB));
  R("flock a SH|NB", flock(a, LOCK_SH | LOCK_NB));
  R("flock a EX|NB (conversion fails)", flock(a, LOCK_EX | LOCK_NB));
  R("flock b EX|NB (a lost its lock)", flock(b, LOCK_EX | LOCK_NB));
  int c = dup(b);
  R("flock dup UN", flock(c, LOCK_UN));
  R("flock a EX|NB", flock(a, LOCK_EX | LOCK_NB));
  R("flock 0", flock(a, 0));
  R("flock SH|EX", flock(a, LOCK_SH | LOCK_EX));
  R("flock bad fd", flock(999, LOCK_SH));
  R("flock read-only fd", flock(ro, LOCK_SH | LOCK_NB));
  close(c);

  int up[2], down[2];
  if (pipe(up) || pipe(down)) return 1;
  /* A child blocks in flock until the parent lets go. */
  pid_t k = fork();
  if (k == 0) {
    int mine = open("/dev/null", O_RDWR);
    send_byte(up[1]);
    _exit(flock(mine, LOCK_EX) == 0 ? 0 : 1);
  }
  wait_byte(up[0]);
  usleep(20000);
  R("parent flock UN", flock(a, LOCK_UN));
  int st;
  waitpid(k, &st, 0);
  printf("child flock after wait: status %d\n", WEXITSTATUS(st));
  /* A blocked flock ends with EINTR when a handler without SA_RESTART runs. */
  R("flock a EX", flock(a, LOCK_EX));
  k = fork();
  if (k == 0) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    int mine = open("/dev/null", O_RDWR);
    alarm(1);
    errno = 0;
    int r = flock(mine, LOCK_EX);
    printf("child flock interrupted = %d %s\n", r, en(errno));
    _exit(0);
  }
  waitpid(k, NULL, 0);
  R("flock a UN", flock(a, LOCK_UN));

  /* ---- POSIX record locks ---- */
  R("setlk WR 0..9", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
  R("own getlk sees nothing", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 5, 1));
  k = fork();
  if (k == 0) {
    getlk("child getlk 5", a, F_GETLK, 5, 1);
    R("child setlk WR 5", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 5, 1));
    R("child setlk WR 10..19", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 10, 10));
    send_byte(up[1]);
    wait_byte(down[0]);
    _exit(0);
  }
  wait_byte(up[0]);
  getlk("parent getlk 0..99", a, F_GETLK, 0, 100);
  send_byte(down[1]);
  waitpid(k, NULL, 0);
  getlk("after child exit", a, F_GETLK, 10, 1);

  /* Split, merge, negative length, SEEK_CUR. */
  R("RD 0..99", setlk(a, F_SETLK, F_RDLCK, SEEK_SET, 0, 100));
  R("UN 40..59", setlk(a, F_SETLK, F_UNLCK, SEEK_SET, 40, 20));
  R("WR 100..109", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 100, 10));
  R("WR 110..119", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 110, 10));
  R("WR len -10 at 200", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 200, -10));
  R("WR SEEK_CUR 300 to EOF", setlk(a, F_SETLK, F_WRLCK, SEEK_CUR, 300, 0));
  k = fork();
  if (k == 0) {
    getlk("hole", a, F_GETLK, 45, 1);
    getlk("left part", a, F_GETLK, 30, 1);
    getlk("right part", a, F_GETLK, 70, 1);
    getlk("merged", a, F_GETLK, 115, 1);
    getlk("negative length", a, F_GETLK, 195, 1);
    getlk("to EOF", a, F_GETLK, 1000000, 1);
    _exit(0);
  }
  waitpid(k, NULL, 0);
  R("UN all", setlk(a, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));

  /* Errors. */
  R("bad type", setlk(a, F_SETLK, 5, SEEK_SET, 0, 1));
  R("bad whence", setlk(a, F_SETLK, F_RDLCK, 7, 0, 1));
  R("negative start", setlk(a, F_SETLK, F_RDLCK, SEEK_SET, -1, 1));
  R("length before 0", setlk(a, F_SETLK, F_RDLCK, SEEK_SET, 5, -6));
  R("overflow", setlk(a, F_SETLK, F_RDLCK, SEEK_SET, 1L << 62, (1L << 62) + 1));
  R("to OFFSET_MAX", setlk(a, F_SETLK, F_RDLCK, SEEK_SET, 1L << 62, 1L << 62));
  R("getlk F_UNLCK", setlk(a, F_GETLK, F_UNLCK, SEEK_SET, 0, 1));
  R("RD on write-only", setlk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
  R("WR on read-only", setlk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
  R("UN on read-only", setlk(ro, F_SETLK, F_UNLCK, SEEK_SET, 0, 1));
  R("bad pointer", fcntl(a, F_SETLK, (struct flock *)8));
  R("UN all", setlk(a, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));

  /* Any close of the file by the process drops its POSIX locks. */
  R("WR 0", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
  int other = open("/dev/null", O_RDONLY);
  close(other);
  k = fork();
  if (k == 0) {
    getlk("after closing another fd", a, F_GETLK, 0, 1);
    _exit(0);
  }
  waitpid(k, NULL, 0);

  /* F_SETLKW waits for the holder. */
  R("WR 0", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
  k = fork();
  if (k == 0) {
    send_byte(up[1]);
    _exit(setlk(a, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1) == 0 ? 0 : 1);
  }
  wait_byte(up[0]);
  usleep(20000);
  R("parent UN 0", setlk(a, F_SETLK, F_UNLCK, SEEK_SET, 0, 1));
  waitpid(k, &st, 0);
  printf("child setlkw after wait: status %d\n", WEXITSTATUS(st));

  /* Deadlock: each holds one byte and waits for the other's; exactly one gets EDEADLK, lets
   * go, and the other gets its lock. */
  R("WR 1000", setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 1000, 1));
  int res[2];
  if (pipe(res)) return 1;
  k = fork();
  if (k == 0) {
    setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 1001, 1);
    send_byte(up[1]);
    int r = setlk(a, F_SETLKW, F_WRLCK, SEEK_SET, 1000, 1);
    char out = r == 0 ? 'L' : errno == EDEADLK ? 'D' : '?';
    if (r != 0) setlk(a, F_SETLK, F_UNLCK, SEEK_SET, 1001, 1);
    if (write(res[1], &out, 1) != 1) _exit(1);
    _exit(0);
  }
  wait_byte(up[0]);
  int r = setlk(a, F_SETLKW, F_WRLCK, SEEK_SET, 1001, 1);
  char mine = r == 0 ? 'L' : errno == EDEADLK ? 'D' : '?';
  if (r != 0) setlk(a, F_SETLK, F_UNLCK, SEEK_SET, 1000, 1);
  char theirs;
  if (read(res[0], &theirs, 1) != 1) return 1;
  waitpid(k, NULL, 0);
  printf("deadlock: %s\n", (mine == 'D' && theirs == 'L') || (mine == 'L' && theirs == 'D') ? "one EDEADLK, one lock" : "unexpected");
  R("UN all", setlk(a, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));

  /* ---- OFD locks ---- */
  R("ofd WR a 0..9", setlk(a, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
  R("ofd WR b 5", setlk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
  getlk("ofd getlk b", b, F_OFD_GETLK, 5, 1);
  getlk("posix getlk sees ofd", b, F_GETLK, 5, 1);
  R("posix WR on b conflicts", setlk(b, F_SETLK, F_WRLCK, SEEK_SET, 5, 1));
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
  R("ofd l_pid != 0", fcntl(b, F_OFD_SETLK, &fl));
  R("ofd getlk l_pid != 0", fcntl(b, F_OFD_GETLK, &fl));
  c = dup(a);
  close(c);
  R("ofd after closing a dup", setlk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
  close(a);
  R("ofd after closing the last", setlk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
  /* An OFD lock survives close of other descriptors and is shared with a fork child. */
  k = fork();
  if (k == 0) {
    R("child ofd on inherited b", setlk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
    _exit(0);
  }
  waitpid(k, NULL, 0);
  return 0;
}
