/* name_to_handle_at(2) and open_by_handle_at(2) on a tmpfs: the size probe (EOVERFLOW with the
 * size needed and FILEID_INVALID, the mount id written all the same), the handle's size and type,
 * flag and argument errors in Linux's order, AT_HANDLE_FID on procfs (which decodes nothing:
 * EOPNOTSUPP without it), opening files, directories and symlinks by handle (ELOOP, O_PATH),
 * another link after the first name goes, ESTALE once the file has no name (even while open) and
 * for another filesystem's handle, EPERM without CAP_DAC_READ_SEARCH, AT_HANDLE_CONNECTABLE. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif
#define AT_HANDLE_MNT_ID_UNIQUE 0x1
#define AT_HANDLE_CONNECTABLE 0x2

static char dir[] = "/tmp/fhandle-XXXXXX";
static char path[256];

static const char *p(const char *name) {
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

static struct file_handle *handle(int dfd, const char *name, int flags) {
  struct file_handle *h = calloc(1, sizeof *h + MAX_HANDLE_SZ);
  int mnt;
  h->handle_bytes = MAX_HANDLE_SZ;
  if (name_to_handle_at(dfd, name, h, &mnt, flags) != 0) {
    printf("handle of %s: %s\n", name, strerrorname_np(errno));
    return NULL;
  }
  return h;
}

static void open_by(const char *what, int mfd, struct file_handle *h, int flags) {
  errno = 0;
  int fd = open_by_handle_at(mfd, h, flags);
  if (fd < 0) {
    printf("open %s: %s\n", what, strerrorname_np(errno));
    return;
  }
  struct stat st;
  fstat(fd, &st);
  char buf[16] = "";
  long n = (S_ISREG(st.st_mode) && !(flags & O_PATH)) ? pread(fd, buf, sizeof buf - 1, 0) : 0;
  printf("open %s: type %o size %ld read %ld \"%s\" cloexec %d\n", what, st.st_mode & S_IFMT, (long)st.st_size, n,
         n > 0 ? buf : "", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  if (mkdtemp(dir) == NULL || mount("none", dir, "tmpfs", 0, NULL) != 0) { perror("tmpfs"); return 1; }
  int dfd = open(dir, O_DIRECTORY);
  int fd = open(p("f"), O_RDWR | O_CREAT, 0644);
  write(fd, "hello", 5);
  close(fd);
  mkdir(p("d"), 0755);
  symlink("f", p("l"));

  /* The size probe. */
  struct file_handle probe = {0};
  int mnt = -1, mnt2 = -2;
  errno = 0;
  long r = name_to_handle_at(dfd, "f", &probe, &mnt, 0);
  printf("probe: %ld %s bytes %u type %d mount id written %d\n", r, strerrorname_np(errno), probe.handle_bytes,
         probe.handle_type, mnt != -1);
  struct stat st;
  struct statx sx;
  statx(dfd, "f", 0, STATX_MNT_ID, &sx);
  struct file_handle *hf = handle(dfd, "f", 0);
  name_to_handle_at(dfd, "f", hf, &mnt2, 0);
  printf("handle: bytes %u type %d, mount id is statx's %d\n", hf->handle_bytes, hf->handle_type,
         (unsigned long long)mnt2 == sx.stx_mnt_id);
  unsigned long long umnt = 0;
  show("AT_HANDLE_MNT_ID_UNIQUE", name_to_handle_at(dfd, "f", hf, (int *)&umnt, AT_HANDLE_MNT_ID_UNIQUE));
  hf->handle_bytes = MAX_HANDLE_SZ;
  name_to_handle_at(dfd, "f", hf, &mnt2, 0);

  /* Errors, in order. */
  struct file_handle *big = calloc(1, sizeof *big + MAX_HANDLE_SZ + 8);
  big->handle_bytes = MAX_HANDLE_SZ + 1;
  show("handle_bytes over MAX_HANDLE_SZ", name_to_handle_at(dfd, "f", big, &mnt, 0));
  show("bad flags", name_to_handle_at(dfd, "f", hf, &mnt, 0x8000));
  show("bad flags before a bad dirfd", name_to_handle_at(-1, "f", hf, &mnt, 0x8000));
  show("bad dirfd", name_to_handle_at(-1, "f", hf, &mnt, 0));
  show("dirfd not a directory", name_to_handle_at(0, "f", hf, &mnt, 0));
  show("missing", name_to_handle_at(dfd, "nope", hf, &mnt, 0));
  show("empty path", name_to_handle_at(dfd, "", hf, &mnt, 0));
  show("bad path", name_to_handle_at(dfd, (char *)8, hf, &mnt, 0));
  show("bad handle", name_to_handle_at(dfd, "f", (void *)8, &mnt, 0));
  show("bad mount id", name_to_handle_at(dfd, "f", hf, (void *)8, 0));
  hf->handle_bytes = MAX_HANDLE_SZ;
  show("CONNECTABLE|FID", name_to_handle_at(dfd, "f", hf, &mnt, AT_HANDLE_CONNECTABLE | AT_HANDLE_FID));
  show("CONNECTABLE|EMPTY_PATH", name_to_handle_at(dfd, "f", hf, &mnt, AT_HANDLE_CONNECTABLE | AT_EMPTY_PATH));
  show("FID probe of bad dirfd", name_to_handle_at(-1, ".", NULL, NULL, AT_HANDLE_FID));
  show("CONNECTABLE probe of bad dirfd", name_to_handle_at(-1, ".", NULL, NULL, AT_HANDLE_CONNECTABLE));

  /* procfs: FID only. */
  struct file_handle *hp = calloc(1, sizeof *hp + MAX_HANDLE_SZ);
  hp->handle_bytes = MAX_HANDLE_SZ;
  show("procfs handle", name_to_handle_at(AT_FDCWD, "/proc/filesystems", hp, &mnt, 0));
  hp->handle_bytes = MAX_HANDLE_SZ;
  show("procfs FID", name_to_handle_at(AT_FDCWD, "/proc/filesystems", hp, &mnt, AT_HANDLE_FID));
  printf("procfs FID: bytes %u type %d\n", hp->handle_bytes, hp->handle_type);
  struct file_handle fidprobe = {0};
  errno = 0;
  r = name_to_handle_at(AT_FDCWD, "/proc/filesystems", &fidprobe, &mnt, AT_HANDLE_FID);
  printf("procfs FID probe: %s bytes %u type %d\n", strerrorname_np(errno), fidprobe.handle_bytes, fidprobe.handle_type);
  hp->handle_bytes = MAX_HANDLE_SZ;
  name_to_handle_at(dfd, "f", hp, &mnt, AT_HANDLE_FID);
  printf("tmpfs FID: bytes %u type %d same as handle %d\n", hp->handle_bytes, hp->handle_type,
         memcmp(hp->f_handle, hf->f_handle, hf->handle_bytes) == 0);

  /* Opening. */
  open_by("file rdonly", dfd, hf, O_RDONLY);
  open_by("file rdwr cloexec", dfd, hf, O_RDWR | O_CLOEXEC);
  open_by("file O_PATH", dfd, hf, O_PATH);
  open_by("file O_DIRECTORY", dfd, hf, O_RDONLY | O_DIRECTORY);
  open_by("file O_CREAT", dfd, hf, O_RDWR | O_CREAT);
  open_by("file O_CREAT|O_EXCL", dfd, hf, O_RDWR | O_CREAT | O_EXCL);
  int ffd = open(p("f"), O_RDONLY);
  open_by("file, mount fd is the file", ffd, hf, O_RDONLY);
  close(ffd);
  open_by("file, cwd", AT_FDCWD, hf, O_RDONLY);
  open_by("file, bad mount fd", -1, hf, O_RDONLY);
  open_by("file, mount fd 9999", 9999, hf, O_RDONLY);
  int prfd = open("/proc/self/status", O_RDONLY);
  open_by("file, mount fd of procfs", prfd, hf, O_RDONLY);
  close(prfd);
  int pfd[2];
  pipe(pfd);
  open_by("file, mount fd a pipe", pfd[0], hf, O_RDONLY);
  close(pfd[0]);
  close(pfd[1]);
  struct file_handle *hd = handle(dfd, "d", 0);
  open_by("dir rdonly", dfd, hd, O_RDONLY);
  open_by("dir rdwr", dfd, hd, O_RDWR);
  open_by("dir O_CREAT", dfd, hd, O_RDONLY | O_CREAT);
  open_by("dir O_TMPFILE", dfd, hd, O_RDWR | O_TMPFILE);
  struct file_handle *hl = handle(dfd, "l", 0);
  struct file_handle *hlf = handle(dfd, "l", AT_SYMLINK_FOLLOW);
  printf("symlink followed is the file %d\n", memcmp(hlf->f_handle, hf->f_handle, hf->handle_bytes) == 0);
  open_by("symlink rdonly", dfd, hl, O_RDONLY);
  open_by("symlink O_PATH", dfd, hl, O_PATH);
  struct file_handle *hr = handle(dfd, "", AT_EMPTY_PATH);
  open_by("root", dfd, hr, O_RDONLY);

  /* Bad handles. */
  struct file_handle *bad = calloc(1, sizeof *bad + MAX_HANDLE_SZ);
  memcpy(bad, hf, sizeof *hf + hf->handle_bytes);
  bad->handle_bytes = 0;
  open_by("zero bytes", dfd, bad, O_RDONLY);
  bad->handle_bytes = MAX_HANDLE_SZ + 1;
  open_by("too many bytes", dfd, bad, O_RDONLY);
  bad->handle_bytes = hf->handle_bytes;
  bad->handle_type = -1;
  open_by("negative type", dfd, bad, O_RDONLY);
  bad->handle_type = hf->handle_type | 0x40000;
  open_by("unknown user flag", dfd, bad, O_RDONLY);
  bad->handle_type = hf->handle_type;
  bad->handle_bytes = 4;
  open_by("short", dfd, bad, O_RDONLY);
  open_by("bad pointer", dfd, (void *)8, O_RDONLY);
  memcpy(bad, hf, sizeof *hf + hf->handle_bytes);
  ((unsigned *)bad->f_handle)[1] += 1000;
  open_by("no such inode", dfd, bad, O_RDONLY);

  /* Another tmpfs: the handle is not one of its files (another inode, or none). */
  mkdir(p("d/sub"), 0755);
  mount("none", p("d/sub"), "tmpfs", 0, NULL);
  int sfd = open(p("d/sub"), O_DIRECTORY);
  open_by("file, mount fd of another tmpfs", sfd, hd, O_RDONLY);

  /* Connectable handles: only under the mount fd. */
  struct file_handle *hc = handle(dfd, "d", AT_HANDLE_CONNECTABLE);
  if (hc != NULL) {
    printf("connectable: bytes %u type %#x\n", hc->handle_bytes, hc->handle_type);
    open_by("connectable dir from its parent", dfd, hc, O_RDONLY);
    int ddfd = open(p("d"), O_DIRECTORY);
    open_by("connectable dir from itself", ddfd, hc, O_RDONLY);
    mkdir(p("e"), 0755);
    int efd = open(p("e"), O_DIRECTORY);
    open_by("connectable dir from a sibling", efd, hc, O_RDONLY);
    open_by("plain dir handle from a sibling", efd, hd, O_RDONLY);
  }

  /* Links, deletion. */
  char f2[300];
  snprintf(f2, sizeof f2, "%s/f2", dir);
  show("link", link(p("f"), f2));
  unlink(p("f"));
  open_by("file by its other link", dfd, hf, O_RDONLY);
  fd = open(p("f2"), O_RDONLY);
  unlink(p("f2"));
  open_by("file unlinked, still open", dfd, hf, O_RDONLY);
  close(fd);
  open_by("file deleted", dfd, hf, O_RDONLY);
  rmdir(p("e"));

  /* Without CAP_DAC_READ_SEARCH. */
  fd = open(p("g"), O_RDWR | O_CREAT, 0644);
  close(fd);
  struct file_handle *hg = handle(dfd, "g", 0);
  pid_t pid = fork();
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_DAC_READ_SEARCH);
    syscall(SYS_capset, &h, d);
    open_by("without CAP_DAC_READ_SEARCH", dfd, hg, O_RDONLY);
    open_by("without CAP_DAC_READ_SEARCH, bad handle size", dfd, bad, O_RDONLY);
    bad->handle_bytes = 0;
    open_by("without CAP_DAC_READ_SEARCH, zero size", dfd, bad, O_RDONLY);
    open_by("without CAP_DAC_READ_SEARCH, bad mount fd", -1, hg, O_RDONLY);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  (void)st;
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  return 0;
}
