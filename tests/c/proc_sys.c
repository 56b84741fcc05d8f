/* /proc/sys and /proc/net as programs read them. For each sysctl: whether access(W_OK) and an
 * O_WRONLY open agree with the file's mode as Linux's sysctl_perm applies it (the owner bits
 * for root, no capability override), and contents where they are the same on any Linux
 * (formats, not values, where values are the machine's). Run as root natively and in the
 * sentry; the output must be the same. */
#define _GNU_SOURCE
#include <ctype.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "_check.h"

static int slurp(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return (int)n;
}

/* "N" lines of decimal numbers separated by single tabs or spaces, as sysctls print them. */
static const char *shape(const char *s) {
  int fields = 0;
  const char *p = s;
  while (*p && *p != '\n') {
    if (!isdigit((unsigned char)*p) && *p != '-') return "text";
    while (isdigit((unsigned char)*p) || *p == '-') p++;
    fields++;
    if (*p == '\t' || *p == ' ') p++;
  }
  if (*p != '\n' || p[1] != 0) return "text";
  static char out[32];
  snprintf(out, sizeof out, "%d number%s", fields, fields == 1 ? "" : "s");
  return out;
}

static void sysctl(const char *name, int show) {
  char path[256], buf[4096];
  snprintf(path, sizeof path, "/proc/sys/%s", name);
  struct stat st;
  if (stat(path, &st) != 0) {
    printf("%s: stat %s\n", name, en(errno));
    return;
  }
  int writable = (st.st_mode & S_IWUSR) != 0;
  errno = 0;
  int a = access(path, W_OK);
  int aerr = errno;
  int fd = open(path, O_WRONLY);
  int oerr = errno;
  if (fd >= 0) close(fd);
  printf("%s: reg=%d W_OK %s, O_WRONLY %s, X_OK %s", name, S_ISREG(st.st_mode),
         (a == 0) == writable ? "as mode" : (a == 0 ? "granted beyond mode" : en(aerr)),
         (fd >= 0) == writable ? "as mode" : (fd >= 0 ? "opened beyond mode" : en(oerr)),
         access(path, X_OK) == 0 ? "granted" : en(errno));
  if (slurp(path, buf, sizeof buf) < 0) {
    printf(", read %s\n", en(errno));
    return;
  }
  if (show) printf(", value %s", buf);
  else printf(", %s\n", shape(buf));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("euid %d\n", geteuid());
  /* Values the same on every Linux. */
  sysctl("kernel/ostype", 1);
  sysctl("kernel/ngroups_max", 1);
  /* Formats. */
  const char *shapes[] = {
    "kernel/pid_max", "kernel/threads-max", "kernel/cap_last_cap", "kernel/shmmax", "kernel/shmall",
    "kernel/shmmni", "kernel/msgmax", "kernel/msgmnb", "kernel/msgmni", "kernel/sem",
    "kernel/overflowuid", "kernel/overflowgid", "kernel/random/entropy_avail", "kernel/random/poolsize",
    "vm/overcommit_memory", "vm/max_map_count", "vm/mmap_min_addr", "fs/file-max", "fs/nr_open",
    "fs/pipe-max-size", "fs/inotify/max_user_watches", "fs/inotify/max_user_instances",
    "fs/inotify/max_queued_events", "net/core/somaxconn", "net/ipv4/ip_local_port_range",
    "net/ipv4/tcp_rmem", "net/ipv4/tcp_wmem", "net/core/rmem_max", "net/core/wmem_max",
    "net/core/rmem_default", "net/core/wmem_default",
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) sysctl(shapes[i], 0);

  /* ip_local_port_range: low < high, both ports. */
  char buf[4096];
  int lo = 0, hi = 0;
  if (slurp("/proc/sys/net/ipv4/ip_local_port_range", buf, sizeof buf) > 0 && sscanf(buf, "%d\t%d", &lo, &hi) == 2)
    printf("port range ordered: %d\n", lo > 1023 && lo < hi && hi < 65536);

  /* boot_id: a UUID, the same at every read; uuid: a new UUID at every read. */
  char b1[64], b2[64], u1[64], u2[64];
  slurp("/proc/sys/kernel/random/boot_id", b1, sizeof b1);
  slurp("/proc/sys/kernel/random/boot_id", b2, sizeof b2);
  slurp("/proc/sys/kernel/random/uuid", u1, sizeof u1);
  slurp("/proc/sys/kernel/random/uuid", u2, sizeof u2);
  printf("boot_id len %zu dashes %d same %d; uuid len %zu differ %d\n", strlen(b1),
         b1[8] == '-' && b1[13] == '-' && b1[18] == '-' && b1[23] == '-', strcmp(b1, b2) == 0,
         strlen(u1), strcmp(u1, u2) != 0);
  R("access(random/uuid, W_OK)", access("/proc/sys/kernel/random/uuid", W_OK));
  R("access(random/boot_id, W_OK)", access("/proc/sys/kernel/random/boot_id", W_OK));
  R("open(random/boot_id, O_WRONLY)", open("/proc/sys/kernel/random/boot_id", O_WRONLY));
  R("open(ngroups_max, O_RDWR)", open("/proc/sys/kernel/ngroups_max", O_RDWR));
  R("access(/proc/sys/kernel, W_OK)", access("/proc/sys/kernel", W_OK));

  /* /proc/net/unix lists a bound listening socket by path. */
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/proc-sys-test-%d", getpid());
  unlink(sa.sun_path);
  R("bind", bind(s, (struct sockaddr *)&sa, sizeof sa));
  R("listen", listen(s, 1));
  struct stat sst;
  fstat(s, &sst);
  FILE *f = fopen("/proc/net/unix", "r");
  char line[512];
  int found = 0, header = 0;
  if (f) {
    if (fgets(line, sizeof line, f)) header = strncmp(line, "Num       RefCount Protocol Flags    Type St Inode Path", 55) == 0;
    while (fgets(line, sizeof line, f)) {
      unsigned long refc, proto, flags, type, st_, ino;
      char num[32], p[256] = "";
      if (sscanf(line, "%31[0-9a-f]: %lx %lx %lx %lx %lx %lu %255s", num, &refc, &proto, &flags, &type, &st_, &ino, p) >= 7 &&
          strcmp(p, sa.sun_path) == 0) {
        found = 1;
        printf("unix listener: proto %lx flags %05lx type %04lx st %02lx inode matches %d\n", proto, flags, type, st_,
               ino == (unsigned long)sst.st_ino);
      }
    }
    fclose(f);
  }
  printf("/proc/net/unix header %d found %d\n", header, found);

  /* An abstract name shows as '@' and the name, a connected pair as type and state only. */
  int a = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un aa = {.sun_family = AF_UNIX};
  int alen = snprintf(aa.sun_path + 1, sizeof aa.sun_path - 1, "proc-sys-test-%d", getpid());
  R("bind abstract", bind(a, (struct sockaddr *)&aa, offsetof(struct sockaddr_un, sun_path) + 1 + alen));
  char want[128];
  snprintf(want, sizeof want, "@%s", aa.sun_path + 1);
  found = 0;
  f = fopen("/proc/net/unix", "r");
  while (f && fgets(line, sizeof line, f)) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    size_t ll = strlen(line), wl = strlen(want);
    if (ll > wl && strcmp(line + ll - wl, want) == 0 && line[ll - wl - 1] == ' ') {
      found = 1;
      printf("abstract: type and state %.7s\n", line + 18 + 27);
    }
  }
  if (f) fclose(f);
  printf("abstract found %d\n", found);
  close(a);
  unlink(sa.sun_path);
  close(s);
  /* /proc/net/{tcp,udp,dev} open and have their headers. */
  const char *nets[] = {"/proc/net/tcp", "/proc/net/udp", "/proc/net/dev", "/proc/net/tcp6", "/proc/net/udp6"};
  for (size_t i = 0; i < 5; i++) {
    f = fopen(nets[i], "r");
    char first[256] = "";
    if (f) {
      if (!fgets(first, sizeof first, f)) first[0] = 0;
      fclose(f);
    }
    printf("%s: %s, header %.14s\n", nets[i], f ? "opened" : en(errno), first);
  }
  return 0;
}
