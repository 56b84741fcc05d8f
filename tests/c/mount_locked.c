/*
 * Mount namespaces made with a new user namespace (unshare(CLONE_NEWUSER|CLONE_NEWNS)): the
 * copied tree is locked. A copied submount cannot be unmounted alone (EINVAL), nor left out of a
 * non-recursive bind (EINVAL; MS_REC works); ro, nosuid, nodev and noexec cannot be cleared by a
 * remount (EPERM; keeping them works); a bind made inside can be unmounted; shared mounts come as
 * slaves; a tree the parent mounts under a shared mount propagates in with its top unlocked and
 * the rest locked, and a lazy unmount of it keeps what it covers hidden from a descriptor into it.
 * Natively it runs in a mount namespace of its own with / made private.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[] = "/tmp/mntlock-XXXXXX";

static const char *at(const char *rel) {
  static char bufs[8][512];
  static int i;
  char *b = bufs[i++ % 8];
  snprintf(b, 512, "%s/%s", base, rel);
  return b;
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

static void writefile(const char *path, const char *s) {
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, s, strlen(s)) < 0) printf("write %s: %s\n", path, strerrorname_np(errno));
  close(fd);
}

/* Whether the mountinfo line of the top mount at rel has `field`. */
static int has_field(const char *rel, const char *field) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[4096];
  int found = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    char mp[1024];
    if (sscanf(line, "%*d %*d %*s %*s %1023s", mp) != 1 || strcmp(mp, at(rel)) != 0) continue;
    char *dash = strstr(line, " - ");
    if (dash != NULL) *dash = 0;
    found = strstr(line, field) != NULL;
  }
  fclose(f);
  return found;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mkdtemp(base) == NULL) return 1;
  if (mount("top", base, "tmpfs", 0, NULL) != 0) return 1;
  mount(NULL, base, NULL, MS_PRIVATE, NULL);
  mkdir(at("a"), 0755);
  mount("a", at("a"), "tmpfs", 0, NULL);
  mkdir(at("a/sub"), 0755);
  mount("sub", at("a/sub"), "tmpfs", 0, NULL);
  mkdir(at("ro"), 0755);
  mount("ro", at("ro"), "tmpfs", 0, NULL);
  mount(NULL, at("ro"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mkdir(at("sh"), 0755);
  mount("sh", at("sh"), "tmpfs", 0, NULL);
  mount(NULL, at("sh"), NULL, MS_SHARED, NULL);
  mkdir(at("sh/in"), 0755);
  mkdir(at("sh/in2"), 0755);
  mkdir(at("b"), 0755);
  mkdir(at("src"), 0755);
  mount("src", at("src"), "tmpfs", 0, NULL);
  mkdir(at("src/g"), 0755);
  close(open(at("src/g/hidden"), O_CREAT | O_WRONLY, 0644));
  mount("g", at("src/g"), "tmpfs", 0, NULL);

  int sync[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sync) != 0) return 1;
  char c = 0;
  uid_t uid = geteuid();
  gid_t gid = getegid();
  pid_t pid = fork();
  if (pid == 0) {
    close(sync[0]);
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) _exit(2);
    char map[64];
    snprintf(map, sizeof map, "0 %d 1", uid);
    writefile("/proc/self/uid_map", map);
    writefile("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %d 1", gid);
    writefile("/proc/self/gid_map", map);
    if (setuid(0) != 0 || setgid(0) != 0) _exit(3);
    /* Ready: the parent mounts under the shared mount now. */
    if (write(sync[1], &c, 1) != 1 || read(sync[1], &c, 1) != 1) _exit(4);
    show("umount of a copied submount", umount2(at("a/sub"), MNT_DETACH));
    show("umount of a copied mount whose parent is the copied root's", umount2(at("a"), MNT_DETACH));
    show("bind of a mount with a locked submount", mount(at("a"), at("b"), NULL, MS_BIND, NULL));
    show("recursive bind of it", mount(at("a"), at("b"), NULL, MS_BIND | MS_REC, NULL));
    show("umount of the bind made here (with its submounts)", umount2(at("b"), MNT_DETACH));
    show("remount clearing ro", mount(NULL, at("ro"), NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    show("remount clearing noexec", mount(NULL, at("ro"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL));
    show("remount keeping them", mount(NULL, at("ro"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    show("create on it", open(at("ro/f"), O_CREAT | O_WRONLY, 0644));
    show("bind of the ro mount", mount(at("ro"), at("b"), NULL, MS_BIND, NULL));
    show("remount of the bind clearing nodev", mount(NULL, at("b"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL));
    show("umount of the bind", umount2(at("b"), MNT_DETACH));
    printf("shared mount came as a slave: shared %d master %d\n", has_field("sh", " shared:"), has_field("sh", " master:"));
    printf("the parent's tree propagated: %d %d\n", has_field("sh/in", " master:"), has_field("sh/in/g", " master:"));
    show("umount of the propagated tree's submount", umount2(at("sh/in/g"), MNT_DETACH));
    int dirfd = open(at("sh/in"), O_RDONLY | O_DIRECTORY);
    show("umount of the propagated tree", umount2(at("sh/in"), MNT_DETACH));
    show("what its locked submount covered, through a descriptor", openat(dirfd, "g/hidden", O_RDONLY));
    show("a mount here", mount("mine", at("sh/in2"), "tmpfs", 0, NULL));
    show("devtmpfs here", mount("d", at("b"), "devtmpfs", 0, NULL));
    _exit(0);
  }
  close(sync[1]);
  if (read(sync[0], &c, 1) != 1) return 1;
  show("parent: recursive bind under the shared mount", mount(at("src"), at("sh/in"), NULL, MS_BIND | MS_REC, NULL));
  if (write(sync[0], &c, 1) != 1) return 1;
  int status;
  waitpid(pid, &status, 0);
  printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  printf("parent: the child's mount did not come back: %d\n", !has_field("sh/in2", " - ") && access(at("sh/in2"), F_OK) == 0);
  show("parent: remount clearing ro (its own namespace)", mount(NULL, at("ro"), NULL, MS_REMOUNT | MS_BIND, NULL));
  show("parent: umount of a/sub", umount2(at("a/sub"), MNT_DETACH));
  return 0;
}
