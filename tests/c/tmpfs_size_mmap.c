/*
 * A mapping's first touch of a page of a file on a tmpfs mounted with size= allocates the page
 * (Linux's shmem_fault), and is SIGBUS (BUS_ADRERR) once the mount is full (gVisor's
 * MountTest.TmpfsSizeMmap): shared and private mappings, reads and writes, a forked child
 * touching pages the parent charged, a read(2) into an untouched page (charged, or EFAULT once
 * the mount is full), mprotect keeping untouched pages untouched, statfs counting what the
 * touches allocated. Natively it runs in a mount namespace of its own with / made private.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static char dir[] = "/tmp/tmpfs-mmap-XXXXXX";
static sigjmp_buf jb;
static volatile int sig, code;

static void on_sig(int s, siginfo_t *si, void *uc) {
  (void)uc;
  sig = s;
  code = si->si_code;
  siglongjmp(jb, 1);
}

static long bfree(void) {
  struct statfs st;
  return statfs(dir, &st) == 0 ? (long)st.f_bfree : -1;
}

static void touch(const char *what, volatile char *p, int write) {
  sig = 0;
  if (sigsetjmp(jb, 1) == 0) {
    if (write) *p = 'w';
    else (void)*p;
    printf("%s: ok, free %ld\n", what, bfree());
  } else {
    printf("%s: signal %d code %d, free %ld\n", what, sig, code, bfree());
  }
}

static int create(const char *name, long size) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDWR | O_CREAT, 0666);
  ftruncate(fd, size);
  return fd;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mkdtemp(dir) == NULL) return 1;
  if (mount("none", dir, "tmpfs", 0, "size=16384") != 0) {
    perror("mount");
    return 1;
  }
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO};
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  printf("free at start: %ld\n", bfree());

  int fd = create("shared", 8 * PAGE);
  char *p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  printf("mapped 8 pages of a 4-page tmpfs, free %ld\n", bfree());
  touch("write page 0", p, 1);
  touch("read page 1", p + PAGE + 5, 0);
  touch("write page 0 again", p + 3, 1);
  pid_t pid = fork();
  if (pid == 0) {
    touch("child: read page 0", p + 1, 0);
    touch("child: write page 2", p + 2 * PAGE, 1);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  touch("parent: read page 2", p + 2 * PAGE, 0);
  int fds[2];
  pipe(fds);
  write(fds[1], "abc", 3);
  errno = 0;
  long r = read(fds[0], p + 3 * PAGE, 3);
  printf("read(2) into page 3: %ld %s, free %ld\n", r, r < 0 ? strerror(errno) : "", bfree());
  touch("write page 4 (full)", p + 4 * PAGE, 1);
  write(fds[1], "def", 3);
  errno = 0;
  r = read(fds[0], p + 5 * PAGE, 3);
  printf("read(2) into page 5 (full): %ld %s\n", r, r < 0 ? strerror(errno) : "");
  mprotect(p, 8 * PAGE, PROT_READ);
  touch("after mprotect, read page 6 (full)", p + 6 * PAGE, 0);
  touch("read page 3", p + 3 * PAGE, 0);
  printf("page 3 holds %.3s\n", p + 3 * PAGE);
  munmap(p, 8 * PAGE);
  char path[128];
  snprintf(path, sizeof path, "%s/shared", dir);
  close(fd);
  unlink(path);
  printf("unlinked, free %ld\n", bfree());

  fd = create("private", 2 * PAGE);
  ftruncate(fd, 4 * PAGE);
  char *q = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
  touch("private: read page 0", q + PAGE - 2, 0);
  touch("private: read page 3", q + 3 * PAGE, 0);
  char *big = mmap(NULL, 8 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
  int filled = 0;
  for (int i = 0; i < 4; i++) {
    sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
      (void)*(volatile char *)(big + i * PAGE);
      filled++;
    } else {
      printf("private: page %d: signal %d code %d\n", i, sig, code);
    }
  }
  printf("private: %d pages read, free %ld\n", filled, bfree());
  munmap(q, 4 * PAGE);
  munmap(big, 8 * PAGE);
  close(fd);
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  return 0;
}
