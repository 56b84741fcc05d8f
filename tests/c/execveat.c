/* execveat(2): an empty path needs AT_EMPTY_PATH (ENOENT), AT_SYMLINK_NOFOLLOW refuses a final
 * symlink (ELOOP), an O_PATH descriptor with AT_EMPTY_PATH runs its file, a script reached
 * through a descriptor is named /dev/fd/N[/name] for its interpreter, and through a
 * close-on-exec descriptor is ENOENT. Each exec runs in a child; the parent prints. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>

static char *argv0[] = {"prog", NULL};
static char *envp0[] = {NULL};

/* Runs execveat in a child: prints its errno if it fails, else the child's exit status. */
static void run(const char *what, int dirfd, const char *path, int flags) {
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    dup2(p[1], 2);
    syscall(SYS_execveat, dirfd, path, argv0, envp0, flags);
    int e = errno;
    write(p[1], "", 0);
    _exit(100 + (e == ENOENT ? 1 : e == ELOOP ? 2 : e == EBADF ? 3 : e == ENOTDIR ? 4 : e == EACCES ? 5 : 9));
  }
  close(p[1]);
  char out[256] = {0};
  int n = 0, r;
  while ((r = read(p[0], out + n, sizeof(out) - 1 - n)) > 0) n += r;
  close(p[0]);
  int status;
  waitpid(c, &status, 0);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const char *err = code == 101 ? "ENOENT" : code == 102 ? "ELOOP" : code == 103 ? "EBADF" : code == 104 ? "ENOTDIR"
                  : code == 105 ? "EACCES" : code == 109 ? "E?" : NULL;
  if (err) printf("%s: %s\n", what, err);
  else printf("%s: ran, status %d, stderr [%s]\n", what, code, strtok(out, "\n") ? out : "");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char dir[] = "/tmp/execveat.XXXXXX";
  mkdtemp(dir);
  char script[64], link[64];
  snprintf(script, sizeof(script), "%s/script", dir);
  snprintf(link, sizeof(link), "%s/link", dir);
  int fd = open(script, O_CREAT | O_WRONLY, 0755);
  const char *text = "#!/bin/sh\necho $0 $(cat /proc/$$/comm) >&2\nexit 3\n";
  write(fd, text, strlen(text));
  close(fd);
  symlink("/bin/true", link);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  int dfd_cloexec = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int opath = open("/bin/true", O_PATH);
  int sfd = open(script, O_RDONLY);
  int sfd_cloexec = open(script, O_RDONLY | O_CLOEXEC);

  run("empty path without AT_EMPTY_PATH", opath, "", 0);
  run("O_PATH descriptor, AT_EMPTY_PATH", opath, "", AT_EMPTY_PATH);
  run("symlink, AT_SYMLINK_NOFOLLOW", dfd, "link", AT_SYMLINK_NOFOLLOW);
  run("symlink followed", dfd, "link", 0);
  run("absolute symlink, AT_SYMLINK_NOFOLLOW", AT_FDCWD, link, AT_SYMLINK_NOFOLLOW);
  chdir(dir);
  run("script by its path", AT_FDCWD, "./script", 0);
  run("script from a directory descriptor", dfd, "script", 0);
  run("script from a close-on-exec directory descriptor", dfd_cloexec, "script", 0);
  run("script descriptor, AT_EMPTY_PATH", sfd, "", AT_EMPTY_PATH);
  run("close-on-exec script descriptor", sfd_cloexec, "", AT_EMPTY_PATH);
  run("relative path from a file descriptor", sfd, "x", 0);
  unlink(script);
  unlink(link);
  rmdir(dir);
  return 0;
}
