/*
 * Mounts stacked on a chroot's root, as LTP listmount02 does: in a mount namespace of our own,
 * chrooted into a shared tmpfs, each bind of "/" onto "/" goes on the topmost mount there
 * (lock_mount; the walk of "/" does not cross them) and propagates to every peer, a copy
 * tucked under what each already has, so the count doubles. An unmount of "/" takes the top
 * (LOOKUP_MOUNTPOINT) and, by propagation, every copy tucked under a peer's top, the tops
 * moving down (find_topper). Unmounting the caller's root itself remounts it read-only
 * (do_umount_root) and succeeds. Prints the counts listmount(2) gives and what each call did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct req { uint32_t size, fd; uint64_t mnt_id, param, ns; };

static long listed(void) {
  static uint64_t ids[1024];
  struct req r = {32, 0, 0xffffffffffffffffULL /* LSMT_ROOT */, 0, 0};
  return syscall(458 /* listmount */, &r, ids, 1024, 0);
}

static const char *res(int r) { return r == 0 ? "0" : strerrorname_np(errno); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char base[] = "/tmp/mstack-XXXXXX";
  if (mkdtemp(base) == NULL) return 1;
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mount("tmpfs", base, "tmpfs", 0, NULL) != 0 || chroot(base) != 0 || chdir("/") != 0) {
    perror("chroot into a tmpfs");
    return 1;
  }
  printf("listmount %ld\n", listed());
  const char *r = res(mount("", "/", NULL, MS_REC | MS_SHARED, NULL));
  printf("make / shared: %s, listmount %ld\n", r, listed());
  for (int i = 0; i < 5; i++) {
    r = res(mount("/", "/", NULL, MS_BIND, NULL));
    printf("bind / on /: %s, listmount %ld\n", r, listed());
  }
  for (int i = 0; i < 6; i++) {
    r = res(umount("/"));
    printf("umount /: %s, listmount %ld\n", r, listed());
  }
  int fd = open("/new", O_CREAT | O_WRONLY, 0644);
  printf("create in the root after that: %s\n", fd >= 0 ? "0" : strerrorname_np(errno));
  return 0;
}
