/* CONFIG_CHECKPOINT_RESTORE's System V pieces, in an IPC namespace of the test's own (natively
 * as root: the host's objects never show): /proc/sys/kernel/{msg,shm,sem}_next_id read -1 until
 * set, take an int from 0 (EINVAL below or for text), give the next object that id (its slot the
 * first free one from the id's, its sequence number the id's) and read -1 again; root without
 * CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE cannot open them for writing (EACCES); msgrcv's
 * MSG_COPY copies the message at an index and leaves the queue alone (EINVAL without IPC_NOWAIT
 * or with MSG_EXCEPT, ENOMSG past the end). Output: the same natively and in the sentry. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

static const char *show(const char *kind) {
  static char buf[32];
  char path[64];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s_next_id", kind);
  memset(buf, 0, sizeof buf);
  int fd = open(path, O_RDONLY);
  if (read(fd, buf, sizeof buf - 1) < 0) strcpy(buf, "?");
  close(fd);
  buf[strcspn(buf, "\n")] = 0;
  return buf;
}

static long set(const char *kind, const char *v) {
  char path[64];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s_next_id", kind);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  long r = write(fd, v, strlen(v));
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static int make(const char *kind) {
  if (kind[0] == 'm') return msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (kind[1] == 'h') return shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  return semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWIPC) != 0) {
    printf("no IPC namespace: %s\n", en(errno));
    return 1;
  }
  const char *kinds[] = {"msg", "shm", "sem"};
  for (int k = 0; k < 3; k++) {
    const char *kind = kinds[k];
    printf("%s_next_id: %s\n", kind, show(kind));
    R("  set -1", set(kind, "-1"));
    R("  set text", set(kind, "x"));
    R("  set 5000", set(kind, "5000"));
    printf("  reads %s\n", show(kind));
    int a = make(kind);
    printf("  made %d, reads %s\n", a, show(kind));
    int b = make(kind);
    printf("  then without it: %d\n", b);
    char v[16];
    snprintf(v, sizeof v, "%d", a);
    set(kind, v);
    printf("  the same id again: %d\n", make(kind));
    set(kind, "98311");
    printf("  98311 (seq 3, slot 7): %d\n", make(kind));
  }

  int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  struct {
    long type;
    char text[8];
  } m1 = {1, "first"}, m2 = {2, "second"}, r;
  msgsnd(q, &m1, 8, 0);
  msgsnd(q, &m2, 8, 0);
  memset(&r, 0, sizeof r);
  R("MSG_COPY index 1", msgrcv(q, &r, 8, 1, MSG_COPY | IPC_NOWAIT));
  printf("  copied type %ld \"%s\"\n", r.type, r.text);
  struct msqid_ds ds;
  msgctl(q, IPC_STAT, &ds);
  printf("  queue still holds %lu\n", (unsigned long)ds.msg_qnum);
  R("MSG_COPY without IPC_NOWAIT", msgrcv(q, &r, 8, 0, MSG_COPY));
  R("MSG_COPY with MSG_EXCEPT", msgrcv(q, &r, 8, 0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT));
  R("MSG_COPY index 2", msgrcv(q, &r, 8, 2, MSG_COPY | IPC_NOWAIT));
  R("MSG_COPY into 4 bytes", msgrcv(q, &r, 4, 0, MSG_COPY | IPC_NOWAIT));

  pid_t pid = fork();
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_SYS_ADMIN);
    d[1].effective &= ~(1u << (CAP_CHECKPOINT_RESTORE - 32));
    syscall(SYS_capset, &h, d);
    R("without the capabilities: open msg_next_id for writing", open("/proc/sys/kernel/msg_next_id", O_WRONLY));
    R("  for reading", open("/proc/sys/kernel/msg_next_id", O_RDONLY) >= 0);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  return 0;
}
