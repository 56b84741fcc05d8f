/*
 * Checkpoint and restore of POSIX ACLs: the program gives /dev/shm/cka/f an access ACL (a
 * named user under a mask narrower than the owning group's entry) and /dev/shm/cka a default
 * ACL, prints them, waits on stdin for the checkpoint (tests/c/_ckpt.h), and prints them again, with the
 * mode and with what a file created after the restore inherits. A restored run prints what an
 * uninterrupted one prints.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "_ckpt.h"

struct ent {
  uint16_t tag, perm;
  uint32_t id;
};

static void dump(const char *path, const char *name) {
  unsigned char buf[256];
  struct stat st;
  ssize_t n = getxattr(path, name, buf, sizeof buf);
  stat(path, &st);
  printf("%s %s mode %o:", path, name + 17, st.st_mode & 07777);
  if (n < 0) printf(" none");
  for (ssize_t i = 4; i + 8 <= n; i += 8) {
    struct ent e;
    memcpy(&e, buf + i, 8);
    printf(" %x/%o/%d", e.tag, e.perm, e.id == 0xffffffffu ? -1 : (int)e.id);
  }
  printf("\n");
}

static int set(const char *path, const char *name, const struct ent *e, int n) {
  unsigned char buf[256];
  uint32_t version = 2;
  memcpy(buf, &version, 4);
  memcpy(buf + 4, e, sizeof(*e) * n);
  return setxattr(path, name, buf, 4 + sizeof(*e) * n, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/dev/shm/cka", 0755);
  close(open("/dev/shm/cka/f", O_CREAT | O_RDWR, 0644));
  struct ent access[] = {{1, 6, -1}, {2, 4, 12}, {4, 6, -1}, {0x10, 4, -1}, {0x20, 0, -1}};
  struct ent dflt[] = {{1, 7, -1}, {2, 5, 34}, {4, 5, -1}, {0x10, 5, -1}, {0x20, 0, -1}};
  if (set("/dev/shm/cka/f", "system.posix_acl_access", access, 5) != 0) perror("access ACL");
  if (set("/dev/shm/cka", "system.posix_acl_default", dflt, 5) != 0) perror("default ACL");
  dump("/dev/shm/cka/f", "system.posix_acl_access");
  dump("/dev/shm/cka", "system.posix_acl_default");
  printf("sleeping\n");
  await_checkpoint();
  dump("/dev/shm/cka/f", "system.posix_acl_access");
  dump("/dev/shm/cka", "system.posix_acl_default");
  close(open("/dev/shm/cka/g", O_CREAT | O_RDWR, 0666));
  dump("/dev/shm/cka/g", "system.posix_acl_access");
  return 0;
}
