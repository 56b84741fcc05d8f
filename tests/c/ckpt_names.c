/*
 * Names that are not UTF-8 through a checkpoint: a directory "n\xff" in /tmp (the sandbox's
 * tmpfs) that is the cwd, a file "a\xfe\x80" in it held open, a symlink "l\xfd" to it. Before
 * and after the checkpoint (in main's wait for it on stdin) it prints, in hex, the directory's
 * names (ls), the link's target (readlink), the cwd (getcwd) and the open file's path
 * (readlink of /proc/self/fd/N), each without the mkdtemp prefix: the same bytes twice.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "_ckpt.h"

static char base[64];

static void hex(const char *what, const char *s) {
  printf("%s:", what);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) printf(" %02x", *p);
  printf("\n");
}

/* s without the mkdtemp prefix, or all of it when it does not start with it. */
static const char *rel(const char *s) {
  size_t n = strlen(base);
  return strncmp(s, base, n) == 0 ? s + n : s;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void show(int fd) {
  DIR *d = opendir(".");
  char *names[16];
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL && n < 16) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  }
  if (d) closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  for (int i = 0; i < n; i++) hex("ls", names[i]), free(names[i]);
  char buf[4096];
  ssize_t r = readlink("l\xfd", buf, sizeof buf - 1);
  buf[r < 0 ? 0 : r] = 0;
  hex("readlink", buf);
  hex("getcwd", getcwd(buf, sizeof buf) ? rel(buf) : "");
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  r = readlink(proc, buf, sizeof buf - 1);
  buf[r < 0 ? 0 : r] = 0;
  hex("fd", rel(buf));
  char data[16] = {0};
  printf("read: %zd %s\n", pread(fd, data, sizeof data - 1, 0), data);
}

int main(void) {
  strcpy(base, "/tmp/ckpt_names-XXXXXX");
  if (!mkdtemp(base) || chdir(base) != 0 || mkdir("n\xff", 0755) != 0 || chdir("n\xff") != 0) return perror("setup"), 1;
  int fd = open("a\xfe\x80", O_RDWR | O_CREAT | O_EXCL, 0644);
  if (fd < 0 || write(fd, "kept", 4) != 4 || symlink("a\xfe\x80", "l\xfd") != 0) return perror("files"), 1;
  show(fd);
  printf("ready\n");
  await_checkpoint();
  show(fd);
  unlink("l\xfd");
  unlink("a\xfe\x80");
  chdir(base);
  rmdir("n\xff");
  rmdir(base);
  return 0;
}
