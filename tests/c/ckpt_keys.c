/*
 * Checkpoint and restore of keyrings: a named session keyring joined and a process keyring
 * made before the checkpoint (while main waits for it on stdin). After it: the same serial numbers name them,
 * KEYCTL_DESCRIBE reads the same, and a child joining the name (without search permission
 * on it) gets a new one, as natively.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_ckpt.h"

#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_DESCRIBE 6
#define KEY_SPEC_PROCESS_KEYRING -2
#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_USER_KEYRING -4

static long keyctl(int op, long a, long b, long c) { return syscall(SYS_keyctl, op, a, b, c, 0); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long ses = keyctl(KEYCTL_JOIN_SESSION_KEYRING, (long)"ckpt-ring", 0, 0);
  long proc = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1, 0);
  long user = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1, 0);
  if (ses < 0 || proc < 0 || user < 0) return 2;
  char before[256] = {0}, after[256] = {0};
  keyctl(KEYCTL_DESCRIBE, ses, (long)before, sizeof before);
  /* A user key with a payload, linked in the process keyring, and a revoked one. */
  long ukey = syscall(SYS_add_key, "user", "ckpt-user", "payload!", 8, KEY_SPEC_PROCESS_KEYRING);
  long rkey = syscall(SYS_add_key, "user", "ckpt-rev", "x", 1, KEY_SPEC_PROCESS_KEYRING);
  keyctl(3 /* KEYCTL_REVOKE */, rkey, 0, 0);
  if (ukey < 0 || rkey < 0) return 3;
  printf("armed\n");
  await_checkpoint(); /* the checkpoint comes here */
  printf("same ids: session %d process %d user %d\n", keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0) == ses,
         keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0) == proc,
         keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0, 0) == user);
  keyctl(KEYCTL_DESCRIBE, ses, (long)after, sizeof after);
  printf("describe '%s' same %d\n", after, strcmp(before, after) == 0);
  char payload[16] = {0};
  long n = keyctl(11 /* KEYCTL_READ */, ukey, (long)payload, sizeof payload);
  int ids[4] = {0};
  long m = keyctl(11, KEY_SPEC_PROCESS_KEYRING, (long)ids, sizeof ids);
  printf("user key reads %ld '%s', process keyring holds it %d, revoked read %ld\n", n, payload, m == 8 && ids[0] == ukey,
         keyctl(11, rkey, (long)payload, sizeof payload));
  pid_t c = fork();
  if (c == 0) _exit(keyctl(KEYCTL_JOIN_SESSION_KEYRING, (long)"ckpt-ring", 0, 0) == ses ? 0 : 1);
  int st;
  waitpid(c, &st, 0);
  printf("a child joining the name gets the same keyring: %d\n", WEXITSTATUS(st) == 0);
  return 0;
}
