/* inotify watches belong to inodes: a file's two hard links give one watch descriptor (the second
 * add changes the first's mask), an event made through the other name reaches it, unlinking one
 * name is IN_ATTRIB only, the last one IN_ATTRIB, IN_DELETE_SELF and IN_IGNORED; a directory
 * watch names the link the event went through. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static int in;
static int wd_a, wd_dir;

static void drain(const char *what) {
  char buf[4096] __attribute__((aligned(8)));
  long n = read(in, buf, sizeof buf);
  printf("%s:", what);
  if (n <= 0) printf(" nothing");
  for (long o = 0; o < n;) {
    struct inotify_event *e = (void *)(buf + o);
    printf(" [%s %#x %s]", e->wd == wd_a ? "file" : e->wd == wd_dir ? "dir" : "?", e->mask, e->len ? e->name : "-");
    o += sizeof *e + e->len;
  }
  printf("\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/inotify-links-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char a[64], b[64];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  close(open(a, O_CREAT | O_WRONLY, 0644));
  link(a, b);
  in = inotify_init1(IN_NONBLOCK);
  wd_a = inotify_add_watch(in, a, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF);
  int wd_b = inotify_add_watch(in, b, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_CLOSE_WRITE);
  printf("the second name's wd is the first's: %d\n", wd_a == wd_b);
  printf("IN_MASK_CREATE through the other name: %d\n",
         inotify_add_watch(in, a, IN_MODIFY | IN_MASK_CREATE) == -1);
  int fd = open(b, O_WRONLY);
  if (write(fd, "x", 1) != 1) return 1;
  close(fd);
  drain("write and close through b");
  wd_dir = inotify_add_watch(in, dir, IN_MODIFY | IN_DELETE);
  fd = open(a, O_WRONLY);
  if (write(fd, "y", 1) != 1) return 1;
  close(fd);
  drain("write through a, with a directory watch");
  unlink(a);
  drain("unlink a");
  chmod(b, 0600);
  drain("chmod b");
  unlink(b);
  drain("unlink b, the last name");
  rmdir(dir);
  return 0;
}
