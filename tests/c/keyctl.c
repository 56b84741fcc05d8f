/*
 * keyctl(2) session keyrings: joining an anonymous one and a named one (their descriptions and
 * default permissions), a new thread having its creator's keyring, a named keyring joined again
 * only while others may search it (0 for a task that has it already), KEYCTL_SETPERM and what it takes away,
 * KEYCTL_DESCRIBE's length with no buffer or a short one, and the errors of unknown serials,
 * operations and permission bits. Serial numbers are random: only their equality is printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SETPERM 5
#define KEYCTL_REVOKE 3
#define KEYCTL_READ 11
#define KEYCTL_INVALIDATE 21
#define KEYCTL_DESCRIBE 6
#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_USR_SEARCH 0x00080000

static long kc(long op, long a, long b, long c) { return syscall(SYS_keyctl, op, a, b, c, 0); }

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

/* The description of the session keyring, without its serial. */
static void describe(const char *what) {
  char buf[256] = {0};
  long n = kc(KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, (long)buf, sizeof buf);
  if (n < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %s (length %ld)\n", what, buf, n);
}

static char name[64];
static long seen;

static void *join_named(void *arg) {
  (void)arg;
  seen = kc(KEYCTL_JOIN_SESSION_KEYRING, (long)name, 0, 0);
  return NULL;
}

static void *read_session(void *arg) {
  (void)arg;
  seen = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(name, sizeof name, "sentry-keyctl-%d", getpid());
  long anon = kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0);
  show("join an anonymous session keyring", anon);
  describe("it");
  printf("GET_KEYRING_ID names it: %d\n", kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0) == anon);
  char small[4];
  printf("DESCRIBE length with no buffer: %ld, with 4 bytes: %ld\n", kc(KEYCTL_DESCRIBE, anon, 0, 0),
         kc(KEYCTL_DESCRIBE, anon, (long)small, 4));
  pthread_t th;
  pthread_create(&th, NULL, read_session, NULL);
  pthread_join(th, NULL);
  printf("a new thread has it: %d\n", seen == anon);

  long named = kc(KEYCTL_JOIN_SESSION_KEYRING, (long)name, 0, 0);
  show("join a named one", named);
  char buf[256] = {0};
  kc(KEYCTL_DESCRIBE, named, (long)buf, sizeof buf);
  char *perm_and_desc = strchr(strchr(strchr(buf, ';') + 1, ';') + 1, ';') + 1;
  printf("named: perm %.8s, description is the name: %d\n", perm_and_desc, strcmp(perm_and_desc + 9, name) == 0);
  pthread_create(&th, NULL, join_named, NULL);
  pthread_join(th, NULL);
  printf("joining the name again (not searchable) gives another: %d\n", seen > 0 && seen != named);
  char perm[16];
  sscanf(strchr(strchr(strchr(buf, ';') + 1, ';') + 1, ';') + 1, "%8s", perm);
  unsigned long p = strtoul(perm, NULL, 16);
  show("setperm +user search", kc(KEYCTL_SETPERM, KEY_SPEC_SESSION_KEYRING, p | KEY_USR_SEARCH, 0));
  kc(KEYCTL_DESCRIBE, named, (long)buf, sizeof buf);
  printf("now: perm %.8s\n", strchr(strchr(strchr(buf, ';') + 1, ';') + 1, ';') + 1);
  pthread_create(&th, NULL, join_named, NULL);
  pthread_join(th, NULL);
  printf("a thread that has it joining the name: %ld\n", seen);
  long other = kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0);
  long again = kc(KEYCTL_JOIN_SESSION_KEYRING, (long)name, 0, 0);
  printf("joining the name again (searchable) from another keyring gives it: %d\n", other > 0 && again == named);
  show("setperm with unknown bits", kc(KEYCTL_SETPERM, KEY_SPEC_SESSION_KEYRING, 0xc0000000, 0));
  show("setperm 0", kc(KEYCTL_SETPERM, KEY_SPEC_SESSION_KEYRING, 0, 0));
  describe("describe after");
  show("setperm after", kc(KEYCTL_SETPERM, named, p, 0));
  show("describe serial 2", kc(KEYCTL_DESCRIBE, 2, (long)buf, sizeof buf));
  show("unknown operation", kc(9999, 0, 0, 0));
  // A key operation on a serial nothing has: the lookup's ENOKEY comes first.
  show("READ of a free serial", kc(KEYCTL_READ, 0x7ffffff1, 0, 0));
  show("REVOKE of a free serial", kc(KEYCTL_REVOKE, 0x7ffffff1, 0, 0));
  show("INVALIDATE of a free serial", kc(KEYCTL_INVALIDATE, 0x7ffffff1, 0, 0));
  return 0;
}
