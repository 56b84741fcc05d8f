// openat2(2): struct open_how checks and each RESOLVE_* flag, printed as errno names so the
// sentry's output can be compared with Linux's. The tree is made in a fresh directory:
//   d/ (dirfd) with f, sub/, up -> .., abs -> /etc/hostname, rel -> sub/../f, self -> /proc/self/exe
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
    case 0: return "ok";
    case EXDEV: return "EXDEV";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case EAGAIN: return "EAGAIN";
    case ENOENT: return "ENOENT";
    case EFAULT: return "EFAULT";
    case ENOTDIR: return "ENOTDIR";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    default: return strerror(e);
  }
}

static long o2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
  return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

// Opens and reports what was reached: the file's size and type, or the errno.
static void try(const char *what, int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
  long fd = o2(dirfd, path, flags, 0, resolve);
  if (fd < 0) {
    printf("%-40s %s\n", what, ename(errno));
    return;
  }
  struct stat st;
  fstat(fd, &st);
  printf("%-40s ok %s\n", what, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
  close(fd);
}

int main(void) {
  char tmpl[] = "/tmp/openat2.XXXXXX";
  if (!mkdtemp(tmpl) || chdir(tmpl) != 0) return 1;
  mkdir("d", 0755);
  mkdir("d/sub", 0755);
  close(open("d/f", O_CREAT | O_WRONLY, 0644));
  close(open("outside", O_CREAT | O_WRONLY, 0644));
  symlink("..", "d/up");
  symlink("/etc/hostname", "d/abs");
  symlink("sub/../f", "d/rel");
  symlink("/proc/self/exe", "d/self");
  symlink("/f", "d/rootf");
  int d = open("d", O_RDONLY | O_DIRECTORY);
  char absd[128];
  snprintf(absd, sizeof absd, "%s/d/abs", tmpl);
  int proc = open("/proc", O_RDONLY | O_DIRECTORY);
  char fdlink[64];
  snprintf(fdlink, sizeof fdlink, "/proc/self/fd/%d", d);

  // The struct's size and contents.
  struct { struct open_how h; uint64_t extra; } big = {{.flags = O_RDONLY}, 0};
  errno = 0;
  printf("%-40s %s\n", "size 16", ename(syscall(SYS_openat2, d, "f", &big, 16) < 0 ? errno : 0));
  long fd = syscall(SYS_openat2, d, "f", &big, sizeof big);
  printf("%-40s %s\n", "size 32, zero tail", ename(fd < 0 ? errno : 0));
  if (fd >= 0) close(fd);
  big.extra = 1;
  printf("%-40s %s\n", "size 32, non-zero tail", ename(syscall(SYS_openat2, d, "f", &big, sizeof big) < 0 ? errno : 0));
  printf("%-40s %s\n", "size 8192", ename(syscall(SYS_openat2, d, "f", &big, 8192) < 0 ? errno : 0));
  printf("%-40s %s\n", "bad how pointer", ename(syscall(SYS_openat2, d, "f", (void *)8, 24) < 0 ? errno : 0));
  printf("%-40s %s\n", "bad path pointer", ename(o2(d, (const char *)8, O_RDONLY, 0, 0) < 0 ? errno : 0));

  // Flags, mode and resolve checks.
  printf("%-40s %s\n", "flag bit 40", ename(o2(d, "f", 1ULL << 40, 0, 0) < 0 ? errno : 0));
  printf("%-40s %s\n", "unknown O_ bit 040000000", ename(o2(d, "f", 040000000, 0, 0) < 0 ? errno : 0));
  printf("%-40s %s\n", "mode without O_CREAT", ename(o2(d, "f", O_RDONLY, 0644, 0) < 0 ? errno : 0));
  printf("%-40s %s\n", "mode 010000 with O_CREAT", ename(o2(d, "n1", O_CREAT | O_WRONLY, 010000, 0) < 0 ? errno : 0));
  printf("%-40s %s\n", "resolve bit 0x40", ename(o2(d, "f", O_RDONLY, 0, 0x40) < 0 ? errno : 0));
  printf("%-40s %s\n", "BENEATH|IN_ROOT", ename(o2(d, "f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT) < 0 ? errno : 0));
  printf("%-40s %s\n", "O_PATH|O_RDWR", ename(o2(d, "f", O_PATH | O_RDWR, 0, 0) < 0 ? errno : 0));
  printf("%-40s %s\n", "O_CREAT|O_DIRECTORY", ename(o2(d, "n2", O_CREAT | O_DIRECTORY | O_RDWR, 0600, 0) < 0 ? errno : 0));
  printf("%-40s %s\n", "O_TMPFILE read-only", ename(o2(d, ".", O_TMPFILE | O_RDONLY, 0600, 0) < 0 ? errno : 0));
  printf("%-40s %s\n", "CACHED with O_CREAT", ename(o2(d, "f", O_CREAT | O_RDWR, 0600, RESOLVE_CACHED) < 0 ? errno : 0));
  printf("%-40s %s\n", "CACHED with O_TRUNC", ename(o2(d, "f", O_TRUNC | O_RDWR, 0, RESOLVE_CACHED) < 0 ? errno : 0));

  try("plain f", d, "f", O_RDONLY, 0);
  try("CACHED f", d, "f", O_RDONLY, RESOLVE_CACHED);
  // BENEATH.
  try("BENEATH f", d, "f", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH sub/../f", d, "sub/../f", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH ../outside", d, "../outside", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH sub/../../outside", d, "sub/../../outside", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH /etc/hostname", d, "/etc/hostname", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH abs (absolute symlink)", d, "abs", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH rel (relative symlink inside)", d, "rel", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH up/outside", d, "up/outside", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH self (magic link)", d, "self", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH AT_FDCWD d/f", AT_FDCWD, "d/f", O_RDONLY, RESOLVE_BENEATH);
  // IN_ROOT: "/" and ".." stay at d.
  try("IN_ROOT /f", d, "/f", O_RDONLY, RESOLVE_IN_ROOT);
  try("IN_ROOT ../f", d, "../f", O_RDONLY, RESOLVE_IN_ROOT);
  try("IN_ROOT ../../../f", d, "../../../f", O_RDONLY, RESOLVE_IN_ROOT);
  try("IN_ROOT ../outside", d, "../outside", O_RDONLY, RESOLVE_IN_ROOT);
  try("IN_ROOT /etc/hostname", d, "/etc/hostname", O_RDONLY, RESOLVE_IN_ROOT);
  try("IN_ROOT rootf (symlink to /f)", d, "rootf", O_RDONLY, RESOLVE_IN_ROOT);
  try("IN_ROOT up/f", d, "up/f", O_RDONLY, RESOLVE_IN_ROOT);
  try("IN_ROOT self (magic link)", d, "self", O_RDONLY, RESOLVE_IN_ROOT);
  long c = o2(d, "/created", O_CREAT | O_WRONLY | O_EXCL, 0600, RESOLVE_IN_ROOT);
  printf("%-40s %s\n", "IN_ROOT O_CREAT /created", ename(c < 0 ? errno : 0));
  if (c >= 0) close(c);
  printf("%-40s %s\n", "  then d/created exists", access("d/created", F_OK) == 0 ? "yes" : "no");
  // Symlinks.
  try("NO_SYMLINKS rel", d, "rel", O_RDONLY, RESOLVE_NO_SYMLINKS);
  try("NO_SYMLINKS rel O_PATH|O_NOFOLLOW", d, "rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  try("NO_SYMLINKS up/f (middle)", d, "up/d/f", O_RDONLY, RESOLVE_NO_SYMLINKS);
  try("NO_SYMLINKS self", d, "self", O_RDONLY, RESOLVE_NO_SYMLINKS);
  try("NO_MAGICLINKS rel", d, "rel", O_RDONLY, RESOLVE_NO_MAGICLINKS);
  try("NO_MAGICLINKS /proc/self/exe", AT_FDCWD, "/proc/self/exe", O_RDONLY, RESOLVE_NO_MAGICLINKS);
  try("NO_MAGICLINKS /proc/self/fd/D", AT_FDCWD, fdlink, O_RDONLY, RESOLVE_NO_MAGICLINKS);
  try("NO_MAGICLINKS /proc/self/fd/D O_PATH|O_NOFOLLOW", AT_FDCWD, fdlink, O_PATH | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS);
  try("plain /proc/self/fd/D", AT_FDCWD, fdlink, O_RDONLY, 0);
  // Mounts.
  try("NO_XDEV /proc/version", AT_FDCWD, "/proc/version", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV proc: version", proc, "version", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV proc: self/../version", proc, "self/../version", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV proc: ..", proc, "..", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV proc: /proc", proc, "/proc", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV proc: self/exe", proc, "self/exe", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV f", d, "f", O_RDONLY, RESOLVE_NO_XDEV);
  // nd_jump_root compares with a root that only an absolute path, a ".." or a scoped walk has set.
  try("NO_XDEV abs (symlink to /etc)", d, "abs", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV sub/../abs", d, "sub/../abs", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV ./abs", d, "./abs", O_RDONLY, RESOLVE_NO_XDEV);
  try("NO_XDEV absolute path to d/abs", AT_FDCWD, absd, O_RDONLY, RESOLVE_NO_XDEV);
  try("IN_ROOT|NO_XDEV rootf", d, "rootf", O_RDONLY, RESOLVE_IN_ROOT | RESOLVE_NO_XDEV);
  try("IN_ROOT|NO_XDEV ..", d, "..", O_RDONLY, RESOLVE_IN_ROOT | RESOLVE_NO_XDEV);
  // A dirfd that is not a directory.
  int f = open("d/f", O_RDONLY);
  try("BENEATH from a file dirfd", f, "x", O_RDONLY, RESOLVE_BENEATH);
  try("BENEATH bad dirfd", 999, "x", O_RDONLY, RESOLVE_BENEATH);
  try("IN_ROOT bad dirfd, absolute path", 999, "/f", O_RDONLY, RESOLVE_IN_ROOT);
  try("plain bad dirfd, absolute path", 999, "/etc/hostname", O_RDONLY, 0);
  return 0;
}
