/*
 * Checkpoint and restore of System V IPC and POSIX message queues. Before the checkpoint (in
 * main's wait for it on stdin): a private shared memory segment attached by the parent and a forked child, a
 * keyed one attached and then removed (IPC_RMID: marked for destruction, its key freed), a
 * keyed semaphore set on which the child took SEM_UNDO, a message queue holding three
 * messages, the child asleep in msgrcv for type 7; a POSIX queue with two messages of two
 * priorities, an unlinked one still open with a message, and an empty one with mq_notify
 * registered. After it: the keys find the same ids, the child wakes for its message, reads the
 * parent's bytes in the segment and writes its own, exits (its SEM_UNDO is undone); the
 * messages come in their order, the removed segment goes at its last detach, the POSIX queues
 * give their messages by priority, the unlinked one stays unlinked, and a message to the empty
 * one raises the registered signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_ckpt.h"

struct msg {
  long type;
  char text[64];
};

static volatile int notified, notified_code, notified_value;

static void on_note(int s, siginfo_t *si, void *u) {
  (void)s;
  (void)u;
  notified++;
  notified_code = si->si_code;
  notified_value = si->si_value.sival_int;
}

static int semval(int id, int n) { return semctl(id, n, GETVAL); }

static int nattch(int id) {
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds)) return -errno;
  return (int)ds.shm_nattch;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const key_t semkey = 0x5e3a0001, shmkey = 0x5e3a0002;
  int shm = shmget(IPC_PRIVATE, 3 * 4096 + 100, IPC_CREAT | 0600);
  int dest = shmget(shmkey, 4096, IPC_CREAT | IPC_EXCL | 0640);
  int sem = semget(semkey, 2, IPC_CREAT | IPC_EXCL | 0600);
  int msq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (shm < 0 || dest < 0 || sem < 0 || msq < 0) return 2;
  char *p = shmat(shm, NULL, 0);
  char *d = shmat(dest, NULL, 0);
  if (p == (void *)-1 || d == (void *)-1) return 2;
  for (int i = 0; i < 3 * 4096 + 100; i++) p[i] = (char)(i * 7);
  strcpy(d, "destined");
  if (shmctl(dest, IPC_RMID, NULL)) return 2;
  pid_t child = fork();
  if (child == 0) {
    struct sembuf up = {1, 1, SEM_UNDO};
    if (semop(sem, &up, 1)) _exit(3);
    struct msg m;
    if (msgrcv(msq, &m, sizeof m.text, 7, 0) < 0) _exit(4);
    long sum = 0;
    for (int i = 0; i < 3 * 4096 + 100; i++) sum += (unsigned char)p[i] == (unsigned char)(i * 7);
    printf("child: got '%s', %ld bytes of the parent's, sem1 %d\n", m.text, sum, semval(sem, 1));
    strcpy(p + 4096, "child was here");
    _exit(0);
  }
  struct msg m = {3, "three"};
  msgsnd(msq, &m, 6, 0);
  m.type = 1;
  strcpy(m.text, "one");
  msgsnd(msq, &m, 4, 0);
  m.type = 2;
  strcpy(m.text, "two");
  msgsnd(msq, &m, 4, 0);

  struct mq_attr attr = {0, 5, 64, 0};
  mqd_t q = mq_open("/ckpt-main", O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  mqd_t gone = mq_open("/ckpt-gone", O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  mqd_t note = mq_open("/ckpt-note", O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, &attr);
  if (q < 0 || gone < 0 || note < 0) return 2;
  mq_send(q, "low", 4, 1);
  mq_send(q, "high", 5, 9);
  mq_send(q, "low2", 5, 1);
  mq_send(gone, "kept", 5, 3);
  mq_unlink("/ckpt-gone");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_note;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 77;
  if (mq_notify(note, &ev)) return 2;
  while (semval(sem, 1) != 1) usleep(1000);
  printf("armed\n");
  await_checkpoint(); /* the checkpoint comes here */

  printf("keys: sem same id %d, shm key freed %d\n", semget(semkey, 0, 0) == sem, shmget(shmkey, 0, 0) < 0 && errno == ENOENT);
  struct msqid_ds ds;
  msgctl(msq, IPC_STAT, &ds);
  printf("msq: %lu messages, %lu bytes\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes);
  printf("nattch: shm %d, dest %d; dest reads '%s'\n", nattch(shm), nattch(dest), d);
  m.type = 7;
  strcpy(m.text, "go");
  msgsnd(msq, &m, 3, 0);
  int st;
  waitpid(child, &st, 0);
  printf("child exit %d; sem1 after its exit %d; parent reads '%s'; nattch shm %d\n", WEXITSTATUS(st), semval(sem, 1), p + 4096, nattch(shm));
  ssize_t n = msgrcv(msq, &m, sizeof m.text, 2, IPC_NOWAIT);
  printf("msgrcv 2: %zd '%s'\n", n, m.text);
  n = msgrcv(msq, &m, sizeof m.text, -3, IPC_NOWAIT);
  printf("msgrcv -3: %zd type %ld '%s'\n", n, m.type, m.text);
  n = msgrcv(msq, &m, sizeof m.text, 0, IPC_NOWAIT);
  printf("msgrcv 0: %zd type %ld '%s'; then %zd errno %d\n", n, m.type, m.text, msgrcv(msq, &m, sizeof m.text, 0, IPC_NOWAIT), errno);
  shmdt(d);
  printf("dest after its last detach: %d\n", nattch(dest));

  struct mq_attr got;
  mq_getattr(q, &got);
  printf("mq: maxmsg %ld msgsize %ld curmsgs %ld\n", got.mq_maxmsg, got.mq_msgsize, got.mq_curmsgs);
  char buf[64];
  unsigned prio;
  for (int i = 0; i < 3; i++) {
    n = mq_receive(q, buf, sizeof buf, &prio);
    printf("mq_receive: %zd '%s' prio %u\n", n, buf, prio);
  }
  mqd_t again = mq_open("/ckpt-main", O_RDONLY);
  mqd_t gone2 = mq_open("/ckpt-gone", O_RDONLY);
  printf("reopen by name %d, unlinked one %d errno %d\n", again >= 0, (int)gone2, errno);
  n = mq_receive(gone, buf, sizeof buf, &prio);
  printf("unlinked queue: %zd '%s' prio %u\n", n, buf, prio);
  mq_send(note, "ping", 5, 0);
  printf("notified %d code %d value %d\n", notified, notified_code, notified_value);
  mq_getattr(note, &got);
  printf("note: nonblocking %d curmsgs %ld\n", (got.mq_flags & O_NONBLOCK) != 0, got.mq_curmsgs);
  mq_unlink("/ckpt-main");
  mq_unlink("/ckpt-note");
  shmctl(shm, IPC_RMID, NULL);
  semctl(sem, 0, IPC_RMID);
  msgctl(msq, IPC_RMID, NULL);
  return 0;
}
