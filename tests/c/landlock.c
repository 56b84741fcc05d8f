/*
 * Landlock's filesystem rights (ABI 1 to 3): each case runs in a child that restricts itself
 * to a directory tree for some rights and tries an operation inside and outside it: reading
 * and writing files, listing directories, making and removing files and directories, executing,
 * renaming across directories (EXDEV without REFER on both sides), truncating (by path, and
 * through descriptors opened before and after the restriction); a second layer without rules
 * denies what the first allows; a forked child inherits the domain; the syscalls' errors.
 * Prints what each step returned.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define RULE_PATH_BENEATH 1
#define EXECUTE (1 << 0)
#define WRITE_FILE (1 << 1)
#define READ_FILE (1 << 2)
#define READ_DIR (1 << 3)
#define REMOVE_DIR (1 << 4)
#define REMOVE_FILE (1 << 5)
#define MAKE_DIR (1 << 7)
#define MAKE_REG (1 << 8)
#define MAKE_SYM (1 << 12)
#define REFER (1 << 13)
#define TRUNCATE (1 << 14)

struct ruleset_attr {
  uint64_t fs;
};
struct path_beneath {
  uint64_t allowed;
  int32_t fd;
} __attribute__((packed));

static int create_ruleset(uint64_t fs) {
  struct ruleset_attr a = {fs};
  return syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
}

static void allow(int rs, const char *path, uint64_t access) {
  struct path_beneath pb = {access, open(path, O_PATH | O_CLOEXEC)};
  if (syscall(SYS_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0) != 0) perror("add_rule");
  close(pb.fd);
}

static void enforce(int rs) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (syscall(SYS_landlock_restrict_self, rs, 0) != 0) perror("restrict_self");
  close(rs);
}

static char base[] = "/tmp/landlock-XXXXXX";
static char in[128], out[128];

/* Runs op in a child restricted to `in` for `rights` (handled) granting `granted` there. */
static void run(const char *what, uint64_t rights, uint64_t granted, int (*op)(void)) {
  pid_t pid = fork();
  if (pid == 0) {
    int rs = create_ruleset(rights);
    allow(rs, in, granted);
    enforce(rs);
    errno = 0;
    int r = op();
    _exit(r < 0 ? errno : 0);
  }
  int st;
  waitpid(pid, &st, 0);
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  printf("%s: %s\n", what, code == 0 ? "ok" : code < 0 ? "killed" : strerrorname_np(code));
}

static char p1[256], p2[256];
static int open_read(void) { return open(p1, O_RDONLY); }
static int open_write(void) { return open(p1, O_WRONLY); }
static int open_dir(void) { return open(p1, O_RDONLY | O_DIRECTORY); }
static int make_reg(void) { return open(p1, O_CREAT | O_WRONLY, 0600); }
static int make_dir(void) { return mkdir(p1, 0700); }
static int make_sym(void) { return symlink("x", p1); }
static int remove_file(void) { return unlink(p1); }
static int remove_dir(void) { return rmdir(p1); }
static int do_rename(void) { return rename(p1, p2); }
static int do_truncate(void) { return truncate(p1, 0); }
static int do_exec(void) {
  char *argv[] = {p1, NULL};
  execv(p1, argv);
  return -1;
}
static int do_fork_read(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(open(p1, O_RDONLY) < 0 ? errno : 0);
  int st;
  waitpid(pid, &st, 0);
  errno = WEXITSTATUS(st);
  return errno == 0 ? 0 : -1;
}
static int second_layer(void) {
  enforce(create_ruleset(READ_FILE));
  return open(p1, O_RDONLY);
}
static int early_fd = -1;
static int ftruncate_early(void) { return ftruncate(early_fd, 0); }
static int ftruncate_late(void) {
  int fd = open(p1, O_WRONLY);
  return fd < 0 ? -1 : ftruncate(fd, 0);
}

static void touch(const char *path) { close(open(path, O_CREAT | O_WRONLY, 0755)); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (mkdtemp(base) == NULL) return 1;
  snprintf(in, sizeof in, "%s/in", base);
  snprintf(out, sizeof out, "%s/out", base);
  mkdir(in, 0755);
  mkdir(out, 0755);
  int v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1);
  printf("ABI version 3 or more: %d\n", v >= 3);
  struct ruleset_attr bad = {1ULL << 63};
  printf("unknown right: %s\n", syscall(SYS_landlock_create_ruleset, &bad, sizeof bad, 0) < 0 ? strerrorname_np(errno) : "ok");
  bad.fs = READ_FILE;
  printf("unknown flag: %s\n", syscall(SYS_landlock_create_ruleset, &bad, sizeof bad, 0xffff) < 0 ? strerrorname_np(errno) : "ok");
  bad.fs = 0;
  printf("no right: %s\n", syscall(SYS_landlock_create_ruleset, &bad, sizeof bad, 0) < 0 ? strerrorname_np(errno) : "ok");
  int rs = create_ruleset(READ_FILE);
  struct path_beneath pb = {WRITE_FILE, open(in, O_PATH)};
  printf("rule for an unhandled right: %s\n", syscall(SYS_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0) < 0 ? strerrorname_np(errno) : "ok");
  printf("unknown rule type: %s\n", syscall(SYS_landlock_add_rule, rs, 0xffff, &pb, 0) < 0 ? strerrorname_np(errno) : "ok");
  printf("add_rule on a non-ruleset: %s\n", syscall(SYS_landlock_add_rule, pb.fd, RULE_PATH_BENEATH, &pb, 0) < 0 ? strerrorname_np(errno) : "ok");
  printf("restrict_self with a bad fd: %s\n", syscall(SYS_landlock_restrict_self, -1, 0) < 0 ? strerrorname_np(errno) : "ok");
  close(pb.fd);
  /* At most 16 stacked layers (LANDLOCK_MAX_NUM_LAYERS): the 17th is E2BIG. */
  pid_t pid = fork();
  if (pid == 0) {
    int i = 0;
    while (i < 20 && syscall(SYS_landlock_restrict_self, rs, 0) == 0) i++;
    printf("layers stacked: %d, then %s\n", i, strerrorname_np(errno));
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  close(rs);

  snprintf(p1, sizeof p1, "%s/f", in);
  touch(p1);
  run("read inside", READ_FILE, READ_FILE, open_read);
  run("write inside without the right", READ_FILE | WRITE_FILE, READ_FILE, open_write);
  run("fork inherits: read inside", READ_FILE, READ_FILE, do_fork_read);
  run("a second layer without rules", READ_FILE, READ_FILE, second_layer);
  snprintf(p1, sizeof p1, "%s/f", out);
  touch(p1);
  run("read outside", READ_FILE, READ_FILE, open_read);
  run("write outside", WRITE_FILE, WRITE_FILE, open_write);
  run("fork inherits: read outside", READ_FILE, READ_FILE, do_fork_read);
  run("truncate outside", TRUNCATE, TRUNCATE, do_truncate);
  early_fd = open(p1, O_WRONLY);
  run("ftruncate of a descriptor opened before", TRUNCATE, TRUNCATE, ftruncate_early);
  run("ftruncate of a descriptor opened after", TRUNCATE, TRUNCATE, ftruncate_late);
  close(early_fd);
  snprintf(p1, sizeof p1, "%s", out);
  run("list outside", READ_DIR, READ_DIR, open_dir);
  snprintf(p1, sizeof p1, "%s", in);
  run("list inside", READ_DIR, READ_DIR, open_dir);
  snprintf(p1, sizeof p1, "%s/new", in);
  run("make a file inside", MAKE_REG, MAKE_REG, make_reg);
  unlink(p1);
  run("make a directory inside", MAKE_DIR, MAKE_DIR, make_dir);
  run("remove the directory inside", REMOVE_DIR, REMOVE_DIR, remove_dir);
  run("make a symlink inside", MAKE_SYM, MAKE_SYM, make_sym);
  run("remove the symlink inside", REMOVE_FILE, REMOVE_FILE, remove_file);
  snprintf(p1, sizeof p1, "%s/new", out);
  run("make a file outside", MAKE_REG, MAKE_REG, make_reg);
  run("make a directory outside", MAKE_DIR, MAKE_DIR, make_dir);
  mkdir(p1, 0755);
  run("remove a directory outside", REMOVE_DIR, REMOVE_DIR, remove_dir);
  rmdir(p1);
  snprintf(p1, sizeof p1, "%s/f", out);
  run("remove a file outside", REMOVE_FILE, REMOVE_FILE, remove_file);
  snprintf(p1, sizeof p1, "%s/exe", out);
  touch(p1);
  run("execute outside", EXECUTE, EXECUTE, do_exec);

  /* Renames across directories. */
  char sub1[160], sub2[160];
  snprintf(sub1, sizeof sub1, "%s/a", in);
  snprintf(sub2, sizeof sub2, "%s/b", in);
  mkdir(sub1, 0755);
  mkdir(sub2, 0755);
  snprintf(p1, sizeof p1, "%s/m", sub1);
  snprintf(p2, sizeof p2, "%s/m", sub2);
  touch(p1);
  run("rename across directories without REFER handled", MAKE_REG | REMOVE_FILE, MAKE_REG | REMOVE_FILE, do_rename);
  run("rename across directories inside with REFER", REFER, REFER, do_rename);
  snprintf(p1, sizeof p1, "%s/m", sub2);
  snprintf(p2, sizeof p2, "%s/m", out);
  run("rename out of the tree with REFER inside", REFER, REFER, do_rename);
  snprintf(p2, sizeof p2, "%s/m2", sub2);
  run("rename within one directory", REFER | MAKE_REG | REMOVE_FILE, REFER | MAKE_REG | REMOVE_FILE, do_rename);

  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", base);
  return system(cmd) == 0 ? 0 : 1;
}
