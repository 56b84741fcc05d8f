/* mount(2), umount2(2) and chroot(2) as root in the sandbox, on the directory argv[1] (never run natively: it would
 * change the host's mounts). Prints one line per step. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRY(what, call) printf("%s: %s\n", what, (call) == 0 ? "ok" : strerror(errno))

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

int main(int argc, char **argv) {
  const char *mnt = argc > 1 ? argv[1] : "/mnt";
  char path[256];
  TRY("mount proc", mount("proc", mnt, "proc", MS_NOSUID | MS_NOEXEC, NULL));
  snprintf(path, sizeof path, "%s/self/status", mnt);
  printf("status visible: %d\n", exists(path));
  TRY("mount ext4", mount("/dev/sda", mnt, "ext4", 0, NULL));
  int fd = open(path, O_RDONLY);
  TRY("umount while a file is open", umount2(mnt, 0));
  close(fd);
  TRY("umount", umount2(mnt, 0));
  printf("status visible: %d\n", exists(path));
  TRY("umount again", umount2(mnt, 0));
  TRY("mount tmpfs", mount("none", mnt, "tmpfs", 0, "size=8k,mode=0700"));
  snprintf(path, sizeof path, "%s/file", mnt);
  int w = open(path, O_CREAT | O_WRONLY, 0600);
  printf("write 4096: %zd\n", write(w, path, 1) + write(w, (char[4095]){0}, 4095));
  printf("write up to the size: %zd\n", write(w, (char[8192]){0}, 8192));
  ssize_t n = write(w, "x", 1);
  printf("write past the size: %zd %s\n", n, strerror(errno));
  close(w);
  TRY("mount tmpfs bad option", mount("none", mnt, "tmpfs", 0, "colour=blue"));
  TRY("umount tmpfs", umount2(mnt, 0));
  printf("file visible: %d\n", exists(path));
  TRY("bind /etc", mount("/etc", mnt, NULL, MS_BIND, NULL));
  snprintf(path, sizeof path, "%s/passwd", mnt);
  printf("passwd visible: %d\n", exists(path));
  TRY("remount ro", mount(NULL, mnt, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
  TRY("chdir into it", chdir(mnt));
  TRY("umount busy cwd", umount2(mnt, 0));
  TRY("umount detach", umount2(mnt, MNT_DETACH));
  TRY("chdir /", chdir("/"));
  printf("passwd visible: %d\n", exists(path));
  /* A file is bound on a file only. */
  snprintf(path, sizeof path, "%s/bound-file", mnt);
  close(open(path, O_CREAT | O_WRONLY, 0644));
  TRY("bind file on dir", mount("/etc/passwd", mnt, NULL, MS_BIND, NULL));
  TRY("bind dir on file", mount("/etc", path, NULL, MS_BIND, NULL));
  TRY("bind file on file", mount("/etc/passwd", path, NULL, MS_BIND, NULL));
  char head[6] = {0};
  int b = open(path, O_RDONLY);
  printf("bound file reads: %zd %s\n", read(b, head, 5), head);
  close(b);
  TRY("unlink bound file", unlink(path));
  TRY("umount file", umount2(path, 0));
  struct stat bst;
  printf("after umount size: %lld\n", stat(path, &bst) == 0 ? (long long)bst.st_size : -1LL);
  unlink(path);
  TRY("umount bad flags", umount2(mnt, 0x100));
  TRY("umount /", umount2("/", 0));
  TRY("chroot /etc", chroot("/etc"));
  printf("passwd at /passwd: %d\n", exists("/passwd"));
  return 0;
}
