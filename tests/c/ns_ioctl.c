// The NS_GET_* ioctls of /proc/PID/ns descriptors (linux/nsfs.h), printed as facts that do not
// depend on inode numbers (which namespace a returned descriptor is, errno names), so the
// sentry's output can be compared with Linux's. Run as root in the initial namespaces.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case EFAULT: return "EFAULT";
    default: return strerror(e);
  }
}

static ino_t ino_of_fd(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static ino_t ino_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

// Runs an ioctl that returns a namespace descriptor and says which namespace it is.
static void related(const char *what, const char *path, unsigned long req, ino_t expect, const char *expect_name) {
  int fd = open(path, O_RDONLY);
  int r = ioctl(fd, req);
  if (r < 0) {
    printf("%-36s %s\n", what, ename(errno));
  } else {
    int cloexec = fcntl(r, F_GETFD) & FD_CLOEXEC;
    printf("%-36s %s%s\n", what, ino_of_fd(r) == expect ? expect_name : "another namespace", cloexec ? ", close-on-exec" : "");
    close(r);
  }
  close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *names[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "user", "uts", "time"};
  ino_t userns = ino_of("/proc/self/ns/user"), pidns = ino_of("/proc/self/ns/pid");
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
    char path[64], what[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
    int fd = open(path, O_RDONLY);
    int type = ioctl(fd, NS_GET_NSTYPE);
    printf("%-36s %#x\n", names[i], type);
    close(fd);
    snprintf(what, sizeof what, "  NS_GET_USERNS");
    related(what, path, NS_GET_USERNS, userns, "my user namespace");
    snprintf(what, sizeof what, "  NS_GET_PARENT");
    related(what, path, NS_GET_PARENT, 0, "?");
    fd = open(path, O_RDONLY);
    uid_t uid = 12345;
    int r = ioctl(fd, NS_GET_OWNER_UID, &uid);
    printf("%-36s %s uid %d\n", "  NS_GET_OWNER_UID", r < 0 ? ename(errno) : "ok", (int)uid);
    r = ioctl(fd, _IO(0xb7, 0x7f));
    printf("%-36s %s\n", "  _IO(0xb7, 0x7f)", r < 0 ? ename(errno) : "ok");
    close(fd);
  }
  int fd = open("/proc/self/ns/user", O_RDONLY);
  printf("%-36s %s\n", "NS_GET_OWNER_UID bad pointer", ioctl(fd, NS_GET_OWNER_UID, (void *)8) < 0 ? ename(errno) : "ok");
  close(fd);

  // A user namespace of our own, then a UTS namespace it owns.
  pid_t c = fork();
  if (c == 0) {
    if (unshare(CLONE_NEWUSER) != 0) { perror("unshare user"); _exit(1); }
    ino_t mine = ino_of("/proc/self/ns/user");
    related("new userns: NS_GET_PARENT", "/proc/self/ns/user", NS_GET_PARENT, userns, "the initial user namespace");
    related("new userns: NS_GET_USERNS", "/proc/self/ns/user", NS_GET_USERNS, userns, "the initial user namespace");
    int u = open("/proc/self/ns/user", O_RDONLY);
    uid_t uid = 12345;
    ioctl(u, NS_GET_OWNER_UID, &uid);
    printf("%-36s %d\n", "new userns: NS_GET_OWNER_UID", (int)uid);
    close(u);
    if (unshare(CLONE_NEWUTS) != 0) { perror("unshare uts"); _exit(1); }
    related("new uts: NS_GET_USERNS", "/proc/self/ns/uts", NS_GET_USERNS, mine, "the new user namespace");
    related("old net: NS_GET_USERNS", "/proc/self/ns/net", NS_GET_USERNS, userns, "the initial user namespace");
    _exit(0);
  }
  waitpid(c, NULL, 0);

  // A PID namespace: its parent is visible from outside it, not from inside; pid_for_children
  // names nothing until the namespace's first process exists.
  c = fork();
  if (c == 0) {
    if (unshare(CLONE_NEWPID) != 0) { perror("unshare pid"); _exit(1); }
    int early = open("/proc/self/ns/pid_for_children", O_RDONLY);
    printf("%-36s %s\n", "pid_for_children before a child", early < 0 ? strerror(errno) : "opened");
    int pipefd[2];
    pipe(pipefd);
    pid_t g = fork();
    if (g == 0) {
      char b;
      read(pipefd[0], &b, 1); // stay the namespace's init while the outer process looks
      related("inside: NS_GET_PARENT of own", "/proc/self/ns/pid", NS_GET_PARENT, pidns, "the outer pid namespace");
      _exit(0);
    }
    related("pid_for_children: NS_GET_PARENT", "/proc/self/ns/pid_for_children", NS_GET_PARENT, pidns, "my pid namespace");
    related("pid_for_children: NS_GET_USERNS", "/proc/self/ns/pid_for_children", NS_GET_USERNS, userns, "my user namespace");
    write(pipefd[1], "x", 1);
    waitpid(g, NULL, 0);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
