/* System V IPC: shared memory, semaphores and message queues, with their error cases, sleeps
 * woken by another process, SEM_UNDO at exit, removal waking sleepers (EIDRM), and permission
 * checks for another user. Prints results, never ids or times, so that the output is the same
 * natively and in the sentry. Every object is removed at the end (natively they are the host's).
 * A parent waits for a child to sleep by polling GETNCNT / the queue, never by timing. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "_check.h"

static int g_shm = -1, g_sem = -1, g_msg = -1, g_shm2 = -1;

static void cleanup(void) {
  if (g_shm >= 0) shmctl(g_shm, IPC_RMID, NULL);
  if (g_shm2 >= 0) shmctl(g_shm2, IPC_RMID, NULL);
  if (g_sem >= 0) semctl(g_sem, 0, IPC_RMID);
  if (g_msg >= 0) msgctl(g_msg, IPC_RMID, NULL);
}

static void child_status(const char *what, pid_t pid) {
  int st;
  waitpid(pid, &st, 0);
  printf("%s: exit %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

/* Waits until process pid sleeps (state S in /proc/PID/stat). */
static void wait_sleeping(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  for (;;) {
    FILE *f = fopen(path, "r");
    if (f) {
      size_t n = fread(line, 1, sizeof line - 1, f);
      fclose(f);
      line[n] = 0;
      char *p = strrchr(line, ')');
      if (p && p[1] == ' ' && p[2] == 'S') return;
    }
    usleep(1000);
  }
}

static void wait_ncnt(int id, int num, int cmd) {
  while (semctl(id, num, cmd) < 1) usleep(1000);
}

static void shm_part(key_t key) {
  printf("-- shm\n");
  R("shmget(key, EXCL)", (g_shm = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600)) >= 0 ? 0 : -1);
  R("shmget(key, EXCL) again", shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600));
  R("shmget(key, bigger)", shmget(key, 20000, 0600));
  R("shmget(key, same)", shmget(key, 5000, 0600) == g_shm);
  R("shmget(other key, no CREAT)", shmget(key + 1, 4096, 0600));
  R("shmget(size 0)", shmget(IPC_PRIVATE, 0, 0600));
  struct shmid_ds ds;
  R("IPC_STAT", shmctl(g_shm, IPC_STAT, &ds));
  printf("segsz %zu nattch %lu mode %o cpid ok %d uid %d key ok %d\n", ds.shm_segsz, (unsigned long)ds.shm_nattch,
         ds.shm_perm.mode, ds.shm_cpid == getpid(), ds.shm_perm.uid, ds.shm_perm.__key == key);
  char *p = shmat(g_shm, NULL, 0);
  printf("shmat: %s\n", p == (void *)-1 ? en(errno) : "ok");
  strcpy(p, "parent");
  shmctl(g_shm, IPC_STAT, &ds);
  printf("nattch after shmat %lu, zero-filled tail %d\n", (unsigned long)ds.shm_nattch, p[9999] == 0);
  pid_t c = fork();
  if (c == 0) {
    struct shmid_ds d;
    shmctl(g_shm, IPC_STAT, &d);
    printf("child: inherited '%s', nattch %lu\n", p, (unsigned long)d.shm_nattch);
    char *q = shmat(g_shm, NULL, SHM_RDONLY);
    printf("child: second attach read '%s'\n", q);
    R("child: mprotect(RDONLY attach, WRITE)", mprotect(q, 4096, PROT_READ | PROT_WRITE));
    strcpy(p, "child");
    shmctl(g_shm, IPC_STAT, &d);
    printf("child: nattch %lu\n", (unsigned long)d.shm_nattch);
    R("child: shmdt", shmdt(q));
    R("child: shmdt again", shmdt(q));
    _exit(0);
  }
  child_status("shm child", c);
  printf("parent reads '%s'\n", p);
  shmctl(g_shm, IPC_STAT, &ds);
  printf("nattch after child %lu\n", (unsigned long)ds.shm_nattch);
  R("shmdt(unaligned)", shmdt(p + 1));
  R("shmdt(not shm)", shmdt((void *)&ds));
  R("shmat(unaligned, no SHM_RND)", (long)shmat(g_shm, p + 1, 0));
  R("shmat(at an existing mapping)", (long)shmat(g_shm, p, 0));
  /* Another user: a 0600 segment is refused; IPC_RMID is EPERM. */
  c = fork();
  if (c == 0) {
    if (setuid(65534) != 0) _exit(2);
    R("other user: shmat", (long)shmat(g_shm, NULL, 0));
    R("other user: IPC_STAT", shmctl(g_shm, IPC_STAT, &ds));
    R("other user: IPC_RMID", shmctl(g_shm, IPC_RMID, NULL));
    _exit(0);
  }
  child_status("other user", c);
  /* Removed while attached: the key goes, the memory stays until the last detach. */
  R("IPC_RMID while attached", shmctl(g_shm, IPC_RMID, NULL));
  R("shmget(key) after RMID", shmget(key, 4096, 0600));
  R("IPC_STAT after RMID", shmctl(g_shm, IPC_STAT, &ds));
  printf("dest bit %d key private %d, memory '%s'\n", (ds.shm_perm.mode & 01000) != 0, ds.shm_perm.__key == 0, p);
  R("shmdt", shmdt(p));
  R("IPC_STAT after last detach", shmctl(g_shm, IPC_STAT, &ds));
  g_shm = -1;
  /* IPC_SET changes the mode bits only. */
  g_shm2 = shmget(IPC_PRIVATE, 4096, 0600);
  shmctl(g_shm2, IPC_STAT, &ds);
  ds.shm_perm.mode = 0640 | 01000;
  R("IPC_SET", shmctl(g_shm2, IPC_SET, &ds));
  shmctl(g_shm2, IPC_STAT, &ds);
  printf("mode after IPC_SET %o\n", ds.shm_perm.mode);
  R("shmctl(bad cmd)", shmctl(g_shm2, 12345, &ds));
  R("shmctl(bad id)", shmctl(-1, IPC_STAT, &ds));
}

static void sem_part(key_t key) {
  printf("-- sem\n");
  R("semget(0 sems)", semget(IPC_PRIVATE, 0, 0600));
  R("semget(key, 3)", (g_sem = semget(key, 3, IPC_CREAT | 0600)) >= 0 ? 0 : -1);
  R("semget(key, 4)", semget(key, 4, 0600));
  R("SETVAL 2", semctl(g_sem, 0, SETVAL, 2));
  R("SETVAL 40000", semctl(g_sem, 0, SETVAL, 40000));
  R("SETVAL semnum 3", semctl(g_sem, 3, SETVAL, 1));
  R("GETVAL", semctl(g_sem, 0, GETVAL));
  struct sembuf op = {0, -3, IPC_NOWAIT};
  R("semop(-3, IPC_NOWAIT)", semop(g_sem, &op, 1));
  struct sembuf two[2] = {{0, -1, 0}, {1, -1, IPC_NOWAIT}};
  R("semop(all or nothing)", semop(g_sem, two, 2));
  R("GETVAL after", semctl(g_sem, 0, GETVAL));
  struct sembuf big = {5, 1, 0};
  R("semop(sem_num 5)", semop(g_sem, &big, 1));
  struct timespec ts = {0, 20 * 1000 * 1000};
  struct sembuf zero = {0, 0, 0};
  R("semtimedop(wait for zero, 20 ms)", semtimedop(g_sem, &zero, 1, &ts));
  unsigned short all[3] = {1, 2, 3};
  R("SETALL", semctl(g_sem, 0, SETALL, all));
  memset(all, 0, sizeof all);
  R("GETALL", semctl(g_sem, 0, GETALL, all));
  printf("values %d %d %d\n", all[0], all[1], all[2]);
  /* A child sleeps on semaphore 2 (-5 of 3); the parent sees it in GETNCNT and posts. */
  pid_t c = fork();
  if (c == 0) {
    /* Reports through its exit status: the parent prints meanwhile. */
    struct sembuf p5 = {2, -5, 0};
    _exit(semop(g_sem, &p5, 1) == 0 ? 0 : errno);
  }
  wait_ncnt(g_sem, 2, GETNCNT);
  R("GETNCNT", semctl(g_sem, 2, GETNCNT));
  struct sembuf v2 = {2, 2, 0};
  R("semop(+2)", semop(g_sem, &v2, 1));
  child_status("sem child's semop(-5) after the post", c);
  R("GETVAL 2", semctl(g_sem, 2, GETVAL));
  R("GETPID is the child", semctl(g_sem, 2, GETPID) == c);
  /* SEM_UNDO: the child's +4 is undone when it exits. */
  c = fork();
  if (c == 0) {
    struct sembuf u = {1, 4, SEM_UNDO};
    R("child: semop(+4, SEM_UNDO)", semop(g_sem, &u, 1));
    R("child: GETVAL 1", semctl(g_sem, 1, GETVAL));
    _exit(0);
  }
  child_status("undo child", c);
  R("GETVAL 1 after the child's exit", semctl(g_sem, 1, GETVAL));
  /* Removal wakes a sleeper with EIDRM. */
  c = fork();
  if (c == 0) {
    struct sembuf z = {1, 0, 0};
    _exit(semop(g_sem, &z, 1) == 0 ? 0 : errno == EIDRM ? 99 : 1);
  }
  wait_ncnt(g_sem, 1, GETZCNT);
  R("GETZCNT", semctl(g_sem, 1, GETZCNT));
  R("IPC_RMID", semctl(g_sem, 0, IPC_RMID));
  child_status("removed-sem child (99: EIDRM)", c);
  R("GETVAL after RMID", semctl(g_sem, 0, GETVAL));
  g_sem = -1;
}

struct msg {
  long type;
  char text[32];
};

static void msg_part(key_t key) {
  printf("-- msg\n");
  R("msgget", (g_msg = msgget(key, IPC_CREAT | 0600)) >= 0 ? 0 : -1);
  struct msg m;
  for (int i = 1; i <= 3; i++) {
    m.type = 4 - i; /* types 3, 2, 1 in that order */
    snprintf(m.text, sizeof m.text, "message %d", i);
    R("msgsnd", msgsnd(g_msg, &m, strlen(m.text) + 1, 0));
  }
  m.type = 0;
  R("msgsnd(type 0)", msgsnd(g_msg, &m, 4, 0));
  struct msqid_ds ds;
  R("IPC_STAT", msgctl(g_msg, IPC_STAT, &ds));
  printf("qnum %lu cbytes %lu qbytes %lu lspid ok %d\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
         (unsigned long)ds.msg_qbytes, ds.msg_lspid == getpid());
  long n = msgrcv(g_msg, &m, sizeof m.text, 2, 0);
  printf("msgrcv(type 2) = %ld type %ld '%s'\n", n, m.type, m.text);
  n = msgrcv(g_msg, &m, sizeof m.text, -3, 0);
  printf("msgrcv(type -3) = %ld type %ld '%s'\n", n, m.type, m.text);
  R("msgrcv(too small)", msgrcv(g_msg, &m, 3, 0, 0));
  n = msgrcv(g_msg, &m, 3, 0, MSG_NOERROR);
  printf("msgrcv(MSG_NOERROR) = %ld type %ld '%.3s'\n", n, m.type, m.text);
  R("msgrcv(empty, IPC_NOWAIT)", msgrcv(g_msg, &m, sizeof m.text, 0, IPC_NOWAIT));
  /* A child sleeps in msgrcv for type 7; the parent sends types 6 then 7. */
  pid_t c = fork();
  if (c == 0) {
    struct msg r;
    long k = msgrcv(g_msg, &r, sizeof r.text, 7, 0);
    _exit(k == 6 && r.type == 7 && strcmp(r.text, "seven") == 0 ? 0 : 1);
  }
  /* No portable way to see a msgrcv sleeper: the child's message arrives whenever it sleeps. */
  m.type = 6;
  strcpy(m.text, "six");
  R("msgsnd(6)", msgsnd(g_msg, &m, 4, 0));
  m.type = 7;
  strcpy(m.text, "seven");
  R("msgsnd(7)", msgsnd(g_msg, &m, 6, 0));
  child_status("msg child's msgrcv(type 7) got 'seven'", c);
  n = msgrcv(g_msg, &m, sizeof m.text, 0, MSG_EXCEPT | IPC_NOWAIT);
  printf("msgrcv(type 0, MSG_EXCEPT) = %ld %s\n", n, n < 0 ? en(errno) : m.text);
  n = msgrcv(g_msg, &m, sizeof m.text, 7, MSG_EXCEPT | IPC_NOWAIT);
  printf("msgrcv(not 7) = %ld type %ld '%s'\n", n, m.type, m.text);
  /* A full queue: IPC_NOWAIT is EAGAIN. */
  ds.msg_qbytes = 10;
  R("IPC_SET qbytes 10", msgctl(g_msg, IPC_SET, &ds));
  m.type = 1;
  R("msgsnd(11 bytes)", msgsnd(g_msg, &m, 11, IPC_NOWAIT));
  R("msgsnd(10 bytes)", msgsnd(g_msg, &m, 10, IPC_NOWAIT));
  R("msgsnd(1 more, IPC_NOWAIT)", msgsnd(g_msg, &m, 1, IPC_NOWAIT));
  /* Removal wakes a sleeping sender with EIDRM. */
  c = fork();
  if (c == 0) {
    _exit(msgsnd(g_msg, &m, 1, 0) == 0 ? 0 : errno == EIDRM ? 99 : 1);
  }
  wait_sleeping(c);
  R("IPC_RMID", msgctl(g_msg, IPC_RMID, NULL));
  child_status("removed-msg child's msgsnd to the full queue (99: EIDRM)", c);
  g_msg = -1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  atexit(cleanup);
  key_t key = 0x5e000000 | (getpid() & 0xffff);
  shm_part(key);
  sem_part(key);
  msg_part(key);
  return 0;
}
