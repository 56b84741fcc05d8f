/*
 * POSIX ACLs on tmpfs (/dev/shm), through system.posix_acl_access and _default: a set ACL
 * reads back as given, sets the mode (group bits from the mask) and is not kept when the mode
 * says it all; validation (version, size, order, a mask with named entries, rwx only); a
 * default ACL only on directories; only the owner sets one; symlinks have none; chmod rewrites
 * the ACL; new files inherit the directory's default ACL instead of the umask (directories keep
 * it as their own default); a named user or group entry grants or denies what the mode bits
 * alone would not, capped by the mask; setting or removing an ACL clears set-group-ID for a
 * caller outside the group without CAP_FSETID. Also: a write removes security.capability, and
 * setxattr checks its flags first. Prints what each step returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ACCESS "system.posix_acl_access"
#define DEFAULT "system.posix_acl_default"
#define UO 0x01
#define U 0x02
#define GO 0x04
#define G 0x08
#define M 0x10
#define O 0x20
#define UNDEF 0xffffffffu
#define NOBODY 65534

struct ent {
  uint16_t tag, perm;
  uint32_t id;
};

static size_t build(unsigned char *buf, const struct ent *e, int n) {
  uint32_t version = 2;
  memcpy(buf, &version, 4);
  memcpy(buf + 4, e, sizeof(*e) * n);
  return 4 + sizeof(*e) * n;
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

static void dump(const char *what, const char *path, const char *name) {
  unsigned char buf[512];
  ssize_t n = getxattr(path, name, buf, sizeof buf);
  if (n < 0) {
    printf("%s: %s\n", what, strerrorname_np(errno));
    return;
  }
  printf("%s:", what);
  for (ssize_t i = 4; i + 8 <= n; i += 8) {
    struct ent e;
    memcpy(&e, buf + i, 8);
    printf(" %x/%o/%d", e.tag, e.perm, e.id == UNDEF ? -1 : (int)e.id);
  }
  printf("\n");
}

static void mode(const char *what, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %o\n", what, st.st_mode & 07777);
}

/* Runs fn in a child that became uid (and gid) NOBODY with no supplementary groups. */
static void as_nobody(const char *what, int (*fn)(const char *), const char *path, int setgid_too) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid_too && (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setgid, NOBODY) != 0)) _exit(100);
    if (syscall(SYS_setuid, NOBODY) != 0) _exit(101);
    int r = fn(path);
    _exit(r < 0 ? errno : 0);
  }
  int status;
  waitpid(pid, &status, 0);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  printf("%s: %s\n", what, code == 0 ? "ok" : strerrorname_np(code));
}

static int open_read(const char *p) {
  int fd = open(p, O_RDONLY);
  if (fd >= 0) close(fd);
  return fd;
}

static int open_write(const char *p) {
  int fd = open(p, O_WRONLY);
  if (fd >= 0) close(fd);
  return fd;
}

static unsigned char acl_buf[512];
static size_t acl_len;

static int set_acl(const char *p) {
  return setxattr(p, ACCESS, acl_buf, acl_len, 0);
}

static int write_some(const char *p) {
  int fd = open(p, O_WRONLY);
  if (fd < 0) return -1;
  int r = write(fd, "overwritten", 11);
  close(fd);
  return r < 0 ? -1 : 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/dev/shm/acl-XXXXXX";
  if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0) return 1;
  char file[64], sub[64], child[96], childdir[96], link[64];
  snprintf(file, sizeof file, "%s/file", dir);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  snprintf(child, sizeof child, "%s/sub/child", dir);
  snprintf(childdir, sizeof childdir, "%s/sub/childdir", dir);
  snprintf(link, sizeof link, "%s/link", dir);
  close(open(file, O_CREAT | O_RDWR, 0644));
  chmod(file, 0644);
  mkdir(sub, 0755);
  unsigned char buf[512];
  size_t n;

  show("getxattr without an ACL", getxattr(file, ACCESS, NULL, 0));
  struct ent full[] = {{UO, 6, UNDEF}, {U, 4, 0}, {GO, 4, UNDEF}, {G, 6, 0}, {M, 7, UNDEF}, {O, 4, UNDEF}};
  n = build(buf, full, 6);
  show("set an extended ACL", setxattr(file, ACCESS, buf, n, 0));
  dump("it reads back", file, ACCESS);
  show("its size", getxattr(file, ACCESS, NULL, 0));
  mode("mode from it", file);
  char list[512];
  ssize_t ln = listxattr(file, list, sizeof list);
  printf("listxattr:");
  for (ssize_t i = 0; i < ln; i += strlen(list + i) + 1) printf(" %s", list + i);
  printf("\n");
  show("chmod 0460", chmod(file, 0460));
  dump("chmod rewrote it", file, ACCESS);
  mode("mode", file);
  show("removexattr", removexattr(file, ACCESS));
  show("getxattr after remove", getxattr(file, ACCESS, NULL, 0));
  show("removexattr when there is none", removexattr(file, ACCESS));
  struct ent minimal[] = {{UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 4, UNDEF}};
  n = build(buf, minimal, 3);
  show("set a minimal ACL", setxattr(file, ACCESS, buf, n, 0));
  mode("it became the mode", file);
  show("and is not kept", getxattr(file, ACCESS, NULL, 0));

  /* Validation. */
  show("one byte", setxattr(file, ACCESS, buf, 1, 0));
  uint32_t v = 50000;
  memcpy(buf, &v, 4);
  show("wrong version", setxattr(file, ACCESS, buf, n, 0));
  n = build(buf, full, 6);
  show("not whole entries", setxattr(file, ACCESS, buf, n - 1, 0));
  struct ent badperm[] = {{UO, 6, UNDEF}, {U, 10, 0}, {GO, 4, UNDEF}, {M, 4, UNDEF}, {O, 4, UNDEF}};
  n = build(buf, badperm, 5);
  show("perm 10", setxattr(file, ACCESS, buf, n, 0));
  struct ent twice[] = {{UO, 6, UNDEF}, {UO, 6, UNDEF}, {GO, 4, UNDEF}, {O, 4, UNDEF}};
  n = build(buf, twice, 4);
  show("two USER_OBJ", setxattr(file, ACCESS, buf, n, 0));
  struct ent nomask[] = {{UO, 6, UNDEF}, {U, 4, 0}, {GO, 4, UNDEF}, {O, 4, UNDEF}};
  n = build(buf, nomask, 4);
  show("named user without a mask", setxattr(file, ACCESS, buf, n, 0));
  struct ent order[] = {{UO, 6, UNDEF}, {GO, 4, UNDEF}, {U, 4, 0}, {M, 4, UNDEF}, {O, 4, UNDEF}};
  n = build(buf, order, 5);
  show("named user after GROUP_OBJ", setxattr(file, ACCESS, buf, n, 0));
  struct ent dup[] = {{UO, 6, UNDEF}, {U, 4, 0}, {U, 6, 0}, {GO, 4, UNDEF}, {M, 4, UNDEF}, {O, 4, UNDEF}};
  n = build(buf, dup, 6);
  show("the same user twice", setxattr(file, ACCESS, buf, n, 0));
  n = build(buf, full, 0);
  show("a header alone clears it", setxattr(file, ACCESS, buf, n, 0));
  show("getxattr", getxattr(file, ACCESS, NULL, 0));
  n = build(buf, full, 6);
  show("default ACL on a file", setxattr(file, DEFAULT, buf, n, 0));
  show("removing a default ACL of a file", removexattr(file, DEFAULT));
  show("invalid setxattr flags", setxattr(file, NULL, NULL, 0, 0xff));

  /* Symlinks. */
  symlink(file, link);
  show("setxattr through a symlink", setxattr(link, ACCESS, buf, n, 0));
  show("lsetxattr on the symlink", lsetxattr(link, ACCESS, buf, n, 0));
  show("lgetxattr of the symlink", lgetxattr(link, ACCESS, NULL, 0));
  show("lremovexattr of the symlink", lremovexattr(link, ACCESS));
  show("removexattr through the symlink", removexattr(link, ACCESS));

  /* Default ACLs: a new file gets an access ACL; the umask does not apply. */
  struct ent dflt[] = {{UO, 7, UNDEF}, {U, 5, 0}, {GO, 5, UNDEF}, {M, 7, UNDEF}, {O, 5, UNDEF}};
  n = build(buf, dflt, 5);
  show("default ACL on a directory", setxattr(sub, DEFAULT, buf, n, 0));
  dump("it reads back", sub, DEFAULT);
  umask(077);
  close(open(child, O_CREAT | O_RDWR, 0666));
  mode("a new file's mode", child);
  dump("its access ACL", child, ACCESS);
  show("it has no default ACL", getxattr(child, DEFAULT, NULL, 0));
  show("mkdir", mkdir(childdir, 0777));
  mode("a new directory's mode", childdir);
  dump("its access ACL", childdir, ACCESS);
  dump("its default ACL", childdir, DEFAULT);
  umask(022);

  /* Enforcement. */
  chmod(file, 0600);
  as_nobody("nobody reads a 0600 file", open_read, file, 0);
  struct ent nobody_r[] = {{UO, 6, UNDEF}, {U, 7, NOBODY}, {GO, 0, UNDEF}, {M, 4, UNDEF}, {O, 0, UNDEF}};
  n = build(buf, nobody_r, 5);
  show("grant nobody rwx under a mask of r", setxattr(file, ACCESS, buf, n, 0));
  as_nobody("nobody reads", open_read, file, 0);
  as_nobody("nobody writes", open_write, file, 0);
  struct ent group_rw[] = {{UO, 6, UNDEF}, {GO, 0, UNDEF}, {G, 6, NOBODY}, {M, 4, UNDEF}, {O, 0, UNDEF}};
  n = build(buf, group_rw, 5);
  show("grant group nobody rw under a mask of r", setxattr(file, ACCESS, buf, n, 0));
  as_nobody("group nobody reads", open_read, file, 1);
  as_nobody("group nobody writes", open_write, file, 1);
  chmod(file, 0666);
  acl_len = build(acl_buf, nobody_r, 5);
  as_nobody("nobody sets an ACL on a file it may write", set_acl, file, 0);

  /* Set-group-ID. */
  show("chown to nobody", chown(file, NOBODY, NOBODY));
  show("chmod g+s", chmod(file, 02750));
  n = build(buf, full, 6);
  show("root sets an ACL", setxattr(file, ACCESS, buf, n, 0));
  mode("set-group-ID kept (CAP_FSETID)", file);

  /* security.capability goes with a write. */
  struct {
    uint32_t magic_etc;
    uint32_t data[4];
  } caps = {VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, {1 << CAP_SETUID, 0, 0, 0}};
  chmod(child, 0666);
  show("set security.capability", setxattr(child, "security.capability", &caps, sizeof caps, 0));
  as_nobody("nobody writes the file", write_some, child, 1);
  show("security.capability after the write", getxattr(child, "security.capability", NULL, 0));

  unlink(link);
  unlink(child);
  rmdir(childdir);
  rmdir(sub);
  unlink(file);
  rmdir(dir);
  return 0;
}
