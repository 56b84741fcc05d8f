/*
 * Deep mount trees work as on Linux (nothing in the sentry recurses over them): a chain of
 * 15000 mounts each a shared slave of the one before gets a mount at its top propagated to the
 * bottom and unmounted again; 15000 nested mounts are copied by unshare(CLONE_NEWNS) and lazily
 * unmounted. Natively it runs in a mount namespace of its own
 * with / made private.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define N 15000

static int lines(void) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f) != NULL) n++;
  fclose(f);
  return n;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  char base[] = "/tmp/mntdeep-XXXXXX";
  if (mkdtemp(base) == NULL || mount("top", base, "tmpfs", 0, NULL) != 0) return 1;
  mount(NULL, base, NULL, MS_PRIVATE, NULL);
  if (chdir(base) != 0) return 1;

  /* The chain: 0 shared, i a bind of i-1 made a slave, then shared. */
  mkdir("0", 0755);
  mount("c", "0", "tmpfs", 0, NULL);
  mount(NULL, "0", NULL, MS_SHARED, NULL);
  mkdir("0/x", 0755);
  int failed = 0;
  char prev[16] = "0", cur[16];
  for (int i = 1; i < N; i++) {
    snprintf(cur, sizeof cur, "%d", i);
    mkdir(cur, 0755);
    failed |= mount(prev, cur, NULL, MS_BIND, NULL) | mount(NULL, cur, NULL, MS_SLAVE, NULL) | mount(NULL, cur, NULL, MS_SHARED, NULL);
    strcpy(prev, cur);
  }
  printf("chain of %d made: %d\n", N, !failed);
  int before = lines();
  printf("mount at its top: %d\n", mount("m", "0/x", "tmpfs", 0, NULL));
  int fd = open("0/x/f", O_CREAT | O_WRONLY, 0644);
  close(fd);
  char bottom[32];
  snprintf(bottom, sizeof bottom, "%d/x/f", N - 1);
  printf("propagated to every link: %d, seen at the bottom: %d\n", lines() - before == N, access(bottom, F_OK) == 0);
  printf("unmount at its top: %d\n", umount2("0/x", MNT_DETACH));
  printf("gone everywhere: %d\n", lines() == before && access(bottom, F_OK) != 0);

  /* Nesting. */
  mkdir("n", 0755);
  if (chdir("n") != 0) return 1;
  for (int i = 0; i < N && !failed; i++) {
    mkdir("x", 0755);
    failed |= mount("n", "x", "tmpfs", 0, NULL) | chdir("x");
  }
  printf("nested %d: %d\n", N, !failed);
  printf("unshare: %d\n", unshare(CLONE_NEWNS));
  /* The cwd, in the innermost mount, moved into the copy. */
  fd = open(".", O_RDONLY | O_DIRECTORY);
  printf("the copy holds the cwd: %d\n", fd >= 0);
  close(fd);
  if (chdir(base) != 0) return 1;
  printf("lazy unmount of the nest: %d\n", umount2("n/x", MNT_DETACH));
  printf("lazy unmount of everything: %d\n", umount2(base, MNT_DETACH));
  return 0;
}
