/*
 * Keys with payloads: add_key(2) of keyring, user, logon and big_key keys with their limits and
 * errors, update in place, KEYCTL_READ (whole or nothing), DESCRIBE, REVOKE, INVALIDATE, LINK,
 * UNLINK, SEARCH, CLEAR, SET_TIMEOUT, SETPERM, CHOWN, request_key(2) finding keys, its errors,
 * the negative key it leaves, SET_REQKEY_KEYRING, exec dropping the thread and process keyrings,
 * /proc/keys' line for a key and /proc/key-users' charge for a fresh user. Serials are random:
 * only their relations are printed. Run natively and in the sentry; the outputs must match.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_UPDATE 2
#define KEYCTL_REVOKE 3
#define KEYCTL_CHOWN 4
#define KEYCTL_SETPERM 5
#define KEYCTL_DESCRIBE 6
#define KEYCTL_CLEAR 7
#define KEYCTL_LINK 8
#define KEYCTL_UNLINK 9
#define KEYCTL_SEARCH 10
#define KEYCTL_READ 11
#define KEYCTL_INSTANTIATE 12
#define KEYCTL_SET_REQKEY_KEYRING 14
#define KEYCTL_SET_TIMEOUT 15
#define KEYCTL_GET_SECURITY 17
#define KEYCTL_INVALIDATE 21
#define KEY_SPEC_THREAD_KEYRING -1
#define KEY_SPEC_PROCESS_KEYRING -2
#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_USER_KEYRING -4
#define KEY_SPEC_USER_SESSION_KEYRING -5
#define KEY_SPEC_GROUP_KEYRING -6

static long keyctl(int op, long a, long b, long c, long d) { return syscall(SYS_keyctl, op, a, b, c, d); }
static long add_key(const char *type, const char *desc, const void *p, size_t plen, long ring) {
  return syscall(SYS_add_key, type, desc, p, plen, ring);
}
static long request_key(const char *type, const char *desc, const char *callout, long ring) {
  return syscall(SYS_request_key, type, desc, callout, ring);
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s = -1 %s\n", what, strerrorname_np(errno));
  else printf("%s = ok\n", what);
}
static void showv(const char *what, long r) {
  if (r < 0) printf("%s = -1 %s\n", what, strerrorname_np(errno));
  else printf("%s = %ld\n", what, r);
}

static void describe(const char *what, long id) {
  char buf[256];
  long n = keyctl(KEYCTL_DESCRIBE, id, (long)buf, sizeof buf, 0);
  if (n < 0) printf("%s describe = -1 %s\n", what, strerrorname_np(errno));
  else printf("%s describe (%ld) '%s'\n", what, n, buf);
}

/* The key's /proc/keys line from the flags on, the serial and usage left out. */
static void proc_keys_line(const char *what, long id) {
  FILE *f = fopen("/proc/keys", "r");
  char line[512], want[16];
  snprintf(want, sizeof want, "%08lx ", id);
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, want, 9) != 0) continue;
    char flags[16], timeout[16], perm[16], type[32];
    int usage, uid, gid;
    char rest[256] = "";
    sscanf(line, "%*s %15s %d %15s %15s %d %d %31s %255[^\n]", flags, &usage, timeout, perm, &uid, &gid, type, rest);
    printf("%s /proc/keys: %s %s %s %d %d %s %s\n", what, flags, timeout, perm, uid, gid, type, rest);
    fclose(f);
    return;
  }
  printf("%s not in /proc/keys\n", what);
  if (f) fclose(f);
}

/* A fresh user's charge, from /proc/key-users. */
static int key_users(unsigned uid, int *nkeys, int *qkeys, int *qbytes, int *maxkeys, int *maxbytes) {
  FILE *f = fopen("/proc/key-users", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    unsigned u;
    int usage, nk, nik;
    if (sscanf(line, "%u: %d %d/%d %d/%d %d/%d", &u, &usage, &nk, &nik, qkeys, maxkeys, qbytes, maxbytes) == 8 && u == uid) {
      *nkeys = nk;
      fclose(f);
      return 1;
    }
  }
  if (f) fclose(f);
  return 0;
}

static void quota_child(unsigned uid) {
  if (setgid(uid) || setuid(uid)) { printf("setuid failed\n"); exit(1); }
  long ring = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 1, 0, 0);
  int nk, qk, qb, mk, mb, nk2, qk2, qb2;
  if (!key_users(uid, &nk, &qk, &qb, &mk, &mb)) { printf("no key-users line\n"); exit(1); }
  /* The limits are the kernel's settings (the host's sysctls natively, the sandbox's own in the
   * sentry): only their presence is compared; what follows is relative to them. */
  printf("limits %s\n", mk > 0 && mb > 0 ? "set" : "missing");
  char payload[64] = {0};
  long k = add_key("user", "test2", payload, sizeof payload, KEY_SPEC_THREAD_KEYRING);
  key_users(uid, &nk2, &qk2, &qb2, &mk, &mb);
  printf("add user key: %s, keys +%d, quota keys +%d bytes +%d\n", k > 0 ? "ok" : "failed", nk2 - nk, qk2 - qk, qb2 - qb);
  /* Fill the byte quota exactly, then one more byte. */
  int left = mb - qb2 - 4 - (int)strlen("big") - 1;
  char *big = calloc(1, left + 1);
  errno = 0;
  long b = add_key("user", "big", big, left + 1, KEY_SPEC_THREAD_KEYRING);
  printf("one byte over: %s\n", b < 0 ? strerrorname_np(errno) : "ok");
  b = add_key("user", "big", big, left, KEY_SPEC_THREAD_KEYRING);
  key_users(uid, &nk2, &qk2, &qb2, &mk, &mb);
  printf("exactly the quota: %s, bytes %s\n", b < 0 ? strerrorname_np(errno) : "ok", qb2 == mb ? "full" : "not full");
  show("unlink it", keyctl(KEYCTL_UNLINK, b, KEY_SPEC_THREAD_KEYRING, 0, 0));
  int qb3;
  key_users(uid, &nk2, &qk2, &qb3, &mk, &mb);
  /* Linux gives the key's own bytes back when its collector runs, later: only the link's are sure. */
  printf("after unlink: the link's bytes back %d\n", qb2 - qb3 >= 4);
  (void)ring;
  exit(0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "exec") == 0) {
    show("after exec: thread keyring", keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0));
    show("after exec: process keyring", keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0));
    long s = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0);
    printf("after exec: session keyring kept %d\n", s == atol(argv[2]));
    showv("after exec: reqkey default", keyctl(KEYCTL_SET_REQKEY_KEYRING, -1, 0, 0, 0));
    return 0;
  }
  long ses = keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
  show("join anonymous session", ses);

  /* add_key's argument checks, in Linux's order. */
  char payload[40000];
  memset(payload, 'x', sizeof payload);
  show("add_key plen 1MiB", add_key("user", "a", payload, 1 << 20, KEY_SPEC_SESSION_KEYRING));
  show("add_key empty type", add_key("", "a", payload, 1, KEY_SPEC_SESSION_KEYRING));
  show("add_key .type", add_key(".user", "a", payload, 1, KEY_SPEC_SESSION_KEYRING));
  show("add_key long type", add_key("0123456789012345678901234567890123", "a", payload, 1, KEY_SPEC_SESSION_KEYRING));
  show("add_key .keyring", add_key("keyring", ".a", NULL, 0, KEY_SPEC_SESSION_KEYRING));
  show("add_key bad payload", add_key("user", "a", (void *)8, 4, KEY_SPEC_SESSION_KEYRING));
  show("add_key unknown type", add_key("nosuchtype", "a", payload, 4, KEY_SPEC_SESSION_KEYRING));
  show("add_key no description", add_key("user", NULL, payload, 4, KEY_SPEC_SESSION_KEYRING));
  show("add_key empty description", add_key("user", "", payload, 4, KEY_SPEC_SESSION_KEYRING));
  show("add_key group keyring", add_key("user", "a", payload, 4, KEY_SPEC_GROUP_KEYRING));
  show("add_key keyring with payload", add_key("keyring", "a", payload, 1, KEY_SPEC_SESSION_KEYRING));
  show("add_key user 32767", add_key("user", "u1", payload, 32767, KEY_SPEC_SESSION_KEYRING));
  show("add_key user 32768", add_key("user", "u2", payload, 32768, KEY_SPEC_SESSION_KEYRING));
  show("add_key user empty", add_key("user", "u3", payload, 0, KEY_SPEC_SESSION_KEYRING));
  show("add_key logon no colon", add_key("logon", "nocolon", payload, 4, KEY_SPEC_SESSION_KEYRING));
  show("add_key logon leading colon", add_key("logon", ":x", payload, 4, KEY_SPEC_SESSION_KEYRING));
  long logon = add_key("logon", "svc:x", payload, 4, KEY_SPEC_SESSION_KEYRING);
  show("add_key logon", logon);
  show("read logon", keyctl(KEYCTL_READ, logon, (long)payload, 10, 0));
  show("add_key into a user key", add_key("user", "a", payload, 4, logon));
  show("add_key into a missing key", add_key("user", "a", payload, 4, 0x7ffffff0));

  /* A user key: update in place, read whole or nothing. */
  long u = add_key("user", "ukey", "hello", 5, KEY_SPEC_SESSION_KEYRING);
  show("add user key", u);
  describe("user key", u);
  long u2 = add_key("user", "ukey", "goodbye!", 8, KEY_SPEC_SESSION_KEYRING);
  printf("same description updates in place: %d\n", u2 == u);
  char buf[64];
  memset(buf, 0, sizeof buf);
  showv("read, small buffer", keyctl(KEYCTL_READ, u, (long)buf, 3, 0));
  printf("small buffer untouched: %d\n", buf[0] == 0);
  showv("read, no buffer", keyctl(KEYCTL_READ, u, 0, 0, 0));
  showv("read", keyctl(KEYCTL_READ, u, (long)buf, sizeof buf, 0));
  printf("payload '%s'\n", buf);
  show("update", keyctl(KEYCTL_UPDATE, u, (long)"new", 3, 0));
  memset(buf, 0, sizeof buf);
  keyctl(KEYCTL_READ, u, (long)buf, sizeof buf, 0);
  printf("after update '%s'\n", buf);
  show("update, empty", keyctl(KEYCTL_UPDATE, u, 0, 0, 0));
  show("update, too long", keyctl(KEYCTL_UPDATE, u, (long)payload, 4097, 0));
  show("update a keyring", keyctl(KEYCTL_UPDATE, KEY_SPEC_SESSION_KEYRING, (long)"x", 1, 0));
  proc_keys_line("user key", u);
  describe("small buffer", 0); /* an id of 0 */
  { char tiny[4] = "abc"; long n = keyctl(KEYCTL_DESCRIBE, u, (long)tiny, sizeof tiny, 0); printf("describe small buffer: %ld '%s'\n", n, tiny); }
  memset(buf, 1, sizeof buf);
  long sec = keyctl(KEYCTL_GET_SECURITY, u, (long)buf, sizeof buf, 0);
  showv("get security", sec);
  if (sec > 0) printf("security '%s'\n", buf);

  /* Keyrings: read lists serials; link, unlink, search, clear. */
  long kr = add_key("keyring", "ring1", NULL, 0, KEY_SPEC_SESSION_KEYRING);
  show("add keyring", kr);
  describe("keyring", kr);
  long kr2 = add_key("keyring", "ring1", NULL, 0, KEY_SPEC_SESSION_KEYRING);
  printf("a second keyring of the same name is new: %d\n", kr2 != kr && kr2 > 0);
  usleep(200000);
  show("old keyring after replacement", keyctl(KEYCTL_DESCRIBE, kr, 0, 0, 0));
  kr = kr2;
  long k1 = add_key("user", "k1", "1", 1, kr);
  long k2 = add_key("user", "k2", "2", 1, kr);
  int ids[4] = {0};
  showv("read keyring", keyctl(KEYCTL_READ, kr, (long)ids, sizeof ids, 0));
  printf("ids in order: %d %d\n", ids[0] == k1, ids[1] == k2);
  memset(ids, 0, sizeof ids);
  showv("read keyring, one slot", keyctl(KEYCTL_READ, kr, (long)ids, 4, 0));
  printf("slot untouched: %d %d\n", ids[0] == 0, ids[1] == 0);
  showv("search k2", keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (long)"user", (long)"k2", 0) == k2);
  show("search missing", keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (long)"user", (long)"k9", 0));
  show("search unknown type", keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (long)"nosuch", (long)"k9", 0));
  show("search in a user key", keyctl(KEYCTL_SEARCH, u, (long)"user", (long)"k9", 0));
  show("link k1 into session", keyctl(KEYCTL_LINK, k1, KEY_SPEC_SESSION_KEYRING, 0, 0));
  show("link session into ring (loop check)", keyctl(KEYCTL_LINK, KEY_SPEC_SESSION_KEYRING, kr, 0, 0));
  show("link ring into itself", keyctl(KEYCTL_LINK, kr, kr, 0, 0));
  show("link into a user key", keyctl(KEYCTL_LINK, k1, u, 0, 0));
  show("unlink k1 from ring", keyctl(KEYCTL_UNLINK, k1, kr, 0, 0));
  show("unlink k1 again", keyctl(KEYCTL_UNLINK, k1, kr, 0, 0));
  show("k1 still there (session holds it)", keyctl(KEYCTL_DESCRIBE, k1, 0, 0, 0));
  show("unlink k1 from session", keyctl(KEYCTL_UNLINK, k1, KEY_SPEC_SESSION_KEYRING, 0, 0));
  usleep(200000);
  show("k1 gone", keyctl(KEYCTL_DESCRIBE, k1, 0, 0, 0));
  show("clear ring", keyctl(KEYCTL_CLEAR, kr, 0, 0, 0));
  showv("ring after clear", keyctl(KEYCTL_READ, kr, (long)ids, sizeof ids, 0));
  usleep(200000);
  show("k2 gone", keyctl(KEYCTL_DESCRIBE, k2, 0, 0, 0));
  show("clear a user key", keyctl(KEYCTL_CLEAR, u, 0, 0, 0));
  proc_keys_line("keyring", kr);

  /* Revoke, invalidate, timeouts. */
  long r = add_key("user", "rev", "r", 1, KEY_SPEC_SESSION_KEYRING);
  show("revoke", keyctl(KEYCTL_REVOKE, r, 0, 0, 0));
  show("read revoked", keyctl(KEYCTL_READ, r, (long)buf, sizeof buf, 0));
  show("describe revoked", keyctl(KEYCTL_DESCRIBE, r, 0, 0, 0));
  show("update revoked", keyctl(KEYCTL_UPDATE, r, (long)"x", 1, 0));
  show("revoke again", keyctl(KEYCTL_REVOKE, r, 0, 0, 0));
  show("setperm revoked", keyctl(KEYCTL_SETPERM, r, 0x3f010000, 0, 0));
  show("search revoked", keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (long)"user", (long)"rev", 0));
  long r2 = add_key("user", "rev", "r", 1, KEY_SPEC_SESSION_KEYRING);
  printf("add over a revoked key makes a new one: %d\n", r2 > 0 && r2 != r);
  usleep(200000);
  show("replaced revoked key gone", keyctl(KEYCTL_REVOKE, r, 0, 0, 0));
  long inv = add_key("user", "inv", "i", 1, KEY_SPEC_SESSION_KEYRING);
  show("invalidate", keyctl(KEYCTL_INVALIDATE, inv, 0, 0, 0));
  usleep(200000);
  show("invalidated gone", keyctl(KEYCTL_DESCRIBE, inv, 0, 0, 0));
  long tk = add_key("keyring", "timed", NULL, 0, KEY_SPEC_SESSION_KEYRING);
  show("set timeout", keyctl(KEYCTL_SET_TIMEOUT, tk, 1, 0, 0));
  proc_keys_line("timed keyring", tk);
  sleep(2);
  show("describe expired", keyctl(KEYCTL_DESCRIBE, tk, 0, 0, 0));
  show("request_key into expired", request_key("user", "x", NULL, tk));
  show("request_key into revoked", request_key("user", "x", NULL, r2 > 0 ? (keyctl(KEYCTL_REVOKE, r2, 0, 0, 0), r2) : 0));

  /* Permissions. */
  long p = add_key("user", "perm", "p", 1, KEY_SPEC_SESSION_KEYRING);
  show("setperm bad bits", keyctl(KEYCTL_SETPERM, p, 0x40000000, 0, 0));
  show("setperm view only", keyctl(KEYCTL_SETPERM, p, 0x01000000, 0, 0));
  show("read without read permission", keyctl(KEYCTL_READ, p, (long)buf, sizeof buf, 0));
  show("update without write permission", keyctl(KEYCTL_UPDATE, p, (long)"x", 1, 0));
  show("revoke without write or setattr", keyctl(KEYCTL_REVOKE, p, 0, 0, 0));
  show("setperm without setattr", keyctl(KEYCTL_SETPERM, p, 0x3f000000, 0, 0));
  show("chown to nobody (root)", keyctl(KEYCTL_CHOWN, u, 65534, -1, 0));
  describe("chowned", u);
  show("chown nothing", keyctl(KEYCTL_CHOWN, u, -1, -1, 0));
  show("get group keyring", keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_GROUP_KEYRING, 1, 0, 0));
  show("get id -7", keyctl(KEYCTL_GET_KEYRING_ID, -7, 0, 0, 0));
  show("get id -9", keyctl(KEYCTL_GET_KEYRING_ID, -9, 0, 0, 0));
  show("instantiate without authority", keyctl(KEYCTL_INSTANTIATE, u, (long)"x", 1, 0));
  show("join .builtin_trusted_keys", keyctl(KEYCTL_JOIN_SESSION_KEYRING, (long)".builtin_trusted_keys", 0, 0, 0));

  /* request_key. */
  show("request_key bad type pointer", request_key((char *)-1, "d", NULL, 0));
  show("request_key bad description", request_key("user", (char *)-1, NULL, 0));
  show("request_key bad callout", request_key("user", "d", (char *)-1, 0));
  show("request_key .type", request_key(".user", "d", NULL, 0));
  show("request_key unknown type", request_key("nosuch", "d", NULL, 0));
  long found = request_key("user", "perm", NULL, 0);
  printf("request_key finds a session key: %d\n", found == p);
  long thr = add_key("keyring", "ltp", NULL, 0, KEY_SPEC_THREAD_KEYRING);
  printf("request_key finds a thread keyring's keyring: %d\n", request_key("keyring", "ltp", NULL, 0) == thr);
  show("request_key missing, no callout", request_key("user", "nope", NULL, 0));
  show("request_key keyring with callout", request_key("keyring", "nope", "info", 0));
  show("request_key missing, callout", request_key("user", "neg", "info", KEY_SPEC_PROCESS_KEYRING));
  int neg = 0;
  showv("process keyring after", keyctl(KEYCTL_READ, KEY_SPEC_PROCESS_KEYRING, (long)&neg, sizeof neg, 0));
  show("read negative key", keyctl(KEYCTL_READ, neg, (long)buf, sizeof buf, 0));
  describe("negative key", neg);
  proc_keys_line("negative key", neg);
  show("request_key finds it negative", request_key("user", "neg", "info", 0));
  show("search finds it negative", keyctl(KEYCTL_SEARCH, KEY_SPEC_PROCESS_KEYRING, (long)"user", (long)"neg", 0));
  long pos = add_key("user", "neg", "now", 3, KEY_SPEC_PROCESS_KEYRING);
  printf("add_key instantiates the negative key: %d\n", pos == neg);
  show("read it", keyctl(KEYCTL_READ, neg, (long)buf, sizeof buf, 0));

  /* SET_REQKEY_KEYRING. */
  showv("reqkey query", keyctl(KEYCTL_SET_REQKEY_KEYRING, -1, 0, 0, 0));
  showv("reqkey session", keyctl(KEYCTL_SET_REQKEY_KEYRING, 3, 0, 0, 0));
  showv("reqkey group", keyctl(KEYCTL_SET_REQKEY_KEYRING, 6, 0, 0, 0));
  showv("reqkey 8", keyctl(KEYCTL_SET_REQKEY_KEYRING, 8, 0, 0, 0));
  show("setperm session no write", keyctl(KEYCTL_SETPERM, KEY_SPEC_SESSION_KEYRING, 0x0b000000, 0, 0));
  show("request_key into unwritable default", request_key("user", "def", "info", 0));
  keyctl(KEYCTL_SETPERM, KEY_SPEC_SESSION_KEYRING, 0x3f000000, 0, 0);
  showv("reqkey thread", keyctl(KEYCTL_SET_REQKEY_KEYRING, 1, 0, 0, 0));

  /* Quotas, as a user that has no keys yet. */
  pid_t c = fork();
  if (c == 0) quota_child(54329);
  int st;
  waitpid(c, &st, 0);

  /* Exec drops the thread and process keyrings, keeps the session keyring. */
  c = fork();
  if (c == 0) {
    char s[32];
    snprintf(s, sizeof s, "%ld", keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0));
    execl("/proc/self/exe", argv[0], "exec", s, (char *)NULL);
    _exit(127);
  }
  waitpid(c, &st, 0);
  return 0;
}
