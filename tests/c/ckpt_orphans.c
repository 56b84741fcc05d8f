/*
 * Checkpoint and restore of open files that are no longer at their path: tmpfile() (O_TMPFILE
 * in /tmp), an O_TMPFILE file in /dev/shm (tmpfs) that linkat names after the restore, a file
 * unlinked while open by two descriptions (one with O_APPEND), a file renamed while open, and
 * a file opened by one of its two hard links whose name is then removed. Before the checkpoint
 * (waited for on stdin: tests/c/_ckpt.h) each is written and its offset moved; after it each is read
 * back, written through one description and read through the other, and fstat's link count
 * and size are printed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

static void show(const char *what, int fd) {
  struct stat st;
  char buf[256];
  if (fstat(fd, &st) != 0) {
    printf("%s: fstat failed\n", what);
    return;
  }
  ssize_t n = pread(fd, buf, sizeof buf, 0);
  printf("%s: nlink %ld size %ld offset %ld mode %o: %.*s|\n", what, (long)st.st_nlink, (long)st.st_size,
         (long)lseek(fd, 0, SEEK_CUR), st.st_mode & 07777, (int)(n > 0 ? n : 0), buf);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *names[] = {"/tmp/cko_unl", "/tmp/cko_ren", "/tmp/cko_ren2", "/tmp/cko_h1", "/tmp/cko_h2", "/dev/shm/cko_named"};
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) unlink(names[i]);

  FILE *tf = tmpfile();
  if (tf == NULL) return 2;
  fputs("tmpfile data\n", tf);
  fflush(tf);

  int shm = open("/dev/shm", O_TMPFILE | O_RDWR, 0640);
  if (shm < 0) return 3;
  write(shm, "in /dev/shm", 11);

  int u1 = open("/tmp/cko_unl", O_RDWR | O_CREAT | O_EXCL, 0600);
  int u2 = open("/tmp/cko_unl", O_WRONLY | O_APPEND);
  if (u1 < 0 || u2 < 0) return 4;
  write(u1, "unlinked:", 9);
  lseek(u1, 3, SEEK_SET);
  unlink("/tmp/cko_unl");

  int rn = open("/tmp/cko_ren", O_RDWR | O_CREAT | O_EXCL, 0644);
  if (rn < 0) return 5;
  write(rn, "renamed", 7);
  if (rename("/tmp/cko_ren", "/tmp/cko_ren2") != 0) return 6;

  int h = open("/tmp/cko_h1", O_RDWR | O_CREAT | O_EXCL, 0600);
  if (h < 0 || link("/tmp/cko_h1", "/tmp/cko_h2") != 0) return 7;
  write(h, "linked", 6);
  unlink("/tmp/cko_h1");

  printf("ready\n");
  await_checkpoint();

  fputs("more\n", tf);
  fflush(tf);
  show("tmpfile", fileno(tf));
  rewind(tf);
  char line[64];
  if (fgets(line, sizeof line, tf)) printf("tmpfile first line: %s", line);

  show("shm", shm);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", shm);
  printf("linkat: %d\n", linkat(AT_FDCWD, path, AT_FDCWD, "/dev/shm/cko_named", AT_SYMLINK_FOLLOW));
  show("shm named", shm);
  int again = open("/dev/shm/cko_named", O_RDONLY);
  show("shm by name", again);

  write(u2, "+appended", 9);
  write(u1, "X", 1);
  show("unlinked u1", u1);
  show("unlinked u2", u2);

  write(rn, "+more", 5);
  show("renamed", rn);
  int rn2 = open("/tmp/cko_ren2", O_RDONLY);
  show("renamed by its new name", rn2);

  write(h, "+through the fd", 15);
  int h2 = open("/tmp/cko_h2", O_RDONLY);
  show("hard link fd", h);
  show("hard link by the other name", h2);
  printf("h1 is gone: %d\n", access("/tmp/cko_h1", F_OK));
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) unlink(names[i]);
  return 0;
}
