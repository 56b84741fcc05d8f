// /proc/sysvipc/{shm,sem,msg}: one private object of each kind and its line's columns (times and
// pids, which differ between runs, are left out; a segment's rss is compared with SHM_INFO's).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>
static void show(const char *path, int id) {
  FILE *f = fopen(path, "r");
  char line[512];
  if (!f) { perror(path); return; }
  fgets(line, sizeof line, f);
  printf("%s header: %s", path, line);
  while (fgets(line, sizeof line, f)) {
    int key, oid;
    if (sscanf(line, "%d %d", &key, &oid) == 2 && oid == id) {
      // Times and pids differ between runs: print the fields that do not, by position.
      char *tok[20]; int n = 0;
      for (char *s = strtok(line, " \n"); s && n < 20; s = strtok(NULL, " \n")) tok[n++] = s;
      printf("  %d fields: key %s perms %s", n, tok[0], tok[2]);
      if (strstr(path, "shm")) {
        struct shm_info si;
        shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
        printf(" size %s nattch %s uid %s gid %s rss %s SHM_INFO's, swap %s\n", tok[3], tok[6], tok[7], tok[8],
               strtoul(tok[14], NULL, 10) == si.shm_rss * (unsigned long)getpagesize() ? "is" : "is not", tok[15]);
      }
      else if (strstr(path, "sem")) printf(" nsems %s uid %s cuid %s\n", tok[3], tok[4], tok[6]);
      else printf(" cbytes %s qnum %s uid %s\n", tok[3], tok[4], tok[7]);
    }
  }
  fclose(f);
}
int main(void) {
  int shm = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0640);
  void *p = shmat(shm, NULL, 0);
  int sem = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
  int msg = msgget(IPC_PRIVATE, IPC_CREAT | 0604);
  struct { long type; char text[5]; } m = {1, "abcd"};
  msgsnd(msg, &m, 5, 0);
  msgsnd(msg, &m, 3, 0);
  show("/proc/sysvipc/shm", shm);
  show("/proc/sysvipc/sem", sem);
  show("/proc/sysvipc/msg", msg);
  shmdt(p);
  shmctl(shm, IPC_RMID, NULL);
  semctl(sem, 0, IPC_RMID);
  msgctl(msg, IPC_RMID, NULL);
  return 0;
}
