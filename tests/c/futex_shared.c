/* Futexes shared between processes: a futex word in MAP_SHARED memory is keyed by the memory
 * object and offset, not by the address space, so a wake from another process (at another address,
 * too) reaches the waiter; a FUTEX_PRIVATE_FLAG wake stays inside its own address space. Covers
 * process-shared semaphores and pthread mutex+condvar over MAP_SHARED|MAP_ANONYMOUS across fork,
 * a memfd and a /tmp file mapped at different addresses, private ops on shared memory, and
 * WAKE_BITSET, CMP_REQUEUE and WAKE_OP across processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long futex(uint32_t *uaddr, int op, uint32_t val) {
  return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void *shared_anon(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return p;
}

static int reap(pid_t pid) {
  int st;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Waits (bounded) until process pid sleeps: it is then inside its futex wait. */
static void await_sleeping(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  for (int i = 0; i < 20000; i++) {
    FILE *f = fopen(path, "r");
    if (f) {
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[n] = 0;
      char *p = strrchr(buf, ')');
      if (p && p[1] == ' ' && p[2] == 'S') return;
    }
    usleep(1000);
  }
  printf("process %d never slept\n", (int)pid);
}

static void semaphores(void) {
  sem_t *s = shared_anon(sizeof *s);
  sem_init(s, 1, 0);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(10000);
    for (int i = 0; i < 3; i++) sem_post(s);
    _exit(0);
  }
  for (int i = 0; i < 3; i++) sem_wait(s);
  int v = -1;
  sem_getvalue(s, &v);
  printf("semaphore: three posts from the child woke the parent, value %d, child %d\n", v, reap(pid));
}

struct pingpong {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int turn, rounds, total;
};

static void mutex_condvar(void) {
  struct pingpong *p = shared_anon(sizeof *p);
  pthread_mutexattr_t ma;
  pthread_condattr_t ca;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&p->mu, &ma);
  pthread_cond_init(&p->cv, &ca);
  p->rounds = 500;
  pid_t pid = fork();
  int me = pid == 0 ? 1 : 0;
  for (int i = 0; i < p->rounds; i++) {
    pthread_mutex_lock(&p->mu);
    while (p->turn != me) pthread_cond_wait(&p->cv, &p->mu);
    p->total += me ? 2 : 1;
    p->turn = !me;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  if (pid == 0) _exit(0);
  int child = reap(pid);
  printf("mutex+condvar: %d rounds each way, total %d, child %d\n", p->rounds, p->total, child);
}

/* The parent waits on the word through one mapping; the child wakes it through its own mapping
 * of the same file, at another address. */
static void file_mapping(const char *what, int fd, const char *path) {
  uint32_t *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (a == MAP_FAILED) {
    perror("mmap file");
    exit(1);
  }
  a[5] = 0;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    int fd2 = path ? open(path, O_RDWR) : fd;
    uint32_t *b = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
    if (b == MAP_FAILED) _exit(2);
    await_sleeping(parent);
    b[5] = 1;
    long n = futex(&b[5], FUTEX_WAKE, 1);
    _exit(b != a && n == 1 ? 0 : 3);
  }
  long r = futex(&a[5], FUTEX_WAIT, 0);
  printf("%s: wait through one mapping returned %ld, woken through another (child %d), word %u\n", what, r,
         reap(pid), a[5]);
  munmap(a, 4096);
}

static void file_mappings(void) {
  int m = memfd_create("futex", 0);
  if (m < 0 || ftruncate(m, 8192) != 0) {
    perror("memfd");
    exit(1);
  }
  file_mapping("memfd", m, NULL);
  close(m);
  char path[] = "/tmp/futex_shared_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, 8192) != 0) {
    perror("tmp file");
    exit(1);
  }
  file_mapping("tmp file", fd, path);
  close(fd);
  unlink(path);
}

/* FUTEX_WAKE_PRIVATE in the child does not reach the parent waiting (shared) on the same word;
 * a shared FUTEX_WAKE does. */
static void private_ops(void) {
  uint32_t *w = shared_anon(4096);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    await_sleeping(parent);
    long p = futex(w, FUTEX_WAKE_PRIVATE, 1);
    long s = futex(w, FUTEX_WAKE, 1);
    _exit(p == 0 && s == 1 ? 0 : 10 + (int)p * 3 + (int)s);
  }
  long r = futex(w, FUTEX_WAIT, 0);
  printf("private wake from the other process woke nobody, shared one woke the parent: %ld, child %d\n", r,
         reap(pid));

  /* The other way round: the parent waits with FUTEX_WAIT_PRIVATE; neither kind of wake from the
   * child reaches it, and a signal ends the wait. */
  pid = fork();
  if (pid == 0) {
    await_sleeping(parent);
    long s = futex(w, FUTEX_WAKE, 1);
    long p = futex(w, FUTEX_WAKE_PRIVATE, 1);
    kill(parent, SIGUSR1);
    _exit(s == 0 && p == 0 ? 0 : 20);
  }
  r = futex(w, FUTEX_WAIT_PRIVATE, 0);
  printf("wakes from another process find no private waiter: wait %s, child %d\n",
         r == -1 && errno == EINTR ? "interrupted" : "returned", reap(pid));
}

/* A private mapping inherited across fork is copied: the child's shared wake reaches nobody. */
static void private_mapping(void) {
  uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    await_sleeping(parent);
    long n = futex(w, FUTEX_WAKE, 1);
    kill(parent, SIGUSR1);
    _exit(n == 0 ? 0 : 30);
  }
  long r = futex(w, FUTEX_WAIT, 0);
  printf("private mapping: wait %s, child %d\n", r == -1 && errno == EINTR ? "interrupted" : "returned", reap(pid));
}

/* The other ops across processes: the parent waits with a bitset; the child's WAKE_BITSET with
 * another bitset finds nobody, CMP_REQUEUE moves the waiter to a second word and WAKE_OP wakes it
 * there, each through the shared key. */
static void other_ops(void) {
  uint32_t *w = shared_anon(4096);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    await_sleeping(parent);
    long nb = syscall(SYS_futex, &w[0], FUTEX_WAKE_BITSET, 1, NULL, NULL, 2);
    long rq = syscall(SYS_futex, &w[0], FUTEX_CMP_REQUEUE, 0, (void *)1L, &w[1], 0);
    long op = syscall(SYS_futex, &w[2], FUTEX_WAKE_OP, 1, (void *)1L, &w[1],
                      FUTEX_OP(FUTEX_OP_SET, 7, FUTEX_OP_CMP_EQ, 0));
    printf("other bitset woke %ld, cmp_requeue moved %ld, wake_op woke %ld\n", nb, rq, op);
    _exit(0);
  }
  long r = syscall(SYS_futex, &w[0], FUTEX_WAIT_BITSET, 0, NULL, NULL, 1);
  printf("bitset wait returned %ld, second word %u, child %d\n", r, w[1], reap(pid));
}

static void on_usr1(int sig) { (void)sig; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  semaphores();
  mutex_condvar();
  file_mappings();
  private_ops();
  private_mapping();
  other_ops();
  return 0;
}
