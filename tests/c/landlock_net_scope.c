/*
 * Landlock's TCP port rights (ABI 4), ioctl on devices (ABI 5) and scopes (ABI 6): each case
 * runs in a child that restricts itself, then tries the operation; prints what it returned.
 * TCP: bind and connect to granted and other ports, AF_UNSPEC, short addresses, a family other
 * than the socket's, UDP (never checked), two layers, the rule errors. Devices: ioctls of
 * /dev/null opened after a restriction without the right (TCGETS is EACCES, FIOCLEX and
 * FIONBIO pass), with a rule on /dev, and opened before it. Scopes: signals to a process outside
 * the domain (kill, and the kill(pid, 0) probe) and inside it; connecting and sending to
 * abstract sockets made outside and inside, and to a pathname socket.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define RULE_PATH_BENEATH 1
#define RULE_NET_PORT 2
#define READ_FILE (1ULL << 2)
#define IOCTL_DEV (1ULL << 15)
#define BIND_TCP 1ULL
#define CONNECT_TCP 2ULL
#define SCOPE_ABSTRACT 1ULL
#define SCOPE_SIGNAL 2ULL

struct ruleset_attr {
  uint64_t fs, net, scoped;
};
struct path_beneath {
  uint64_t allowed;
  int32_t fd;
} __attribute__((packed));
struct net_port {
  uint64_t allowed, port;
};

static const char *res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static int ruleset(uint64_t fs, uint64_t net, uint64_t scoped) {
  struct ruleset_attr a = {fs, net, scoped};
  return syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
}
static long port_rule(int rs, uint64_t access, uint64_t port) {
  struct net_port p = {access, port};
  return syscall(SYS_landlock_add_rule, rs, RULE_NET_PORT, &p, 0);
}
static void enforce(int rs) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
    printf("restrict_self: %s\n", strerrorname_np(errno));
    _exit(1);
  }
  close(rs);
}

static int listener_port;

static struct sockaddr_in v4(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return a;
}

/* A child: restricted to bind/connect on listener_port (and 7 more for bind), then tries. */
static void tcp_case(const char *what, uint64_t handled, uint64_t granted, int layers, void (*body)(void)) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    for (int i = 0; i < layers; i++) {
      int rs = ruleset(0, handled, 0);
      if (granted) port_rule(rs, granted, listener_port);
      enforce(rs);
    }
    printf("%s: ", what);
    body();
    printf("\n");
    _exit(0);
  }
  waitpid(p, NULL, 0);
}

static void bind_listener_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = v4(listener_port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  /* The listener holds the port: EADDRINUSE means the check let it through. */
  printf("bind granted port %s", res(bind(s, (struct sockaddr *)&a, sizeof a)));
  a = v4(listener_port + 1);
  printf(", bind other port %s", res(bind(s, (struct sockaddr *)&a, sizeof a)));
  a = v4(0);
  printf(", bind port 0 %s", res(bind(s, (struct sockaddr *)&a, sizeof a)));
  printf(", short address %s", res(bind(s, (struct sockaddr *)&a, 8)));
  printf(", family only %s", res(bind(s, (struct sockaddr *)&a, 1)));
  struct sockaddr_in u = {.sin_family = AF_UNSPEC, .sin_port = htons(listener_port + 1), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  printf(", AF_UNSPEC loopback %s", res(bind(s, (struct sockaddr *)&u, sizeof u)));
  u.sin_addr.s_addr = htonl(INADDR_ANY);
  printf(", AF_UNSPEC any other port %s", res(bind(s, (struct sockaddr *)&u, sizeof u)));
  struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_port = htons(listener_port + 1)};
  printf(", AF_INET6 address %s", res(bind(s, (struct sockaddr *)&six, sizeof six)));
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  printf(", AF_UNIX address %s", res(bind(s, (struct sockaddr *)&un, sizeof un)));
  close(s);
  s = socket(AF_INET6, SOCK_STREAM, 0);
  a = v4(listener_port + 1);
  printf(", v6 socket with a v4 address %s", res(bind(s, (struct sockaddr *)&a, sizeof a)));
  six.sin6_addr = in6addr_loopback;
  printf(", v6 other port %s", res(bind(s, (struct sockaddr *)&six, sizeof six)));
  printf(", v6 short %s", res(bind(s, (struct sockaddr *)&six, 20)));
  close(s);
  s = socket(AF_INET, SOCK_DGRAM, 0);
  a = v4(0);
  printf(", udp any port %s", res(bind(s, (struct sockaddr *)&a, sizeof a)));
  close(s);
}

static void connect_ports(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = v4(listener_port + 1);
  printf("connect other port %s", res(connect(s, (struct sockaddr *)&a, sizeof a)));
  a = v4(listener_port);
  printf(", connect granted port %s", res(connect(s, (struct sockaddr *)&a, sizeof a)));
  struct sockaddr_in u = {.sin_family = AF_UNSPEC};
  printf(", AF_UNSPEC disconnect %s", res(connect(s, (struct sockaddr *)&u, sizeof u)));
  close(s);
  s = socket(AF_INET, SOCK_DGRAM, 0);
  a = v4(listener_port + 1);
  printf(", udp connect other port %s", res(connect(s, (struct sockaddr *)&a, sizeof a)));
  close(s);
}

static void ioctl_case(const char *what, const char *rule_dir, int open_before) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    int early = open("/dev/null", O_RDONLY);
    int rs = ruleset(IOCTL_DEV | READ_FILE, 0, 0);
    struct path_beneath pb = {IOCTL_DEV | READ_FILE, open(rule_dir, O_PATH)};
    syscall(SYS_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0);
    pb.allowed = READ_FILE;
    pb.fd = open("/", O_PATH);
    syscall(SYS_landlock_add_rule, rs, RULE_PATH_BENEATH, &pb, 0);
    enforce(rs);
    int fd = open_before ? early : open("/dev/null", O_RDONLY);
    struct termios t;
    int on = 1;
    printf("%s: open %s, TCGETS %s", what, res(fd), res(ioctl(fd, TCGETS, &t)));
    printf(", FIOCLEX %s, FIONBIO %s, FIONREAD %s\n", res(ioctl(fd, FIOCLEX)), res(ioctl(fd, FIONBIO, &on)),
           res(ioctl(fd, FIONREAD, &on)));
    _exit(0);
  }
  waitpid(p, NULL, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1);
  printf("ABI version 6 or more: %d\n", v >= 6);

  /* The rule errors. */
  int rs = ruleset(READ_FILE, 0, 0);
  printf("port rule without handled TCP rights: %s\n", res(port_rule(rs, BIND_TCP, 80)));
  close(rs);
  rs = ruleset(0, BIND_TCP, 0);
  printf("ruleset of TCP rights only: %s\n", rs < 0 ? strerrorname_np(errno) : "ok");
  printf("port rule of an unhandled right: %s\n", res(port_rule(rs, CONNECT_TCP, 80)));
  printf("port rule of no right: %s\n", res(port_rule(rs, 0, 80)));
  printf("port 65536: %s\n", res(port_rule(rs, BIND_TCP, 65536)));
  printf("port 65535: %s\n", res(port_rule(rs, BIND_TCP, 65535)));
  printf("port 0: %s\n", res(port_rule(rs, BIND_TCP, 0)));
  close(rs);
  printf("unknown TCP right: %s\n", res(ruleset(0, 4, 0)));
  printf("unknown scope: %s\n", res(ruleset(0, 0, 4)));
  printf("scopes only: %s\n", res(ruleset(0, 0, SCOPE_SIGNAL)));
  printf("nothing: %s\n", res(ruleset(0, 0, 0)));

  /* A listener on a free loopback port. */
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = v4(0);
  socklen_t alen = sizeof a;
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 16);
  getsockname(l, (struct sockaddr *)&a, &alen);
  listener_port = ntohs(a.sin_port);
  tcp_case("bind, handled, granted", BIND_TCP, BIND_TCP, 1, bind_listener_port);
  tcp_case("bind, handled, two layers, granted in each", BIND_TCP, BIND_TCP, 2, bind_listener_port);
  tcp_case("bind, connect handled only", CONNECT_TCP, CONNECT_TCP, 1, bind_listener_port);
  tcp_case("connect, handled, granted", CONNECT_TCP, CONNECT_TCP, 1, connect_ports);
  tcp_case("connect, handled, nothing granted", CONNECT_TCP | BIND_TCP, 0, 1, connect_ports);
  tcp_case("connect, bind handled only", BIND_TCP, BIND_TCP, 1, connect_ports);
  close(l);

  ioctl_case("ioctl, no rule on /dev", "/tmp", 0);
  ioctl_case("ioctl, rule on /dev", "/dev", 0);
  ioctl_case("ioctl, opened before the restriction", "/tmp", 1);

  /* Signals. */
  signal(SIGUSR1, SIG_IGN);
  pid_t parent = getpid();
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    enforce(ruleset(0, 0, SCOPE_SIGNAL));
    printf("signal scope: kill parent %s", res(kill(parent, SIGUSR1)));
    printf(", probe parent %s", res(kill(parent, 0)));
    printf(", self %s", res(kill(getpid(), SIGUSR1)));
    pid_t c = fork();
    if (c == 0) {
      pause();
      _exit(0);
    }
    printf(", child %s", res(kill(c, SIGKILL)));
    waitpid(c, NULL, 0);
    c = fork();
    if (c == 0) {
      enforce(ruleset(0, 0, SCOPE_SIGNAL));
      printf(", grandchild in a nested domain kills its parent %s", res(kill(getppid(), 0)));
      _exit(0);
    }
    waitpid(c, NULL, 0);
    c = fork();
    if (c == 0) {
      enforce(ruleset(0, 0, SCOPE_SIGNAL));
      pause();
      _exit(0);
    }
    usleep(100000);
    printf(", kill a child in a nested domain %s", res(kill(c, SIGKILL)));
    waitpid(c, NULL, 0);
    printf("\n");
    _exit(0);
  }
  waitpid(p, NULL, 0);
  fflush(stdout);
  p = fork();
  if (p == 0) {
    enforce(ruleset(0, 0, SCOPE_ABSTRACT));
    printf("abstract scope only: kill parent %s\n", res(kill(parent, 0)));
    _exit(0);
  }
  waitpid(p, NULL, 0);

  /* Abstract unix sockets. */
  struct sockaddr_un an = {.sun_family = AF_UNIX};
  snprintf(an.sun_path + 1, sizeof an.sun_path - 1, "landlock_scope_%d", getpid());
  socklen_t anlen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(an.sun_path + 1);
  int sl = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(sl, (struct sockaddr *)&an, anlen);
  listen(sl, 8);
  struct sockaddr_un dn = an;
  dn.sun_path[1] = 'D';
  int sd = socket(AF_UNIX, SOCK_DGRAM, 0);
  bind(sd, (struct sockaddr *)&dn, anlen);
  char path[108];
  snprintf(path, sizeof path, "/tmp/landlock_scope_%d", getpid());
  unlink(path);
  struct sockaddr_un pn = {.sun_family = AF_UNIX};
  strcpy(pn.sun_path, path);
  int sp = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(sp, (struct sockaddr *)&pn, sizeof pn);
  listen(sp, 8);
  fflush(stdout);
  p = fork();
  if (p == 0) {
    int early = socket(AF_UNIX, SOCK_DGRAM, 0);
    enforce(ruleset(0, 0, SCOPE_ABSTRACT));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("abstract scope: connect outside %s", res(connect(s, (struct sockaddr *)&an, anlen)));
    close(s);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    printf(", pathname %s", res(connect(s, (struct sockaddr *)&pn, sizeof pn)));
    close(s);
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    printf(", datagram sendto outside %s", res(sendto(s, "x", 1, 0, (struct sockaddr *)&dn, anlen)));
    printf(", datagram connect outside %s", res(connect(s, (struct sockaddr *)&dn, anlen)));
    printf(", from a socket made before %s", res(sendto(early, "x", 1, 0, (struct sockaddr *)&dn, anlen)));
    close(s);
    /* A socket made inside the domain is reachable from it. */
    struct sockaddr_un in = an;
    in.sun_path[1] = 'I';
    int il = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(il, (struct sockaddr *)&in, anlen);
    listen(il, 8);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    printf(", connect inside %s", res(connect(s, (struct sockaddr *)&in, anlen)));
    printf("\n");
    _exit(0);
  }
  waitpid(p, NULL, 0);
  fflush(stdout);
  p = fork();
  if (p == 0) {
    enforce(ruleset(0, 0, SCOPE_SIGNAL));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("signal scope only: connect to an abstract socket outside %s\n", res(connect(s, (struct sockaddr *)&an, anlen)));
    _exit(0);
  }
  waitpid(p, NULL, 0);
  unlink(path);
  return 0;
}
