/* execve of a set-user-ID-root file by an unprivileged process under ptrace (gVisor's exec_test
 * SUIDExecDoesntGainUIDWithPtracerAttached): the trace's credentials are taken at attach
 * (Linux's ptracer_cred), so a tracer that held CAP_SYS_PTRACE then lets the exec gain root,
 * one that had dropped it first does not (the effective uid stays the real one, the process
 * stays dumpable), and an untraced exec gains it. Run as root. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534
#define CAP_SYS_PTRACE 19

struct hdr { unsigned version; int pid; };
struct data { unsigned effective, permitted, inheritable; };

static void drop_sys_ptrace(void) {
  struct hdr h = {0x20080522, 0};
  struct data d[2];
  syscall(SYS_capget, &h, d);
  d[0].effective &= ~(1u << CAP_SYS_PTRACE);
  d[0].permitted &= ~(1u << CAP_SYS_PTRACE);
  if (syscall(SYS_capset, &h, d) != 0) perror("capset");
}

static char path[64];

/* when: 0 untraced, 1 the tracer drops CAP_SYS_PTRACE after attaching, 2 before. */
static void run(const char *name, int when) {
  printf("%s:\n", name);
  int go[2];
  if (pipe(go) != 0) exit(1);
  pid_t tracer = fork();
  if (tracer == 0) {
    /* Before the fork, so that the tracee lacks it too: a tracer without CAP_SYS_PTRACE may
     * attach only to a process whose permitted set is within its own. */
    if (when == 2) drop_sys_ptrace();
    pid_t c = fork();
    if (c == 0) {
      char x;
      close(go[1]);
      if (read(go[0], &x, 1) != 1) _exit(90);
      if (syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY) != 0) _exit(91);
      char *argv[] = {path, "probe", NULL};
      execve(path, argv, NULL);
      _exit(92);
    }
    if (when != 0) {
      if (ptrace(PTRACE_ATTACH, c, 0, 0) != 0) {
        perror("attach");
        kill(c, SIGKILL);
        _exit(1);
      }
      int st;
      if (waitpid(c, &st, 0) != c || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) printf("  no SIGSTOP stop: %#x\n", st);
      ptrace(PTRACE_CONT, c, 0, 0);
    }
    if (when == 1) drop_sys_ptrace();
    if (write(go[1], "x", 1) != 1) _exit(1);
    for (;;) {
      int st;
      if (waitpid(c, &st, 0) != c) _exit(1);
      if (WIFEXITED(st)) {
        printf("  exit %d\n", WEXITSTATUS(st));
        _exit(0);
      }
      if (WIFSIGNALED(st)) {
        printf("  killed by %d\n", WTERMSIG(st));
        _exit(0);
      }
      /* The SIGTRAP after execve is not passed on; anything else is. */
      int sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
      if (sig != 0) printf("  stop %d\n", sig);
      ptrace(PTRACE_CONT, c, 0, sig);
    }
  }
  close(go[0]);
  close(go[1]);
  waitpid(tracer, NULL, 0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("  uids %d %d %d, dumpable %d, AT_SECURE %lu\n", (int)r, (int)e, (int)s,
           prctl(PR_GET_DUMPABLE), getauxval(AT_SECURE));
    return 0;
  }
  if (geteuid() != 0) {
    printf("needs root\n");
    return 0;
  }
  snprintf(path, sizeof path, "/tmp/ptrace-suid-%d", getpid());
  int in = open("/proc/self/exe", O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
  struct stat st;
  fstat(in, &st);
  if (sendfile(out, in, NULL, st.st_size) != st.st_size) perror("sendfile");
  close(in);
  close(out);
  chown(path, 0, 0);
  chmod(path, 04755);
  run("untraced", 0);
  run("traced, CAP_SYS_PTRACE dropped after the attach", 1);
  run("traced, CAP_SYS_PTRACE dropped before the attach", 2);
  unlink(path);
  return 0;
}
