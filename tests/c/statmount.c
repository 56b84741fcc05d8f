/* statmount(2) and listmount(2), and statx's STATX_MNT_ID_UNIQUE, in a mount namespace of the
 * test's own (natively too: as root, `unshare(CLONE_NEWNS)` and a private /, so the host's tree
 * never changes): a tmpfs with two submounts and a grandchild; statmount's basic, superblock and
 * propagation fields (shared and slave peers), its strings (fs type, root, mount point, source,
 * options as a string and an array) laid out after the struct, the namespace id, the supported
 * mask, a short buffer and the errnos of copy_mnt_id_req and the namespace's descriptor or id;
 * listmount's order (by unique id, reversed, paged from the last id), its errnos, and EPERM for
 * a mount outside a chroot without CAP_SYS_ADMIN. Ids are never printed, only compared with
 * statx's. Output: the same natively and in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

#define NR_statmount 457
#define NR_listmount 458
#define STATX_MNT_ID_ 0x1000U
#define STATX_MNT_ID_UNIQUE_ 0x4000U
#define LSMT_ROOT_ 0xffffffffffffffffULL

struct req {
  uint32_t size, mnt_ns_fd;
  uint64_t mnt_id, param, mnt_ns_id;
};

struct sm {
  uint32_t size, mnt_opts;
  uint64_t mask;
  uint32_t sb_dev_major, sb_dev_minor;
  uint64_t sb_magic;
  uint32_t sb_flags, fs_type;
  uint64_t mnt_id, mnt_parent_id;
  uint32_t mnt_id_old, mnt_parent_id_old;
  uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
  uint32_t mnt_root, mnt_point;
  uint64_t mnt_ns_id;
  uint32_t fs_subtype, sb_source, opt_num, opt_array, opt_sec_num, opt_sec_array;
  uint64_t supported_mask;
  uint32_t mnt_uidmap_num, mnt_uidmap, mnt_gidmap_num, mnt_gidmap;
  uint64_t spare2[43];
  char str[];
};

static char dir[64];

static uint64_t mnt_id(const char *path, unsigned mask) {
  struct statx sx;
  memset(&sx, 0, sizeof sx);
  if (statx(AT_FDCWD, path, 0, mask, &sx) != 0) return 0;
  printf("statx(%s) mask has %s: %d, not %s: %d\n", path + (strncmp(path, dir, strlen(dir)) == 0 ? strlen(dir) : 0),
         mask == STATX_MNT_ID_ ? "MNT_ID" : "MNT_ID_UNIQUE", (sx.stx_mask & mask) != 0,
         mask == STATX_MNT_ID_ ? "MNT_ID_UNIQUE" : "MNT_ID", (sx.stx_mask & (mask ^ (STATX_MNT_ID_ | STATX_MNT_ID_UNIQUE_))) != 0);
  return sx.stx_mnt_id;
}

static long statmount_(uint64_t id, uint64_t mask, void *buf, size_t size, unsigned flags) {
  struct req r = {.size = 24, .mnt_id = id, .param = mask};
  return syscall(NR_statmount, &r, buf, size, flags);
}

static long listmount_(uint64_t id, uint64_t last, uint64_t *ids, size_t n, unsigned flags) {
  struct req r = {.size = 24, .mnt_id = id, .param = last};
  return syscall(NR_listmount, &r, ids, n, flags);
}

static char *path_in(const char *rel) {
  static char p[4][128];
  static int i;
  char *out = p[i++ % 4];
  snprintf(out, 128, "%s%s", dir, rel);
  return out;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    printf("no mount namespace: %s\n", en(errno));
    return 1;
  }
  strcpy(dir, "/tmp/statmount-XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;
  mkdir(path_in("/t"), 0755);
  R("mount tmpfs t", mount("src-t", path_in("/t"), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=750"));
  mkdir(path_in("/t/x"), 0755);
  mkdir(path_in("/t/y"), 0755);
  R("mount tmpfs t/x", mount("src-x", path_in("/t/x"), "tmpfs", MS_NOATIME, "mode=700"));
  // Read-only as a mount only (the sentry keeps no superblock flag apart from its mounts').
  R("remount t/x read-only", mount("none", path_in("/t/x"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOATIME, NULL));
  R("make t/x shared", mount("none", path_in("/t/x"), NULL, MS_SHARED, NULL));
  R("bind t/x on t/y", mount(path_in("/t/x"), path_in("/t/y"), NULL, MS_BIND, NULL));
  R("make t/y a slave", mount("none", path_in("/t/y"), NULL, MS_SLAVE, NULL));
  mkdir(path_in("/t/z"), 0755);
  R("mount tmpfs t/z", mount("src-z", path_in("/t/z"), "tmpfs", 0, NULL));

  uint64_t root = mnt_id("/", STATX_MNT_ID_UNIQUE_);
  uint64_t t = mnt_id(path_in("/t"), STATX_MNT_ID_UNIQUE_), t_old = mnt_id(path_in("/t"), STATX_MNT_ID_);
  uint64_t x = mnt_id(path_in("/t/x"), STATX_MNT_ID_UNIQUE_), y = mnt_id(path_in("/t/y"), STATX_MNT_ID_UNIQUE_);
  uint64_t z = mnt_id(path_in("/t/z"), STATX_MNT_ID_UNIQUE_), x_old = mnt_id(path_in("/t/x"), STATX_MNT_ID_);
  printf("unique ids above 2^31: %d, old ids below: %d\n", t > 0x80000000ULL && x > 0x80000000ULL, t_old < 0x80000000ULL);
  printf("ids in creation order: %d\n", t < x && x < y && y < z);

  static char buf[4096];
  struct sm *s = (struct sm *)buf;
  memset(buf, 0, sizeof buf);
  R("statmount(t/x, everything)", statmount_(x, 0x7fff, buf, sizeof buf, 0));
  printf("mask %#llx supported %#llx\n", (unsigned long long)s->mask, (unsigned long long)s->supported_mask);
  printf("ids: %d %d, parent t's: %d %d\n", s->mnt_id == x, s->mnt_id_old == x_old, s->mnt_parent_id == t,
         s->mnt_parent_id_old == t_old);
  printf("attr %#llx propagation %#llx peer group set: %d master: %llu propagate_from: %llu\n",
         (unsigned long long)s->mnt_attr, (unsigned long long)s->mnt_propagation, s->mnt_peer_group != 0,
         (unsigned long long)s->mnt_master, (unsigned long long)s->propagate_from);
  printf("sb magic %#llx flags %#x\n", (unsigned long long)s->sb_magic, s->sb_flags);
  printf("fs_type \"%s\" root \"%s\" point \"%s\" source \"%s\"\n", s->str + s->fs_type, s->str + s->mnt_root,
         s->str + s->mnt_point + strlen(dir), s->str + s->sb_source);
  printf("opts \"%s\", %u in the array:", s->str + s->mnt_opts, s->opt_num);
  const char *o = s->str + s->opt_array;
  for (unsigned i = 0; i < s->opt_num; i++, o += strlen(o) + 1) printf(" \"%s\"", o);
  printf("\nsubtype at 0: %d, sec array at 0: %d, size = struct + strings: %d\n", s->fs_subtype == 0, s->opt_sec_array == 0,
         s->size > sizeof *s && s->size < sizeof buf && buf[s->size - 1] == 0);
  uint64_t nsid = s->mnt_ns_id;
  R("statmount(t/y, MNT_BASIC|PROPAGATE_FROM)", statmount_(y, 0x6, buf, sizeof buf, 0));
  uint64_t peer = s->mnt_peer_group;
  printf("t/y: propagation %#llx, master is t/x's group: %d, propagate_from too: %d, own group: %llu\n",
         (unsigned long long)s->mnt_propagation, s->mnt_master != 0, s->propagate_from == s->mnt_master,
         (unsigned long long)peer);
  R("statmount(t, SB_BASIC|MNT_BASIC)", statmount_(t, 0x3, buf, sizeof buf, 0));
  printf("t: attr %#llx propagation %#llx mask %#llx size %u\n", (unsigned long long)s->mnt_attr,
         (unsigned long long)s->mnt_propagation, (unsigned long long)s->mask, s->size);
  memset(buf, 0xff, sizeof buf);
  R("statmount into 16 bytes", statmount_(t, 0x2, buf, 16, 0));
  printf("size %u, mask %#llx, byte 16 untouched: %d\n", s->size, (unsigned long long)s->mask, (unsigned char)buf[16] == 0xff);
  R("statmount strings into sizeof(struct statmount)", statmount_(t, 0x20, buf, sizeof *s, 0));
  R("statmount fs_type into sizeof + 6", statmount_(t, 0x20, buf, sizeof *s + 6, 0));
  R("statmount fs_type into sizeof + 7", statmount_(t, 0x20, buf, sizeof *s + 7, 0));
  R("statmount fs_type into sizeof + 8", statmount_(t, 0x20, buf, sizeof *s + 8, 0));
  R("statmount flags 1", statmount_(t, 0x2, buf, sizeof buf, 1));
  R("statmount id 0", statmount_(0, 0x2, buf, sizeof buf, 0));
  R("statmount id 2^31", statmount_(0x80000000ULL, 0x2, buf, sizeof buf, 0));
  R("statmount id LSMT_ROOT", statmount_(LSMT_ROOT_, 0x2, buf, sizeof buf, 0));
  R("statmount of an unmounted id", statmount_(z + 1000, 0x2, buf, sizeof buf, 0));
  R("statmount NULL request", syscall(NR_statmount, NULL, buf, sizeof buf, 0));
  struct req r = {.size = 0, .mnt_id = t, .param = 2};
  R("statmount size 0", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  r.size = 23;
  R("statmount size 23", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  r.size = 4097;
  R("statmount size 4097", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  static char big[64];
  memcpy(big, &(struct req){.size = 40, .mnt_id = t, .param = 2}, 24);
  big[36] = 1;
  R("statmount size 40, a byte set past 32", syscall(NR_statmount, big, buf, sizeof buf, 0));
  big[36] = 0;
  R("statmount size 40, zeros past 32", syscall(NR_statmount, big, buf, sizeof buf, 0));
  r = (struct req){.size = 32, .mnt_id = t, .param = 2, .mnt_ns_id = nsid};
  R("statmount by own namespace id", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  r.mnt_ns_id = nsid + 100000;
  R("statmount by an unknown namespace id", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  r = (struct req){.size = 24, .mnt_ns_fd = 1000, .mnt_id = t, .param = 2};
  R("statmount mnt_ns_fd closed", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  r.mnt_ns_fd = open("/proc/self/ns/uts", O_RDONLY);
  R("statmount mnt_ns_fd a UTS namespace", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  r.mnt_ns_fd = open("/proc/self/ns/mnt", O_RDONLY);
  R("statmount mnt_ns_fd own", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  r.size = 32;
  r.mnt_ns_id = nsid;
  R("statmount mnt_ns_fd and id", syscall(NR_statmount, &r, buf, sizeof buf, 0));
  /* NS_GET_MNTNS_ID (_IOR(0xb7, 5, __u64)) names the namespace as statmount's mnt_ns_id does. */
  uint64_t ioc_id = 0;
  int nsfd = open("/proc/self/ns/mnt", O_RDONLY);
  R("NS_GET_MNTNS_ID", ioctl(nsfd, 0x8008b705u, &ioc_id));
  printf("NS_GET_MNTNS_ID is statmount's mnt_ns_id: %d\n", ioc_id == nsid);
  close(nsfd);
  nsfd = open("/proc/self/ns/uts", O_RDONLY);
  R("NS_GET_MNTNS_ID on a UTS namespace", ioctl(nsfd, 0x8008b705u, &ioc_id));
  close(nsfd);
  R("statmount into NULL", statmount_(t, 0x2, NULL, sizeof buf, 0));

  static uint64_t ids[4096];
  long n = listmount_(t, 0, ids, 16, 0);
  printf("listmount(t) = %ld: x, y, z in order: %d\n", n, n == 3 && ids[0] == x && ids[1] == y && ids[2] == z);
  n = listmount_(t, 0, ids, 16, 1);
  printf("listmount(t, REVERSE) = %ld: z, y, x: %d\n", n, n == 3 && ids[0] == z && ids[1] == y && ids[2] == x);
  n = listmount_(t, x, ids, 16, 0);
  printf("listmount(t) after x = %ld: y, z: %d\n", n, n == 2 && ids[0] == y && ids[1] == z);
  n = listmount_(t, z, ids, 16, 1);
  printf("listmount(t, REVERSE) before z = %ld: y, x: %d\n", n, n == 2 && ids[0] == y && ids[1] == x);
  n = listmount_(t, 0, ids, 1, 0);
  printf("listmount(t) one at a time = %ld: x: %d\n", n, n == 1 && ids[0] == x);
  R("listmount(t, 0 ids)", listmount_(t, 0, ids, 0, 0));
  n = listmount_(LSMT_ROOT_, 0, ids, 4096, 0);
  int has_root = 0, has_t = 0;
  for (long i = 0; i < n; i++) has_root |= ids[i] == root, has_t |= ids[i] == t;
  printf("listmount(LSMT_ROOT) has / and t: %d %d\n", has_root, has_t);
  R("listmount(x)", listmount_(x, 0, ids, 16, 0));
  R("listmount flags 2", listmount_(t, 0, ids, 16, 2));
  R("listmount 1000001 ids", listmount_(t, 0, ids, 1000001, 0));
  R("listmount last 5", listmount_(t, 5, ids, 16, 0));
  R("listmount id 0", listmount_(0, 0, ids, 16, 0));
  R("listmount unmounted id", listmount_(z + 1000, 0, ids, 16, 0));
  R("listmount into NULL", listmount_(t, 0, NULL, 16, 0));
  R("listmount NULL request", syscall(NR_listmount, NULL, ids, 16, 0));

  pid_t pid = fork();
  if (pid == 0) {
    if (chroot(dir) != 0 || chdir("/") != 0 || setegid(65534) != 0 || seteuid(65534) != 0) _exit(1);
    R("chrooted: statmount(/)", statmount_(root, 0x1, buf, sizeof buf, 0));
    R("chrooted: listmount(/)", listmount_(root, 0, ids, 16, 0));
    R("chrooted: statmount(t)", statmount_(t, 0x1, buf, sizeof buf, 0));
    n = listmount_(LSMT_ROOT_, 0, ids, 16, 0);
    printf("chrooted: listmount(LSMT_ROOT) = %ld: t, x, y, z: %d\n", n, n == 4 && ids[0] == t && ids[3] == z);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  umount2(path_in("/t"), MNT_DETACH);
  rmdir(path_in("/t"));
  rmdir(dir);
  return 0;
}
