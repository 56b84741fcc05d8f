/* System V IPC limits in /proc/sys/kernel, per IPC namespace: written and honoured by msgget
 * (msgmni), msgsnd (msgmax), a new queue's qbytes (msgmnb), shmget (shmmax, shmall, shmmni),
 * semget and semop (sem: semmsl, semmns, semopm, semmni), and reported by *_INFO; bad values
 * are EINVAL (a bad semmni is put back, the other sem values kept); a new IPC namespace starts
 * with the defaults. Runs in a new IPC namespace. Run as root, natively and in the sentry. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %s %s\n", name, r_ < 0 ? "-1" : "ok", r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static void show(const char *name) {
  char path[64], buf[128] = "";
  snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
  int fd = open(path, O_RDONLY);
  int n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
  printf("%s: %s\n", name, buf);
}

static int put(const char *name, const char *val) {
  char path[64];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  int r = write(fd, val, strlen(val));
  int e = errno;
  close(fd);
  errno = e;
  return r < 0 ? -1 : 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWIPC) != 0) { perror("unshare"); return 1; }
  const char *names[] = {"shmmax", "shmall", "shmmni", "msgmax", "msgmnb", "msgmni", "sem"};
  for (int i = 0; i < 7; i++) show(names[i]);

  R("msgmni 2", put("msgmni", "2\n"));
  int q1 = msgget(IPC_PRIVATE, 0600), q2 = msgget(IPC_PRIVATE, 0600);
  printf("two queues: %d\n", q1 >= 0 && q2 >= 0);
  R("third queue", msgget(IPC_PRIVATE, 0600));
  struct msginfo mi;
  msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
  printf("IPC_INFO msgmni %d msgmax %d msgmnb %d\n", mi.msgmni, mi.msgmax, mi.msgmnb);
  R("msgmax 100", put("msgmax", "100"));
  R("msgmnb 200", put("msgmnb", "200"));
  msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
  printf("IPC_INFO msgmni %d msgmax %d msgmnb %d\n", mi.msgmni, mi.msgmax, mi.msgmnb);
  struct { long type; char text[200]; } m = {1, ""};
  R("msgsnd 101 bytes", msgsnd(q1, &m, 101, IPC_NOWAIT));
  R("msgsnd 100 bytes", msgsnd(q1, &m, 100, IPC_NOWAIT));
  msgctl(q2, IPC_RMID, NULL);
  int q3 = msgget(IPC_PRIVATE, 0600);
  struct msqid_ds ds;
  msgctl(q3, IPC_STAT, &ds);
  printf("new queue qbytes %lu\n", (unsigned long)ds.msg_qbytes);
  R("msgmni -1", put("msgmni", "-1"));
  R("msgmni 32769", put("msgmni", "32769"));
  R("msgmni 32768", put("msgmni", "32768"));
  R("msgmax abc", put("msgmax", "abc"));

  R("shmmax 8192", put("shmmax", "8192"));
  R("shmget 8193", shmget(IPC_PRIVATE, 8193, 0600));
  R("shmall 3", put("shmall", "3"));
  int s1 = shmget(IPC_PRIVATE, 8192, 0600);
  printf("two-page segment: %d\n", s1 >= 0);
  R("another two pages", shmget(IPC_PRIVATE, 8192, 0600));
  R("one more page", shmget(IPC_PRIVATE, 4096, 0600));
  R("shmmni 3", put("shmmni", "3"));
  R("shmall 1000", put("shmall", "1000"));
  R("a fourth segment", shmget(IPC_PRIVATE, 4096, 0600));
  struct shminfo si;
  shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
  printf("IPC_INFO shmmax %lu shmall %lu shmmni %lu shmseg %lu\n", si.shmmax, si.shmall, si.shmmni, si.shmseg);
  R("shmmax -1", put("shmmax", "-1"));
  R("shmmax 18446744073709551615", put("shmmax", "18446744073709551615"));
  show("shmmax");

  R("sem '5 7 2 2'", put("sem", "5 7 2 2"));
  show("sem");
  R("semget 6", semget(IPC_PRIVATE, 6, 0600));
  int m1 = semget(IPC_PRIVATE, 5, 0600);
  printf("five semaphores: %d\n", m1 >= 0);
  R("semget 3 more (semmns 7)", semget(IPC_PRIVATE, 3, 0600));
  R("semget 2 more", semget(IPC_PRIVATE, 2, 0600));
  R("a third set (semmni 2)", semget(IPC_PRIVATE, 1, 0600));
  struct sembuf ops[3] = {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}};
  R("semop 3 ops (semopm 2)", semop(m1, ops, 3));
  R("semop 2 ops", semop(m1, ops, 2));
  struct seminfo sm;
  semctl(0, 0, IPC_INFO, &sm);
  printf("IPC_INFO semmsl %d semmns %d semopm %d semmni %d\n", sm.semmsl, sm.semmns, sm.semopm, sm.semmni);
  R("sem '1 2 3 99999'", put("sem", "1 2 3 99999"));
  show("sem");
  R("sem '9'", put("sem", "9"));
  show("sem");

  pid_t c = fork();
  if (c == 0) {
    unshare(CLONE_NEWIPC);
    printf("a new IPC namespace:\n");
    for (int i = 0; i < 7; i++) show(names[i]);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
