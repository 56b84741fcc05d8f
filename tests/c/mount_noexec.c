/*
 * A file on a noexec tmpfs never maps executable: mmap with PROT_EXEC is EPERM, mprotect to
 * PROT_EXEC of a mapping of it is EACCES (Linux clears VM_MAYEXEC), and once the mapping and
 * the descriptor are gone the mount is not busy. umount2(".", MNT_DETACH) in a directory mounted
 * over twice after it became the cwd unmounts the topmost mount each time, and then "." is the
 * directory again. Natively it runs in a mount namespace of its own with / made private, so
 * nothing reaches the host's mounts. Prints what each step returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* Natively a must (the host's mounts stay untouched); a sandbox is one namespace already. */
  if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  char dir[] = "/tmp/noexec-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  show("mount noexec tmpfs", mount("none", dir, "tmpfs", MS_NOEXEC, ""));
  char path[64];
  snprintf(path, sizeof path, "%s/f", dir);
  int fd = open(path, O_RDWR | O_CREAT, 0777);
  if (fd < 0 || ftruncate(fd, 4096) != 0) return 1;
  void *p = mmap(NULL, 4096, PROT_EXEC, MAP_PRIVATE, fd, 0);
  show("mmap PROT_EXEC", p == MAP_FAILED ? -1 : 0);
  p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  show("mmap shared PROT_READ|PROT_EXEC", p == MAP_FAILED ? -1 : 0);
  p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  show("mmap PROT_READ", p == MAP_FAILED ? -1 : 0);
  show("mprotect to PROT_READ|PROT_EXEC", mprotect(p, 4096, PROT_READ | PROT_EXEC));
  show("mprotect to PROT_READ|PROT_WRITE", mprotect(p, 4096, PROT_READ | PROT_WRITE));
  show("umount while mapped", umount2(dir, 0));
  munmap(p, 4096);
  show("umount while open", umount2(dir, 0));
  close(fd);
  show("umount", umount2(dir, 0));

  struct stat before, after;
  if (chdir(dir) != 0 || stat(".", &before) != 0) return 1;
  show("first mount over the cwd", mount("none", dir, "tmpfs", 0, "mode=0700"));
  show("second mount over the cwd", mount("none", dir, "tmpfs", 0, "mode=0700"));
  show("umount2 . MNT_DETACH", umount2(".", MNT_DETACH));
  show("umount2 . MNT_DETACH again", umount2(".", MNT_DETACH));
  show("umount2 . MNT_DETACH a third time", umount2(".", MNT_DETACH));
  if (stat(".", &after) != 0) return 1;
  printf(". is the directory again: %s\n", before.st_dev == after.st_dev && before.st_ino == after.st_ino ? "yes" : "no");
  if (chdir("/") != 0) return 1;
  rmdir(dir);
  return 0;
}
