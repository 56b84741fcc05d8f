/*
 * Checkpoint and restore of a job of several processes and threads (issue #13's acceptance):
 * `producer | sort -n | tail -n 5` over two pipes (the producer a forked child writing 300
 * numbers in 15 batches 100 ms apart, sort and tail the host's programs), two threads asleep in
 * FUTEX_WAIT until the end, ITIMER_REAL armed for 2 s with a SIGALRM handler, a child that exits
 * at once and stays a zombie until the end, the parent in wait4 for each child by pid, and with
 * argument "file" a file in /tmp the parent opened with O_APPEND before the job and writes to
 * after it. Prints "started" once everything is set up, and at the end what it saw. A run
 * checkpointed anywhere after "started" and restored prints the same lines as one that was not.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static int gate; /* the futex word the threads sleep on */

static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

static void *sleeper(void *arg) {
  long i = (long)arg;
  while (__atomic_load_n(&gate, __ATOMIC_SEQ_CST) == 0) syscall(SYS_futex, &gate, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return (void *)(i * i + 1);
}

static pid_t spawn(int in, int out, char *const argv[]) {
  pid_t p = fork();
  if (p < 0) {
    perror("fork");
    exit(1);
  }
  if (p == 0) {
    if (in >= 0) dup2(in, 0);
    if (out >= 0) dup2(out, 1);
    for (int fd = 3; fd < 64; fd++) close(fd);
    execvp(argv[0], argv);
    perror("exec");
    _exit(127);
  }
  return p;
}

/* What the parent saw, printed at the end: tail's output comes first whatever the timing. */
static char report[512];

static void wait_for(pid_t p, const char *name) {
  int st;
  pid_t r;
  while ((r = wait4(p, &st, 0, NULL)) < 0 && errno == EINTR) {
  }
  if (r != p) {
    perror("wait4");
    exit(1);
  }
  size_t len = strlen(report);
  snprintf(report + len, sizeof report - len, "%s: %s %d\n", name, WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(int argc, char **argv) {
  int with_file = argc > 1 && strcmp(argv[1], "file") == 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  int log = -1;
  char log_path[64];
  snprintf(log_path, sizeof log_path, "/tmp/ckpt_pipeline.%d.log", (int)getpid());
  if (with_file) {
    log = open(log_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (log < 0 || write(log, "begin\n", 6) != 6) {
      perror("log");
      return 1;
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  pthread_t th[2];
  for (long i = 0; i < 2; i++) pthread_create(&th[i], NULL, sleeper, (void *)i);

  pid_t quick = fork();
  if (quick == 0) _exit(7);

  int p1[2], p2[2];
  if (pipe(p1) != 0 || pipe(p2) != 0) return 1;
  pid_t producer = fork();
  if (producer == 0) {
    close(p1[0]);
    close(p2[0]);
    close(p2[1]);
    char line[32];
    for (int batch = 0; batch < 15; batch++) {
      for (int j = 0; j < 20; j++) {
        int v = ((batch * 20 + j) * 7919) % 1000;
        int n = snprintf(line, sizeof line, "%d\n", v);
        if (write(p1[1], line, n) != n) _exit(2);
      }
      struct timespec ts = {0, 100 * 1000 * 1000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    _exit(0);
  }
  char *sort_argv[] = {"sort", "-n", NULL};
  char *tail_argv[] = {"tail", "-n", "5", NULL};
  pid_t sorter = spawn(p1[0], p2[1], sort_argv);
  pid_t tailer = spawn(p2[0], -1, tail_argv);
  close(p1[0]);
  close(p1[1]);
  close(p2[0]);
  close(p2[1]);

  struct itimerval it = {{0, 0}, {2, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
  printf("started\n");

  wait_for(producer, "producer");
  wait_for(sorter, "sort");
  wait_for(tailer, "tail");
  while (alarms == 0) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  printf("alarms: %d\n", (int)alarms);
  __atomic_store_n(&gate, 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &gate, FUTEX_WAKE_PRIVATE, 2, NULL, NULL, 0);
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(th[i], &r);
    printf("thread %d: %ld\n", i, (long)r);
  }
  wait_for(quick, "quick");
  fputs(report, stdout);
  if (with_file) {
    if (write(log, "end\n", 4) != 4) return 1;
    char buf[64] = {0};
    ssize_t n = pread(log, buf, sizeof buf - 1, 0);
    printf("log (%zd bytes at offset %ld): %s", n, (long)lseek(log, 0, SEEK_CUR), buf);
    unlink(log_path);
  }
  return 0;
}
