/*
 * Checkpoint and restore of an inotify instance: a watch on a new directory, a one-shot watch
 * on a file in it, a watch removed before the checkpoint (its IN_IGNORED queued), and events
 * queued and not read (a file created, the file written). After the checkpoint (for which it
 * waits on stdin: tests/c/_ckpt.h) it makes more events, reads the whole queue and prints it, and adds a watch, whose
 * wd continues from the saved count. A restored run must print what a native run prints.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "_ckpt.h"

static char dir[64];

static void path(char *out, const char *name) {
  snprintf(out, 128, "%s/%s", dir, name);
}

static void touch(const char *name, const char *data) {
  char p[128];
  path(p, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) exit(2);
  if (data != NULL) write(fd, data, strlen(data));
  close(fd);
}

static void drain(int in) {
  char buf[4096] __attribute__((aligned(8)));
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n <= 0) break;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *e = (struct inotify_event *)p;
      printf("event wd %d mask 0x%x cookie %s name '%s'\n", e->wd, e->mask, e->cookie ? "set" : "0", e->len ? e->name : "");
      p += sizeof *e + e->len;
    }
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  strcpy(dir, "/tmp/ckpt-inotify-XXXXXX");
  if (mkdtemp(dir) == NULL) return 2;
  touch("watched", NULL);
  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0) return 2;
  char p[128];
  int wd_dir = inotify_add_watch(in, dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE);
  path(p, "watched");
  int wd_file = inotify_add_watch(in, p, IN_MODIFY | IN_ONESHOT);
  int wd_gone = inotify_add_watch(in, "/", IN_ATTRIB);
  inotify_rm_watch(in, wd_gone);
  touch("before", "x");
  touch("watched", "y");
  printf("ready: wds %d %d %d\n", wd_dir, wd_file, wd_gone);
  await_checkpoint();
  touch("after", NULL);
  touch("watched", "z"); /* the one-shot watch fired already: nothing more from it */
  char q[128];
  path(p, "before");
  path(q, "renamed");
  rename(p, q);
  unlink(q);
  drain(in);
  path(p, "watched");
  printf("new wd %d\n", inotify_add_watch(in, p, IN_ATTRIB));
  chmod(p, 0600);
  drain(in);
  unlink(p);
  path(p, "after");
  unlink(p);
  rmdir(dir);
  return 0;
}
