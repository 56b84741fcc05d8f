/*
 * mount(2)'s MS_MOVE and pivot_root(2) in a mount namespace of the test's own, with / made
 * private (natively as root, where the namespace is a copy of the host's tree and nothing the
 * test does reaches the host's).
 *
 * MS_MOVE: a mount moves with what is under it; not a directory that is no mount point
 * (EINVAL), not under itself (ELOOP), not the root ("/": ELOOP, everything is under it), not
 * from under a shared parent nor a tree with an unbindable mount onto a shared one (EINVAL),
 * not without CAP_SYS_ADMIN (EPERM).
 * pivot_root: ENOTDIR, EINVAL for a new_root that is no mount point, a put_old outside it, a
 * shared parent; EBUSY for new_root on the root's own mount; then a pivot with put_old under
 * new_root (the old root shows there), and pivot_root(".", ".") then umount2(".", MNT_DETACH)
 * as crun and runc do, with a second process (same namespace) whose root and cwd were the old
 * root moved to the new one; a devpts instance of its own in the new root (a container's
 * /dev/pts). Prints what each step returned.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}
static long pivot(const char *n, const char *o) { return syscall(SYS_pivot_root, n, o); }

static char base[] = "/tmp/pivot-XXXXXX";
static char bufs[4][256];
static const char *at(int i, const char *rel) {
  snprintf(bufs[i], sizeof bufs[i], "%s/%s", base, rel);
  return bufs[i];
}
static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}
static void touch(const char *p) {
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
}
static long tmpfs(const char *p) { return mount("t", p, "tmpfs", 0, "mode=0755"); }

/* The names in a directory, sorted, on one line. */
static void list(const char *what, const char *dir) {
  struct dirent **names;
  int n = scandir(dir, &names, NULL, alphasort);
  printf("%s:", what);
  for (int i = 0; i < n; i++) {
    if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) printf(" %s", names[i]->d_name);
    free(names[i]);
  }
  if (n < 0) printf(" %s", strerrorname_np(errno));
  else free(names);
  printf("\n");
}

static void move_tests(void) {
  mkdir(at(0, "a"), 0755);
  mkdir(at(0, "b"), 0755);
  mkdir(at(0, "a/m"), 0755);
  mkdir(at(0, "b/m"), 0755);
  mkdir(at(0, "plain"), 0755);
  show("tmpfs on a/m", tmpfs(at(0, "a/m")));
  mkdir(at(0, "a/m/sub"), 0755);
  show("tmpfs on a/m/sub", tmpfs(at(0, "a/m/sub")));
  touch(at(0, "a/m/sub/marker"));
  show("MS_MOVE a/m to b/m", mount(at(0, "a/m"), at(1, "b/m"), NULL, MS_MOVE, NULL));
  printf("submount moved along: %d, gone from a/m: %d\n", exists(at(0, "b/m/sub/marker")), !exists(at(1, "a/m/sub")));
  show("MS_MOVE of no mount point", mount(at(0, "plain"), at(1, "a/m"), NULL, MS_MOVE, NULL));
  show("MS_MOVE under itself", mount(at(0, "b/m"), at(1, "b/m/sub"), NULL, MS_MOVE, NULL));
  show("MS_MOVE of the root", mount("/", at(1, "a/m"), NULL, MS_MOVE, NULL));
  show("MS_MOVE onto a file", mount(at(0, "b/m"), at(1, "b/m/sub/marker"), NULL, MS_MOVE, NULL));
  show("MS_MOVE of a missing source", mount(at(0, "nosuch"), at(1, "a/m"), NULL, MS_MOVE, NULL));

  /* A shared parent: nothing moves out from under it. */
  mkdir(at(0, "s"), 0755);
  show("tmpfs on s", tmpfs(at(0, "s")));
  show("make s shared", mount(NULL, at(0, "s"), NULL, MS_SHARED, NULL));
  mkdir(at(0, "s/in"), 0755);
  show("tmpfs on s/in", tmpfs(at(0, "s/in")));
  show("MS_MOVE from under a shared parent", mount(at(0, "s/in"), at(1, "a/m"), NULL, MS_MOVE, NULL));
  mkdir(at(0, "u"), 0755);
  show("tmpfs on u", tmpfs(at(0, "u")));
  show("make u unbindable", mount(NULL, at(0, "u"), NULL, MS_UNBINDABLE, NULL));
  mkdir(at(0, "s/in/u"), 0755);
  show("MS_MOVE of an unbindable mount onto a shared parent's tree", mount(at(0, "u"), at(1, "s/in/u"), NULL, MS_MOVE, NULL));
  show("MS_MOVE of an unbindable mount elsewhere", mount(at(0, "u"), at(1, "a/m"), NULL, MS_MOVE, NULL));
  show("umount s recursively", umount2(at(0, "s"), MNT_DETACH));

  pid_t c = fork();
  if (c == 0) {
    setresuid(65534, 65534, 65534);
    show("MS_MOVE without CAP_SYS_ADMIN", mount(at(0, "b/m"), at(1, "a"), NULL, MS_MOVE, NULL));
    show("pivot_root without CAP_SYS_ADMIN", pivot(at(0, "b/m"), at(1, "b/m")));
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

static void pivot_tests(void) {
  mkdir(at(0, "nr"), 0755);
  mkdir(at(0, "outside"), 0755);
  touch(at(0, "file"));
  show("pivot_root onto a file", pivot(at(0, "file"), at(1, "nr")));
  show("pivot_root with put_old a file", pivot(at(0, "nr"), at(1, "file")));
  show("pivot_root to no mount point", pivot(at(0, "nr"), at(1, "nr")));
  show("tmpfs on nr", tmpfs(at(0, "nr")));
  mkdir(at(0, "nr/old"), 0755);
  mkdir(at(0, "nr/proc"), 0755);
  touch(at(0, "nr/new-root-marker"));
  show("pivot_root to a missing directory", pivot(at(0, "nosuch"), at(1, "nr")));
  show("pivot_root with put_old outside new_root", pivot(at(0, "nr"), at(1, "outside")));
  show("pivot_root to the root's own mount", pivot("/", at(1, "nr/old")));
  show("make the base shared", mount(NULL, base, NULL, MS_SHARED, NULL));
  show("pivot_root under a shared parent", pivot(at(0, "nr"), at(1, "nr/old")));
  show("make the base private", mount(NULL, base, NULL, MS_PRIVATE, NULL));

  /* A process in the same namespace rooted at the old root: pivot_root moves it too. */
  int go[2], done[2];
  pipe(go);
  pipe(done);
  pid_t other = fork();
  if (other == 0) {
    char b;
    chdir("/");
    read(go[0], &b, 1);
    list("the other process's root after the pivot", "/");
    char cwd[256];
    printf("its cwd: %s\n", getcwd(cwd, sizeof cwd) != NULL ? cwd : strerrorname_np(errno));
    write(done[1], "x", 1);
    _exit(0);
  }

  pid_t c = fork();
  if (c == 0) {
    /* put_old under new_root: the old root shows there. */
    chdir("/");
    char old[300];
    snprintf(old, sizeof old, "/old%s/nr", base);
    show("pivot_root(nr, nr/old)", pivot(at(0, "nr"), at(1, "nr/old")));
    printf("new root's marker at /: %d; old root at /old: %d\n", exists("/new-root-marker"), exists(old));
    char cwd[256];
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd) != NULL ? cwd : strerrorname_np(errno));
    show("umount the old root", umount2("/old", MNT_DETACH));
    list("the root", "/");
    list("/old", "/old");
    _exit(0);
  }
  waitpid(c, NULL, 0);
  /* pivot_root above was in a child sharing the namespace: the tree changed for everyone.
   * "/" of this process moved too (chroot_fs_refs); the other process reports. */
  write(go[1], "x", 1);
  char b;
  read(done[0], &b, 1);
  waitpid(other, NULL, 0);
  list("this process's root", "/");
}

/* In a namespace of its own again: pivot_root(".", ".") and a lazy unmount of ".". */
static void dot_dot(void) {
  show("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
  mkdir("/bundle", 0755);
  show("tmpfs on /bundle", tmpfs("/bundle"));
  mkdir("/bundle/rootfs", 0755);
  mkdir("/bundle/rootfs/etc", 0755);
  touch("/bundle/rootfs/etc/hostname");
  show("bind rootfs on itself", mount("/bundle/rootfs", "/bundle/rootfs", NULL, MS_BIND | MS_REC, NULL));
  show("chdir rootfs", chdir("/bundle/rootfs"));
  show("pivot_root(\".\", \".\")", pivot(".", "."));
  char cwd[256];
  printf("cwd: %s\n", getcwd(cwd, sizeof cwd) != NULL ? cwd : strerrorname_np(errno));
  show("umount2(\".\", MNT_DETACH)", umount2(".", MNT_DETACH));
  show("chdir /", chdir("/"));
  list("the root", "/");
  show("mount proc", mount("proc", "/etc", "proc", 0, NULL));
  /* A container's /dev/pts: an instance of its own, whose first pty is 0. */
  mkdir("/pts", 0755);
  show("devpts with an unknown option", mount("devpts", "/pts", "devpts", 0, "nosuch=1"));
  show("devpts", mount("devpts", "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"));
  int ptmx = open("/pts/ptmx", O_RDWR | O_NOCTTY);
  unsigned n = 99;
  printf("its ptmx: %s, first pty %u\n", ptmx < 0 ? strerrorname_np(errno) : "open", ioctl(ptmx, TIOCGPTN, &n) == 0 ? n : 99);
  list("/pts", "/pts");
  FILE *f = fopen("/etc/self/mountinfo", "r");
  if (f == NULL) printf("mountinfo: %s\n", strerrorname_np(errno));
  char line[1024];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char mp[512], type[64];
    const char *dash = strstr(line, " - ");
    if (dash != NULL && sscanf(line, "%*d %*d %*s %*s %511s", mp) == 1 && sscanf(dash, " - %63s", type) == 1) {
      printf("mountinfo: %s %s\n", mp, type);
    }
  }
  if (f != NULL) fclose(f);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (mkdtemp(base) == NULL) return 1;
  /* The child changes its namespace's root; this process stays to remove the directory. */
  pid_t c = fork();
  if (c != 0) {
    int status;
    waitpid(c, &status, 0);
    rmdir(base);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  /* The test's own tmpfs (natively /tmp may be on the root's mount or not). */
  show("tmpfs on the base", tmpfs(base));
  move_tests();
  pivot_tests();
  dot_dot();
  return 0;
}
