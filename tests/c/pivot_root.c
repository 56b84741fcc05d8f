/* pivot_root(2)'s checks in Linux's order, run in the sandbox only (natively it would change
 * the host's mounts): from the sandbox's root to no mount point EINVAL; after chroot into a tmpfs
 * mount: new_root or put_old on the root's own mount EBUSY, a new_root that is no mount point
 * EINVAL, put_old outside new_root EINVAL; then a real pivot whose old root shows at put_old. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%s: %s\n", what, r == 0 ? "ok" : strerrorname_np(errno));
}
static long pivot(const char *n, const char *o) { return syscall(SYS_pivot_root, n, o); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp/pr", 0755);
  show("mount tmpfs on /tmp/pr", mount("", "/tmp/pr", "tmpfs", 0, "mode=0755"));
  mkdir("/tmp/pr/new", 0755);
  mkdir("/tmp/pr/new/old", 0755);
  mkdir("/tmp/pr/plain", 0755);
  show("pivot from the sandbox's root to no mount point", pivot("/tmp/pr/new", "/tmp/pr/new/old"));
  pid_t c = fork();
  if (c == 0) {
    show("chroot into the tmpfs", chroot("/tmp/pr"));
    chdir("/");
    show("new_root on the root's own mount", pivot("/new", "/new/old"));
    show("mount tmpfs on /new", mount("", "/new", "tmpfs", 0, "mode=0755"));
    mkdir("/new/old", 0755);
    show("put_old on the root's own mount", pivot("/new", "/plain"));
    mkdir("/other", 0755);
    mount("", "/other", "tmpfs", 0, "mode=0755");
    show("put_old outside new_root", pivot("/new", "/other"));
    mkdir("/new/sub", 0755);
    show("new_root that is no mount point", pivot("/new/sub", "/new/sub"));
    FILE *f = fopen("/marker", "w");
    fputs("old root\n", f);
    fclose(f);
    show("pivot", pivot("/new", "/new/old"));
    struct stat st;
    printf("old root at put_old: %d; new root empty of the marker: %d\n", stat("/old/marker", &st) == 0,
           stat("/marker", &st) != 0);
    _exit(0);
  }
  int status;
  waitpid(c, &status, 0);
  return 0;
}
