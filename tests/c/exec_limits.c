/* execve's limits on what it loads: five nested #! scripts run and a sixth is ELOOP; an ELF
 * interpreter (PT_INTERP) that is no ELF file, is for another machine, or has an unusable
 * program header table is ELIBBAD, one shorter than an ELF header EIO, one of another ELF type
 * kills the process with SIGSEGV (past the point of no return). The programs are copies of
 * this one with PT_INTERP pointed at crafted interpreters. */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

static char dir[] = "/tmp/xl.XXXXXX";

static char *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  fstat(fd, &st);
  char *b = malloc(st.st_size);
  *len = read(fd, b, st.st_size);
  close(fd);
  return b;
}

static void spill(const char *path, const char *b, size_t len, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  write(fd, b, len);
  close(fd);
}

/* Runs path; prints how it went: the exit status, the signal, or execve's errno. */
static void run(const char *what, const char *path) {
  int p[2];
  pipe2(p, O_CLOEXEC);
  pid_t c = fork();
  if (c == 0) {
    char *argv[] = {(char *)path, "child", NULL};
    execv(path, argv);
    int e = errno;
    write(p[1], &e, sizeof e);
    _exit(127);
  }
  close(p[1]);
  int e = 0, st;
  ssize_t n = read(p[0], &e, sizeof e);
  close(p[0]);
  waitpid(c, &st, 0);
  if (n == sizeof e) printf("%s: execve %s\n", what, en(e));
  else if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, WTERMSIG(st) == SIGSEGV ? "SIGSEGV" : strsignal(WTERMSIG(st)));
  else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

/* A copy of this program whose PT_INTERP names interp (the name must fit the old one). */
static void with_interp(const char *path, const char *interp) {
  size_t len;
  char *b = slurp("/proc/self/exe", &len);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
  for (int i = 0; i < eh->e_phnum; i++) {
    Elf64_Phdr *ph = (Elf64_Phdr *)(b + eh->e_phoff + i * eh->e_phentsize);
    if (ph->p_type == PT_INTERP && strlen(interp) < ph->p_filesz) strcpy(b + ph->p_offset, interp);
  }
  spill(path, b, len, 0755);
  free(b);
}

/* The real interpreter's bytes with one change at offset off. */
static void patched_ld(const char *path, size_t off, const void *bytes, size_t n) {
  size_t len;
  char *b = slurp("/lib64/ld-linux-x86-64.so.2", &len);
  memcpy(b + off, bytes, n);
  spill(path, b, len, 0755);
  free(b);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) return 3; /* the program loaded and ran */
  if (mkdtemp(dir) == NULL) return 1;
  char path[64], prev[64];
  snprintf(prev, sizeof prev, "/proc/self/exe");
  size_t len;
  char *self = slurp("/proc/self/exe", &len);
  snprintf(prev, sizeof prev, "%s/prog", dir);
  spill(prev, self, len, 0755);
  free(self);
  for (int i = 1; i <= 6; i++) {
    snprintf(path, sizeof path, "%s/s%d", dir, i);
    char line[128];
    int n = snprintf(line, sizeof line, "#!%s\n", prev);
    spill(path, line, n, 0755);
    char what[32];
    snprintf(what, sizeof what, "%d nested scripts", i);
    run(what, path);
    strcpy(prev, path);
  }

  char interp[64], prog[64];
  snprintf(prog, sizeof prog, "%s/p", dir);
  snprintf(interp, sizeof interp, "%s/i", dir);
  with_interp(prog, interp);
  const char *script = "#!/bin/sh\n# a script long enough to hold an ELF header's worth of bytes\necho hi\n";
  spill(interp, script, strlen(script), 0755);
  run("interpreter is a script", prog);
  spill(interp, "\177ELF\2\1\1", 7, 0755);
  run("interpreter shorter than an ELF header", prog);
  uint16_t v = EM_PPC64;
  patched_ld(interp, offsetof(Elf64_Ehdr, e_machine), &v, 2);
  run("interpreter for another machine", prog);
  v = 40;
  patched_ld(interp, offsetof(Elf64_Ehdr, e_phentsize), &v, 2);
  run("interpreter with a bad e_phentsize", prog);
  v = ET_REL;
  patched_ld(interp, offsetof(Elf64_Ehdr, e_type), &v, 2);
  run("interpreter of type ET_REL", prog);
  v = ET_DYN;
  patched_ld(interp, offsetof(Elf64_Ehdr, e_type), &v, 2);
  run("interpreter unchanged", prog);
  return 0;
}
