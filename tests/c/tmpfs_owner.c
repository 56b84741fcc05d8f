/* A tmpfs mounted in a user namespace belongs to the mounter's fsuid and fsgid (its root, kernel
 * uid 1000 mapped to 0, sees it as its own: crun's rootless /dev), and uid=/gid= name ids of that namespace (EINVAL for an unmapped one), as
 * shmem_fill_super and shmem_parse_one. Prints what each step gave. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) printf("%s: %s\n", path, strerrorname_np(errno));
  if (fd >= 0) close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/tmpfs-owner-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  chmod(dir, 0777);
  /* The parent writes the child's maps (mapping another id than its own euid needs CAP_SETUID
   * over the parent namespace). */
  int ready[2], mapped[2];
  pipe(ready);
  pipe(mapped);
  pid_t c = fork();
  if (c == 0) {
    char b;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      printf("unshare: %s\n", strerrorname_np(errno));
      _exit(1);
    }
    write(ready[1], "x", 1);
    read(mapped[0], &b, 1);
    /* Become the namespace's root (kernel uid and gid 1000), as a rootless container runtime. */
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) printf("setresuid: %s\n", strerrorname_np(errno));
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    printf("tmpfs with uid=5 (unmapped): %s\n", mount("t", dir, "tmpfs", 0, "uid=5") == 0 ? "ok" : strerrorname_np(errno));
    printf("tmpfs: %s\n", mount("t", dir, "tmpfs", 0, "mode=0755") == 0 ? "ok" : strerrorname_np(errno));
    struct stat st;
    stat(dir, &st);
    printf("its root: uid %u gid %u mode %o\n", st.st_uid, st.st_gid, st.st_mode & 07777);
    char sub[64];
    snprintf(sub, sizeof sub, "%s/d", dir);
    printf("mkdir in it: %s\n", mkdir(sub, 0755) == 0 ? "ok" : strerrorname_np(errno));
    umount2(dir, MNT_DETACH);
    printf("tmpfs with uid=0: %s\n", mount("t", dir, "tmpfs", 0, "uid=0,gid=0") == 0 ? "ok" : strerrorname_np(errno));
    stat(dir, &st);
    printf("its root: uid %u gid %u\n", st.st_uid, st.st_gid);
    umount2(dir, MNT_DETACH);
    _exit(0);
  }
  char b, path[64];
  read(ready[0], &b, 1);
  snprintf(path, sizeof path, "/proc/%d/uid_map", c);
  put(path, "0 1000 1");
  snprintf(path, sizeof path, "/proc/%d/setgroups", c);
  put(path, "deny");
  snprintf(path, sizeof path, "/proc/%d/gid_map", c);
  put(path, "0 1000 1");
  write(mapped[1], "x", 1);
  int status;
  waitpid(c, &status, 0);
  rmdir(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
