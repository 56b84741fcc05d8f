/* execve of set-user-ID and set-group-ID files: the effective (and saved) ids become the file's
 * owner and group, AT_SECURE is set, capabilities follow (a set-user-ID-root file gives root's
 * sets to an unprivileged caller; one owned by nobody takes root's away), the ambient set is
 * dropped; no_new_privs and a script's own bits leave the ids alone. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct hdr { unsigned version; int pid; };
struct data { unsigned effective, permitted, inheritable; };
/* CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_NET_BIND_SERVICE. */
static const unsigned SOME = 1u << 0 | 1u << 1 | 1u << 5 | 1u << 6 | 1u << 7 | 1u << 10;

static void probe(const char *how) {
  uid_t r, e, s;
  gid_t rg, eg, sg;
  getresuid(&r, &e, &s);
  getresgid(&rg, &eg, &sg);
  struct hdr h = {0x20080522, 0};
  struct data d[2];
  syscall(SYS_capget, &h, d);
  printf("%s: uids %u %u %u gids %u %u %u secure %lu eff %x prm %x ambient NET_BIND_SERVICE %d\n", how, r, e, s,
         rg, eg, sg, getauxval(AT_SECURE), d[0].effective & SOME, d[0].permitted & SOME,
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 10, 0, 0));
}

static void copy(const char *from, const char *to, uid_t uid, gid_t gid, mode_t mode) {
  unlink(to);
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0700);
  struct stat st;
  fstat(in, &st);
  sendfile(out, in, NULL, st.st_size);
  close(in);
  close(out);
  chown(to, uid, gid);
  chmod(to, mode);
}

static void run(const char *what, const char *path, int nnp, int ambient) {
  pid_t c = fork();
  if (c == 0) {
    if (ambient) {
      struct hdr h = {0x20080522, 0};
      struct data d[2];
      syscall(SYS_capget, &h, d);
      d[0].inheritable = 1u << 10;
      syscall(SYS_capset, &h, d);
      prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 10, 0, 0);
    }
    if (nnp) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    /* With an ambient capability the caller stays root (set*uid to others would drop it). */
    if (!ambient && (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0)) _exit(1);
    execl(path, path, what, (char *)NULL);
    printf("%s: exec failed: %s\n", what, strerrorname_np(errno));
    _exit(1);
  }
  waitpid(c, NULL, 0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    probe(argv[1]);
    return 0;
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n] = 0;
  const char *nobody = "/tmp/suid-nobody", *rootfile = "/tmp/suid-root", *sgid = "/tmp/sgid-nobody",
             *plain = "/tmp/suid-plain", *script = "/tmp/suid-script";
  copy(self, nobody, 65534, 0, 04755);
  copy(self, rootfile, 0, 0, 04755);
  copy(self, sgid, 0, 65534, 02755);
  copy(self, plain, 0, 0, 0755);
  FILE *f = fopen(script, "w");
  fprintf(f, "#!%s\n", plain);
  fclose(f);
  chmod(script, 04755);
  struct stat st;
  stat(nobody, &st);
  printf("set-uid file mode %o\n", st.st_mode & 07777);
  probe("root itself");
  pid_t c = fork();
  if (c == 0) {
    execl(nobody, nobody, "root runs set-uid nobody", (char *)NULL);
    _exit(1);
  }
  waitpid(c, NULL, 0);
  run("uid 1000 runs a plain file", plain, 0, 0);
  run("uid 1000 runs set-uid root", rootfile, 0, 0);
  run("uid 1000 runs set-uid nobody", nobody, 0, 0);
  run("uid 1000 runs set-gid nobody", sgid, 0, 0);
  run("uid 1000 runs set-uid root with no_new_privs", rootfile, 1, 0);
  run("uid 1000 runs a set-uid script", script, 0, 0);
  run("root with an ambient capability runs a plain file", plain, 0, 1);
  run("root with an ambient capability runs set-uid nobody", nobody, 0, 1);
  unlink(nobody);
  unlink(rootfile);
  unlink(sgid);
  unlink(plain);
  unlink(script);
  return 0;
}
