/* fcntl(F_NOTIFY): which operations on a directory and its entries signal which DN_* watchers
 * (DN_ACCESS, MODIFY, CREATE, DELETE, RENAME within the directory only, ATTRIB, on the directory
 * itself too), with the F_SETSIG signal's si_fd, si_code and si_band or plain SIGIO, one shot
 * without DN_MULTISHOT, masks added by a second F_NOTIFY, removal by a zero mask and by closing
 * any descriptor of the description, and the errors (ENOTDIR, EBADF on O_PATH). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "_ckpt.h"

#define SIG (SIGRTMIN + 1)

static volatile int hits[64];
static volatile int last_code, last_band, sigio_hits;

static void handler(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (sig == SIGIO) {
    sigio_hits++;
    last_code = si->si_code;
    return;
  }
  if (si->si_fd >= 0 && si->si_fd < 64) hits[si->si_fd]++;
  last_code = si->si_code;
  last_band = si->si_band;
}

static int a, b, sub;

static void report(const char *what) {
  printf("%-40s a=%d b=%d sub=%d sigio=%d\n", what, hits[a], hits[b], hits[sub], sigio_hits);
  memset((void *)hits, 0, sizeof hits);
  sigio_hits = 0;
}

static void show(const char *what, long r) {
  printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

static void watch(int fd, unsigned long mask) {
  fcntl(fd, F_SETSIG, SIG);
  if (fcntl(fd, F_NOTIFY, mask) != 0) perror("F_NOTIFY");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    /* For the checkpoint test: a watch held until stdin ends (tests/c/_ckpt.h). */
    int fd = open("/tmp", O_RDONLY);
    if (fcntl(fd, F_NOTIFY, DN_CREATE) != 0) perror("F_NOTIFY");
    printf("watching\n");
    await_checkpoint();
    printf("done\n");
    return 0;
  }
  char dir[] = "/tmp/dnotify-XXXXXX";
  if (mkdtemp(dir) == NULL || chdir(dir) != 0) return 1;
  struct sigaction sa = {0};
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIG, &sa, NULL);
  sigaction(SIGIO, &sa, NULL);
  mkdir("A", 0755);
  mkdir("B", 0755);
  mkdir("A/sub", 0755);
  close(open("A/f", O_RDWR | O_CREAT, 0644));

  int f = open("A/f", O_RDONLY);
  show("F_NOTIFY on a file", fcntl(f, F_NOTIFY, DN_MODIFY));
  show("F_NOTIFY 0 on a file", fcntl(f, F_NOTIFY, 0));
  close(f);
  int p = open("A", O_PATH);
  show("F_NOTIFY on O_PATH", fcntl(p, F_NOTIFY, DN_MODIFY));
  close(p);

  a = open("A", O_RDONLY);
  b = open("B", O_RDONLY);
  sub = open("A/sub", O_RDONLY);
  watch(a, DN_ACCESS | DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB | DN_MULTISHOT);
  watch(b, DN_RENAME | DN_MULTISHOT);
  watch(sub, DN_ATTRIB | DN_MULTISHOT);
  printf("owner is us: %d\n", fcntl(a, F_GETOWN) == getpid());

  int fd = open("A/g", O_RDWR | O_CREAT, 0644);
  report("create A/g");
  printf("si_code %d si_band %#x\n", last_code, last_band);
  write(fd, "x", 1);
  report("write A/g");
  char c;
  pread(fd, &c, 1, 0);
  report("read A/g");
  close(fd);
  report("close A/g");
  chmod("A/g", 0600);
  report("chmod A/g");
  chmod("A/sub", 0700);
  report("chmod A/sub");
  chmod("A", 0700);
  report("chmod A");
  rename("A/g", "A/h");
  report("rename A/g A/h");
  rename("A/h", "B/h");
  report("rename A/h B/h");
  rename("B/h", "B/i");
  report("rename B/h B/i");
  rename("B/i", "A/i");
  report("rename B/i A/i");
  unlink("A/i");
  report("unlink A/i");
  mkdir("A/d", 0755);
  report("mkdir A/d");
  rmdir("A/d");
  report("rmdir A/d");
  truncate("A/f", 10);
  report("truncate A/f");
  symlink("f", "A/l");
  report("symlink A/l");
  link("A/f", "A/f2");
  report("link A/f2");

  /* One shot; a second F_NOTIFY adds events. */
  watch(b, DN_CREATE);
  close(open("B/x", O_CREAT | O_RDWR, 0644));
  report("create B/x (one shot added to multishot)");
  close(open("B/y", O_CREAT | O_RDWR, 0644));
  report("create B/y");
  int b2 = open("B", O_RDONLY);
  watch(b2, DN_CREATE);
  close(open("B/z", O_CREAT | O_RDWR, 0644));
  printf("one shot on b2: %d\n", hits[b2]);
  hits[b2] = 0;
  close(open("B/w", O_CREAT | O_RDWR, 0644));
  printf("again on b2: %d\n", hits[b2]);
  hits[b2] = 0;
  report("after one shot");

  /* Removal: a zero mask, closing a dup. */
  show("F_NOTIFY DN_MULTISHOT only", fcntl(sub, F_NOTIFY, DN_MULTISHOT));
  chmod("A/sub", 0755);
  report("chmod A/sub after removal");
  int a2 = dup(a);
  close(a2);
  chmod("A/f", 0644);
  report("chmod A/f after closing a dup");

  /* Plain SIGIO without F_SETSIG. */
  int c2 = open("B", O_RDONLY);
  if (fcntl(c2, F_NOTIFY, DN_CREATE) != 0) perror("F_NOTIFY");
  close(open("B/v", O_CREAT | O_RDWR, 0644));
  printf("SIGIO: %d code %d\n", sigio_hits, last_code);
  sigio_hits = 0;
  close(c2);

  /* A watch set through a dup answers with the last descriptor given. */
  int a3 = dup(a);
  watch(a3, DN_CREATE | DN_MULTISHOT);
  close(open("A/u", O_CREAT | O_RDWR, 0644));
  printf("through the dup: a3 %d a %d\n", hits[a3], hits[a]);
  memset((void *)hits, 0, sizeof hits);
  close(a3);
  close(open("A/t", O_CREAT | O_RDWR, 0644));
  printf("after closing the dup: %d\n", hits[a] + hits[a3]);
  return 0;
}
