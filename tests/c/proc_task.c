/* /proc/PID entries that gVisor's proc_test checks: io (per process and per thread: exact
 * write-call counts), ns/ links ("type:[inode]", followed to the namespace's inode),
 * coredump_filter (read, written, inherited by fork), task/TID/children, the link count of
 * task/ (one more per thread) and a thread's own /proc/TID with its task/ directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static long field(const char *path, const char *name) {
  char buf[512] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  read(fd, buf, sizeof(buf) - 1);
  close(fd);
  char *p = strstr(buf, name);
  return p == NULL ? -2 : atol(p + strlen(name) + 1);
}

static int block_pipe[2];
static volatile long thread_tid;

static void *writer(void *arg) {
  (void)arg;
  int fd = open("/dev/null", O_WRONLY);
  for (int i = 0; i < 5; i++) write(fd, "x", 1);
  close(fd);
  thread_tid = syscall(SYS_gettid);
  char c;
  read(block_pipe[0], &c, 1);
  return NULL;
}

static int nlink(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int)st.st_nlink : -1;
}

int main(void) {
  setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* printed at exit: no write() in between */
  int null = open("/dev/null", O_WRONLY);
  long before = field("/proc/self/io", "syscw");
  long wbefore = field("/proc/self/io", "wchar");
  for (int i = 0; i < 10; i++) write(null, "abc", 3);
  long after = field("/proc/self/io", "syscw");
  long wafter = field("/proc/self/io", "wchar");
  printf("io: 10 writes of 3 bytes counted: syscw +%ld, wchar +%ld\n", after - before, wafter - wbefore);
  printf("io: read_bytes field present: %d\n", field("/proc/self/io", "read_bytes") >= 0);

  int links_before = nlink("/proc/self/task");
  pipe(block_pipe);
  pthread_t th;
  pthread_create(&th, NULL, writer, NULL);
  while (thread_tid == 0) usleep(1000);
  char path[128];
  snprintf(path, sizeof(path), "/proc/self/task/%ld/io", thread_tid);
  printf("thread io: syscw %ld\n", field(path, "syscw"));
  printf("task/ links: one more with a thread: %d\n", nlink("/proc/self/task") == links_before + 1);
  snprintf(path, sizeof(path), "/proc/%ld/task/%ld", thread_tid, thread_tid);
  R("a thread's own /proc/TID/task/TID", access(path, F_OK));
  snprintf(path, sizeof(path), "/proc/self/task/%ld/task", thread_tid);
  R("no task/ inside task/TID", access(path, F_OK));
  write(block_pipe[1], "x", 1);
  pthread_join(th, NULL);

  char link[64] = {0};
  R("readlink ns/pid", readlink("/proc/self/ns/pid", link, sizeof(link) - 1) > 0 ? 0 : -1);
  printf("  starts with pid:[ %d\n", strncmp(link, "pid:[", 5) == 0);
  struct stat st;
  lstat("/proc/self/ns/pid", &st);
  printf("  a symlink %d\n", S_ISLNK(st.st_mode));
  R("access ns/pid", access("/proc/self/ns/pid", F_OK));
  R("stat ns/net", stat("/proc/self/ns/net", &st));
  readlink("/proc/self/ns/net", link, sizeof(link) - 1);
  printf("  inode as in the link: %d\n", atol(strchr(link, '[') + 1) == (long)st.st_ino);
  DIR *d = opendir("/proc/self/ns");
  int seen = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!strcmp(e->d_name, "net") || !strcmp(e->d_name, "pid") || !strcmp(e->d_name, "user")) seen++;
  }
  if (d) closedir(d);
  printf("ns/ lists net, pid and user: %d\n", seen == 3);

  int fd = open("/proc/self/coredump_filter", O_RDWR);
  R("write coredump_filter 0x7", write(fd, "0x7\n", 4));
  close(fd);
  char cf[32] = {0};
  fd = open("/proc/self/coredump_filter", O_RDONLY);
  read(fd, cf, sizeof(cf) - 1);
  close(fd);
  printf("coredump_filter now: %s", cf);
  fd = open("/proc/self/coredump_filter", O_WRONLY);
  R("write coredump_filter junk", write(fd, "xyz", 3));
  close(fd);

  int gate[2];
  pipe(gate);
  pid_t kids[2];
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      char c2[32] = {0};
      int f = open("/proc/self/coredump_filter", O_RDONLY);
      read(f, c2, sizeof(c2) - 1);
      close(gate[1]);
      char c;
      read(gate[0], &c, 1);
      _exit(strcmp(c2, "00000007\n") == 0 ? 0 : 1);
    }
  }
  char want[64];
  pid_t lo = kids[0] < kids[1] ? kids[0] : kids[1], hi = kids[0] < kids[1] ? kids[1] : kids[0];
  snprintf(want, sizeof(want), "%d %d ", lo, hi);
  snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
  char got[64] = {0};
  fd = open(path, O_RDONLY);
  read(fd, got, sizeof(got) - 1);
  close(fd);
  printf("children lists both, sorted: %d\n", strcmp(got, want) == 0);
  close(gate[1]);
  for (int i = 0; i < 2; i++) {
    int status;
    waitpid(kids[i], &status, 0);
    printf("child saw the inherited filter: %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  return 0;
}
