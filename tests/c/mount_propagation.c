/*
 * Shared subtrees and mount namespaces: a mount under a shared mount appears under its peers
 * (in the same peer group) and its slaves (as slaves of it), an unmount likewise, never from a
 * slave back to its master; MS_SLAVE, MS_SHARED on a slave, MS_PRIVATE of a master (its slaves
 * go to the master's master), MS_UNBINDABLE (bind EINVAL, "unbindable" shown), MS_REC for
 * binds and for propagation changes; a propagated mount goes under one already there;
 * unshare(CLONE_NEWNS) copies the tree (private mounts stay apart, shared ones propagate between
 * the namespaces), setns goes back, /proc/self/ns/mnt names each; poll of /proc/self/mountinfo
 * reports a change once. Group ids differ between kernels, so relations are printed, not ids.
 * Natively it runs in a mount namespace of its own with / made private.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[] = "/tmp/mntprop-XXXXXX";

static const char *at(const char *rel) {
  static char bufs[8][512];
  static int i;
  char *b = bufs[i++ % 8];
  snprintf(b, 512, "%s/%s", base, rel);
  return b;
}

static void show(const char *what, int r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

struct opt {
  int shared, master, unbindable;
};

/* The optional fields of the mounts at path, bottom first; returns how many. */
static int optionals(const char *path, struct opt *out, int max) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (f == NULL) return -1;
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    char mp[1024];
    if (sscanf(line, "%*d %*d %*s %*s %1023s", mp) != 1 || strcmp(mp, path) != 0) continue;
    struct opt o = {0, 0, 0};
    char *p = strstr(line, " - ");
    if (p != NULL) *p = 0;
    char *s;
    if ((s = strstr(line, " shared:")) != NULL) o.shared = atoi(s + 8);
    if ((s = strstr(line, " master:")) != NULL) o.master = atoi(s + 8);
    if (strstr(line, " unbindable") != NULL) o.unbindable = 1;
    if (n < max) out[n] = o;
    n++;
  }
  fclose(f);
  return n;
}

static struct opt top(const char *rel) {
  struct opt o[64] = {0};
  int n = optionals(at(rel), o, 64);
  struct opt none = {-1, -1, -1};
  return n <= 0 ? none : o[n > 64 ? 63 : n - 1];
}

static int count(const char *rel) {
  struct opt o[4];
  return optionals(at(rel), o, 4);
}

static int mounts_total(void) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f) != NULL) n++;
  fclose(f);
  return n;
}

static void describe(const char *rel) {
  struct opt o = top(rel);
  printf("  %s: mounts %d shared %s master %s%s\n", rel, count(rel), o.shared > 0 ? "yes" : "no",
         o.master > 0 ? "yes" : "no", o.unbindable > 0 ? " unbindable" : "");
}

static void same_group(const char *a, const char *b) {
  struct opt x = top(a), y = top(b);
  printf("  %s and %s peers: %s\n", a, b, x.shared > 0 && x.shared == y.shared ? "yes" : "no");
}

static void master_is(const char *slave, const char *master) {
  struct opt x = top(slave), y = top(master);
  printf("  master of %s is %s's group: %s\n", slave, master, x.master > 0 && x.master == y.shared ? "yes" : "no");
}

static void tmpfs(const char *rel) {
  mkdir(at(rel), 0755);
  if (mount("t", at(rel), "tmpfs", 0, NULL) != 0) printf("tmpfs %s: %s\n", rel, strerrorname_np(errno));
}

static void bind(const char *from, const char *to, unsigned long flags) {
  mkdir(at(to), 0755);
  if (mount(at(from), at(to), NULL, MS_BIND | flags, NULL) != 0) printf("bind %s %s: %s\n", from, to, strerrorname_np(errno));
}

static void prop(const char *rel, unsigned long flags) {
  if (mount(NULL, at(rel), NULL, flags, NULL) != 0) printf("propagation %s: %s\n", rel, strerrorname_np(errno));
}

static void detach(const char *rel) {
  if (umount2(at(rel), MNT_DETACH) != 0) printf("umount %s: %s\n", rel, strerrorname_np(errno));
}

static int exists(const char *rel) {
  struct stat st;
  return stat(at(rel), &st) == 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mkdtemp(base) == NULL) return 1;
  if (mount("top", base, "tmpfs", 0, NULL) != 0) return 1;
  prop("", MS_PRIVATE);

  puts("peers:");
  tmpfs("a");
  mkdir(at("a/c"), 0755);
  prop("a", MS_SHARED);
  bind("a", "b", 0);
  same_group("a", "b");
  tmpfs("a/c");
  describe("b/c");
  same_group("a/c", "b/c");
  int fd = open(at("a/c/f"), O_CREAT | O_WRONLY, 0644);
  close(fd);
  printf("  file through the peer: %d\n", exists("b/c/f"));
  detach("a/c");
  describe("b/c");

  puts("slaves:");
  bind("a", "s", 0);
  prop("s", MS_SLAVE);
  describe("s");
  master_is("s", "a");
  mkdir(at("a/d"), 0755);
  tmpfs("a/d");
  describe("s/d");
  master_is("s/d", "a/d");
  mkdir(at("s/e"), 0755);
  tmpfs("s/e");
  printf("  slave's mount at the master: %d\n", count("a/e"));
  detach("a/d");
  printf("  unmount reached the slave: %d\n", count("s/d") == 0);
  prop("s", MS_SHARED);
  describe("s");
  bind("s", "s2", 0);
  same_group("s", "s2");
  master_is("s2", "a");
  bind("s", "s3", 0);
  prop("s3", MS_SLAVE);
  master_is("s3", "s");
  prop("s", MS_PRIVATE);
  prop("s2", MS_PRIVATE);
  describe("s");
  master_is("s3", "a");

  puts("unbindable:");
  tmpfs("u");
  prop("u", MS_UNBINDABLE);
  describe("u");
  mkdir(at("u2"), 0755);
  show("bind of an unbindable mount", mount(at("u"), at("u2"), NULL, MS_BIND, NULL));
  show("two types at once", mount(NULL, at("u"), NULL, MS_SHARED | MS_SLAVE, NULL));
  prop("u", MS_PRIVATE);
  describe("u");

  puts("recursive:");
  tmpfs("r");
  tmpfs("r/x");
  tmpfs("r/x/y");
  tmpfs("r/z");
  prop("r/z", MS_UNBINDABLE);
  bind("r", "rb", MS_REC);
  printf("  copied: x %d y %d z %d\n", count("rb/x"), count("rb/x/y"), count("rb/z"));
  prop("r", MS_SHARED | MS_REC);
  describe("r");
  describe("r/x");
  describe("r/x/y");
  describe("rb/x");
  bind("r", "rc", MS_REC);
  same_group("r/x/y", "rc/x/y");
  prop("rc", MS_SLAVE | MS_REC);
  master_is("rc/x", "r/x");
  detach("rb");
  detach("rc");

  puts("stacking:");
  tmpfs("k");
  mkdir(at("k/m"), 0755);
  prop("k", MS_SHARED);
  bind("k", "k2", 0);
  prop("k2", MS_SLAVE);
  mount("under", at("k2/m"), "tmpfs", 0, NULL);
  fd = open(at("k2/m/under"), O_CREAT | O_WRONLY, 0644);
  close(fd);
  int before = mounts_total();
  tmpfs("k/m");
  printf("  new mounts: %d, at the slave's place: %d\n", mounts_total() - before, count("k2/m"));
  fd = open(at("k/m/new"), O_CREAT | O_WRONLY, 0644);
  close(fd);
  printf("  the slave still shows its own mount on top: %d %d\n", exists("k2/m/under"), !exists("k2/m/new"));
  detach("k2/m");
  printf("  after unmounting the top: %d %d\n", exists("k2/m/under"), exists("k2/m/new"));

  puts("namespaces:");
  tmpfs("n");
  prop("n", MS_PRIVATE);
  tmpfs("sh");
  prop("sh", MS_SHARED);
  mkdir(at("sh/in"), 0755);
  mkdir(at("sh/out"), 0755);
  char ns0[64] = "", ns1[64] = "";
  readlink("/proc/self/ns/mnt", ns0, sizeof ns0 - 1);
  int nsfd = open("/proc/self/ns/mnt", O_RDONLY);
  int pfd[2], up[2], down[2];
  if (pipe(pfd) != 0 || pipe(up) != 0 || pipe(down) != 0) return 1;
  char c = 0;
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    int r = unshare(CLONE_NEWNS);
    readlink("/proc/self/ns/mnt", ns1, sizeof ns1 - 1);
    /* The parent mounts in its namespace now. */
    if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1) _exit(3);
    char line[512];
    int seen = count("n");
    int um = umount2(at("n"), MNT_DETACH);
    int n = snprintf(line, sizeof line, "  child: unshare %d, a new namespace: %d, private mount seen %d, unmounted %d\n", r,
                     strcmp(ns0, ns1) != 0, seen, um);
    int mr = mount("child", at("sh/in"), "tmpfs", 0, NULL);
    n += snprintf(line + n, sizeof line - n, "  child: mount in the shared mount %d\n", mr);
    n += snprintf(line + n, sizeof line - n, "  child: parent's mount seen %d\n", count("sh/out"));
    int sr = setns(nsfd, CLONE_NEWNS);
    n += snprintf(line + n, sizeof line - n, "  child: setns back %d, private mount seen again %d\n", sr, count("n"));
    if (write(pfd[1], line, n) != n) _exit(2);
    _exit(0);
  }
  close(pfd[1]);
  if (read(up[0], &c, 1) != 1) return 1;
  tmpfs("sh/out");
  if (write(down[1], &c, 1) != 1) return 1;
  char buf[1024];
  int n = read(pfd[0], buf, sizeof buf - 1);
  int status;
  waitpid(pid, &status, 0);
  if (n > 0) fwrite(buf, 1, n, stdout);
  printf("  parent: private mount still here %d, child's mount propagated %d\n", count("n"), count("sh/in"));

  puts("poll:");
  int mi = open("/proc/self/mountinfo", O_RDONLY);
  struct pollfd p = {mi, POLLPRI, 0};
  printf("  before: %d\n", poll(&p, 1, 0));
  tmpfs("pl");
  p.revents = 0;
  int r = poll(&p, 1, 0);
  printf("  after a mount: %d pri %d err %d\n", r, (p.revents & POLLPRI) != 0, (p.revents & POLLERR) != 0);
  p.revents = 0;
  printf("  again: %d\n", poll(&p, 1, 0));
  return 0;
}
