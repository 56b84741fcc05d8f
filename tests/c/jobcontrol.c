/* Job control: stop and continue with wait4/waitid (WUNTRACED, WCONTINUED), SIGCHLD with
 * CLD_STOPPED/CLD_CONTINUED and SA_NOCLDSTOP, SIGTSTP to a process group, SIGKILL of a stopped
 * process, SIGCONT and stop signals discarding each other, stop signals ignored in an orphaned
 * process group, and SIGHUP+SIGCONT to a group orphaned with a stopped member; /proc shows a
 * stopped process and each of its threads as T (stopped), and a zombie as Z with its name and
 * its leader in /proc/PID/task. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

static volatile int chld_count, chld_code, chld_status;

static void on_chld(int s, siginfo_t *si, void *uc) {
  (void)s; (void)uc;
  chld_count++;
  chld_code = si->si_code;
  chld_status = si->si_status;
}

static volatile int got_hup;

static void on_hup(int s) {
  (void)s;
  got_hup = 1;
}

static void set_chld(int flags) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_chld;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | flags;
  sigaction(SIGCHLD, &sa, NULL);
  chld_count = chld_code = chld_status = 0;
}

static void describe(const char *what, int st) {
  printf("%s: raw=0x%x", what, st);
  if (WIFSTOPPED(st)) printf(" stopped sig=%d", WSTOPSIG(st));
  else if (WIFCONTINUED(st)) printf(" continued");
  else if (WIFEXITED(st)) printf(" exited code=%d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf(" killed sig=%d core=%d", WTERMSIG(st), WCOREDUMP(st) ? 1 : 0);
  printf("\n");
}

/* The state letter of /proc/PATH/stat (after "comm) "), or '?' when it cannot be read; the
 * comm (without its parentheses) goes to comm when it is not NULL. */
static char stat_state(const char *path, char *comm, size_t comm_size) {
  char buf[512];
  FILE *f = fopen(path, "r");
  if (!f) return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *open = strchr(buf, '('), *p = strrchr(buf, ')');
  if (!open || !p || p[1] != ' ') return '?';
  if (comm) snprintf(comm, comm_size, "%.*s", (int)(p - open - 1), open + 1);
  return p[2];
}

/* The State: line of /proc/PID/status, without its newline. */
static void print_status_state(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("  no %s\n", path);
    return;
  }
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "State:", 6) == 0) printf("  status %s", line);
  fclose(f);
}

/* The process's state in /proc/PID/stat and status, and the state of each of its threads. */
static void print_proc_state(const char *what, pid_t pid) {
  char path[320];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char comm[64] = "";
  char state = stat_state(path, comm, sizeof comm);
  printf("  %s: stat state %c, comm %s\n", what, state, comm);
  print_status_state(pid);
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir(path);
  if (!d) return;
  int threads = 0, stopped = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/%d/task/%s/stat", pid, e->d_name);
    threads++;
    stopped += stat_state(path, NULL, 0) == 'T';
  }
  closedir(d);
  printf("  threads %d, of which stopped %d\n", threads, stopped);
}

/* A child stops itself; the parent sees it with WUNTRACED, continues it, sees WCONTINUED. */
static void stop_and_continue(void) {
  set_chld(0);
  int go[2];
  if (pipe(go) < 0) exit(1);
  pid_t c = fork();
  if (c == 0) {
    raise(SIGSTOP);
    char x;
    if (read(go[0], &x, 1) != 1) _exit(1);
    _exit(5);
  }
  int st;
  pid_t w = waitpid(c, &st, WUNTRACED);
  describe("self-stop", st);
  print_proc_state("stopped", c);
  printf("  waited=%d sigchld count=%d code=%d status=%d\n", w == c, chld_count, chld_code, chld_status);
  printf("  WNOHANG|WUNTRACED again: %d\n", waitpid(c, &st, WNOHANG | WUNTRACED));
  kill(c, SIGCONT);
  w = waitpid(c, &st, WCONTINUED);
  describe("continue", st);
  printf("  waited=%d\n", w == c);
  if (write(go[1], "g", 1) < 0) exit(1);
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  print_proc_state("exited, not reaped", c);
  waitpid(c, &st, 0);
  close(go[0]);
  close(go[1]);
  describe("exit", st);
}

/* waitid with WSTOPPED and WCONTINUED, and WNOWAIT keeping the report. */
static void with_waitid(void) {
  set_chld(0);
  int go[2];
  if (pipe(go) < 0) exit(1);
  pid_t c = fork();
  if (c == 0) {
    raise(SIGSTOP);
    char x;
    if (read(go[0], &x, 1) != 1) _exit(1);
    _exit(6);
  }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WSTOPPED | WNOWAIT);
  printf("waitid WNOWAIT: code=%d status=%d pid_ok=%d\n", si.si_code, si.si_status, si.si_pid == c);
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WSTOPPED);
  printf("waitid: code=%d status=%d\n", si.si_code, si.si_status);
  memset(&si, 0, sizeof si);
  int r = waitid(P_PID, c, &si, WSTOPPED | WNOHANG);
  printf("waitid again: r=%d pid=%d\n", r, si.si_pid);
  kill(c, SIGCONT);
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WCONTINUED);
  printf("waitid continued: code=%d status=%d\n", si.si_code, si.si_status);
  if (write(go[1], "g", 1) < 0) exit(1);
  close(go[0]);
  close(go[1]);
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WEXITED);
  printf("waitid exited: code=%d status=%d\n", si.si_code, si.si_status);
}

/* SIGTSTP to a process group of two processes; SA_NOCLDSTOP; SIGKILL of a stopped process. */
static void group_tstp(void) {
  set_chld(SA_NOCLDSTOP);
  int ready[2];
  if (pipe(ready) < 0) exit(1);
  pid_t a = fork();
  if (a == 0) {
    setpgid(0, 0);
    if (write(ready[1], "a", 1) < 0) _exit(1);
    for (;;) pause();
  }
  setpgid(a, a);
  pid_t b = fork();
  if (b == 0) {
    setpgid(0, a);
    if (write(ready[1], "b", 1) < 0) _exit(1);
    for (;;) pause();
  }
  setpgid(b, a);
  char x[2];
  if (read(ready[0], x, 1) != 1 || read(ready[0], x + 1, 1) != 1) exit(1);
  kill(-a, SIGTSTP);
  int st;
  waitpid(a, &st, WUNTRACED);
  describe("group tstp a", st);
  waitpid(b, &st, WUNTRACED);
  describe("group tstp b", st);
  printf("  sigchld with SA_NOCLDSTOP: %d\n", chld_count);
  kill(a, SIGKILL);
  waitpid(a, &st, 0);
  describe("kill stopped a", st);
  kill(b, SIGTERM);
  printf("  SIGTERM to stopped b: waitpid WNOHANG=%d\n", waitpid(b, &st, WNOHANG));
  kill(b, SIGCONT);
  waitpid(b, &st, 0);
  describe("term then cont b", st);
  printf("  sigchld after two deaths: %d\n", chld_count);
  close(ready[0]);
  close(ready[1]);
}

/* SIGCONT discards a pending stop signal; a stop signal discards a pending SIGCONT. */
static void discard(void) {
  signal(SIGCHLD, SIG_DFL);
  int go[2], back[2];
  if (pipe(go) < 0 || pipe(back) < 0) exit(1);
  pid_t c = fork();
  if (c == 0) {
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGTSTP);
    sigaddset(&m, SIGCONT);
    sigaddset(&m, SIGTTIN);
    sigprocmask(SIG_BLOCK, &m, NULL);
    char x;
    if (write(back[1], "r", 1) < 0 || read(go[0], &x, 1) != 1) _exit(1);
    sigset_t p;
    sigpending(&p);
    printf("discard: after TSTP,CONT pending tstp=%d cont=%d\n", sigismember(&p, SIGTSTP), sigismember(&p, SIGCONT));
    if (write(back[1], "r", 1) < 0 || read(go[0], &x, 1) != 1) _exit(1);
    sigpending(&p);
    printf("discard: after CONT,TTIN pending ttin=%d cont=%d\n", sigismember(&p, SIGTTIN), sigismember(&p, SIGCONT));
    signal(SIGTTIN, SIG_IGN);
    signal(SIGCONT, SIG_IGN);
    sigprocmask(SIG_UNBLOCK, &m, NULL);
    _exit(7);
  }
  char x;
  if (read(back[0], &x, 1) != 1) exit(1);
  kill(c, SIGTSTP);
  kill(c, SIGCONT);
  if (write(go[1], "g", 1) < 0 || read(back[0], &x, 1) != 1) exit(1);
  kill(c, SIGCONT);
  kill(c, SIGTTIN);
  if (write(go[1], "g", 1) < 0) exit(1);
  int st;
  waitpid(c, &st, 0);
  describe("discard child", st);
}

/* A session leader's own group is orphaned (its parent is in another session): SIGTSTP is
 * ignored there. A child group with a stopped member is orphaned when the session leader exits:
 * it gets SIGHUP and SIGCONT. The top process is a subreaper so that the orphan is its child
 * natively as in the sentry. */
static void orphans(void) {
  signal(SIGCHLD, SIG_DFL);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t s = fork();
  if (s == 0) {
    setsid();
    raise(SIGTSTP);
    printf("orphan: session leader ignored SIGTSTP\n");
    pid_t c = fork();
    if (c == 0) {
      setpgid(0, 0);
      signal(SIGHUP, on_hup);
      raise(SIGSTOP);
      printf("orphan: continued, got SIGHUP=%d\n", got_hup);
      _exit(3);
    }
    setpgid(c, c);
    int st;
    waitpid(c, &st, WUNTRACED);
    describe("orphan: child before", st);
    _exit(0);
  }
  int st, st2;
  waitpid(s, &st, 0);
  pid_t w = wait(&st2);
  describe("orphan: session leader", st);
  printf("orphan: reaped adopted child=%d\n", w > 0 && w != s);
  describe("orphan: adopted child", st2);
}

/* A stopped process stops every thread: one spinning in user mode, one asleep in read(). */
static volatile unsigned long *spins;
static int wake_pipe[2];

static void *spinner(void *arg) {
  (void)arg;
  for (;;) (*spins)++;
  return NULL;
}

static void *reader(void *arg) {
  (void)arg;
  char x;
  if (read(wake_pipe[0], &x, 1) == 1) spins[1] = 1; /* runs again after the stop */
  return NULL;
}

static void all_threads_stop(void) {
  signal(SIGCHLD, SIG_DFL);
  spins = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (pipe(wake_pipe) < 0) exit(1);
  pid_t c = fork();
  if (c == 0) {
    pthread_t a, b;
    pthread_create(&b, NULL, reader, NULL);
    pthread_create(&a, NULL, spinner, NULL);
    pthread_join(b, NULL);
    for (;;) pause();
  }
  while (spins[0] == 0) usleep(1000);
  kill(c, SIGSTOP);
  int st;
  waitpid(c, &st, WUNTRACED);
  describe("threads: stopped", st);
  print_proc_state("threads stopped", c);
  unsigned long before = spins[0];
  usleep(50000);
  printf("  spinner frozen while stopped: %d\n", spins[0] == before);
  if (write(wake_pipe[1], "w", 1) < 0) exit(1);
  usleep(20000);
  printf("  reader still asleep while stopped: %d\n", spins[1] == 0);
  kill(c, SIGCONT);
  while (spins[0] == before || spins[1] == 0) usleep(1000);
  printf("  after SIGCONT: spinner runs and the reader's read completed\n");
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  describe("threads: killed", st);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  setpgid(0, 0); /* natively: keep the test's signals away from the shell's group */
  stop_and_continue();
  with_waitid();
  group_tstp();
  discard();
  orphans();
  all_threads_stop();
  return 0;
}
